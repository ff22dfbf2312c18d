//! The pure function Firehose's Lambda processor calls: one event in, one response out.

use schemas::json_line::WriteJson as _;
use serde_json::value::RawValue;

use crate::firehose::{FirehoseEvent, FirehoseRecord, RecordResult, MAX_RESPONSE_BYTES};
use crate::normalize::{normalize_bytes, DropReason, FailReason, Failure, Verdict};
use crate::summary::Summary;

/// Firehose sends and reads standard, padded base64.
const B64: base64_simd::Base64 = base64_simd::STANDARD;
const RESPONSE_OPEN: &str = r#"{"records":["#;
const RESPONSE_CLOSE: &str = "]}";
/// Room for a typical normalized line (about 1 KB), so that writing one rarely reallocates.
const LINE_CAPACITY: usize = 1536;

/// The response, already serialized (it is built as text to keep it within the size limit while
/// it grows), and what happened to each record.
#[derive(Debug)]
pub struct Processed {
    pub response: Box<RawValue>,
    pub summary: Summary,
}

/// Transforms every record of `event`. Each input `recordId` is answered exactly once, in input
/// order. The response stays within [`MAX_RESPONSE_BYTES`] for any request within Lambda's 6 MB
/// limit: when keeping a record would leave too little room for the rest, it is answered
/// `ProcessingFailed` (reason `response_too_large`) and Firehose writes it, whole, to the error
/// output, from where it can be replayed.
pub fn process(event: &FirehoseEvent) -> Processed {
    let mut summary = Summary::default();
    // The smallest answer to each record, to know how much room the rest of the batch needs.
    let minimal: Vec<usize> = event
        .records
        .iter()
        .map(|r| minimal_entry_len(&r.record_id))
        .collect();
    let mut room_for_rest: usize = minimal.iter().sum();
    let mut out = String::with_capacity(
        event
            .records
            .iter()
            .map(|r| r.data.len() / 2 + 160)
            .sum::<usize>()
            + 64,
    );
    out.push_str(RESPONSE_OPEN);
    let mut decoded = Vec::new();

    for (i, record) in event.records.iter().enumerate() {
        room_for_rest -= minimal[i];
        if i > 0 {
            out.push(',');
        }
        let start = out.len();
        let verdict = transform_record(record, &mut decoded);
        write_entry(&mut out, &record.record_id, &verdict);
        if out.len() + room_for_rest + RESPONSE_CLOSE.len() > MAX_RESPONSE_BYTES && !is_minimal(&verdict) {
            out.truncate(start);
            let too_large = Outcome::Failed(Failure {
                reason: FailReason::ResponseTooLarge,
                detail: format!("keeping it would take the response past {MAX_RESPONSE_BYTES} bytes"),
            });
            write_entry(&mut out, &record.record_id, &too_large);
            summary.count(&record.record_id, record.data.len(), &too_large);
        } else {
            summary.count(&record.record_id, record.data.len(), &verdict);
        }
    }
    out.push_str(RESPONSE_CLOSE);
    summary.response_bytes = out.len();
    let response = RawValue::from_string(out).expect("the response is built as valid JSON");
    Processed { response, summary }
}

/// What became of one record, ready to be written.
#[derive(Debug)]
pub enum Outcome {
    /// The normalized line (with its `\n`) and its partition keys.
    Ok {
        line: Vec<u8>,
        source: &'static str,
        dt: String,
    },
    Dropped(DropReason),
    Failed(Failure),
}

impl Outcome {
    pub fn result(&self) -> RecordResult {
        match self {
            Outcome::Ok { .. } => RecordResult::Ok,
            Outcome::Dropped(_) => RecordResult::Dropped,
            Outcome::Failed(_) => RecordResult::ProcessingFailed,
        }
    }
}

/// Decodes and normalizes one record. `decoded` is a reusable buffer.
pub fn transform_record(record: &FirehoseRecord, decoded: &mut Vec<u8>) -> Outcome {
    decoded.clear();
    if B64.decode_append(record.data.as_bytes(), decoded).is_err() {
        let detail = format!(
            "data is not standard padded base64 ({} characters)",
            record.data.len()
        );
        return Outcome::Failed(Failure {
            reason: FailReason::InvalidBase64,
            detail,
        });
    }
    match normalize_bytes(decoded) {
        Ok(Verdict::Keep(obs, source)) => {
            let dt = obs.event_at.utc_date();
            let source = source.as_str();
            let mut line = Vec::with_capacity(LINE_CAPACITY);
            obs.write_json(&mut line);
            line.push(b'\n');
            Outcome::Ok { line, source, dt }
        }
        Ok(Verdict::Drop(reason)) => Outcome::Dropped(reason),
        Err(failure) => Outcome::Failed(failure),
    }
}

fn is_minimal(outcome: &Outcome) -> bool {
    !matches!(outcome, Outcome::Ok { .. })
}

fn write_entry(out: &mut String, record_id: &str, outcome: &Outcome) {
    out.push_str(r#"{"recordId":"#);
    push_json_string(out, record_id);
    out.push_str(r#","result":""#);
    out.push_str(outcome.result().as_str());
    out.push_str(r#"","data":""#);
    match outcome {
        Outcome::Ok { line, source, dt } => {
            B64.encode_append(line, out);
            out.push_str(r#"","metadata":{"partitionKeys":{"source":"#);
            push_json_string(out, source);
            out.push_str(r#","dt":"#);
            push_json_string(out, dt);
            out.push_str("}}}");
        }
        Outcome::Dropped(_) | Outcome::Failed(_) => out.push_str(r#""}"#),
    }
}

/// Length of the smallest answer to a record (`ProcessingFailed`, empty data) plus its comma.
fn minimal_entry_len(record_id: &str) -> usize {
    let mut s = String::new();
    write_entry(&mut s, record_id, &Outcome::Dropped(DropReason::Episode));
    s.len() + r#"ProcessingFailed"#.len() - "Dropped".len() + 1
}

fn push_json_string(out: &mut String, s: &str) {
    if schemas::json_line::needs_escape(s) {
        // serde_json escapes exactly as JSON requires; this is rare (record ids are digits).
        out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}
