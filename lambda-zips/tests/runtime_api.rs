//! The zips a user deploys, run as Lambda runs them: `bootstrap` out of
//! `target/lambda/<function>/bootstrap.zip` (built by `./scripts/build-lambdas.sh`), started with
//! Lambda's environment against a local Lambda Runtime API (`lambda_zips`), under qemu-user when
//! it is an arm64 binary on an x86_64 host. Real events only:
//! - the transform gets the Firehose data-transformation events of firehose-transform's golden
//!   fixtures and must answer exactly the golden responses (Ok and Dropped records), twice in one
//!   process (a warm invocation too);
//! - the producer gets the EventBridge Scheduler event the Pulumi program's schedule sends, reads
//!   the Spotify sandbox with the token of its Secrets Manager secret, keeps its state in S3 (moto
//!   for both, over the real AWS SDK) and delivers to the local Firehose, whose processor is the
//!   transform zip, invoked through its own Runtime API: the whole cloud path, locally.
//!
//! A panic at start, an `/init/error`, an error answer, an exit or a timeout fails the test.
//!
//! These tests are `#[ignore]`d so `cargo test --workspace` stays fast on a laptop (a cold
//! release build of the zips takes minutes); `scripts/test.sh` builds the zips and runs
//! them with `TRACKLAKE_LAMBDA_DIR=target/lambda cargo test --workspace --test runtime_api --
//! --ignored`. Run without that variable, they fail with the build command.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lambda_zips::{Function, FunctionConfig, Outcome};
use local_firehose::{BufferHints, BufferingOverrides, FirehoseConfig, Output, Processor};
use moto_server::MotoServer;
use serde_json::Value;

const NEEDS_ZIPS: &str = "needs the Lambda zips: ./scripts/build-lambdas.sh, then \
                          TRACKLAKE_LAMBDA_DIR=target/lambda cargo test -p lambda-zips -- --ignored";
const TRANSFORM: &str = "firehose-transform";
const PRODUCER: &str = "producer";
const BUCKET: &str = "tracklake-lake-test";
const STATE_KEY: &str = "state/producer.json";
const SECRET_ID: &str = "tracklake/spotify";
/// The event EventBridge Scheduler sends: the target's `input`, which the Pulumi program sets to
/// `{}` (infra/tracklake_infra/program.py; Scheduler passes a templated target's input as the
/// Lambda payload: https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-templated.html).
const SCHEDULER_EVENT: &str = "{}";

/// The folder the zips are in: `$TRACKLAKE_LAMBDA_DIR`, relative to the workspace root.
fn zip(function: &str) -> PathBuf {
    let dir = std::env::var_os("TRACKLAKE_LAMBDA_DIR")
        .unwrap_or_else(|| panic!("TRACKLAKE_LAMBDA_DIR is not set. This test {NEEDS_ZIPS}"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(dir).join(function).join("bootstrap.zip");
    assert!(
        path.is_file(),
        "{} does not exist. This test {NEEDS_ZIPS}",
        path.display()
    );
    path
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../firehose-transform/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn start(function: &str, name: &str, timeout: Duration, env: Vec<(String, String)>) -> Function {
    Function::start(
        &zip(function),
        FunctionConfig {
            name: name.into(),
            region: moto_server::REGION.into(),
            memory_mb: 512,
            timeout,
            env,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{function}: {e}"))
}

/// The answer's body when the function answered with a response; a failure naming what happened
/// (with the function's log) otherwise.
fn response(function: &str, outcome: Outcome, logs: &str) -> String {
    match outcome {
        Outcome::Response(body) => body,
        other => panic!("{function} did not answer with a response: {other:?}\n--- its log:\n{logs}"),
    }
}

fn assert_no_panic(function: &str, logs: &str) {
    assert!(!logs.contains("panicked"), "{function} panicked:\n{logs}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Lambda zips: ./scripts/build-lambdas.sh, then TRACKLAKE_LAMBDA_DIR=target/lambda cargo test -p lambda-zips -- --ignored"]
async fn the_transform_zip_answers_firehose_events_with_the_golden_records() {
    let function = start(
        TRANSFORM,
        "tracklake-firehose-transform",
        Duration::from_secs(120),
        vec![],
    )
    .await;
    for name in ["sources", "playlist_shapes", "sources"] {
        let event = fixture(&format!("{name}.event.json"));
        let outcome = function.invoke(event.as_bytes()).await;
        let body = response(TRANSFORM, outcome, &function.logs());
        let answer: Value = serde_json::from_str(&body).unwrap();
        let golden: Value = serde_json::from_str(&fixture(&format!("{name}.response.json"))).unwrap();
        assert_eq!(
            answer, golden,
            "{name}: the zip's answer differs from the golden response"
        );
        let results: Vec<&str> = answer["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        assert!(results.contains(&"Ok"), "{name}: no Ok record in {results:?}");
    }
    let logs = function.stop().await;
    assert_no_panic(TRANSFORM, &logs);
    assert!(
        logs.contains("invocation summary"),
        "the transform logs a summary per invocation:\n{logs}"
    );
}

/// The lake bucket (the producer's state lives in it) and the Spotify secret, as the Pulumi
/// program creates them, with a refresh token stored as infra/README.md tells the user to.
async fn aws(moto: &MotoServer, secret: &Value) -> aws_sdk_s3::Client {
    moto.create_secret(SECRET_ID, &secret.to_string()).await;
    moto.create_bucket(BUCKET).await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Lambda zips: ./scripts/build-lambdas.sh, then TRACKLAKE_LAMBDA_DIR=target/lambda cargo test -p lambda-zips -- --ignored"]
async fn the_producer_zip_runs_a_scheduled_pull_into_firehose_through_the_transform_zip() {
    let moto = MotoServer::start();
    let sandbox = spotify_sandbox::start(spotify_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let secret = serde_json::json!({
        "client_id": sandbox.client_id(),
        "client_secret": sandbox.client_secret(),
        "refresh_token": sandbox.refresh_token(),
    });
    let s3 = aws(&moto, &secret).await;

    // The local Firehose's transformation Lambda is the transform zip, invoked through its
    // Runtime API with the events the local Firehose builds from the producer's records.
    let transform = Arc::new(
        start(
            TRANSFORM,
            "tracklake-firehose-transform",
            Duration::from_secs(120),
            vec![],
        )
        .await,
    );
    let processor = {
        let transform = transform.clone();
        // The local Firehose calls its processor on a blocking section of the multi-thread runtime.
        Processor::new(move |event| {
            match tokio::runtime::Handle::current().block_on(transform.invoke(event)) {
                Outcome::Response(body) => Ok(body.into_bytes()),
                other => Err(format!("the transform zip failed: {other:?}")),
            }
        })
    };
    let lake = tempfile::tempdir().unwrap();
    let quick = BufferHints {
        size_bytes: 1024 * 1024,
        interval: Duration::from_secs(1),
    };
    let firehose = local_firehose::start(FirehoseConfig {
        output: Output::LocalDir(lake.path().to_path_buf()),
        processor,
        buffering: BufferingOverrides {
            processed: Some(quick),
            raw_backup: Some(quick),
            processor: Some(quick),
        },
        region: moto_server::REGION.into(),
        ..FirehoseConfig::default()
    })
    .await
    .unwrap();

    let env = [
        ("AWS_ACCESS_KEY_ID", moto_server::ACCESS_KEY_ID.to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            moto_server::SECRET_ACCESS_KEY.to_string(),
        ),
        ("AWS_ENDPOINT_URL_S3", moto.endpoint()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint()),
        ("AWS_ENDPOINT_URL_FIREHOSE", firehose.endpoint()),
        ("TRACKLAKE_STREAM", firehose.stream_name().to_string()),
        ("TRACKLAKE_STATE_BUCKET", BUCKET.to_string()),
        ("TRACKLAKE_STATE_KEY", STATE_KEY.to_string()),
        ("TRACKLAKE_SECRET_ID", SECRET_ID.to_string()),
        (
            "TRACKLAKE_SOURCES",
            "recently_played,top_tracks,saved_tracks,playlist".to_string(),
        ),
        ("SPOTIFY_API_BASE", sandbox.api_base()),
        ("SPOTIFY_ACCOUNTS_BASE", sandbox.accounts_base()),
    ];
    let producer = start(
        PRODUCER,
        "tracklake-producer",
        Duration::from_secs(300),
        env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    )
    .await;

    let outcome = producer.invoke(SCHEDULER_EVENT.as_bytes()).await;
    let body = response(PRODUCER, outcome, &producer.logs());
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    let producer_logs = producer.stop().await;
    assert_no_panic(PRODUCER, &producer_logs);

    // Delivered: every record the producer sent went through the transform zip into Parquet.
    let stats = firehose.shutdown().await.unwrap();
    assert!(
        stats.records_received > 0,
        "the producer delivered nothing: {answer}\n{producer_logs}"
    );
    assert_eq!(stats.invocations_failed, 0, "{stats:?}");
    assert!(stats.transformed.get("Ok").copied().unwrap_or(0) > 0, "{stats:?}");
    assert!(stats.delivered > 0 && stats.errored.is_empty(), "{stats:?}");
    assert!(stats.is_accounted(), "{stats:?}");
    assert!(
        stats.objects.parquet > 0 && stats.objects.raw_backup > 0,
        "{stats:?}"
    );

    // The run's state is in S3 for the next scheduled run.
    let state = s3
        .get_object()
        .bucket(BUCKET)
        .key(STATE_KEY)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("the producer wrote no state to s3://{BUCKET}/{STATE_KEY}: {e:?}\n{producer_logs}")
        });
    let state: Value = serde_json::from_slice(&state.body.collect().await.unwrap().into_bytes()).unwrap();
    assert!(state.is_object(), "{state}");

    let transform = Arc::try_unwrap(transform)
        .ok()
        .expect("the Firehose released the transform");
    let transform_logs = transform.stop().await;
    assert_no_panic(TRANSFORM, &transform_logs);
    // The refresh token never reaches a log.
    assert!(
        !producer_logs.contains(sandbox.refresh_token()),
        "the refresh token leaked into the log"
    );
}
