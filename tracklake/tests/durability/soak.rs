//! The soak: runs in quick succession (far faster than the stream's 300 s buffer interval), about
//! 10% of Spotify requests failing (429 without Retry-After, 503, expired tokens), and `kill -9`
//! at random moments, in both modes:
//!
//! - in-process: `tracklake run` with the local Firehose inside it, killed mid-run;
//! - standalone: `tracklake firehose` (refusing 10% of records) in its own process, and
//!   `tracklake run` sending to it; either of them killed mid-run.
//!
//! Then clean runs until the library backfill is over, and a polite stop. Nothing may be lost:
//! every observation a clean, uninterrupted sequence of runs delivers is in the lake, nothing is
//! in the error output, and no journal segment or temporary file is left.
//!
//! The rounds per mode default to 6 (CI); `TRACKLAKE_SOAK_ROUNDS=40` soaks longer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use chrono::{TimeZone, Utc};
use spotify_sandbox::{Faults, Sandbox, SandboxConfig};
use tokio::process::Command;

use test_support::files::{files_under, parquet_batches, parquet_files};
use test_support::stand_ins::{firehose_endpoint_env, sandbox_env};

use crate::support::{left_behind, start_firehose, Firehose};

/// Clean runs allowed to finish the library backfill after the chaos.
const SETTLE_RUNS: usize = 120;
/// The standalone local Firehose's buffer interval: far longer than a run (about a second), so
/// runs come much faster than buffers close, as in the soak that found the lost backfill...
const BUFFER_SECS: u64 = 10;
/// ...and the pacing window to match it: a partition stays active for up to two buffer intervals
/// (the transform's buffer, then the partition's), plus the time the local Firehose takes to
/// convert and write, which on a loaded two-core machine reached 15 s. The default window follows
/// the cloud stream's intervals with a minute's margin, as this does.
const CONFIG: &str = "[sources.pacing]\nwindow_secs = 80\n";

fn rounds() -> usize {
    std::env::var("TRACKLAKE_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

async fn sandbox(faulty: bool) -> Sandbox {
    let faults = if faulty {
        Faults {
            seed: 5,
            rate_limit_rate: 0.04,
            rate_limit_retry_after: None,
            server_error_rate: 0.04,
            expired_token_rate: 0.02,
            ..Faults::default()
        }
    } else {
        Faults::default()
    };
    spotify_sandbox::start(SandboxConfig {
        seed: 9,
        now: Some(Utc.with_ymd_and_hms(2026, 11, 24, 18, 30, 0).unwrap()),
        faults,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// Where `tracklake run` delivers.
#[derive(Clone)]
enum Target {
    /// The in-process local Firehose, into `<dir>/lake`.
    InProcess,
    /// A standalone local Firehose at this endpoint.
    Endpoint(String),
}

fn run_command(dir: &Path, sandbox: &Sandbox, target: &Target) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    sandbox_env(&mut command, sandbox, dir)
        .args(["run", "--config"])
        .arg(config(dir))
        .arg("--lake")
        .arg(dir.join("lake"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match target {
        Target::InProcess => {
            command.env("TRACKLAKE_FIREHOSE", "local");
        }
        Target::Endpoint(endpoint) => {
            firehose_endpoint_env(&mut command, endpoint);
        }
    }
    command
}

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("tracklake.toml");
    std::fs::write(&path, CONFIG).unwrap();
    path
}

/// A clean run; returns its report.
async fn run_to_end(dir: &Path, sandbox: &Sandbox, target: &Target) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        run_command(dir, sandbox, target).output(),
    )
    .await
    .expect("a run ends within 5 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Clean runs until the library backfill is over, waiting while it is paused by the pacing.
async fn settle(dir: &Path, sandbox: &Sandbox, target: &Target) {
    for _ in 0..SETTLE_RUNS {
        let report = run_to_end(dir, sandbox, target).await;
        if !report.contains("backfill") {
            return;
        }
        if report.contains("backfill paused") {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    panic!("the library backfill did not end in {SETTLE_RUNS} clean runs");
}

/// The standalone local Firehose of the soak: refusing 10% of records, short buffers.
async fn start(lake: &Path, port: u16, seed: u64) -> Firehose {
    let args = [
        "--fault-rate".to_owned(),
        "0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--buffer-interval".to_owned(),
        BUFFER_SECS.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
    ];
    start_firehose(lake, &args).await
}

/// Starts a run and kills it (SIGKILL) after a random moment; returns whether it was killed
/// (it may have ended first).
async fn run_and_kill(dir: &Path, sandbox: &Sandbox, target: &Target, rng: &mut fastrand::Rng) -> bool {
    let mut child = run_command(dir, sandbox, target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(rng.u64(50..4_000))).await;
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.start_kill();
    child.wait().await.unwrap();
    killed
}

/// What identifies an observation across runs: an event (a play, a save) by its `record_key`;
/// a snapshot entry (top list, playlist, search) by its source, context, position and track,
/// since each run observes snapshots at its own `observed_at` (the producer's clock), so a
/// snapshot that a killed run never delivered is observed again, under another key.
fn identities(lake: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for path in parquet_files(lake) {
        let text = path.to_string_lossy().into_owned();
        let source = text
            .split('/')
            .find_map(|part| part.strip_prefix("source="))
            .expect("a source partition")
            .to_owned();
        for batch in parquet_batches(&path) {
            let column = |name: &str| batch.column_by_name(name).unwrap().clone();
            let (keys, contexts, positions, tracks) = (
                column("record_key"),
                column("context_id"),
                column("position"),
                column("track_uri"),
            );
            let keys = keys.as_string::<i32>();
            let contexts = contexts.as_string::<i32>();
            let positions = positions.as_primitive::<arrow::datatypes::Int32Type>();
            let tracks = tracks.as_string::<i32>();
            for row in 0..batch.num_rows() {
                out.insert(match source.as_str() {
                    "recently_played" | "saved_tracks" => keys.value(row).to_owned(),
                    _ => {
                        let context = if contexts.is_valid(row) {
                            contexts.value(row)
                        } else {
                            "-"
                        };
                        let position = if positions.is_valid(row) {
                            positions.value(row)
                        } else {
                            -1
                        };
                        format!("{source} {context} {position} {}", tracks.value(row))
                    }
                });
            }
        }
    }
    out
}

/// Nothing lost, nothing in the error output, nothing left behind.
fn assert_nothing_lost(lake: &Path, expected: &BTreeSet<String>, mode: &str) {
    let delivered = identities(lake);
    let errors = files_under(&lake.join("errors"));
    let missing: Vec<&String> = expected.difference(&delivered).collect();
    assert!(
        missing.is_empty(),
        "{mode}: {} of {} observations lost, e.g. {:?}; error output: {errors:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(errors.is_empty(), "{mode}: error output {errors:?}");
    let leftovers = left_behind(lake);
    assert!(leftovers.is_empty(), "{mode}: left behind {leftovers:?}");
}

/// What clean, uninterrupted runs deliver from the same (fault-free) sandbox.
async fn reference() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(false).await;
    settle(dir.path(), &sandbox, &Target::InProcess).await;
    let keys = identities(&dir.path().join("lake"));
    assert!(keys.len() > 300, "the sandbox served {} observations", keys.len());
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_kills_and_fast_runs_lose_nothing_in_process() {
    let expected = reference().await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(true).await;
    let target = Target::InProcess;
    let mut rng = fastrand::Rng::with_seed(17);
    let mut kills = 0;
    for _ in 0..rounds() {
        kills += usize::from(run_and_kill(dir.path(), &sandbox, &target, &mut rng).await);
    }
    assert!(kills > 0, "no run was killed");
    settle(dir.path(), &sandbox, &target).await;
    assert_nothing_lost(&dir.path().join("lake"), &expected, "in-process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_kills_and_fast_runs_lose_nothing_standalone() {
    let expected = reference().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let sandbox = sandbox(true).await;
    let mut rng = fastrand::Rng::with_seed(23);
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut firehose = start(&lake, port, 1).await;
    let target = Target::Endpoint(firehose.endpoint.clone());
    let (mut run_kills, mut firehose_kills) = (0, 0);
    for round in 0..rounds() {
        if rng.bool() {
            run_kills += usize::from(run_and_kill(dir.path(), &sandbox, &target, &mut rng).await);
        } else {
            // Kill the local Firehose while a run sends to it; a new one on the same port and lake
            // takes over, and the run's retries reach it (or the run fails and is repeated).
            let mut child = run_command(dir.path(), &sandbox, &target)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            tokio::time::sleep(Duration::from_millis(rng.u64(50..4_000))).await;
            firehose.kill().await;
            firehose_kills += 1;
            firehose = start(&lake, port, round as u64 + 2).await;
            let _ = tokio::time::timeout(Duration::from_secs(300), child.wait()).await;
        }
    }
    assert!(run_kills + firehose_kills > 0);
    settle(dir.path(), &sandbox, &target).await;
    firehose.stop().await;
    assert_nothing_lost(&lake, &expected, "standalone");
}
