//! The Firehose data-transformation contract, request and response, as Firehose sends and reads it.
//!
//! Why not `aws_lambda_events::firehose`: its event decodes every record's base64 while the whole
//! event is parsed, so one undecodable record would fail the invocation and, after Firehose's
//! retries, send the whole batch to the error output. Here `data` stays a string and each record
//! is decoded on its own, so a bad record fails alone as `ProcessingFailed`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lambda caps a synchronous response at 6 MB (Lambda quotas: "Invocation payload (request and
/// response): 6 MB each for synchronous"). Firehose's processor contract repeats the limit.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The event Firehose sends to the transformation Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseEvent {
    pub invocation_id: String,
    pub delivery_stream_arn: String,
    pub region: String,
    pub records: Vec<FirehoseRecord>,
}

/// One record as Firehose received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    pub record_id: String,
    /// Milliseconds since the epoch.
    pub approximate_arrival_timestamp: i64,
    /// The record's bytes, base64 (standard alphabet, padded).
    pub data: String,
}

/// What the Lambda answers: every input `recordId` exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirehoseResponse {
    pub records: Vec<ResponseRecord>,
}

/// One record of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    pub record_id: String,
    pub result: RecordResult,
    /// The transformed bytes, base64; empty for `Dropped` and `ProcessingFailed` (Firehose keeps
    /// the original bytes of a failed record as `rawData` in the error output).
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ResponseMetadata>,
}

/// Metadata of an `Ok` record: the keys of dynamic partitioning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMetadata {
    pub partition_keys: BTreeMap<String, String>,
}

/// The three results Firehose accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordResult {
    Ok,
    Dropped,
    ProcessingFailed,
}

impl RecordResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordResult::Ok => "Ok",
            RecordResult::Dropped => "Dropped",
            RecordResult::ProcessingFailed => "ProcessingFailed",
        }
    }
}
