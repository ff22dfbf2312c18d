//! The state as an S3 object: the deployed Lambda's store, written with a conditional put so that
//! two overlapping runs cannot silently overwrite each other.
//!
//! `load` keeps the object's ETag as the [`StateVersion`]; `save` writes with `If-Match: <ETag>`,
//! or `If-None-Match: *` when there was no object, so S3 itself refuses the second of two writers
//! atomically (no check-then-write window as in the local file store). S3 answers a failed
//! condition with 412 `PreconditionFailed`, and a conditional write racing another one on the
//! same key with 409 `ConditionalRequestConflict` [S3 User Guide, "Conditional writes"]; both
//! become [`StateError::Conflict`].

use std::future::Future;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::{parse_state, State, StateError, StateStore, StateVersion};

/// Error codes S3 gives a conditional write that lost [S3 User Guide, "Conditional writes";
/// S3 API reference, PutObject].
const CONFLICT_CODES: &[&str] = &["PreconditionFailed", "ConditionalRequestConflict"];

/// HTTP statuses of those codes, for an S3-compatible endpoint that sends no code.
const CONFLICT_STATUSES: &[u16] = &[409, 412];

/// Service error text quoted in errors is cut to this many characters.
const MAX_DETAIL_CHARS: usize = 300;

/// The producer state as one JSON object `s3://{bucket}/{key}`.
#[derive(Debug, Clone)]
pub struct S3StateStore {
    client: Client,
    bucket: String,
    key: String,
}

impl S3StateStore {
    /// A store over a client built elsewhere (the Lambda builds one client per process; tests
    /// point one at a local endpoint).
    pub fn new(client: Client, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        S3StateStore {
            client,
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    /// `s3://bucket/key`, as errors name it.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn load_object(&self) -> Result<(State, StateVersion), StateError> {
        let storage = |detail: String| StateError::Storage {
            location: self.location(),
            operation: "read",
            detail,
        };
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok((State::default(), StateVersion::ABSENT))
            }
            Err(e) => return Err(storage(describe(&e))),
        };
        let etag = object.e_tag().map(str::to_string);
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| storage(format!("reading the body failed: {e}")))?
            .into_bytes();
        let state = parse_state(&bytes, &self.location())?;
        // Without an ETag no conditional put can be made; refusing beats an unguarded overwrite.
        let etag = etag.ok_or_else(|| storage("the answer carried no ETag".to_string()))?;
        Ok((state, StateVersion::new(etag)))
    }

    async fn save_object(&self, state: &State, loaded: &StateVersion) -> Result<StateVersion, StateError> {
        let mut bytes = serde_json::to_vec_pretty(state).expect("the state always serializes");
        bytes.push(b'\n');
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        let request = match loaded.tag() {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        let written = request.send().await.map_err(|e| {
            let code = e.code().unwrap_or_default();
            let status = e.raw_response().map(|r| r.status().as_u16());
            if CONFLICT_CODES.contains(&code) || status.is_some_and(|s| CONFLICT_STATUSES.contains(&s)) {
                StateError::Conflict {
                    location: self.location(),
                }
            } else {
                StateError::Storage {
                    location: self.location(),
                    operation: "write",
                    detail: describe(&e),
                }
            }
        })?;
        let etag = written.e_tag().ok_or_else(|| StateError::Storage {
            location: self.location(),
            operation: "write",
            detail: "the answer carried no ETag, so the next save could not be made conditional".into(),
        })?;
        Ok(StateVersion::new(etag))
    }
}

impl StateStore for S3StateStore {
    fn load(&self) -> impl Future<Output = Result<(State, StateVersion), StateError>> + Send {
        self.load_object()
    }

    fn save(
        &self,
        state: &State,
        loaded: &StateVersion,
    ) -> impl Future<Output = Result<StateVersion, StateError>> + Send {
        self.save_object(state, loaded)
    }
}

/// S3 refused a conditional request because its condition failed (412 `PreconditionFailed`).
pub(super) fn is_condition_failure<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    error.code() == Some("PreconditionFailed")
        || error.raw_response().is_some_and(|r| r.status().as_u16() == 412)
}

/// An SDK error as one line: code and message when the service sent them, else the whole chain.
pub(super) fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(error).to_string(),
    };
    text.chars().take(MAX_DETAIL_CHARS).collect()
}
