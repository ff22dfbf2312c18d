//! Lambda caps the response at 6 MB. A response built from a request within that limit must stay
//! within it too, even when the records grow in the transform.

use crate::support::{assert_well_formed, response};
use firehose_transform::firehose::MAX_RESPONSE_BYTES;
use firehose_transform::sample::{event, event_of_size};
use firehose_transform::RecordResult;
use serde_json::json;

/// Lambda's request limit is the same 6 MB.
const MAX_REQUEST_BYTES: usize = MAX_RESPONSE_BYTES;

#[test]
fn realistic_six_megabyte_request_is_answered_whole_within_the_limit() {
    let ev = event_of_size(MAX_REQUEST_BYTES - 4096);
    let request_len = serde_json::to_vec(&ev).unwrap().len();
    assert!(
        request_len <= MAX_REQUEST_BYTES && request_len > MAX_REQUEST_BYTES - 64 * 1024,
        "{request_len}"
    );
    let processed = firehose_transform::process(&ev);
    assert!(processed.response.get().len() <= MAX_RESPONSE_BYTES);
    assert_eq!(
        processed.summary.ok,
        ev.records.len(),
        "realistic records shrink, so all fit"
    );
    assert_well_formed(&ev, &response(&ev));
}

/// The smallest valid envelope grows about sixfold in normalization (every schema field is
/// written): a 6 MB request of them cannot be answered whole. The records that do not fit must be
/// answered ProcessingFailed (so Firehose keeps them in the error output), never left out.
#[test]
fn request_of_growing_records_keeps_the_response_within_the_limit() {
    let tiny = |i: usize| {
        let env = json!({"v":1,"source":"search","observed_at":"2026-11-24T08:00:00Z","context":{"query":"q","rank":i % 10 + 1},
            "spotify":{"uri":format!("spotify:track:{i}"),"name":"n","duration_ms":1,"explicit":false}});
        let mut line = serde_json::to_vec(&env).unwrap();
        line.push(b'\n');
        line
    };
    let mut payloads = Vec::new();
    let mut ev = event(Vec::<Vec<u8>>::new());
    // Grow the request to just under 6 MB.
    let per_record =
        serde_json::to_vec(&event([tiny(0)])).unwrap().len() - serde_json::to_vec(&ev).unwrap().len() + 1;
    while serde_json::to_vec(&ev).unwrap().len() + per_record * 1000 < MAX_REQUEST_BYTES {
        for _ in 0..1000 {
            payloads.push(tiny(payloads.len()));
        }
        ev = event(payloads.clone());
    }
    assert!(serde_json::to_vec(&ev).unwrap().len() <= MAX_REQUEST_BYTES);

    let processed = firehose_transform::process(&ev);
    let len = processed.response.get().len();
    assert!(
        len <= MAX_RESPONSE_BYTES,
        "response of {len} bytes exceeds Lambda's limit"
    );
    let s = &processed.summary;
    let too_large = s.reasons.get("response_too_large").copied().unwrap_or(0);
    assert!(
        too_large > 0,
        "this request cannot be answered whole: some records must be deferred"
    );
    assert!(s.ok > 0, "the records that fit are kept");
    assert_eq!(s.ok + too_large, ev.records.len());
    let resp = response(&ev);
    assert_well_formed(&ev, &resp);
    // Deferred records are the last ones: Firehose order is kept for what fits.
    let first_failed = resp
        .records
        .iter()
        .position(|r| r.result == RecordResult::ProcessingFailed)
        .unwrap();
    assert!(resp.records[first_failed..]
        .iter()
        .all(|r| r.result == RecordResult::ProcessingFailed));
}
