//! A Firehose stand-in for the sink's tests. It speaks PutRecordBatch over AWS JSON 1.1 to the
//! real aws-sdk-firehose client, enforces the real per-call limits on its own (it does not trust
//! the sink's constants), logs every call, and answers each valid call as the test scripts it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_firehose::Client;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

/// PutRecordBatch limits [Firehose API reference], written out again on purpose.
const MAX_RECORDS: usize = 500;
const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;
const MAX_RECORD_BYTES: usize = 1_024_000;
/// Large enough that an over-limit call reaches the limit checks instead of an HTTP 413.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

const TARGET: &str = "Firehose_20150804.PutRecordBatch";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How the stand-in answers one valid call.
pub enum Reply {
    /// HTTP 200; per record, in request order, `None` to accept it or `Some((code, message))`
    /// to fail it.
    Records(Vec<Option<(&'static str, String)>>),
    /// A whole-call error with this HTTP status and error code.
    Error {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
}

impl Reply {
    pub fn accept_all(records: &[Vec<u8>]) -> Self {
        Reply::Records(vec![None; records.len()])
    }

    /// Fails each record that contains `marker` as Firehose fails a record it cannot take now
    /// (`ServiceUnavailableException`), and accepts the others: a record that never gets through.
    pub fn fail_records_containing(records: &[Vec<u8>], marker: &[u8]) -> Self {
        Reply::Records(
            records
                .iter()
                .map(|r| {
                    r.windows(marker.len())
                        .any(|w| w == marker)
                        .then(|| ("ServiceUnavailableException", "Slow down.".to_string()))
                })
                .collect(),
        )
    }

    pub fn throttled() -> Self {
        Reply::Error {
            status: 400,
            code: "ServiceUnavailableException",
            message: "Slow down.",
        }
    }
}

/// One call as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub stream: String,
    /// Decoded record data, in request order.
    pub records: Vec<Vec<u8>>,
    /// Per record: answered with a `RecordId`. All false when the whole call failed.
    pub accepted: Vec<bool>,
    pub status: u16,
    /// The error code of a whole-call failure.
    pub error: Option<String>,
}

type Script = Box<dyn FnMut(usize, &[Vec<u8>]) -> Reply + Send>;

struct Shared {
    stream: String,
    calls: Mutex<Vec<Call>>,
    /// The script, and how many calls it has answered.
    script: Mutex<(usize, Script)>,
}

pub struct FakeFirehose {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeFirehose {
    /// Serves delivery stream `stream` on a free loopback port. `script` gets the number of
    /// valid calls before this one and the call's records.
    pub async fn start(
        stream: &str,
        script: impl FnMut(usize, &[Vec<u8>]) -> Reply + Send + 'static,
    ) -> Self {
        let shared = Arc::new(Shared {
            stream: stream.to_owned(),
            calls: Mutex::new(Vec::new()),
            script: Mutex::new((0, Box::new(script))),
        });
        let app = Router::new()
            .route("/", post(put_record_batch))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared }
    }

    /// The URL to point an SDK client at.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The real SDK client pointed at this stand-in, with the SDK's default retries.
    pub fn client(&self) -> Client {
        Client::from_conf(self.config().build())
    }

    /// The same, with the SDK's retries set to `retry`.
    pub fn client_with_sdk_retries(&self, retry: RetryConfig) -> Client {
        Client::from_conf(self.config().retry_config(retry).build())
    }

    fn config(&self) -> aws_sdk_firehose::config::Builder {
        // The SDK signs every request, so it needs a region and some credentials even here.
        aws_sdk_firehose::Config::builder()
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .behavior_version(BehaviorVersion::latest())
    }

    /// Every call so far, in the order they were answered.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }
}

async fn put_record_batch(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let mut call = Call {
        stream: String::new(),
        records: Vec::new(),
        accepted: Vec::new(),
        status: 0,
        error: None,
    };
    let reply = if header("x-amz-target") != TARGET || !header("content-type").starts_with(CONTENT_TYPE) {
        Reply::Error {
            status: 400,
            code: "UnknownOperationException",
            message: "Unknown operation.",
        }
    } else {
        match parse(&body) {
            Err(message) => Reply::Error {
                status: 400,
                code: "SerializationException",
                message,
            },
            Ok((stream, records)) => {
                call.stream = stream;
                call.records = records;
                check(&shared, &call).unwrap_or_else(|| {
                    let mut script = shared.script.lock().unwrap();
                    let (n, script) = &mut *script;
                    *n += 1;
                    script(*n - 1, &call.records)
                })
            }
        }
    };
    let response = match reply {
        Reply::Records(outcomes) => {
            assert_eq!(
                outcomes.len(),
                call.records.len(),
                "the script must answer every record"
            );
            call.status = 200;
            call.accepted = outcomes.iter().map(Option::is_none).collect();
            let failed = outcomes.iter().filter(|o| o.is_some()).count();
            let entries: Vec<Value> = outcomes
                .into_iter()
                .enumerate()
                .map(|(i, outcome)| match outcome {
                    None => json!({"RecordId": format!("record-{i}")}),
                    Some((code, message)) => json!({"ErrorCode": code, "ErrorMessage": message}),
                })
                .collect();
            let body = json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": entries});
            (StatusCode::OK, [("content-type", CONTENT_TYPE)], body.to_string()).into_response()
        }
        Reply::Error {
            status,
            code,
            message,
        } => {
            call.status = status;
            call.accepted = vec![false; call.records.len()];
            call.error = Some(code.to_owned());
            let body = json!({"__type": code, "message": message}).to_string();
            let status = StatusCode::from_u16(status).unwrap();
            (
                status,
                [("content-type", CONTENT_TYPE), ("x-amzn-ErrorType", code)],
                body,
            )
                .into_response()
        }
    };
    shared.calls.lock().unwrap().push(call);
    response
}

fn parse(body: &[u8]) -> Result<(String, Vec<Vec<u8>>), &'static str> {
    let request: Value = serde_json::from_slice(body).map_err(|_| "Body is not JSON.")?;
    let stream = request["DeliveryStreamName"]
        .as_str()
        .ok_or("DeliveryStreamName is missing.")?;
    let records = request["Records"].as_array().ok_or("Records is missing.")?;
    let records = records
        .iter()
        .map(|r| {
            let data = r["Data"].as_str().ok_or("Record Data is missing.")?;
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| "Record Data is not base64.")
        })
        .collect::<Result<_, _>>()?;
    Ok((stream.to_owned(), records))
}

/// The checks real Firehose makes before looking at records one by one.
fn check(shared: &Shared, call: &Call) -> Option<Reply> {
    let invalid = |message| {
        Some(Reply::Error {
            status: 400,
            code: "InvalidArgumentException",
            message,
        })
    };
    if call.stream != shared.stream {
        return Some(Reply::Error {
            status: 400,
            code: "ResourceNotFoundException",
            message: "Firehose stream not found under account 123456789012.",
        });
    }
    if call.records.is_empty() || call.records.len() > MAX_RECORDS {
        return invalid("Records has to have between 1 and 500 entries.");
    }
    if call.records.iter().any(|r| r.len() > MAX_RECORD_BYTES) {
        return invalid("Record size exceeds 1,000 KiB.");
    }
    if call.records.iter().map(Vec::len).sum::<usize>() > MAX_CALL_BYTES {
        return invalid("Records size exceeds 4 MiB.");
    }
    None
}
