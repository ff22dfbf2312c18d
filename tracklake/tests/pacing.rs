//! Runs in quick succession and the error output, with every part real: the Spotify sandbox, the
//! real `tracklake` binary, and a local Firehose with its real 500 active partition limit,
//! started by the test as `tracklake firehose` would run it (or in-process, as `tracklake run`
//! does by default).
//!
//! - the library backfill never pushes records into `activePartitionExceeded`, however fast runs
//!   follow each other, and every save still lands;
//! - records that reach the error output are counted in the run report, which then says FAILED
//!   and what to do, in both ways of running the local Firehose.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMillisecondType;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use local_athena::LocalAthena;
use local_firehose::{BufferHints, BufferingOverrides, FirehoseConfig, LocalFirehose, Output as Lake};
use spotify_sandbox::{Place, Sandbox, SandboxConfig, SourceKind};
use test_support::stand_ins::{firehose_endpoint_env, sandbox_env};
use tokio::process::Command;

/// The sandbox's clock: fixed, so the library is the same on every run.
fn sandbox_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 18, 30, 0).unwrap()
}

/// A clock years ahead: every event the sandbox serves is later than any `dt` partition Athena
/// shows, so the transform answers ProcessingFailed and the records go to the error output.
const FUTURE: &str = "2031-01-01T00:00:00Z";

/// The local Firehose's buffering interval for the Parquet output in these tests: far longer than
/// a run, as the cloud's 300 s are, yet short enough to wait for a few times.
const BUFFER: Duration = Duration::from_secs(20);

/// The producer's pacing window for that Firehose: the buffering interval, the processor's
/// 0.2 s and a margin.
const WINDOW_SECS: u64 = 24;

fn firehose_config(lake: &Path, processor: BufferHints) -> FirehoseConfig {
    FirehoseConfig {
        output: Lake::LocalDir(lake.to_path_buf()),
        buffering: BufferingOverrides {
            processed: Some(BufferHints {
                size_bytes: 64 * 1024 * 1024,
                interval: BUFFER,
            }),
            processor: Some(processor),
            raw_backup: None,
        },
        ..FirehoseConfig::default()
    }
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let file = dir.join("tracklake.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[spotify]
request_budget = 2000

[firehose]
target = "aws"

[sources]
enabled = ["recently_played", "top_tracks", "saved_tracks", "playlist"]
{extra}
"#
        ),
    )
    .unwrap();
    file
}

/// One `tracklake run` against the sandbox and the test's local Firehose (the standalone way).
async fn run(dir: &Path, sandbox: &Sandbox, firehose: &LocalFirehose) -> (Output, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    sandbox_env(&mut command, sandbox, dir);
    firehose_endpoint_env(&mut command, &firehose.endpoint())
        .arg("run")
        .arg("--config")
        .arg(dir.join("tracklake.toml"))
        .env("RUST_LOG", "warn");
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("a run finishes within 2 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_never_exceeds_active_partitions_when_runs_are_faster_than_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    // About 750 dates of saves: more than the 500 active partitions the Firehose allows, so runs
    // that each send 100 dates within one buffer window would push the rest into
    // activePartitionExceeded.
    let sandbox = spotify_sandbox::start(SandboxConfig {
        seed: 5,
        now: Some(sandbox_now()),
        library_since: NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(),
        saves_per_day: 3.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let processor = BufferHints {
        size_bytes: 1024 * 1024,
        interval: Duration::from_millis(200),
    };
    let firehose = local_firehose::start(firehose_config(&lake, processor))
        .await
        .unwrap();
    write_config(
        dir.path(),
        &format!("\n[sources.pacing]\nwindow_secs = {WINDOW_SECS}\n"),
    );

    let started = std::time::Instant::now();
    let (mut runs, mut paused) = (0, 0);
    loop {
        runs += 1;
        let (output, stdout) = run(dir.path(), &sandbox, &firehose).await;
        assert!(
            output.status.success(),
            "run {runs} failed\nstdout:\n{stdout}\nstderr:\n{}",
            stderr(&output)
        );
        if runs == 1 {
            assert!(
                stdout.contains("library backfill pending"),
                "the library should take several runs:\n{stdout}"
            );
        }
        if stdout.contains("backfill paused") {
            paused += 1;
            assert!(
                stdout.contains("saved_tracks     paused"),
                "the source shows as paused:\n{stdout}"
            );
            // Nothing to gain from a run a moment later: give the window time to pass.
            tokio::time::sleep(Duration::from_secs(1)).await;
        } else if !stdout.contains("library backfill pending") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the backfill does not end ({runs} runs):\n{stdout}"
        );
    }
    assert!(
        paused > 0,
        "the runs came faster than the buffer, so the pacing must have held the backfill back"
    );

    let stats = firehose.shutdown().await.unwrap();
    assert!(stats.is_accounted(), "{stats:?}");
    assert_eq!(
        stats.errored.get("activePartitionExceeded"),
        None,
        "records pushed over the active partition limit: {stats:?}"
    );
    assert!(stats.errored.is_empty(), "{stats:?}");

    // Every save the sandbox served is in the lake.
    let served: BTreeSet<(i64, Option<String>)> = sandbox
        .served()
        .tracks()
        .filter(|o| o.source == SourceKind::SavedTracks)
        .map(|o| match o.place {
            Place::AddedAt(ms) => (ms, o.uri.clone()),
            ref other => panic!("a save is placed by added_at, not {other:?}"),
        })
        .collect();
    sandbox.shutdown().await;
    let athena = LocalAthena::open(&lake).await.unwrap();
    let batches = athena
        .query("SELECT event_at, track_uri FROM track_observations WHERE source = 'saved_tracks'")
        .await
        .unwrap();
    let mut landed = BTreeSet::new();
    for batch in &batches {
        let at = batch
            .column_by_name("event_at")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>();
        let uri = arrow::compute::cast(
            batch.column_by_name("track_uri").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let uri = uri.as_string::<i32>();
        for i in 0..batch.num_rows() {
            landed.insert((at.value(i), (!uri.is_null(i)).then(|| uri.value(i).to_string())));
        }
    }
    let dates: BTreeSet<i64> = served.iter().map(|(ms, _)| ms.div_euclid(86_400_000)).collect();
    assert!(dates.len() > 600, "only {} dates of saves", dates.len());
    let missing: Vec<_> = served.difference(&landed).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} saves never landed, e.g. {missing:?}",
        served.difference(&landed).count()
    );
    assert_eq!(landed.len(), served.len(), "in the lake but never served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_run_report_counts_records_in_the_error_output_of_a_standalone_firehose() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let future = DateTime::parse_from_rfc3339(FUTURE).unwrap().to_utc();
    let sandbox = spotify_sandbox::start(SandboxConfig {
        seed: 9,
        now: Some(future),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    // The processor waits a minute for its batch, as the cloud's does (and takes all of a run's
    // records in one): nothing reaches the error output while the first run runs; it does when
    // the Firehose delivers, before the second.
    let processor = BufferHints {
        size_bytes: 64 * 1024 * 1024,
        interval: Duration::from_secs(60),
    };
    let firehose = local_firehose::start(firehose_config(&lake, processor))
        .await
        .unwrap();
    write_config(dir.path(), "");

    let (output, stdout) = run(dir.path(), &sandbox, &firehose).await;
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        stderr(&output)
    );
    assert!(!stdout.contains("error output this run"), "{stdout}");
    let stats = firehose.flush().await.unwrap();
    let failed = stats.errored.get("processing-failed").copied().unwrap_or(0);
    assert!(
        failed > 0,
        "events past the projection's range must fail: {stats:?}"
    );
    assert_eq!(stats.errored_total(), failed, "{stats:?}");

    let (output, stdout) = run(dir.path(), &sandbox, &firehose).await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{}",
        stderr(&output)
    );
    assert!(
        stdout.contains(&format!("error output this run: {failed} records")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("processing-failed: {failed} (under ")),
        "{stdout}"
    );
    assert!(stdout.contains("`tracklake redrive`"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "result: FAILED ({failed} records reached the error output"
        )),
        "{stdout}"
    );
    firehose.shutdown().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_run_report_counts_records_in_the_error_output_of_the_in_process_firehose() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tracklake.toml"),
        format!("[local]\nsandbox_seed = 9\nsandbox_now = \"{FUTURE}\"\n"),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .env_clear()
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .arg("run")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{}",
        stderr(&output)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("error output this run: "))
        .unwrap_or_else(|| panic!("no error output line:\n{stdout}"));
    let n: u64 = line["error output this run: ".len()..]
        .trim_end_matches(" records")
        .parse()
        .unwrap();
    assert!(n > 0, "{stdout}");
    assert!(
        stdout.contains(&format!("processing-failed: {n} (under ")),
        "{stdout}"
    );
    assert!(stdout.contains("`tracklake redrive`"), "{stdout}");
    assert!(
        stdout.contains(&format!("result: FAILED ({n} records reached the error output")),
        "{stdout}"
    );
}
