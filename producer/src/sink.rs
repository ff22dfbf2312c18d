//! Firehose sink: sends raw envelope lines with PutRecordBatch, within Firehose's limits, and
//! resends only the records that failed.
//!
//! Rules (docs/firehose.md#putrecordbatch-limits and docs/firehose.md#partial-failures):
//! - batches are packed greedily in input order within [`MAX_RECORDS_PER_CALL`] and
//!   [`MAX_BYTES_PER_CALL`]; a record over [`MAX_RECORD_BYTES`] is never sent, it is reported as
//!   rejected;
//! - a 200 answer may still carry per-record failures (`FailedPutCount > 0`, an `ErrorCode` per
//!   failed entry, in request order). The SDK never retries those, so the sink resends exactly the
//!   failed records, with exponential backoff and full jitter, up to `SinkConfig::retry.max_attempts`
//!   calls per record. Resends mean downstream may see a record twice, never zero times;
//! - whole-call failures that may pass (throttling, 5xx, timeouts, connection errors) are retried
//!   by the same policy; errors that cannot pass by waiting (no such stream, access denied,
//!   invalid request) stop the run at once with a [`SinkError`];
//! - at most `SinkConfig::max_in_flight` calls are in flight at a time. Firehose does not keep
//!   order across calls, so neither does the sink.
//!
//! Retries in two layers. A client built by [`FirehoseSink::from_env`] has the SDK's own retries
//! switched off, so the sink's policy is the only loop and `SinkReport::calls` counts every HTTP
//! request. A client passed to [`FirehoseSink::new`] keeps its own retry configuration: since
//! behavior version 2026-01-12 that is the SDK's standard mode (3 attempts), which retries 5xx,
//! timeouts, connection errors and the SDK's throttling codes, but not Firehose's
//! `ServiceUnavailableException` (HTTP 400, not modelled retryable) and never per-record failures.
//! Then one sink call may be several HTTP requests, and the total per record stays bounded by
//! `retry.max_attempts` times the SDK's `max_attempts`.
//!
//! Nothing is dropped silently: every input record ends up delivered, rejected or failed
//! ([`SinkReport::is_accounted`]). Record contents never reach a log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_firehose::operation::put_record_batch::{PutRecordBatchError, PutRecordBatchOutput};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use aws_sdk_firehose::Client;

/// The region a [`FirehoseSink::local`] client signs for (any region would do locally).
pub const LOCAL_REGION: &str = "us-east-1";
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use spotify_client::backoff::Backoff;

/// PutRecordBatch takes at most 500 records per call; not adjustable
/// [Firehose API reference, PutRecordBatch; Firehose quotas].
pub const MAX_RECORDS_PER_CALL: usize = 500;

/// PutRecordBatch takes at most 4 MiB of record data per call; not adjustable
/// [Firehose API reference, PutRecordBatch; Firehose quotas].
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;

/// One record is at most 1,000 KiB before base64 encoding (the `Data` member is 0..=1,024,000
/// bytes) [Firehose API reference, PutRecordBatch and Record].
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// Error messages from the service are cut to this many characters in logs and reports, so a
/// long or hostile message cannot flood either.
const MAX_MESSAGE_CHARS: usize = 256;

/// Whole-call error codes outside the operation's model that waiting can fix
/// [AWS common errors reference: InternalFailure, ServiceUnavailable, ThrottlingException].
const RETRYABLE_CODES: &[&str] = &[
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ThrottlingException",
    "Throttling",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whole-call error codes that mean the credentials are missing, wrong, expired or not allowed
/// [AWS common errors reference].
const ACCESS_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "NotAuthorized",
];

/// The code given to records that were not sent (again) because another batch hit a
/// non-retryable error; [`SinkReport::fatal`] holds that error.
pub const ABORTED_CODE: &str = "Aborted";

/// How the sink retries and how hard it pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkConfig {
    /// Backoff between calls, and `max_attempts`: the most calls any one record is part of
    /// (the first included). A whole-call failure counts as an attempt for every record in it.
    /// 0 is treated as 1.
    pub retry: Backoff,
    /// PutRecordBatch calls in flight at once, across batches. 0 is treated as 1.
    pub max_in_flight: usize,
    /// A call with no answer after this long is abandoned and counts as a retryable failure, so
    /// a hung connection cannot hold the run forever.
    pub call_timeout: Duration,
}

impl Default for SinkConfig {
    /// Six attempts over at most ~6 s of backoff (0.2, 0.4, 0.8, 1.6, 3.2 s ceilings): enough
    /// to ride out a throttling burst, short against a scheduled Lambda run. Four calls in flight
    /// move ~16 MiB at a time.
    fn default() -> Self {
        Self {
            retry: Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(5),
                max_attempts: 6,
            },
            max_in_flight: 4,
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// A failure that waiting will not fix. The run stops at the first one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error(
        "Firehose delivery stream `{stream}` does not exist at this endpoint, account and region \
         ({message}): create it (`pulumi up`, or start the local Firehose), or fix the stream \
         name, AWS_REGION or AWS_ENDPOINT_URL_FIREHOSE"
    )]
    StreamNotFound { stream: String, message: String },
    #[error(
        "Firehose refused the credentials for delivery stream `{stream}` ({code}: {message}): \
         check which AWS credentials are in use and that they may call firehose:PutRecordBatch \
         on this stream"
    )]
    AccessDenied {
        stream: String,
        code: String,
        message: String,
    },
    #[error(
        "the KMS key of Firehose delivery stream `{stream}` cannot be used ({message}): check \
         that the key is enabled and that the stream's role may use it"
    )]
    KmsKey { stream: String, message: String },
    #[error(
        "Firehose rejected the PutRecordBatch request to `{stream}` ({code}: {message}): check \
         that the stream takes direct puts (its source is not a Kinesis stream, nor CloudWatch \
         Logs only); if it does, the sink built a bad request, please report it"
    )]
    InvalidRequest {
        stream: String,
        code: String,
        message: String,
    },
    #[error(
        "could not send a PutRecordBatch request to `{stream}` ({detail}): check the AWS region, \
         credentials and endpoint settings"
    )]
    Request { stream: String, detail: String },
    #[error(
        "Firehose answered PutRecordBatch to `{stream}` with HTTP {status} {code} ({message}), \
         an error the sink does not retry: check the stream and the endpoint"
    )]
    Unexpected {
        stream: String,
        status: u16,
        code: String,
        message: String,
    },
}

impl SinkError {
    /// The AWS error code behind this error (or a short name of our own where there is none).
    pub fn code(&self) -> &str {
        match self {
            Self::StreamNotFound { .. } => "ResourceNotFoundException",
            Self::KmsKey { .. } => "InvalidKMSResourceException",
            Self::Request { .. } => "RequestNotSent",
            Self::AccessDenied { code, .. }
            | Self::InvalidRequest { code, .. }
            | Self::Unexpected { code, .. } => code,
        }
    }
}

/// A record the sink refused to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    /// Position in the input of [`FirehoseSink::send_all`].
    pub index: usize,
    pub reason: RejectReason,
}

/// Why a record was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error(
        "record of {bytes} bytes is over Firehose's limit of {limit} bytes per record: it was \
         not sent; split the Spotify object or drop fields before building the envelope"
    )]
    TooLarge { bytes: usize, limit: usize },
}

/// A record that was sent but not accepted within the attempt budget (or not sent because the
/// run stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecord {
    /// Position in the input of [`FirehoseSink::send_all`].
    pub index: usize,
    /// Calls this record was part of.
    pub attempts: u32,
    /// The last error: a per-record `ErrorCode`, a whole-call error code, or [`ABORTED_CODE`].
    pub error_code: String,
    /// Its message, cut to a bounded length.
    pub error_message: String,
}

/// What happened to the records of one [`FirehoseSink::send_all`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Records given.
    pub given: usize,
    /// Records Firehose accepted (each counted once).
    pub delivered: usize,
    /// Re-sends: a record sent three times counts two.
    pub resent: usize,
    /// PutRecordBatch calls the sink made (the SDK's own retries inside one call not counted).
    pub calls: usize,
    /// Records never sent, with the reason; in input order.
    pub rejected: Vec<RejectedRecord>,
    /// Records not delivered after retries, with the last error; in input order.
    pub failed: Vec<FailedRecord>,
    /// The non-retryable error that stopped the run, if one did.
    pub fatal: Option<SinkError>,
}

impl SinkReport {
    /// Every record given was delivered.
    pub fn all_delivered(&self) -> bool {
        self.delivered == self.given
    }

    /// Every record is counted exactly once: `given == delivered + rejected + failed`.
    pub fn is_accounted(&self) -> bool {
        self.given == self.delivered + self.rejected.len() + self.failed.len()
    }
}

/// Sends records to one Firehose delivery stream. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FirehoseSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    stream: String,
    config: SinkConfig,
}

impl FirehoseSink {
    /// A sink over a client built elsewhere (tests, or a caller with its own SDK settings; see
    /// the module docs on how the client's retries add to the sink's).
    pub fn new(client: Client, stream_name: impl Into<String>, config: SinkConfig) -> Self {
        let mut config = config;
        config.retry.max_attempts = config.retry.max_attempts.max(1);
        config.max_in_flight = config.max_in_flight.max(1);
        Self {
            inner: Arc::new(Inner {
                client,
                stream: stream_name.into(),
                config,
            }),
        }
    }

    /// A sink over a client from the SDK's standard configuration (region, credentials, and the
    /// endpoint from `AWS_ENDPOINT_URL_FIREHOSE` / `AWS_ENDPOINT_URL` when set: that is how the
    /// same code targets AWS or the local Firehose). The SDK's own retries are switched off so
    /// that the sink's bounded policy is the only retry loop.
    pub async fn from_env(stream_name: impl Into<String>, config: SinkConfig) -> Self {
        let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::from_sdk_config(&shared, stream_name, config)
    }

    /// Like [`FirehoseSink::from_env`], from an SDK configuration already loaded (the Lambda
    /// loads one for its S3, Secrets Manager and Firehose clients).
    pub fn from_sdk_config(
        shared: &aws_config::SdkConfig,
        stream_name: impl Into<String>,
        config: SinkConfig,
    ) -> Self {
        let firehose = aws_sdk_firehose::config::Builder::from(shared)
            .retry_config(RetryConfig::disabled())
            .build();
        Self::new(Client::from_conf(firehose), stream_name, config)
    }

    /// A sink for a Firehose-compatible endpoint that needs no AWS account (the local Firehose
    /// of `tracklake run`): the SDK signs every request, so it is given placeholder credentials
    /// and a region, which such an endpoint does not check. Retries as in
    /// [`FirehoseSink::from_env`].
    pub fn local(endpoint: &str, stream_name: impl Into<String>, config: SinkConfig) -> Self {
        let firehose = aws_sdk_firehose::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_firehose::config::Region::new(LOCAL_REGION))
            .credentials_provider(aws_sdk_firehose::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "tracklake-local",
            ))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .build();
        Self::new(Client::from_conf(firehose), stream_name, config)
    }

    /// The delivery stream this sink writes to.
    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// Sends every record (each one raw envelope line ending in `\n`; not checked here) and
    /// reports what became of each. Never fails as a whole: a non-retryable error ends up in
    /// [`SinkReport::fatal`], with the records it kept from Firehose in [`SinkReport::failed`].
    pub async fn send_all(&self, records: Vec<Vec<u8>>) -> SinkReport {
        let given = records.len();
        let (batches, rejected) = pack(records);
        let mut report = SinkReport {
            given,
            rejected,
            ..SinkReport::default()
        };
        let run = Arc::new(Run {
            sink: self.inner.clone(),
            in_flight: Semaphore::new(self.inner.config.max_in_flight),
            aborted: AtomicBool::new(false),
        });
        let mut tasks = JoinSet::new();
        for batch in batches {
            tasks.spawn(run.clone().send_batch(batch));
        }
        while let Some(joined) = tasks.join_next().await {
            // A panic is a bug; pass it on rather than lose the batch's records from the count.
            let outcome = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            report.delivered += outcome.delivered;
            report.resent += outcome.resent;
            report.calls += outcome.calls;
            report.failed.extend(outcome.failed);
            if report.fatal.is_none() {
                report.fatal = outcome.fatal;
            }
        }
        report.failed.sort_unstable_by_key(|f| f.index);
        tracing::info!(
            stream = %self.inner.stream,
            given = report.given,
            delivered = report.delivered,
            resent = report.resent,
            rejected = report.rejected.len(),
            failed = report.failed.len(),
            calls = report.calls,
            "firehose sink finished"
        );
        report
    }
}

/// A record on its way, with the last error it got.
struct Pending {
    index: usize,
    data: Blob,
    last_error: Option<RecordError>,
}

#[derive(Debug, Clone)]
struct RecordError {
    code: String,
    message: String,
}

/// Splits the input into batches, greedily and in order, within both per-call limits; records
/// over the per-record limit are set aside as rejected.
fn pack(records: Vec<Vec<u8>>) -> (Vec<Vec<Pending>>, Vec<RejectedRecord>) {
    let mut batches = Vec::new();
    let mut rejected = Vec::new();
    let mut current: Vec<Pending> = Vec::new();
    let mut current_bytes = 0;
    for (index, data) in records.into_iter().enumerate() {
        if data.len() > MAX_RECORD_BYTES {
            let reason = RejectReason::TooLarge {
                bytes: data.len(),
                limit: MAX_RECORD_BYTES,
            };
            rejected.push(RejectedRecord { index, reason });
            continue;
        }
        if current.len() == MAX_RECORDS_PER_CALL || current_bytes + data.len() > MAX_BYTES_PER_CALL {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += data.len();
        // Blob holds `Bytes`: resending clones a reference count, not the data.
        current.push(Pending {
            index,
            data: Blob::new(data),
            last_error: None,
        });
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, rejected)
}

/// State shared by the batches of one `send_all`.
struct Run {
    sink: Arc<Inner>,
    in_flight: Semaphore,
    aborted: AtomicBool,
}

#[derive(Default)]
struct BatchOutcome {
    delivered: usize,
    resent: usize,
    calls: usize,
    failed: Vec<FailedRecord>,
    fatal: Option<SinkError>,
}

/// How a whole call went wrong.
enum CallError {
    Retryable(RecordError),
    Fatal(SinkError),
}

impl Run {
    /// Sends one batch until every record is accepted or out of attempts. All records still
    /// pending have been in every call so far, so one attempt counter serves them all.
    async fn send_batch(self: Arc<Self>, mut pending: Vec<Pending>) -> BatchOutcome {
        let config = &self.sink.config;
        let stream = self.sink.stream.as_str();
        let mut out = BatchOutcome::default();
        let mut attempt: u32 = 1;
        loop {
            let permit = self
                .in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            if self.aborted.load(Ordering::Acquire) {
                let error = RecordError {
                    code: ABORTED_CODE.to_owned(),
                    message: "not sent: the run stopped after a non-retryable error (see the report's \
                              fatal error)"
                        .to_owned(),
                };
                fail_all(&mut out, pending, attempt - 1, Some(error));
                return out;
            }
            out.calls += 1;
            if attempt > 1 {
                out.resent += pending.len();
            }
            let records = pending.len();
            match self.put(&pending).await {
                Ok(answer) => {
                    pending = self.keep_failed(pending, &answer, attempt, &mut out);
                    drop(permit);
                    if pending.is_empty() {
                        return out;
                    }
                }
                Err(CallError::Retryable(error)) => {
                    drop(permit);
                    tracing::warn!(
                        stream,
                        records,
                        attempt,
                        code = %error.code,
                        message = %error.message,
                        "PutRecordBatch call failed; retrying with backoff"
                    );
                    for p in &mut pending {
                        p.last_error = Some(error.clone());
                    }
                }
                Err(CallError::Fatal(error)) => {
                    // Raised before the permit goes, so no batch waiting for it starts a call.
                    self.aborted.store(true, Ordering::Release);
                    drop(permit);
                    tracing::error!(stream, records, attempt, error = %error, "PutRecordBatch call failed");
                    let last = RecordError {
                        code: error.code().to_owned(),
                        message: error.to_string(),
                    };
                    fail_all(&mut out, pending, attempt, Some(last));
                    out.fatal = Some(error);
                    return out;
                }
            }
            if !config.retry.may_retry_after(attempt) {
                fail_all(&mut out, pending, attempt, None);
                return out;
            }
            tokio::time::sleep(config.retry.delay(attempt - 1)).await;
            attempt += 1;
        }
    }

    /// One PutRecordBatch call, bounded by the call timeout.
    async fn put(&self, pending: &[Pending]) -> Result<PutRecordBatchOutput, CallError> {
        let records = pending
            .iter()
            .map(|p| {
                Record::builder()
                    .data(p.data.clone())
                    .build()
                    .expect("data is set")
            })
            .collect();
        let call = self
            .sink
            .client
            .put_record_batch()
            .delivery_stream_name(&self.sink.stream)
            .set_records(Some(records))
            .send();
        match tokio::time::timeout(self.sink.config.call_timeout, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(classify(&self.sink.stream, error)),
            Err(_) => Err(CallError::Retryable(RecordError {
                code: "Timeout".to_owned(),
                message: format!("no answer within {:?}", self.sink.config.call_timeout),
            })),
        }
    }

    /// Counts the accepted records of a 200 answer and returns the failed ones, with their
    /// error. `RequestResponses` has one entry per record, in request order.
    fn keep_failed(
        &self,
        pending: Vec<Pending>,
        answer: &PutRecordBatchOutput,
        attempt: u32,
        out: &mut BatchOutcome,
    ) -> Vec<Pending> {
        let entries = answer.request_responses();
        if answer.failed_put_count() == 0 {
            out.delivered += pending.len();
            return Vec::new();
        }
        let stream = self.sink.stream.as_str();
        if entries.len() != pending.len() {
            // Which records failed is unknowable; resending all may duplicate but loses nothing.
            tracing::warn!(
                stream,
                records = pending.len(),
                entries = entries.len(),
                attempt,
                "PutRecordBatch answer does not match the request; resending the whole batch"
            );
            let error = RecordError {
                code: "MalformedResponse".to_owned(),
                message: format!(
                    "FailedPutCount {} with {} entries for {} records",
                    answer.failed_put_count(),
                    entries.len(),
                    pending.len()
                ),
            };
            return pending
                .into_iter()
                .map(|p| Pending {
                    last_error: Some(error.clone()),
                    ..p
                })
                .collect();
        }
        let mut failed = Vec::new();
        for (mut p, entry) in pending.into_iter().zip(entries) {
            match entry.error_code() {
                // Per-record codes (ServiceUnavailableException, InternalFailure) are transient
                // by the API reference; any other code is retried too, within the same bound.
                Some(code) => {
                    p.last_error = Some(RecordError {
                        code: code.to_owned(),
                        message: bounded(entry.error_message().unwrap_or_default()),
                    });
                    failed.push(p);
                }
                None => out.delivered += 1,
            }
        }
        let first = failed.first().and_then(|p| p.last_error.as_ref());
        tracing::warn!(
            stream,
            records = entries.len(),
            failed = failed.len(),
            attempt,
            code = first.map(|e| e.code.as_str()).unwrap_or_default(),
            message = first.map(|e| e.message.as_str()).unwrap_or_default(),
            "PutRecordBatch call partly failed; resending only the failed records"
        );
        failed
    }
}

/// Moves every pending record to `failed`, with `error` or the record's own last error.
fn fail_all(out: &mut BatchOutcome, pending: Vec<Pending>, attempts: u32, error: Option<RecordError>) {
    for p in pending {
        let last = error.clone().or(p.last_error).unwrap_or_else(|| RecordError {
            code: "Unknown".to_owned(),
            message: String::new(),
        });
        out.failed.push(FailedRecord {
            index: p.index,
            attempts,
            error_code: last.code,
            error_message: last.message,
        });
    }
}

/// Sorts an SDK error into retryable or fatal: the AWS SDK errors mapped into ours in one place.
fn classify(stream: &str, error: SdkError<PutRecordBatchError>) -> CallError {
    let retryable = |code: &str, message: String| {
        CallError::Retryable(RecordError {
            code: code.to_owned(),
            message: bounded(&message),
        })
    };
    let detail = || bounded(&DisplayErrorContext(&error).to_string());
    match &error {
        SdkError::ConstructionFailure(_) => CallError::Fatal(SinkError::Request {
            stream: stream.to_owned(),
            detail: detail(),
        }),
        SdkError::DispatchFailure(failure) if failure.is_user() => CallError::Fatal(SinkError::Request {
            stream: stream.to_owned(),
            detail: detail(),
        }),
        SdkError::TimeoutError(_) => retryable("Timeout", detail()),
        SdkError::DispatchFailure(_) => retryable("ConnectionError", detail()),
        SdkError::ResponseError(_) => retryable("UnreadableResponse", detail()),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let err = service.err();
            let code = err.code().unwrap_or("Unknown").to_owned();
            let message = bounded(err.message().unwrap_or_default());
            let stream = stream.to_owned();
            match err {
                PutRecordBatchError::ServiceUnavailableException(_) => retryable(&code, message),
                PutRecordBatchError::ResourceNotFoundException(_) => {
                    CallError::Fatal(SinkError::StreamNotFound { stream, message })
                }
                PutRecordBatchError::InvalidKmsResourceException(_) => {
                    CallError::Fatal(SinkError::KmsKey { stream, message })
                }
                PutRecordBatchError::InvalidArgumentException(_)
                | PutRecordBatchError::InvalidSourceException(_) => {
                    CallError::Fatal(SinkError::InvalidRequest {
                        stream,
                        code,
                        message,
                    })
                }
                _ if status >= 500 || status == 429 || RETRYABLE_CODES.contains(&code.as_str()) => {
                    retryable(&code, message)
                }
                _ if status == 403 || ACCESS_CODES.contains(&code.as_str()) => {
                    CallError::Fatal(SinkError::AccessDenied {
                        stream,
                        code,
                        message,
                    })
                }
                _ => CallError::Fatal(SinkError::Unexpected {
                    stream,
                    status,
                    code,
                    message,
                }),
            }
        }
        // SdkError is non-exhaustive; an unknown kind gets the bounded retries, not a hang.
        _ => retryable("Unknown", detail()),
    }
}

/// A message cut to [`MAX_MESSAGE_CHARS`] characters.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(batches: &[Vec<Pending>]) -> Vec<(usize, usize)> {
        batches
            .iter()
            .map(|b| (b.len(), b.iter().map(|p| p.data.as_ref().len()).sum()))
            .collect()
    }

    #[test]
    fn pack_fills_batches_in_order_up_to_500_records() {
        let (batches, rejected) = pack(vec![vec![b'x'; 10]; 1_234]);
        assert!(rejected.is_empty());
        assert_eq!(sizes(&batches), [(500, 5_000), (500, 5_000), (234, 2_340)]);
        let order: Vec<usize> = batches.iter().flatten().map(|p| p.index).collect();
        assert_eq!(order, (0..1_234).collect::<Vec<_>>());
    }

    #[test]
    fn pack_starts_a_new_batch_before_4_mib_and_rejects_records_over_1000_kib() {
        let max = || vec![0; MAX_RECORD_BYTES];
        let rest = MAX_BYTES_PER_CALL - 4 * MAX_RECORD_BYTES;
        let records = vec![
            max(),
            max(),
            vec![0; MAX_RECORD_BYTES + 1],
            max(),
            max(),
            vec![0; rest],
            max(),
        ];
        let (batches, rejected) = pack(records);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].index, 2);
        // Exactly 4 MiB still fits; one byte more would not.
        assert_eq!(sizes(&batches), [(5, MAX_BYTES_PER_CALL), (1, MAX_RECORD_BYTES)]);
    }

    #[test]
    fn bounded_cuts_long_messages_on_a_char_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        assert_eq!(bounded(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
