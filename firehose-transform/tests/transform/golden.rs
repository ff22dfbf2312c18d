//! Golden tests: a real Firehose event in, the exact response out.
//!
//! For each case `X` in `tests/fixtures/`:
//! - `X.envelopes.jsonl` (when present) is the readable input: one envelope per line, as the
//!   producer sends it; `X.event.json` is the Firehose event made of those lines;
//! - `X.response.json` is the expected response, and `X.records.jsonl` the Ok records it carries,
//!   decoded, for review. `UPDATE_GOLDEN=1` rewrites the golden files.

use crate::support::{assert_well_formed, decode_ok, response, B64};
use base64::Engine as _;
use firehose_transform::{FirehoseEvent, FirehoseResponse};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some()
}

fn read(name: &str) -> String {
    let path = fixtures().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `UPDATE_GOLDEN=1 cargo test -p firehose-transform golden`",
            path.display()
        )
    })
}

fn write(name: &str, text: String) {
    std::fs::write(fixtures().join(name), text).unwrap();
}

/// The event of a case: built from its envelopes when it has them (and checked against the
/// checked-in event), read as is otherwise.
fn event(case: &str) -> FirehoseEvent {
    let jsonl = fixtures().join(format!("{case}.envelopes.jsonl"));
    let name = format!("{case}.event.json");
    if let Ok(lines) = std::fs::read_to_string(jsonl) {
        let built = firehose_transform::sample::event(lines.lines().map(|l| format!("{l}\n").into_bytes()));
        if updating() {
            write(&name, serde_json::to_string_pretty(&built).unwrap() + "\n");
        }
        let checked_in: FirehoseEvent = serde_json::from_str(&read(&name)).unwrap();
        assert_eq!(checked_in, built, "{name} is not made of {case}.envelopes.jsonl");
        for (record, line) in checked_in.records.iter().zip(lines.lines()) {
            assert_eq!(
                B64.decode(&record.data).unwrap(),
                format!("{line}\n").into_bytes()
            );
        }
    }
    serde_json::from_str(&read(&name)).unwrap_or_else(|e| panic!("{name} is not a Firehose event: {e}"))
}

fn check(case: &str) -> FirehoseResponse {
    let event = event(case);
    let actual = response(&event);
    assert_well_formed(&event, &actual);
    let records: String = actual
        .records
        .iter()
        .filter_map(decode_ok)
        .map(|r| serde_json::to_string(&r).unwrap() + "\n")
        .collect();
    if updating() {
        write(
            &format!("{case}.response.json"),
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        );
        write(&format!("{case}.records.jsonl"), records.clone());
    }
    let expected_records = read(&format!("{case}.records.jsonl"));
    // Compare the readable records first, so a difference shows as text rather than base64.
    for (got, want) in records.lines().zip(expected_records.lines()) {
        assert_eq!(got, want, "{case}: a record differs from {case}.records.jsonl");
    }
    assert_eq!(
        records.lines().count(),
        expected_records.lines().count(),
        "{case}: number of Ok records"
    );
    let expected: FirehoseResponse = serde_json::from_str(&read(&format!("{case}.response.json"))).unwrap();
    assert_eq!(
        actual, expected,
        "{case}: response differs from {case}.response.json"
    );
    actual
}

fn results(resp: &FirehoseResponse) -> Vec<&'static str> {
    resp.records.iter().map(|r| r.result.as_str()).collect()
}

#[test]
fn golden_playlist_shapes() {
    let resp = check("playlist_shapes");
    // item only, track only, both, null item, episode, local file, null added_at, old episode flag
    assert_eq!(
        results(&resp),
        ["Ok", "Ok", "Ok", "Dropped", "Dropped", "Ok", "Ok", "Dropped"]
    );
}

#[test]
fn golden_sources() {
    let resp = check("sources");
    // recently_played x2, saved, top, search, null search hit, episode play, year 0000
    assert_eq!(
        results(&resp),
        ["Ok", "Ok", "Ok", "Ok", "Ok", "Dropped", "Dropped", "Ok"]
    );
}

#[test]
fn golden_invalid_records_fail_alone() {
    let resp = check("invalid");
    for r in &resp.records {
        let expected = if r.record_id == "ok_control" {
            "Ok"
        } else {
            "ProcessingFailed"
        };
        assert_eq!(r.result.as_str(), expected, "{}", r.record_id);
    }
    // The reason of each failure, as counted and logged.
    let processed = firehose_transform::process(&event("invalid"));
    let reason_of = |id: &str| {
        processed
            .summary
            .failures
            .iter()
            .find(|f| f.record_id == id)
            .unwrap()
            .reason
    };
    for f in &processed.summary.failures {
        assert!(
            f.record_id.starts_with(f.reason),
            "{} failed as {}: {}",
            f.record_id,
            f.reason,
            f.detail
        );
        assert!(f.detail.len() <= 310, "details are bounded");
    }
    assert_eq!(reason_of("invalid_base64"), "invalid_base64");
    assert_eq!(processed.summary.processing_failed, 14);
    let detail = |id: &str| {
        processed
            .summary
            .failures
            .iter()
            .find(|f| f.record_id == id)
            .unwrap()
            .detail
            .clone()
    };
    assert!(
        detail("schema_violation_duration_string").contains("duration_ms"),
        "{}",
        detail("schema_violation_duration_string")
    );
    assert!(detail("schema_violation_no_name").contains("`name`"));
    assert!(detail("invalid_envelope_no_observed_at").contains("observed_at"));
    assert!(detail("invalid_envelope_top_without_rank").contains("context.rank"));
    assert!(detail("invalid_envelope_version_2").contains("version 2"));
    // Values outside the schema's domain, and a date no dt partition of the table would show.
    assert!(detail("schema_violation_duration_minus_one").contains("`duration_ms` -1 is negative"));
    assert!(detail("schema_violation_popularity_101").contains("`popularity` 101 is outside"));
    assert!(detail("schema_violation_played_at_9999_12_31").contains("event date 9999-12-31"));
}
