//! A record the local Firehose acknowledged survives the process being killed (`kill -9`): the
//! real `tracklake` binary, the real AWS SDK, a real SIGKILL, then a new process on the same lake
//! that delivers what the first one held in its buffers.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use tokio::process::Command;

use test_support::files::{parquet_files, record_keys};

use crate::support::{left_behind, start_firehose};

/// Producer records the transform accepts (one per source kind).
fn envelopes() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../firehose-transform/tests/fixtures/sources.envelopes.jsonl"),
    )
    .unwrap();
    text.lines().map(|l| format!("{l}\n").into_bytes()).collect()
}

fn client(endpoint: &str) -> aws_sdk_firehose::Client {
    let config = aws_sdk_firehose::Config::builder()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "static"))
        .behavior_version(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_firehose::Client::from_conf(config)
}

fn parquet_rows(lake: &Path) -> usize {
    parquet_files(lake)
        .into_iter()
        .map(|p| {
            let file = std::fs::File::open(p).unwrap();
            parquet::file::reader::SerializedFileReader::new(file)
                .map(|r| {
                    use parquet::file::reader::FileReader;
                    r.metadata().file_metadata().num_rows() as usize
                })
                .unwrap()
        })
        .sum()
}

async fn send(endpoint: &str, stream: &str, records: &[Vec<u8>]) {
    let answer = client(endpoint)
        .put_record_batch()
        .delivery_stream_name(stream)
        .set_records(Some(
            records
                .iter()
                .map(|r| Record::builder().data(Blob::new(r.clone())).build().unwrap())
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.failed_put_count(), 0, "every record acknowledged");
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_records_survive_kill_9_of_the_local_firehose() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let stream = schemas::delivery::settings().stream_name;
    let records: Vec<Vec<u8>> = envelopes().into_iter().cycle().take(60).collect();

    let first = start_firehose(&lake, &[]).await;
    send(&first.endpoint, &stream, &records[..30]).await;
    send(&first.endpoint, &stream, &records[30..]).await;
    first.kill().await;
    assert_eq!(
        parquet_rows(&lake),
        0,
        "the killed process had delivered nothing yet"
    );

    // The next process delivers them; its Ctrl-C flushes and reports them as recovered.
    let report = start_firehose(&lake, &[]).await.stop().await;
    // Every record: the transform drops the episode and the removed track of the fixture.
    let kept = records
        .iter()
        .filter(|r| {
            !matches!(
                firehose_transform::normalize::normalize_bytes(r),
                Ok(firehose_transform::normalize::Verdict::Drop(_))
            )
        })
        .count();
    assert!(kept > 30, "{kept}");
    assert_eq!(parquet_rows(&lake), kept, "{report}");
    assert!(report.contains("recovered from the journal 60"), "{report}");

    let leftovers = left_behind(&lake);
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_local_firehose_on_the_same_lake_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let _first = start_firehose(&lake, &[]).await;
    let second = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .args(["firehose", "--lake"])
        .arg(&lake)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another local Firehose is delivering this stream"),
        "{stderr}"
    );
}

/// `tracklake run` on the embedded sandbox (clock pinned, so every run serves the same history)
/// and the in-process local Firehose, in `dir`.
fn run_command(dir: &Path) -> Command {
    std::fs::write(
        dir.join("tracklake.toml"),
        "[local]\nsandbox_seed = 3\nsandbox_now = \"2026-11-24T18:30:00Z\"\nsandbox_history = false\n",
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    command
        .arg("run")
        .env_clear()
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The in-process local Firehose holds a cycle's records in its buffers until the end-of-cycle
/// flush, after the producer saved its state: killed in between, the next run must still
/// deliver them, since the saved state never pulls them again.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_after_saving_its_state_loses_no_record() {
    let reference = tempfile::tempdir().unwrap();
    assert!(run_command(reference.path()).status().await.unwrap().success());
    let expected = record_keys(&reference.path().join("lake"));
    assert!(
        expected.len() > 100,
        "the sandbox served {} observations",
        expected.len()
    );

    let victim = tempfile::tempdir().unwrap();
    let state = victim.path().join("lake/state/sandbox-producer.json");
    let mut child = run_command(victim.path()).spawn().unwrap();
    // Kill the moment the state is saved: the cycle's records are acknowledged, not yet flushed.
    let killed = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if state.exists() {
                child.start_kill().unwrap();
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the run saves its state within 120 s");
    child.wait().await.unwrap();
    assert!(killed, "the run ended before it could be killed");

    assert!(run_command(victim.path()).status().await.unwrap().success());
    let delivered = record_keys(&victim.path().join("lake"));
    let missing: Vec<_> = expected.difference(&delivered).collect();
    assert!(
        missing.is_empty(),
        "{} of {} observations lost",
        missing.len(),
        expected.len()
    );
}
