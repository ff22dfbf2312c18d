//! What one invocation did: whether it is an error, why it ran nothing, its log lines and its
//! response.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::auth::SecretStoreError;
use crate::metrics::RunMetrics;
use crate::run::RunReport;
use crate::state::lock::LockError;
use spotify_client::SpotifyError;

/// Why an invocation returns an error. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    Secret(SecretStoreError),

    #[error(transparent)]
    Client(SpotifyError),

    #[error("the run failed: {message}")]
    Run { message: String },

    #[error(
        "{undelivered} records were pulled but not delivered to Firehose ({rejected} rejected, {failed} \
         failed after retries); the state did not move past them, so the next run pulls them again"
    )]
    Undelivered {
        undelivered: usize,
        rejected: usize,
        failed: usize,
    },

    #[error(
        "Spotify issued a new refresh token but it could not be stored; the old one may stop \
         working: fix the secret's permissions, or run `tracklake auth` again if the next run fails"
    )]
    RotatedTokenNotStored(#[source] SecretStoreError),

    /// The run lock could not be taken, or not released after the run (which then blocks the
    /// next runs until it expires).
    #[error(transparent)]
    Lock(LockError),
}

/// Why an invocation ran nothing (and succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Another invocation holds the run lock, until `lock_expires_at` when its body says so.
    RunInProgress {
        lock: String,
        lock_expires_at: Option<DateTime<Utc>>,
    },
    /// The secret holds neither a refresh token nor a client secret: the user has not run
    /// `tracklake auth` against it yet.
    AwaitingAuthorization { secret_id: String },
}

impl Skipped {
    /// The response's `skipped` value.
    pub fn reason(&self) -> &'static str {
        match self {
            Skipped::RunInProgress { .. } => "run_in_progress",
            Skipped::AwaitingAuthorization { .. } => "awaiting_authorization",
        }
    }

    /// The one log line that explains it: what is missing and what to do.
    pub fn message(&self) -> String {
        match self {
            Skipped::RunInProgress {
                lock,
                lock_expires_at,
            } => {
                let until = lock_expires_at.map_or_else(
                    || "until its holder releases it".to_string(),
                    |t| format!("until {} at the latest", t.to_rfc3339()),
                );
                format!(
                    "another producer invocation is running (it holds the run lock {lock} {until}): this \
                     invocation did not run, so the two cannot spend the same refresh token or race on the \
                     state; the next scheduled run goes ahead as usual"
                )
            }
            Skipped::AwaitingAuthorization { secret_id } => format!(
                "waiting for authorization: the secret {secret_id} holds no Spotify refresh token yet, so \
                 the producer cannot read any Spotify data. Store one once from your machine: \
                 `SPOTIFY_CLIENT_ID=<your app's client id> tracklake auth --secret-id {secret_id}` \
                 (infra/README.md). Until then every run does nothing and succeeds"
            ),
        }
    }
}

/// What one invocation did.
#[derive(Debug)]
pub struct Invocation {
    /// The run's report; `None` when the invocation failed before a run could start.
    pub report: Option<RunReport>,
    /// Set when the Lambda must return an error (see the module docs for which outcomes).
    pub error: Option<InvocationError>,
    /// Spotify rotated the refresh token and the new one was written to the secret.
    pub refresh_token_stored: bool,
    /// Set when the invocation ran nothing on purpose (`report` is `None` then, and so is
    /// `error` unless the run lock could not be released).
    pub skipped: Option<Skipped>,
}

impl Invocation {
    pub(super) fn failed(error: InvocationError) -> Self {
        Invocation {
            report: None,
            error: Some(error),
            refresh_token_stored: false,
            skipped: None,
        }
    }

    pub(super) fn skipped(skipped: Skipped) -> Self {
        Invocation {
            report: None,
            error: None,
            refresh_token_stored: false,
            skipped: Some(skipped),
        }
    }
}

impl Invocation {
    /// The counts for the EMF line.
    pub fn metrics(&self) -> RunMetrics {
        let mut metrics = self.report.as_ref().map(RunMetrics::from).unwrap_or_default();
        // A run that did not do its job, or an invocation that is an error (one that could not
        // start a run included).
        metrics.runs_failed = usize::from(metrics.runs_failed == 1 || self.error.is_some());
        metrics.runs_skipped = usize::from(matches!(self.skipped, Some(Skipped::RunInProgress { .. })));
        metrics.awaiting_authorization = usize::from(matches!(
            self.skipped,
            Some(Skipped::AwaitingAuthorization { .. })
        ));
        metrics
    }

    /// The EMF metrics document (print it as one line of its own on stdout).
    pub fn emf(&self, timestamp_ms: i64, function_name: &str) -> Value {
        self.metrics().emf(timestamp_ms, function_name)
    }

    /// Writes the invocation's two log lines: the summary ([`Invocation::log_summary`]) and the
    /// EMF metrics, which must be a line of its own on stdout, not wrapped in a log record.
    pub fn log(&self, function_name: &str) {
        self.log_summary();
        println!("{}", self.emf(Utc::now().timestamp_millis(), function_name));
    }

    /// The Lambda's response: the summary, or the error that makes the invocation fail (see the
    /// module docs of [`crate::lambda`] for which outcomes).
    pub fn response(self) -> Result<Value, InvocationError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.summary()),
        }
    }

    /// Logs the structured summary line (`message: "run summary"`, the summary in `summary`). An
    /// invocation that ran nothing logs its one explanation instead, at WARN when the user must
    /// act (authorize) and INFO when another run is doing the work.
    pub fn log_summary(&self) {
        let summary = self.summary();
        if let (Some(skipped), None) = (&self.skipped, &self.error) {
            match skipped {
                Skipped::AwaitingAuthorization { .. } => tracing::warn!(
                    summary = %summary,
                    metric = "AwaitingAuthorization",
                    "{}",
                    skipped.message()
                ),
                Skipped::RunInProgress { .. } => {
                    tracing::info!(summary = %summary, metric = "RunsSkipped", "{}", skipped.message())
                }
            }
            return;
        }
        if self.error.is_some() {
            tracing::error!(summary = %summary, "run summary");
        } else {
            tracing::info!(summary = %summary, "run summary");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handler returns the invocation's error when it has one (the `Errors` alarm counts it),
    /// else the summary; a skip is a success whose summary says why.
    #[test]
    fn the_response_is_the_error_else_the_summary() {
        let failed = Invocation::failed(InvocationError::Undelivered {
            undelivered: 2,
            rejected: 1,
            failed: 1,
        });
        let err = failed.response().unwrap_err();
        assert!(
            matches!(err, InvocationError::Undelivered { undelivered: 2, .. }),
            "{err}"
        );

        let skipped = Invocation::skipped(Skipped::AwaitingAuthorization {
            secret_id: "tracklake/spotify".into(),
        });
        let metrics = skipped.metrics();
        assert_eq!((metrics.awaiting_authorization, metrics.runs_failed), (1, 0));
        let response = skipped.response().unwrap();
        assert_eq!(response["ok"], true, "{response}");
        assert_eq!(response["skipped"], "awaiting_authorization", "{response}");
        assert!(
            response["message"]
                .as_str()
                .unwrap()
                .contains("tracklake auth --secret-id tracklake/spotify"),
            "{response}"
        );
    }
}
