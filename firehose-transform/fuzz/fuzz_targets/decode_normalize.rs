//! Fuzzes the decode-and-normalize path of the Lambda: arbitrary record bytes, as Firehose would
//! hand them over (base64 of anything), and arbitrary `data` strings (not base64 at all).
//!
//! Invariants, for every input:
//! - nothing panics (libFuzzer reports a panic as a crash);
//! - an `Ok` line is one JSON object followed by exactly one `\n`, holds no other `\n`, passes
//!   `schemas::validate`, and its `dt` partition key is the first 10 characters of `event_at`;
//! - `normalize_bytes` on the raw bytes agrees with `transform_record` on their base64;
//! - `process` on a one-record event answers that one `recordId` once, with the same result,
//!   the same line and partition keys, within the response size limit.
//!
//! Run it as `firehose-transform/fuzz/README.md` says.

#![no_main]

use base64::Engine as _;
use firehose_transform::firehose::{FirehoseRecord, RecordResult, MAX_RESPONSE_BYTES};
use firehose_transform::normalize::{normalize_bytes, Verdict};
use firehose_transform::process::{transform_record, Outcome};
use firehose_transform::{sample, FirehoseResponse};
use libfuzzer_sys::fuzz_target;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fuzz_target!(|data: &[u8]| {
    let mut decoded = Vec::new();

    // 1. The bytes as a record's payload: base64 by Firehose, decoded and normalized by us.
    let event = sample::event([data.to_vec()]);
    let record = &event.records[0];
    let outcome = transform_record(record, &mut decoded);
    assert_eq!(
        decoded, data,
        "base64 of the input did not decode back to the input"
    );
    check_outcome(&outcome);

    // 2. The same bytes straight to normalize_bytes: the same verdict, the same record.
    match (normalize_bytes(data), &outcome) {
        (Ok(Verdict::Keep(obs, source)), Outcome::Ok { line, source: s, dt }) => {
            assert_eq!(source.as_str(), *s, "partition key `source` differs");
            assert_eq!(&obs.event_at.utc_date(), dt, "partition key `dt` differs");
            let mut again = serde_json::to_vec(&*obs).expect("a TrackObservation serializes");
            again.push(b'\n');
            assert_eq!(
                &again, line,
                "normalize_bytes and transform_record made different lines"
            );
        }
        (Ok(Verdict::Drop(a)), Outcome::Dropped(b)) => assert_eq!(a, *b),
        (Err(a), Outcome::Failed(b)) => assert_eq!(a.reason, b.reason),
        (verdict, outcome) => panic!("normalize_bytes gave {verdict:?} but transform_record {outcome:?}"),
    }

    // 3. The whole Lambda on a one-record event.
    let processed = firehose_transform::process(&event);
    let text = processed.response.get();
    assert!(
        text.len() <= MAX_RESPONSE_BYTES,
        "response of {} bytes",
        text.len()
    );
    let response: FirehoseResponse =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("response is not a FirehoseResponse: {e}"));
    assert_eq!(response.records.len(), 1, "one record in, one answer out");
    let answer = &response.records[0];
    assert_eq!(answer.record_id, record.record_id);
    assert_eq!(
        answer.result,
        outcome.result(),
        "process and transform_record disagree"
    );
    match &outcome {
        Outcome::Ok { line, source, dt } => {
            let bytes = B64.decode(&answer.data).expect("an Ok answer's data is base64");
            assert_eq!(&bytes, line, "the response carries a different line");
            let keys = &answer
                .metadata
                .as_ref()
                .expect("an Ok answer has metadata")
                .partition_keys;
            assert_eq!(keys.get("source").map(String::as_str), Some(*source));
            assert_eq!(keys.get("dt"), Some(dt));
            assert_eq!(keys.len(), 2, "partition keys: {keys:?}");
        }
        Outcome::Dropped(_) | Outcome::Failed(_) => {
            assert!(
                answer.data.is_empty(),
                "a {:?} answer carries data",
                answer.result
            );
            assert!(
                answer.metadata.is_none(),
                "a {:?} answer carries metadata",
                answer.result
            );
        }
    }

    // 4. The bytes as the `data` string itself: exercises the base64 decoder on garbage.
    let raw = FirehoseRecord {
        record_id: record.record_id.clone(),
        approximate_arrival_timestamp: record.approximate_arrival_timestamp,
        data: String::from_utf8_lossy(data).into_owned(),
    };
    let outcome = transform_record(&raw, &mut decoded);
    check_outcome(&outcome);
    if B64.decode(raw.data.as_bytes()).is_err() {
        assert_eq!(outcome.result(), RecordResult::ProcessingFailed);
    }
});

/// The invariants of one record's outcome.
fn check_outcome(outcome: &Outcome) {
    let Outcome::Ok { line, source, dt } = outcome else {
        return;
    };
    assert_eq!(line.last(), Some(&b'\n'), "an Ok line must end with `\\n`");
    let newlines = line.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(newlines, 1, "an Ok line must hold exactly one `\\n`, at its end");
    let value: serde_json::Value = serde_json::from_slice(line)
        .unwrap_or_else(|e| panic!("an Ok line is not JSON ({e}): {}", String::from_utf8_lossy(line)));
    if let Err(e) = schemas::validate(&value) {
        panic!("an Ok line fails schemas::validate: {e}\n{value}");
    }
    let event_at = value["event_at"].as_str().expect("event_at is a string");
    assert_eq!(
        event_at.get(..10),
        Some(dt.as_str()),
        "partition key dt `{dt}` is not the date of event_at `{event_at}`"
    );
    assert!(
        schemas::Source::ALL.iter().any(|s| s.as_str() == *source),
        "partition key source `{source}` is not a source"
    );
}
