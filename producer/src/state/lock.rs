//! The run lock: an S3 object next to the state (`<state key>` + [`super::RUN_LOCK_SUFFIX`]) that lets at
//! most one producer invocation run at a time. Two invocations overlap when a run is slow or when
//! a manual `aws lambda invoke` is retried by the CLI; the second would refresh with a token the
//! first already spent, and its state save would conflict.
//!
//! - Acquire: PutObject with `If-None-Match: *`, so S3 creates the object for one writer only.
//!   When it exists, its body says until when it is held: a live lock makes this invocation skip;
//!   an expired one (its holder was killed at its timeout) is taken over with PutObject
//!   `If-Match: <ETag>`, which again only one writer wins.
//! - Release: DeleteObject with `If-Match: <ETag>` of our own write, so a run that outlived its
//!   lock never deletes the lock another invocation took over.
//!
//! S3 answers a failed condition with 412 `PreconditionFailed` and a conditional write racing
//! another one on the same key with 409 `ConditionalRequestConflict`:
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html>.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::s3::{describe, is_condition_failure};

/// The longest a Lambda invocation can run (its maximum timeout, 900 s):
/// <https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html>. A lock never claims
/// more than this, whatever deadline it is given.
pub const LAMBDA_MAX_RUN: Duration = Duration::seconds(900);

/// Added to a lock's deadline: covers the release after the deadline's last moment and clock
/// differences between the hosts of two invocations.
pub const RUN_LOCK_MARGIN: Duration = Duration::seconds(60);

/// How often one acquire goes round (create, read, take over) when the lock changes under it
/// (released or taken over between two requests) before it gives up and counts as busy.
const ACQUIRE_ROUNDS: usize = 3;

/// Until when a lock taken at `now` by an invocation that must end by `deadline` is held: the
/// deadline (at most [`LAMBDA_MAX_RUN`] ahead) plus [`RUN_LOCK_MARGIN`].
pub fn lock_expiry(now: DateTime<Utc>, deadline: DateTime<Utc>) -> DateTime<Utc> {
    deadline.clamp(now, now + LAMBDA_MAX_RUN) + RUN_LOCK_MARGIN
}

/// The lock object's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockBody {
    /// A random id of the holder. It makes every lock body, hence its ETag (the body's MD5), unique:
    /// two invocations writing the same times would otherwise share an ETag, and a conditional
    /// delete by one could remove the other's lock.
    pub owner: String,
    pub acquired_at: DateTime<Utc>,
    /// After this time the lock is stale and the next invocation takes it over.
    pub expires_at: DateTime<Utc>,
}

/// What to do about a lock object found in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Its holder may still be running: skip this run.
    Live { expires_at: DateTime<Utc> },
    /// Past its expiry, or unreadable (a body no producer wrote cannot say it is held): take it
    /// over. `expires_at` is `None` for an unreadable body.
    Stale { expires_at: Option<DateTime<Utc>> },
}

/// Judges a lock object's body at `now`.
pub fn judge(body: &[u8], now: DateTime<Utc>) -> Found {
    match serde_json::from_slice::<LockBody>(body) {
        Ok(lock) if lock.expires_at > now => Found::Live {
            expires_at: lock.expires_at,
        },
        Ok(lock) => Found::Stale {
            expires_at: Some(lock.expires_at),
        },
        Err(_) => Found::Stale { expires_at: None },
    }
}

/// The outcome of [`S3RunLock::acquire`].
#[derive(Debug)]
pub enum Acquired {
    /// This invocation holds the lock; release it with [`S3RunLock::release`].
    Held(HeldLock),
    /// Another invocation holds it, until `expires_at` when its body says so.
    Busy { expires_at: Option<DateTime<Utc>> },
}

/// A lock this invocation wrote.
#[derive(Debug)]
pub struct HeldLock {
    etag: String,
    /// This lock replaced a stale one (an earlier invocation did not release it: killed at its
    /// timeout, or its delete failed).
    pub took_over: bool,
    /// The stale lock's expiry, when its body was readable.
    pub stale_expires_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// The outcome of [`S3RunLock::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Our lock was deleted.
    Deleted,
    /// The lock was no longer ours (it expired and another invocation took it over, or removed
    /// it): nothing was deleted.
    NotOurs,
}

/// A request about the lock object failed for a reason other than a lost condition.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not {operation} the run lock {location}: {detail}; check that the role may s3:PutObject, \
     s3:GetObject and s3:DeleteObject on it"
)]
pub struct LockError {
    pub location: String,
    pub operation: &'static str,
    pub detail: String,
}

/// The run lock of the state object `s3://{bucket}/{state_key}`.
#[derive(Debug, Clone)]
pub struct S3RunLock {
    client: Client,
    bucket: String,
    key: String,
}

impl S3RunLock {
    pub fn new(client: Client, bucket: impl Into<String>, state_key: &str) -> Self {
        S3RunLock {
            client,
            bucket: bucket.into(),
            key: super::run_lock_key(state_key),
        }
    }

    /// `s3://bucket/key.lock`, as errors name it.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn error(&self, operation: &'static str, detail: String) -> LockError {
        LockError {
            location: self.location(),
            operation,
            detail,
        }
    }

    /// Takes the lock until `expires_at`, unless a live one is in place. `now` judges a found
    /// lock's expiry.
    pub async fn acquire(
        &self,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Acquired, LockError> {
        let body = LockBody {
            owner: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            acquired_at: now,
            expires_at,
        };
        let bytes = serde_json::to_vec(&body).expect("the lock body always serializes");
        for _ in 0..ACQUIRE_ROUNDS {
            match self.put(&bytes, None).await? {
                Put::Written(etag) => {
                    return Ok(Acquired::Held(HeldLock {
                        etag,
                        took_over: false,
                        stale_expires_at: None,
                        expires_at,
                    }))
                }
                // A concurrent conditional write on the key: another invocation is taking it.
                Put::Conflict => return Ok(Acquired::Busy { expires_at: None }),
                Put::ConditionFailed | Put::Missing => {}
            }
            let Some((found, etag)) = self.read().await? else {
                continue; // released in between: create it again
            };
            let stale = match judge(&found, now) {
                Found::Live { expires_at } => {
                    return Ok(Acquired::Busy {
                        expires_at: Some(expires_at),
                    })
                }
                Found::Stale { expires_at } => expires_at,
            };
            match self.put(&bytes, Some(&etag)).await? {
                Put::Written(etag) => {
                    return Ok(Acquired::Held(HeldLock {
                        etag,
                        took_over: true,
                        stale_expires_at: stale,
                        expires_at,
                    }))
                }
                Put::Conflict => return Ok(Acquired::Busy { expires_at: None }),
                // Another invocation took the stale lock over first, or it was released: look again.
                Put::ConditionFailed | Put::Missing => {}
            }
        }
        Ok(Acquired::Busy { expires_at: None })
    }

    /// Deletes the lock if it is still the one `held` wrote.
    pub async fn release(&self, held: HeldLock) -> Result<Released, LockError> {
        let answer = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_match(&held.etag)
            .send()
            .await;
        match answer {
            Ok(_) => Ok(Released::Deleted),
            Err(e) if is_condition_failure(&e) || is_missing(&e) => Ok(Released::NotOurs),
            Err(e) => Err(self.error("delete", describe(&e))),
        }
    }

    /// PutObject of `bytes`: `If-None-Match: *` without `etag`, else `If-Match: etag`.
    async fn put(&self, bytes: &[u8], etag: Option<&str>) -> Result<Put, LockError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(ByteStream::from(bytes.to_vec()));
        let request = match etag {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(written) => written
                .e_tag()
                .map(|etag| Put::Written(etag.to_string()))
                .ok_or_else(|| self.error("write", "the answer carried no ETag".into())),
            Err(e) if e.code() == Some("ConditionalRequestConflict") || status(&e) == Some(409) => {
                Ok(Put::Conflict)
            }
            Err(e) if is_condition_failure(&e) => Ok(Put::ConditionFailed),
            // `If-Match` on an object deleted in between.
            Err(e) if is_missing(&e) => Ok(Put::Missing),
            Err(e) => Err(self.error("write", describe(&e))),
        }
    }

    /// The lock's body and ETag, or `None` when there is no lock.
    async fn read(&self) -> Result<Option<(Vec<u8>, String)>, LockError> {
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.error("read", describe(&e))),
        };
        let etag = object
            .e_tag()
            .map(str::to_string)
            .ok_or_else(|| self.error("read", "the answer carried no ETag".into()))?;
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| self.error("read", format!("reading the body failed: {e}")))?
            .into_bytes();
        Ok(Some((body.to_vec(), etag)))
    }
}

enum Put {
    Written(String),
    /// 412: the object exists (`If-None-Match`) or changed (`If-Match`).
    ConditionFailed,
    /// 409: another conditional write on the key was in flight.
    Conflict,
    /// 404 on `If-Match`: the object is gone.
    Missing,
}

fn status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

fn is_missing<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    error.code() == Some("NoSuchKey") || status(error) == Some(404)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_lock_is_live_until_its_expiry_and_stale_after_or_when_unreadable() {
        let body = |expires: &str| {
            serde_json::to_vec(&LockBody {
                owner: "o".into(),
                acquired_at: at("2026-12-06T20:00:00Z"),
                expires_at: at(expires),
            })
            .unwrap()
        };
        let now = at("2026-12-06T20:10:00Z");
        assert_eq!(
            judge(&body("2026-12-06T20:10:01Z"), now),
            Found::Live {
                expires_at: at("2026-12-06T20:10:01Z")
            }
        );
        for expired in ["2026-12-06T20:10:00Z", "2026-12-06T20:09:00Z"] {
            assert_eq!(
                judge(&body(expired), now),
                Found::Stale {
                    expires_at: Some(at(expired))
                }
            );
        }
        assert_eq!(judge(b"not json", now), Found::Stale { expires_at: None });
        assert_eq!(judge(b"{}", now), Found::Stale { expires_at: None });
    }

    #[test]
    fn a_lock_lasts_until_the_deadline_at_most_the_lambda_maximum_plus_the_margin() {
        let now = at("2026-12-06T20:00:00Z");
        let deadline = now + Duration::seconds(300);
        assert_eq!(lock_expiry(now, deadline), deadline + RUN_LOCK_MARGIN);
        assert_eq!(
            lock_expiry(now, now + Duration::days(365)),
            now + Duration::seconds(900) + RUN_LOCK_MARGIN
        );
        assert_eq!(
            lock_expiry(now, now - Duration::seconds(5)),
            now + RUN_LOCK_MARGIN
        );
    }
}
