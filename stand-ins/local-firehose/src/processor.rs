//! The Lambda processor step: the transformation event Firehose sends, the invocation, and the
//! validation Firehose applies to the answer [Firehose developer guide, "Transform source data",
//! "Required parameters for data transformation", "Handle failure in data transformation"].
//!
//! The processor is a function from the event's JSON bytes to the response's JSON bytes, so the
//! default (`firehose_transform`, in process) goes through the same JSON contract as the Lambda.
//! A response that breaks the contract fails the whole invocation, as on Firehose: it is retried
//! (`processor_retries`), and when every attempt failed each record of the batch goes to the
//! `processing-failed` error output with the invocation's error code.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use schemas::echo::bounded;
use serde::{Deserialize, Serialize};

/// Lambda caps a synchronous request and response at 6 MB each (Lambda quotas: "Invocation
/// payload (request and response)"); Firehose's processor contract repeats it.
pub const MAX_INVOCATION_BYTES: usize = firehose_transform::firehose::MAX_RESPONSE_BYTES;

/// Error codes Firehose writes for a failed invocation [Firehose developer guide, "Monitoring
/// with CloudWatch Logs": Lambda invocation errors].
pub const MISSING_RECORD_ID: &str = "Lambda.MissingRecordId";
pub const DUPLICATED_RECORD_ID: &str = "Lambda.DuplicatedRecordId";
pub const JSON_PROCESSING_EXCEPTION: &str = "Lambda.JsonProcessingException";
pub const FUNCTION_ERROR: &str = "Lambda.FunctionError";
/// What Firehose writes for a record the function answered `ProcessingFailed` (observed in real
/// `processing-failed` objects).
pub const PROCESSING_FAILED_STATUS: &str = "Lambda.ProcessingFailedStatus";
pub const PROCESSING_FAILED_MESSAGE: &str = "ProcessingFailed status set for record";

type ProcessorFn = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync;

/// The transformation function: event JSON in, response JSON out, or an invocation error
/// (the function threw, timed out...).
#[derive(Clone)]
pub struct Processor(Arc<ProcessorFn>);

impl fmt::Debug for Processor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Processor(..)")
    }
}

impl Default for Processor {
    fn default() -> Self {
        Self::firehose_transform()
    }
}

impl Processor {
    pub fn new(f: impl Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The project's transformation Lambda, called in process through its JSON contract.
    pub fn firehose_transform() -> Self {
        Self::new(|event| {
            let event: firehose_transform::FirehoseEvent = serde_json::from_slice(event)
                .map_err(|e| format!("the event is not a Firehose event: {e}"))?;
            Ok(firehose_transform::process(&event)
                .response
                .get()
                .as_bytes()
                .to_vec())
        })
    }

    pub fn invoke(&self, event: &[u8]) -> Result<Vec<u8>, String> {
        (self.0)(event)
    }
}

/// One record as the processor sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord<'a> {
    pub record_id: &'a str,
    pub approximate_arrival_timestamp: i64,
    pub data: String,
}

/// The transformation event Firehose sends.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    pub invocation_id: String,
    pub delivery_stream_arn: &'a str,
    pub region: &'a str,
    pub records: Vec<EventRecord<'a>>,
}

/// The answer's records, read loosely so that a bad answer is told apart from a bad record.
#[derive(Debug, Deserialize)]
struct Response {
    records: Vec<ResponseRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseRecord {
    record_id: String,
    result: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    partition_keys: Option<BTreeMap<String, String>>,
}

/// What the processor made of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok {
        data: Vec<u8>,
        partition_keys: BTreeMap<String, String>,
    },
    Dropped,
    ProcessingFailed,
}

/// Why a whole invocation failed: Firehose's `errorCode` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationError {
    pub code: &'static str,
    pub message: String,
}

/// Checks the answer as Firehose does and returns one outcome per request record, in request
/// order: every `recordId` exactly once, `result` one of the three values, `data` base64.
pub fn validate(request_ids: &[&str], response: &[u8]) -> Result<Vec<Outcome>, InvocationError> {
    let json_error = |message: String| InvocationError {
        code: JSON_PROCESSING_EXCEPTION,
        message,
    };
    if response.len() > MAX_INVOCATION_BYTES {
        return Err(InvocationError {
            code: FUNCTION_ERROR,
            message: format!(
                "The response is {} bytes, more than Lambda's {MAX_INVOCATION_BYTES}.",
                response.len()
            ),
        });
    }
    let response: Response = serde_json::from_slice(response).map_err(|e| {
        json_error(format!(
            "The response does not follow the processor model: {}",
            bounded(&e.to_string())
        ))
    })?;
    let position: HashMap<&str, usize> = request_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; request_ids.len()];
    for record in response.records {
        let Some(&i) = position.get(record.record_id.as_str()) else {
            return Err(json_error(format!(
                "The response holds recordId {} that was not in the request.",
                bounded(&record.record_id)
            )));
        };
        if outcomes[i].is_some() {
            return Err(InvocationError {
                code: DUPLICATED_RECORD_ID,
                message: "The function returned multiple records with the same record ID. Ensure that the Lambda function returns unique record IDs for each record.".into(),
            });
        }
        let outcome = match record.result.as_str() {
            "Ok" => {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(record.data.as_deref().unwrap_or_default())
                    .map_err(|e| {
                        json_error(format!(
                            "recordId {}: data is not base64: {e}",
                            bounded(&record.record_id)
                        ))
                    })?;
                let partition_keys = record.metadata.and_then(|m| m.partition_keys).unwrap_or_default();
                Outcome::Ok { data, partition_keys }
            }
            "Dropped" => Outcome::Dropped,
            "ProcessingFailed" => Outcome::ProcessingFailed,
            other => {
                return Err(json_error(format!(
                    "recordId {}: result `{}` is not one of Ok, Dropped, ProcessingFailed.",
                    bounded(&record.record_id),
                    bounded(other)
                )))
            }
        };
        outcomes[i] = Some(outcome);
    }
    if outcomes.iter().any(Option::is_none) {
        return Err(InvocationError {
            code: MISSING_RECORD_ID,
            message: "One or more record Ids were not returned. Ensure that the Lambda function returns all received record Ids.".into(),
        });
    }
    Ok(outcomes.into_iter().map(|o| o.expect("checked above")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_firehose() {
        let ids = ["a", "b"];
        let ok = br#"{"records":[{"recordId":"b","result":"Dropped","data":""},{"recordId":"a","result":"Ok","data":"eAo=","metadata":{"partitionKeys":{"k":"v"}}}]}"#;
        let out = validate(&ids, ok).unwrap();
        assert_eq!(out[1], Outcome::Dropped);
        assert!(matches!(&out[0], Outcome::Ok { data, .. } if data == b"x\n"));
        let missing = br#"{"records":[{"recordId":"a","result":"Ok","data":""}]}"#;
        assert_eq!(validate(&ids, missing).unwrap_err().code, MISSING_RECORD_ID);
        let dup = br#"{"records":[{"recordId":"a","result":"Ok","data":""},{"recordId":"a","result":"Ok","data":""},{"recordId":"b","result":"Ok","data":""}]}"#;
        assert_eq!(validate(&ids, dup).unwrap_err().code, DUPLICATED_RECORD_ID);
        let bad = br#"{"records":[{"recordId":"a","result":"Fine","data":""},{"recordId":"b","result":"Ok","data":""}]}"#;
        assert_eq!(validate(&ids, bad).unwrap_err().code, JSON_PROCESSING_EXCEPTION);
        assert_eq!(validate(&ids, b"[]").unwrap_err().code, JSON_PROCESSING_EXCEPTION);
    }

    /// The processor's answer is echoed in the error output's `errorMessage` and in the log; a
    /// 1 MB recordId or result in it is shown by its start and size.
    #[test]
    fn a_1_mb_record_id_from_the_processor_is_bounded_in_the_error() {
        let huge = "9".repeat(1_000_000);
        let unknown = format!(r#"{{"records":[{{"recordId":"{huge}","result":"Ok","data":""}}]}}"#);
        let bad_result = format!(r#"{{"records":[{{"recordId":"a","result":"{huge}","data":""}}]}}"#);
        for response in [unknown, bad_result] {
            let e = validate(&["a"], response.as_bytes()).unwrap_err();
            assert!(e.message.len() < 1_000, "a message of {} bytes", e.message.len());
            assert!(e.message.contains("(1000000 bytes)"), "{}", e.message);
        }
    }
}
