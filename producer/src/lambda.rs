//! The producer Lambda (invoked by EventBridge Scheduler), as plain functions the `producer` binary
//! adapts to the Lambda runtime and tests call directly (docs/lambda-contracts.md#the-producer).
//!
//! - [`LambdaConfig::from_env`]: the function's environment, read once at start
//!   (docs/lambda-contracts.md#environment lists the variables);
//! - [`Clients::from_env`]: the AWS clients, built once per process and shared by invocations;
//! - [`invoke`]: one invocation: the run lock taken, the Spotify credentials and refresh token
//!   from Secrets Manager, one [`run_once`] over the S3 state, a rotated refresh token written
//!   back, the run lock released;
//! - [`Invocation`]: what the invocation did, its summary log line, its EMF metrics line, its
//!   response, and whether the Lambda returns an error.
//!
//! Two outcomes run nothing and succeed, each with one log line and a metric of its own:
//! - another invocation holds the run lock ([`crate::state::lock`]): `RunsSkipped = 1`, the
//!   response says `"skipped": "run_in_progress"`; the running invocation does the work;
//! - the secret holds no refresh token yet (the placeholder `infra/` creates, before the user
//!   ran `tracklake auth --secret-id <arn>`): `AwaitingAuthorization = 1`, the response says
//!   `"skipped": "awaiting_authorization"`. A deployed stack is scheduled before the token can be
//!   stored, so an error here would only fire alarms at every run until then.
//!
//! Which outcomes are errors of the invocation, and why:
//! - records pulled but not delivered (rejected or failed), a fatal Firehose error, a state that
//!   could not be loaded or saved (an overlapping run included), an unreadable secret, a
//!   rotated refresh token that could not be stored, or a run lock that could not be taken or
//!   released: the Lambda returns an error, so the `Errors` alarm fires
//!   (docs/lambda-contracts.md#result), and a retry of the invocation is
//!   harmless (the state moves only past delivered records);
//! - `invalid_grant`: an error log line and `ReauthorizationRequired = 1`, but the invocation
//!   succeeds. A retry cannot fix it, only a new `tracklake auth` can, so an error would only make
//!   Lambda retry into the same refusal;
//! - a quota or rate-limit stop, a broken source, Spotify down past the retries, user sources
//!   skipped under client credentials: the invocation succeeds; the metrics (`RunsFailed`,
//!   `QuotaStops`) and the log say what happened, and the next scheduled run tries again.

use chrono::{DateTime, Utc};
use schemas::Source;
use serde::Serialize;
use serde_json::Value;

use crate::auth::{SecretStore, SecretStoreError, SecretsManagerStore, SpotifySecret};
use crate::metrics::RunMetrics;
use crate::run::{run_once, RunReport};
use crate::sink::{FirehoseSink, SinkConfig};
use crate::sources::SourcesConfig;
use crate::spotify::{SpotifyClient, SpotifyConfig, SpotifyError, DEFAULT_ACCOUNTS_BASE, DEFAULT_API_BASE};
use crate::state::lock::{lock_expiry, Acquired, LockError, Released, S3RunLock};
use crate::state::S3StateStore;

/// The environment variables the Lambda reads: named once, in `schemas/names.json`, which
/// `infra/` reads to set them.
pub use schemas::names::producer_environment::{
    ACCOUNTS_BASE as ENV_ACCOUNTS_BASE, API_BASE as ENV_API_BASE, MARKET as ENV_MARKET,
    REQUEST_BUDGET as ENV_REQUEST_BUDGET, SEARCH_QUERIES as ENV_SEARCH_QUERIES, SECRET_ID as ENV_SECRET_ID,
    SOURCES as ENV_SOURCES, STATE_BUCKET as ENV_STATE_BUCKET, STATE_KEY as ENV_STATE_KEY,
    STREAM as ENV_STREAM,
};

/// The state object's key when `TRACKLAKE_STATE_KEY` is unset; infra grants `state/*`.
pub const DEFAULT_STATE_KEY: &str = "state/producer.json";

/// The producer Lambda's settings, all from its environment. Intervals, page sizes and retry
/// policies are the library's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaConfig {
    /// `TRACKLAKE_STREAM` (required): the Firehose delivery stream.
    pub stream: String,
    /// `TRACKLAKE_STATE_BUCKET` (required): the bucket of the state object.
    pub state_bucket: String,
    /// `TRACKLAKE_STATE_KEY`: the state object's key, default [`DEFAULT_STATE_KEY`].
    pub state_key: String,
    /// `TRACKLAKE_SECRET_ID` (required): name or ARN of the secret holding the Spotify client id,
    /// client secret and refresh token.
    pub secret_id: String,
    /// `TRACKLAKE_SOURCES` (comma-separated, default `recently_played,top_tracks,saved_tracks,
    /// playlist`) and `TRACKLAKE_SEARCH_QUERIES` (a JSON array of strings, default `[]`).
    pub sources: SourcesConfig,
    /// `TRACKLAKE_REQUEST_BUDGET`: Spotify requests per run, default 500.
    pub request_budget: u32,
    /// `SPOTIFY_API_BASE`: the Web API root, default Spotify's (tests point it elsewhere).
    pub api_base: String,
    /// `SPOTIFY_ACCOUNTS_BASE`: the accounts service root, default Spotify's.
    pub accounts_base: String,
}

/// A missing or unreadable environment variable.
#[derive(Debug, thiserror::Error)]
pub enum LambdaConfigError {
    #[error("{name} is not set: it names {what}; set it in the function's environment (infra/ does)")]
    Missing { name: &'static str, what: &'static str },

    #[error("{name} is not valid ({detail}); it must be {expected}")]
    Invalid {
        name: &'static str,
        detail: String,
        expected: &'static str,
    },
}

impl LambdaConfig {
    /// Reads the settings. `env` looks a variable up (`std::env::var(..).ok()` outside tests); an
    /// empty value counts as unset.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<LambdaConfig, LambdaConfigError> {
        let env = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |name: &'static str, what: &'static str| {
            env(name).ok_or(LambdaConfigError::Missing { name, what })
        };
        let mut sources = SourcesConfig::default();
        if let Some(list) = env(ENV_SOURCES) {
            sources.enabled = parse_sources(&list)?;
        }
        if let Some(queries) = env(ENV_SEARCH_QUERIES) {
            sources.search_queries =
                serde_json::from_str(&queries).map_err(|e| LambdaConfigError::Invalid {
                    name: ENV_SEARCH_QUERIES,
                    detail: e.to_string(),
                    expected: "a JSON array of strings, e.g. [\"genre:jazz year:2026\"]",
                })?;
        }
        if let Some(market) = env(ENV_MARKET) {
            sources.market = Some(market.try_into().map_err(|detail| LambdaConfigError::Invalid {
                name: ENV_MARKET,
                detail,
                expected: "an ISO 3166-1 alpha-2 country code such as US",
            })?);
        }
        let request_budget = match env(ENV_REQUEST_BUDGET) {
            None => crate::spotify::DEFAULT_REQUEST_BUDGET,
            Some(text) => {
                text.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| LambdaConfigError::Invalid {
                        name: ENV_REQUEST_BUDGET,
                        detail: format!("{text:?}"),
                        expected: "a whole number above zero",
                    })?
            }
        };
        Ok(LambdaConfig {
            stream: required(ENV_STREAM, "the Firehose delivery stream")?,
            state_bucket: required(ENV_STATE_BUCKET, "the S3 bucket of the producer state")?,
            state_key: env(ENV_STATE_KEY).unwrap_or_else(|| DEFAULT_STATE_KEY.to_string()),
            secret_id: required(
                ENV_SECRET_ID,
                "the Secrets Manager secret with the Spotify credentials",
            )?,
            sources,
            request_budget,
            api_base: env(ENV_API_BASE)
                .unwrap_or_else(|| DEFAULT_API_BASE.to_string())
                .trim_end_matches('/')
                .to_string(),
            accounts_base: env(ENV_ACCOUNTS_BASE)
                .unwrap_or_else(|| DEFAULT_ACCOUNTS_BASE.to_string())
                .trim_end_matches('/')
                .to_string(),
        })
    }

    /// The Spotify client's settings for the credentials in the secret: the refresh token when
    /// there is one (the user's data and search), else client credentials (search only; the
    /// user's sources are skipped with a reason). `None` when the secret has neither: it still
    /// awaits `tracklake auth`.
    pub fn spotify_config(&self, secret: SpotifySecret) -> Option<SpotifyConfig> {
        let mut config = match (secret.refresh_token, secret.client_secret) {
            (Some(token), _) => SpotifyConfig::refresh_token(secret.client_id, token),
            (None, Some(client_secret)) => SpotifyConfig::client_credentials(secret.client_id, client_secret),
            (None, None) => return None,
        };
        config.api_base = self.api_base.clone();
        config.accounts_base = self.accounts_base.clone();
        config.request_budget = self.request_budget;
        Some(config)
    }
}

fn parse_sources(list: &str) -> Result<Vec<Source>, LambdaConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            serde_json::from_value::<Source>(Value::String(name.to_string())).map_err(|_| {
                LambdaConfigError::Invalid {
                    name: ENV_SOURCES,
                    detail: format!("unknown source {name:?}"),
                    expected: "a comma-separated list of recently_played, top_tracks, saved_tracks, \
                               playlist, search",
                }
            })
        })
        .collect()
}

/// The AWS clients, built once per process (cold start) and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sink: FirehoseSink,
}

impl Clients {
    /// From the SDK's standard configuration: the Lambda's role and region, and the endpoint
    /// overrides `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
    /// `AWS_ENDPOINT_URL_FIREHOSE` (local runs and tests).
    pub async fn from_env(config: &LambdaConfig) -> Clients {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients {
            s3: aws_sdk_s3::Client::new(&shared),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
            sink: FirehoseSink::from_sdk_config(&shared, config.stream.clone(), SinkConfig::default()),
        }
    }
}

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
        "Spotify issued a new refresh token but it could not be stored ({0}); the old one may stop \
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

/// [`Invocation::summary`] of an invocation that ran nothing (skipped, or failed before a run).
#[derive(Serialize)]
struct NoRunSummary {
    ok: bool,
    ran: bool,
    skipped: Option<&'static str>,
    awaiting_authorization: bool,
    error: Option<String>,
    /// Why it ran nothing, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// Only when another invocation holds the run lock (null: the lock's expiry is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_expires_at: Option<Option<String>>,
}

/// [`Invocation::summary`] of an invocation that ran.
#[derive(Serialize)]
struct RunSummary<'a> {
    ok: bool,
    ran: bool,
    skipped: Option<&'static str>,
    awaiting_authorization: bool,
    started_at: String,
    deferred_until: Option<String>,
    /// Why a run did nothing (a persisted not-before): said, though the invocation succeeds.
    idle: Option<String>,
    pulled: usize,
    delivered: usize,
    resent: usize,
    rejected: usize,
    failed: usize,
    spotify_requests: u32,
    retries: u32,
    waits: u32,
    not_before: Option<String>,
    /// Why the run stopped before pulling every due source.
    stopped_early: Option<String>,
    /// The partition pacing held the library backfill back (not an error).
    backfill_paused: Option<String>,
    reauthorization_required: bool,
    spotify_unavailable: bool,
    refresh_token_stored: bool,
    sources: Vec<SourceSummary<'a>>,
    requests: std::collections::BTreeMap<&'a str, RequestSummary>,
    error: Option<String>,
}

#[derive(Serialize)]
struct SourceSummary<'a> {
    source: &'static str,
    outcome: String,
    pulled: usize,
    delivered: usize,
    resent: usize,
    rejected: usize,
    failed: usize,
    truncated: bool,
    error: Option<&'a str>,
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct RequestSummary {
    requests: u32,
    retries: u32,
    throttled: u32,
    waits: u32,
    wait_ms: u64,
}

impl Invocation {
    fn failed(error: InvocationError) -> Self {
        Invocation {
            report: None,
            error: Some(error),
            refresh_token_stored: false,
            skipped: None,
        }
    }

    fn skipped(skipped: Skipped) -> Self {
        Invocation {
            report: None,
            error: None,
            refresh_token_stored: false,
            skipped: Some(skipped),
        }
    }
}

/// One invocation: the run lock taken (or the invocation skips), credentials from the secret,
/// one run over the S3 state, a rotated refresh token written back, the lock released whatever
/// the run's outcome. `now` is `Utc::now()` outside tests; `deadline` is when Lambda stops the
/// invocation (its context's deadline), which bounds the lock.
pub async fn invoke(
    config: &LambdaConfig,
    clients: &Clients,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Invocation {
    let lock = S3RunLock::new(clients.s3.clone(), config.state_bucket.clone(), &config.state_key);
    let held = match lock.acquire(now, lock_expiry(now, deadline)).await {
        Ok(Acquired::Held(held)) => held,
        Ok(Acquired::Busy { expires_at }) => {
            return Invocation::skipped(Skipped::RunInProgress {
                lock: lock.location(),
                lock_expires_at: expires_at,
            })
        }
        Err(e) => return Invocation::failed(InvocationError::Lock(e)),
    };
    if held.took_over {
        tracing::warn!(
            lock = %lock.location(),
            stale_expires_at = ?held.stale_expires_at.map(|t| t.to_rfc3339()),
            "took over a run lock that had expired: an earlier invocation ended without releasing it \
             (stopped at its timeout, or its delete failed)"
        );
    }
    // Everything after the lock returns here, so the lock is released on every outcome.
    let mut invocation = run_locked(config, clients, now).await;
    match lock.release(held).await {
        Ok(Released::Deleted) => {}
        Ok(Released::NotOurs) => tracing::warn!(
            lock = %lock.location(),
            "the run lock was no longer this invocation's at its end, so it was left in place: it was \
             deleted by hand, or taken over by an invocation whose clock runs ahead of this one's by \
             more than the lock's margin (the lock outlasts Lambda's deadline by that margin)"
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not release the run lock; the next runs skip until it expires");
            if invocation.error.is_none() {
                invocation.error = Some(InvocationError::Lock(e));
            }
        }
    }
    invocation
}

/// [`invoke`]'s work while it holds the run lock. The secret is read only now: a token read
/// before the lock could already be spent by the invocation that held it.
async fn run_locked(config: &LambdaConfig, clients: &Clients, now: DateTime<Utc>) -> Invocation {
    let failed = Invocation::failed;
    let secrets = SecretsManagerStore::new(clients.secrets.clone(), config.secret_id.clone());
    let secret = match secrets.load_spotify().await {
        Ok(secret) => secret,
        Err(e) => return failed(InvocationError::Secret(e)),
    };
    let Some(spotify) = config.spotify_config(secret) else {
        return Invocation::skipped(Skipped::AwaitingAuthorization {
            secret_id: config.secret_id.clone(),
        });
    };
    // A fresh client per invocation: its request budget and counters are per run.
    let client = match SpotifyClient::new(spotify) {
        Ok(client) => client,
        Err(e) => return failed(InvocationError::Client(e)),
    };
    let store = S3StateStore::new(
        clients.s3.clone(),
        config.state_bucket.clone(),
        config.state_key.clone(),
    );
    let report = run_once(&client, &clients.sink, &store, &config.sources, now).await;

    let mut refresh_token_stored = false;
    let mut rotation_error = None;
    if let Some(token) = client.take_new_refresh_token().await {
        match secrets.save(&token).await {
            Ok(()) => {
                refresh_token_stored = true;
                tracing::info!(secret_id = %config.secret_id, "stored Spotify's new refresh token in the secret");
            }
            Err(e) => {
                tracing::error!(error = %e, "could not store Spotify's new refresh token");
                rotation_error = Some(e);
            }
        }
    }
    if report.reauthorization_required {
        tracing::error!(
            secret_id = %config.secret_id,
            metric = "ReauthorizationRequired",
            "Spotify refused the refresh token (invalid_grant: it expires 6 months after authorization, \
             or was revoked). The user's sources stay stopped until someone runs `tracklake auth` against \
             this secret. The invocation succeeds so that Lambda does not retry into the same refusal"
        );
    }
    let undelivered = report.totals.rejected + report.totals.failed;
    let error = if let Some(e) = &report.error {
        Some(InvocationError::Run {
            message: e.to_string(),
        })
    } else if undelivered > 0 {
        Some(InvocationError::Undelivered {
            undelivered,
            rejected: report.totals.rejected,
            failed: report.totals.failed,
        })
    } else {
        rotation_error.map(InvocationError::RotatedTokenNotStored)
    };
    Invocation {
        report: Some(report),
        error,
        refresh_token_stored,
        skipped: None,
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

    /// The run as one JSON object: the summary log line's `summary` field and the Lambda's
    /// response. Error messages only, never a secret. Every response has `ok` (false: the
    /// invocation is an error), `ran` (a run over the state took place), `skipped` (why not:
    /// `run_in_progress`, `awaiting_authorization`, or null), `awaiting_authorization` and
    /// `error`; a run adds its counts.
    pub fn summary(&self) -> Value {
        let error = self.error.as_ref().map(ToString::to_string);
        let Some(report) = &self.report else {
            let skipped = self.skipped.as_ref();
            return serde_json::to_value(NoRunSummary {
                ok: error.is_none(),
                ran: false,
                skipped: skipped.map(Skipped::reason),
                awaiting_authorization: matches!(skipped, Some(Skipped::AwaitingAuthorization { .. })),
                error,
                message: skipped.map(Skipped::message),
                lock_expires_at: match skipped {
                    Some(Skipped::RunInProgress { lock_expires_at, .. }) => {
                        Some(lock_expires_at.map(|t| t.to_rfc3339()))
                    }
                    _ => None,
                },
            })
            .expect("the summary serializes");
        };
        let t = &report.totals;
        serde_json::to_value(RunSummary {
            ok: report.exit_ok() && self.error.is_none(),
            ran: true,
            skipped: None,
            awaiting_authorization: false,
            started_at: report.started_at.to_rfc3339(),
            deferred_until: report.deferred_until.map(|t| t.to_rfc3339()),
            idle: report.idle_reason(),
            pulled: t.pulled,
            delivered: t.delivered,
            resent: t.resent,
            rejected: t.rejected,
            failed: t.failed,
            spotify_requests: t.requests,
            retries: t.retries,
            waits: t.waits,
            not_before: report.not_before.map(|t| t.to_rfc3339()),
            stopped_early: report.stopped_early.clone(),
            backfill_paused: report.backfill_paused(),
            reauthorization_required: report.reauthorization_required,
            spotify_unavailable: report.spotify_unavailable,
            refresh_token_stored: self.refresh_token_stored,
            sources: report
                .sources
                .iter()
                .map(|s| SourceSummary {
                    source: s.source.as_str(),
                    outcome: format!("{:?}", s.outcome),
                    pulled: s.pulled,
                    delivered: s.delivered,
                    resent: s.resent,
                    rejected: s.rejected,
                    failed: s.failed,
                    truncated: s.truncated,
                    error: s.error.as_deref(),
                    note: s.note.as_deref(),
                })
                .collect(),
            requests: report
                .requests
                .iter()
                .map(|(endpoint, r)| {
                    let stats = RequestSummary {
                        requests: r.requests,
                        retries: r.retries,
                        throttled: r.throttled,
                        waits: r.waits,
                        wait_ms: r.wait_time.as_millis() as u64,
                    };
                    (endpoint.as_str(), stats)
                })
                .collect(),
            error,
        })
        .expect("the summary serializes")
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
    use std::collections::HashMap;

    use super::*;

    /// A persisted not-before that lies ahead: the invocation succeeds (it is pacing, not a
    /// failure, and a failed invocation would be retried and alarm) and its response and log line
    /// say why nothing ran and until when. The report is the one `run_once` returns for it
    /// (`producer/tests/run.rs` checks that); built by hand here to test the summary alone.
    #[test]
    fn a_deferred_lambda_run_succeeds_and_says_why() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let until = chrono::DateTime::parse_from_rfc3339("2099-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let report = RunReport {
            started_at: now,
            deferred_until: Some(until),
            sources: Vec::new(),
            requests: Default::default(),
            totals: Default::default(),
            not_before: None,
            stopped_early: None,
            spotify_unavailable: false,
            reauthorization_required: false,
            error: None,
        };
        let invocation = Invocation {
            report: Some(report),
            error: None,
            refresh_token_stored: false,
            skipped: None,
        };
        let summary = invocation.summary();
        assert_eq!(summary["ok"], true, "{summary}");
        assert_eq!(summary["error"], Value::Null, "{summary}");
        let idle = summary["idle"]
            .as_str()
            .unwrap_or_else(|| panic!("no reason: {summary}"));
        assert!(idle.contains("until 2099-01-01T00:00:00+00:00"), "{idle}");
        assert!(idle.contains("no request"), "{idle}");
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    const REQUIRED: [(&str, &str); 3] = [
        (ENV_STREAM, "tracklake-raw"),
        (ENV_STATE_BUCKET, "bucket"),
        (ENV_SECRET_ID, "arn:aws:secretsmanager:eu-west-1:1:secret:s"),
    ];

    #[test]
    fn defaults_follow_the_contract() {
        let config = LambdaConfig::from_env(env(&REQUIRED)).unwrap();
        assert_eq!(config.state_key, "state/producer.json");
        assert_eq!(
            config.sources.enabled,
            [
                Source::RecentlyPlayed,
                Source::TopTracks,
                Source::SavedTracks,
                Source::Playlist
            ]
        );
        assert!(config.sources.search_queries.is_empty());
        assert_eq!(config.sources.market, None);
        assert_eq!(config.request_budget, 500);
        assert_eq!(config.api_base, DEFAULT_API_BASE);
        assert_eq!(config.accounts_base, DEFAULT_ACCOUNTS_BASE);
    }

    #[test]
    fn every_variable_is_read() {
        let mut vars = REQUIRED.to_vec();
        vars.extend([
            (ENV_STATE_KEY, "state/other.json"),
            (ENV_SOURCES, " search , recently_played"),
            (ENV_SEARCH_QUERIES, r#"["genre:jazz", "year:2026"]"#),
            (ENV_MARKET, "de"),
            (ENV_REQUEST_BUDGET, "120"),
            (ENV_API_BASE, "http://127.0.0.1:9/v1/"),
            (ENV_ACCOUNTS_BASE, "http://127.0.0.1:9"),
        ]);
        let config = LambdaConfig::from_env(env(&vars)).unwrap();
        assert_eq!(config.stream, "tracklake-raw");
        assert_eq!(config.state_bucket, "bucket");
        assert_eq!(config.state_key, "state/other.json");
        assert_eq!(config.sources.enabled, [Source::Search, Source::RecentlyPlayed]);
        assert_eq!(config.sources.search_queries, ["genre:jazz", "year:2026"]);
        assert_eq!(config.sources.market.as_ref().map(|m| m.as_str()), Some("DE"));
        assert_eq!(config.request_budget, 120);
        assert_eq!(config.api_base, "http://127.0.0.1:9/v1");
    }

    #[test]
    fn missing_and_bad_variables_are_named() {
        for name in [ENV_STREAM, ENV_STATE_BUCKET, ENV_SECRET_ID] {
            let vars: Vec<_> = REQUIRED.iter().copied().filter(|(n, _)| *n != name).collect();
            let err = LambdaConfig::from_env(env(&vars)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        for (name, value) in [
            (ENV_SOURCES, "recently_played,recent"),
            (ENV_SEARCH_QUERIES, "jazz"),
            (ENV_MARKET, "USA"),
            (ENV_MARKET, "U1"),
            (ENV_REQUEST_BUDGET, "0"),
            (ENV_REQUEST_BUDGET, "-3"),
        ] {
            let mut vars = REQUIRED.to_vec();
            vars.push((name, value));
            let err = LambdaConfig::from_env(env(&vars)).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
