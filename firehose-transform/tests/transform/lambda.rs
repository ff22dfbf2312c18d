//! The binary as AWS Lambda runs it: the real `lambda_runtime` client polls the Lambda Runtime
//! API over HTTP. No Lambda service can run here, so a stand-in of that API (the documented
//! `GET /2018-06-01/runtime/invocation/next` and `POST .../invocation/{id}/response`) serves one
//! Firehose invocation and captures the answer.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_firehose-transform");

#[derive(Clone)]
struct RuntimeApi {
    event: Arc<Mutex<Option<String>>>,
    answers: mpsc::UnboundedSender<(String, String)>,
}

async fn next(State(api): State<RuntimeApi>) -> (HeaderMap, String) {
    let event = api.event.lock().unwrap().take();
    let Some(event) = event else {
        // One invocation only: later polls wait, as the real API does between invocations.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert("lambda-runtime-deadline-ms", "9999999999999".parse().unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:tracklake-transform"
            .parse()
            .unwrap(),
    );
    (headers, event)
}

async fn answer(
    State(api): State<RuntimeApi>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> &'static str {
    api.answers.send((format!("{id}/{kind}"), body)).unwrap();
    "accepted"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_firehose_invocation_through_the_runtime_api() {
    let fixture = format!(
        "{}/tests/fixtures/playlist_shapes.event.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let event_text = std::fs::read_to_string(&fixture).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        event: Arc::new(Mutex::new(Some(event_text.clone()))),
        answers: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut child = tokio::process::Command::new(BIN)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "tracklake-transform")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (path, body) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the function answered within 60 s")
        .unwrap();
    child.kill().await.unwrap();
    let stdout = child.wait_with_output().await.unwrap().stdout;

    assert_eq!(path, "req-1/response", "answered as a success: {body}");
    let event: firehose_transform::FirehoseEvent = serde_json::from_str(&event_text).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(firehose_transform::process(&event).response.get()).unwrap();
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got, expected);

    // In Lambda, logs and the EMF line go to stdout, which CloudWatch Logs collects.
    let stdout = String::from_utf8(stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "invocation summary" && l["dropped"] == 3),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["FunctionName"] == "tracklake-transform" && l["RecordsOk"] == 5),
        "{stdout}"
    );
}
