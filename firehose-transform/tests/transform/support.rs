//! Helpers shared by the test modules.

use base64::Engine as _;
use firehose_transform::{FirehoseEvent, FirehoseResponse, RecordResult};
use serde_json::Value;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn response(event: &FirehoseEvent) -> FirehoseResponse {
    let processed = firehose_transform::process(event);
    serde_json::from_str(processed.response.get()).expect("the response parses as a FirehoseResponse")
}

/// Runs one envelope through the transform: the result and, when Ok, the record as JSON.
pub fn one(envelope: &Value) -> (RecordResult, Option<Value>) {
    let mut line = serde_json::to_vec(envelope).unwrap();
    line.push(b'\n');
    let r = response(&firehose_transform::sample::event([line]))
        .records
        .remove(0);
    (r.result, decode_ok(&r))
}

/// The record an Ok answer carries, checked to be one JSON object followed by exactly one `\n`
/// that validates against the Avro schema.
pub fn decode_ok(r: &firehose_transform::ResponseRecord) -> Option<Value> {
    if r.result != RecordResult::Ok {
        return None;
    }
    let bytes = B64.decode(&r.data).expect("Ok data is base64");
    assert!(
        bytes.ends_with(b"\n") && !bytes.ends_with(b"\n\n"),
        "an Ok record ends with exactly one newline"
    );
    let value: Value = serde_json::from_slice(&bytes).expect("Ok data is one JSON document");
    if let Err(e) = schemas::validate(&value) {
        panic!("record {} does not validate against the schema: {e}", r.record_id);
    }
    Some(value)
}

/// Checks the invariants Firehose enforces on a response: every input recordId once, in order,
/// a known result, partition keys exactly on Ok records, empty data otherwise.
pub fn assert_well_formed(event: &FirehoseEvent, resp: &FirehoseResponse) {
    let ids_in: Vec<&str> = event.records.iter().map(|r| r.record_id.as_str()).collect();
    let ids_out: Vec<&str> = resp.records.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(
        ids_in, ids_out,
        "every recordId is answered exactly once, in order"
    );
    for r in &resp.records {
        match r.result {
            RecordResult::Ok => {
                let record = decode_ok(r).unwrap();
                let keys = &r
                    .metadata
                    .as_ref()
                    .expect("Ok records carry partition keys")
                    .partition_keys;
                assert_eq!(keys.len(), 2, "exactly the partition keys source and dt");
                let source = &keys["source"];
                assert!(
                    schemas::Source::ALL.iter().any(|s| s.as_str() == source),
                    "unknown source {source}"
                );
                let event_at = record["event_at"].as_str().unwrap();
                assert_eq!(keys["dt"], event_at[..10], "dt is the UTC date of event_at");
            }
            RecordResult::Dropped | RecordResult::ProcessingFailed => {
                assert!(r.data.is_empty(), "{:?} records carry no data", r.result);
                assert!(
                    r.metadata.is_none(),
                    "{:?} records carry no partition keys",
                    r.result
                );
            }
        }
    }
}
