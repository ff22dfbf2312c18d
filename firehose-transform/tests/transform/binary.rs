//! The `firehose-transform` executable, run as a user runs it locally.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_firehose-transform");

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn local_mode_prints_the_same_response_as_the_library() {
    let out = Command::new(BIN)
        .args(["--event", &fixture("sources.event.json")])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let event: firehose_transform::FirehoseEvent =
        serde_json::from_str(&std::fs::read_to_string(fixture("sources.event.json")).unwrap()).unwrap();
    let expected = firehose_transform::process(&event).response.get().to_string() + "\n";
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);

    // stderr: JSON log lines without colour codes, a summary, and the EMF metrics line.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\u{1b}'), "no ANSI colour codes in logs");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let summary = lines
        .iter()
        .find(|l| l["message"] == "invocation summary")
        .expect("a summary line");
    assert_eq!(
        (
            summary["records"].as_u64(),
            summary["ok"].as_u64(),
            summary["dropped"].as_u64()
        ),
        (Some(8), Some(6), Some(2))
    );
    assert!(lines
        .iter()
        .any(|l| l["_aws"]["CloudWatchMetrics"].is_array() && l["RecordsDropped"] == 2));
}

#[test]
fn local_mode_reads_stdin() {
    let mut child = Command::new(BIN)
        .args(["--event", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(std::fs::read(fixture("invalid.event.json")).unwrap().as_slice())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let resp: firehose_transform::FirehoseResponse = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(resp.records.len(), 15);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("\"reason\":\"invalid_base64\""),
        "failed records are logged with their reason"
    );
    assert!(
        !stderr.contains("Teardrop"),
        "failure logs never carry the payload"
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let out = Command::new(BIN)
        .args(["--event", "/nonexistent/event.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/event.json"));

    let out = Command::new(BIN)
        .args(["--event", &fixture("sources.envelopes.jsonl")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Firehose transformation event"));

    let out = Command::new(BIN)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("firehose-transform --event event.json"));
}

/// Runs the executable on `event` (through stdin) and returns the response and the log lines.
fn run_event(event: &serde_json::Value) -> (firehose_transform::FirehoseResponse, String) {
    let mut child = Command::new(BIN)
        .args(["--event", "-"])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn event_with(invocation_id: &str, record_id: &str) -> serde_json::Value {
    serde_json::json!({
        "invocationId": invocation_id,
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/tracklake",
        "region": "us-east-1",
        // Not base64: the record fails, and its id is logged.
        "records": [{"recordId": record_id, "approximateArrivalTimestamp": 1, "data": "%%%"}]
    })
}

#[test]
fn a_1_mb_record_id_is_bounded_in_logs() {
    let record_id = "7".repeat(1_000_000);
    let (response, stderr) = run_event(&event_with("inv", &record_id));
    // The response must answer the id whole: Firehose matches answers to records by it.
    assert_eq!(response.records[0].record_id, record_id);
    assert!(stderr.len() < 8_000, "{} bytes of logs", stderr.len());
    assert!(stderr.contains("(1000000 bytes)"), "{stderr}");
}

#[test]
fn a_500_kb_invocation_id_is_bounded_in_logs() {
    let invocation_id = "i".repeat(500_000);
    let (_, stderr) = run_event(&event_with(&invocation_id, "1"));
    assert!(stderr.len() < 8_000, "{} bytes of logs", stderr.len());
    assert!(stderr.contains("(500000 bytes)"), "{stderr}");
}
