//! The Firehose API over AWS JSON 1.1, as the real `aws-sdk-firehose` client speaks it: `POST /`
//! with `X-Amz-Target: Firehose_20150804.<Operation>` and `Content-Type:
//! application/x-amz-json-1.1`; record `Data` is base64 in the JSON. Errors carry `__type` and
//! `message` (and the `x-amzn-ErrorType` header). Signatures are not checked: the SDK signs every
//! request, and local mode gives it dummy credentials.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use schemas::echo::bounded;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::journal::Journal;
use crate::pipeline::{Incoming, Msg};
use crate::{DeliveryStats, FirehoseConfig, Output, LOCAL_ACCOUNT_ID};

/// PutRecordBatch takes at most 500 records per call [Firehose API reference, PutRecordBatch].
pub const MAX_BATCH_RECORDS: usize = 500;
/// ...and at most 4 MiB of record data per call [Firehose API reference, PutRecordBatch].
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Each record may hold at most 1,000 KiB before base64 [Firehose API reference, PutRecord and
/// PutRecordBatch; Firehose quotas]. None of the three can be raised.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
/// HTTP body limit: large enough that an over-limit call reaches the checks above (and gets
/// Firehose's error) rather than a bare HTTP 413.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

pub const TARGET_PREFIX: &str = "Firehose_20150804.";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The delivery stream's destination id, as Firehose numbers its first destination.
const DESTINATION_ID: &str = "destinationId-000000000001";
/// BufferingHints ranges [Firehose API reference, BufferingHints]: 1-128 MiB, 0-900 s.
const MAX_BUFFER_MIB: usize = 128;
const MAX_BUFFER_SECONDS: u64 = 900;
/// What the fault switch answers, as Firehose does when it is overloaded.
const SLOW_DOWN: &str = "Slow down.";

/// Shared by the request handlers.
pub struct ApiState {
    stream: String,
    description: Value,
    queue: mpsc::Sender<Msg>,
    stats: Arc<Mutex<DeliveryStats>>,
    fault_rate: f64,
    rng: Mutex<fastrand::Rng>,
    next_id: AtomicU64,
    id_base: u64,
    journal: Arc<Journal>,
}

impl ApiState {
    pub(crate) fn new(
        config: &FirehoseConfig,
        queue: mpsc::Sender<Msg>,
        stats: Arc<Mutex<DeliveryStats>>,
        journal: Arc<Journal>,
    ) -> Arc<Self> {
        let created = chrono::Utc::now();
        Arc::new(Self {
            stream: config.settings.stream_name.clone(),
            description: describe(config, created.timestamp_millis() as f64 / 1000.0),
            queue,
            stats,
            fault_rate: config.fault_rate,
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            next_id: AtomicU64::new(0),
            id_base: created.timestamp_micros() as u64,
            journal,
        })
    }

    /// A record id in Firehose's style: a long opaque string of digits, unique per stream.
    fn record_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:020}{:036}", self.id_base, n)
    }

    fn fails(&self) -> bool {
        self.fault_rate > 0.0 && self.rng.lock().expect("rng lock").f64() < self.fault_rate
    }
}

pub(crate) fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/", post(handle))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// An error answer in the AWS JSON 1.1 shape.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message}).to_string();
        (
            self.status,
            [
                ("content-type", CONTENT_TYPE),
                ("x-amzn-ErrorType", self.code),
                ("x-amzn-RequestId", &crate::naming::uuid_v4()),
            ],
            body,
        )
            .into_response()
    }
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [
            ("content-type", CONTENT_TYPE),
            ("x-amzn-RequestId", &crate::naming::uuid_v4()),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn handle(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let content_type = header("content-type");
    if !content_type.starts_with(CONTENT_TYPE) {
        return ApiError::bad(
            "SerializationException",
            format!(
                "Content-Type must be {CONTENT_TYPE}, not `{}`.",
                bounded(content_type)
            ),
        )
        .into_response();
    }
    let operation = header("x-amz-target")
        .strip_prefix(TARGET_PREFIX)
        .unwrap_or_default();
    let result = match operation {
        "PutRecordBatch" => put_record_batch(&state, &body).await,
        "PutRecord" => put_record(&state, &body).await,
        "DescribeDeliveryStream" => describe_delivery_stream(&state, &body),
        "ListDeliveryStreams" => {
            Ok(json!({"DeliveryStreamNames": [state.stream], "HasMoreDeliveryStreams": false}))
        }
        _ => Err(ApiError::bad(
            "UnknownOperationException",
            format!(
                "Operation `{}` is not supported by the local Firehose.",
                bounded(header("x-amz-target"))
            ),
        )),
    };
    match result {
        Ok(body) => ok(body),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordIn {
    data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordBatchIn {
    delivery_stream_name: String,
    records: Vec<RecordIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordIn {
    delivery_stream_name: String,
    record: RecordIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamNameIn {
    delivery_stream_name: String,
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad(
            "SerializationException",
            format!("Invalid request body: {}", bounded(&e.to_string())),
        )
    })
}

fn check_stream(state: &ApiState, name: &str) -> Result<(), ApiError> {
    if name == state.stream {
        Ok(())
    } else {
        Err(ApiError::bad(
            "ResourceNotFoundException",
            format!(
                "Firehose stream {} under account {LOCAL_ACCOUNT_ID} not found.",
                bounded(name)
            ),
        ))
    }
}

fn decode(records: Vec<RecordIn>) -> Result<Vec<Vec<u8>>, ApiError> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            base64::engine::general_purpose::STANDARD
                .decode(r.data)
                .map_err(|e| {
                    ApiError::bad(
                        "SerializationException",
                        format!("Record {i}: Data is not base64: {e}"),
                    )
                })
        })
        .collect()
}

fn check_record_size(i: usize, data: &[u8]) -> Result<(), ApiError> {
    if data.len() > MAX_RECORD_BYTES {
        return Err(ApiError::bad(
            "InvalidArgumentException",
            format!(
                "Record {i} is {} bytes; a record may hold at most {MAX_RECORD_BYTES} bytes (1,000 KiB) before base64.",
                data.len()
            ),
        ));
    }
    Ok(())
}

/// Journals the records (so that they survive a crash once acknowledged), then queues them.
async fn enqueue(state: &ApiState, mut records: Vec<Incoming>) -> Result<(), ApiError> {
    if records.is_empty() {
        return Ok(());
    }
    crate::pipeline::cpu(|| state.journal.append(&mut records)).map_err(|e| {
        tracing::error!(error = %e, "cannot journal records; answering ServiceUnavailableException");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServiceUnavailableException",
            message: "The local Firehose cannot store the records durably; see its log.".into(),
        }
    })?;
    state
        .queue
        .send(Msg::Records(records))
        .await
        .map_err(|_| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServiceUnavailableException",
            message: "The local Firehose is shutting down.".into(),
        })
}

async fn put_record_batch(state: &ApiState, body: &[u8]) -> Result<Value, ApiError> {
    let request: PutRecordBatchIn = parse(body)?;
    check_stream(state, &request.delivery_stream_name)?;
    let n = request.records.len();
    if n == 0 || n > MAX_BATCH_RECORDS {
        return Err(ApiError::bad(
            "InvalidArgumentException",
            format!("Records has {n} entries; a call takes between 1 and {MAX_BATCH_RECORDS}."),
        ));
    }
    let records = decode(request.records)?;
    for (i, data) in records.iter().enumerate() {
        check_record_size(i, data)?;
    }
    let total: usize = records.iter().map(Vec::len).sum();
    if total > MAX_BATCH_BYTES {
        return Err(ApiError::bad(
            "InvalidArgumentException",
            format!("Records hold {total} bytes; a call takes at most {MAX_BATCH_BYTES} bytes (4 MiB)."),
        ));
    }
    let arrival = chrono::Utc::now().timestamp_millis();
    let mut accepted = Vec::with_capacity(n);
    let mut responses = Vec::with_capacity(n);
    for data in records {
        if state.fails() {
            responses.push(json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": SLOW_DOWN}));
        } else {
            let id = state.record_id();
            responses.push(json!({"RecordId": id}));
            accepted.push(Incoming {
                seq: 0,
                id,
                arrival_ms: arrival,
                data,
            });
        }
    }
    let failed = n - accepted.len();
    state.stats.lock().expect("stats lock").records_refused += failed as u64;
    enqueue(state, accepted).await?;
    Ok(json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": responses}))
}

async fn put_record(state: &ApiState, body: &[u8]) -> Result<Value, ApiError> {
    let request: PutRecordIn = parse(body)?;
    check_stream(state, &request.delivery_stream_name)?;
    let data = decode(vec![request.record])?.pop().expect("one record");
    check_record_size(0, &data)?;
    if state.fails() {
        state.stats.lock().expect("stats lock").records_refused += 1;
        // PutRecord has no per-record answer: the whole call fails [Firehose API reference: HTTP 500].
        return Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServiceUnavailableException",
            message: SLOW_DOWN.into(),
        });
    }
    let id = state.record_id();
    enqueue(
        state,
        vec![Incoming {
            seq: 0,
            id: id.clone(),
            arrival_ms: chrono::Utc::now().timestamp_millis(),
            data,
        }],
    )
    .await?;
    Ok(json!({"RecordId": id, "Encrypted": false}))
}

fn describe_delivery_stream(state: &ApiState, body: &[u8]) -> Result<Value, ApiError> {
    let request: StreamNameIn = parse(body)?;
    check_stream(state, &request.delivery_stream_name)?;
    Ok(state.description.clone())
}

/// The stream as DescribeDeliveryStream reports it: an extended S3 destination with the Lambda
/// processor, source-record backup, Parquet conversion from the Glue table, and dynamic
/// partitioning, all from the delivery settings.
fn describe(config: &FirehoseConfig, created: f64) -> Value {
    let s = &config.settings;
    let (processed, raw, processor) = config.hints();
    // Test overrides can exceed what the API can express; report them within its ranges.
    let mib = |bytes: usize| (bytes / (1024 * 1024)).clamp(1, MAX_BUFFER_MIB);
    let secs = |d: std::time::Duration| d.as_secs().min(MAX_BUFFER_SECONDS);
    let bucket_arn = match &config.output {
        Output::S3 { bucket, .. } => format!("arn:aws:s3:::{bucket}"),
        Output::LocalDir(_) => "arn:aws:s3:::local-lake".to_owned(),
    };
    let role_arn = format!("arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{}-delivery", s.stream_name);
    let no_encryption = json!({"NoEncryptionConfig": "NoEncryption"});
    let table = &config.glue_table.table_input.name;
    json!({
        "DeliveryStreamDescription": {
            "DeliveryStreamName": s.stream_name,
            "DeliveryStreamARN": config.stream_arn(),
            "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamType": "DirectPut",
            "VersionId": crate::naming::STREAM_VERSION.to_string(),
            "CreateTimestamp": created,
            "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
            "Destinations": [{
                "DestinationId": DESTINATION_ID,
                "ExtendedS3DestinationDescription": {
                    "RoleARN": role_arn,
                    "BucketARN": bucket_arn,
                    "Prefix": s.processed_prefix,
                    "ErrorOutputPrefix": s.error_output_prefix,
                    "BufferingHints": {"SizeInMBs": mib(processed.size_bytes), "IntervalInSeconds": secs(processed.interval)},
                    // Format conversion requires UNCOMPRESSED here; Parquet compresses itself.
                    "CompressionFormat": "UNCOMPRESSED",
                    "EncryptionConfiguration": no_encryption,
                    "ProcessingConfiguration": {
                        "Enabled": true,
                        "Processors": [{
                            "Type": "Lambda",
                            "Parameters": [
                                {"ParameterName": "LambdaArn", "ParameterValue": config.lambda_arn()},
                                {"ParameterName": "NumberOfRetries", "ParameterValue": s.processor_retries.to_string()},
                                {"ParameterName": "BufferSizeInMBs", "ParameterValue": mib(processor.size_bytes).to_string()},
                                {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": secs(processor.interval).to_string()}
                            ]
                        }]
                    },
                    "S3BackupMode": "Enabled",
                    "S3BackupDescription": {
                        "RoleARN": role_arn,
                        "BucketARN": bucket_arn,
                        "Prefix": s.raw_backup_prefix,
                        "ErrorOutputPrefix": s.raw_backup_error_output_prefix,
                        "BufferingHints": {"SizeInMBs": mib(raw.size_bytes), "IntervalInSeconds": secs(raw.interval)},
                        "CompressionFormat": "GZIP",
                        "EncryptionConfiguration": no_encryption
                    },
                    "DataFormatConversionConfiguration": {
                        "Enabled": true,
                        "SchemaConfiguration": {
                            "RoleARN": role_arn,
                            "CatalogId": LOCAL_ACCOUNT_ID,
                            "DatabaseName": config.glue_database,
                            "TableName": table,
                            "Region": config.region,
                            "VersionId": "LATEST"
                        },
                        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}}
                    },
                    "DynamicPartitioningConfiguration": {"Enabled": true, "RetryOptions": {"DurationInSeconds": 300}}
                }
            }],
            "HasMoreDestinations": false
        }
    })
}
