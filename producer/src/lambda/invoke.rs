//! One invocation: the run with its lock, over the AWS clients built once per process.

use chrono::{DateTime, Utc};

use crate::auth::{SecretStore, SecretsManagerStore, SpotifySecret};
use crate::logging::error_chain;
use crate::run::run_once;
use crate::settings::Settings;
use crate::sink::FirehoseSink;
use crate::state::lock::{lock_expiry, Acquired, Released, S3RunLock, LAMBDA_MAX_RUN};
use crate::state::S3StateStore;
use spotify_client::{SpotifyClient, SpotifyConfig};

use super::{Invocation, InvocationError, Skipped};

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
    pub async fn from_env(settings: &Settings) -> Clients {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients {
            s3: aws_sdk_s3::Client::new(&shared),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
            sink: FirehoseSink::from_sdk_config(
                &shared,
                settings.firehose.stream.clone(),
                settings.firehose.sink_config(),
            ),
        }
    }
}

/// The invocation's deadline from the runtime's context (Unix milliseconds) as a time. The lock
/// caps whatever it says, and assumes the longest invocation ([`LAMBDA_MAX_RUN`]) if it says
/// nothing usable.
pub fn deadline(now: DateTime<Utc>, context_deadline_ms: u64) -> DateTime<Utc> {
    i64::try_from(context_deadline_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(now + LAMBDA_MAX_RUN)
}

/// The Spotify client's settings for the credentials in the secret: the refresh token when
/// there is one (the user's data and search), else client credentials (search only; the
/// user's sources are skipped with a reason). `None` when the secret has neither: it still
/// awaits `tracklake auth`.
pub fn spotify_config(settings: &Settings, secret: SpotifySecret) -> Option<SpotifyConfig> {
    let credentials = match (secret.refresh_token, secret.client_secret) {
        (Some(token), _) => SpotifyConfig::refresh_token(secret.client_id, token),
        (None, Some(client_secret)) => SpotifyConfig::client_credentials(secret.client_id, client_secret),
        (None, None) => return None,
    };
    Some(settings.spotify.client_config(credentials))
}

/// One invocation: the run lock taken (or the invocation skips), credentials from the secret,
/// one run over the S3 state, a rotated refresh token written back, the lock released whatever
/// the run's outcome. `now` is `Utc::now()` outside tests; `deadline` is when Lambda stops the
/// invocation (its context's deadline), which bounds the lock.
pub async fn invoke(
    settings: &Settings,
    clients: &Clients,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Invocation {
    let lock = S3RunLock::new(
        clients.s3.clone(),
        settings.state.bucket.clone(),
        &settings.state.key,
    );
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
    let mut invocation = run_locked(settings, clients, now).await;
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
async fn run_locked(settings: &Settings, clients: &Clients, now: DateTime<Utc>) -> Invocation {
    let failed = Invocation::failed;
    let secrets = SecretsManagerStore::new(clients.secrets.clone(), settings.secrets.secret_id.clone());
    let secret = match secrets.load_spotify().await {
        Ok(secret) => secret,
        Err(e) => return failed(InvocationError::Secret(e)),
    };
    let Some(spotify) = spotify_config(settings, secret) else {
        return Invocation::skipped(Skipped::AwaitingAuthorization {
            secret_id: settings.secrets.secret_id.clone(),
        });
    };
    // A fresh client per invocation: its request budget and counters are per run.
    let client = match SpotifyClient::new(spotify) {
        Ok(client) => client,
        Err(e) => return failed(InvocationError::Client(e)),
    };
    let store = S3StateStore::new(
        clients.s3.clone(),
        settings.state.bucket.clone(),
        settings.state.key.clone(),
    );
    let report = run_once(&client, &clients.sink, &store, &settings.sources, now).await;

    let mut refresh_token_stored = false;
    let mut rotation_error = None;
    if let Some(token) = client.take_new_refresh_token().await {
        match secrets.save(&token).await {
            Ok(()) => {
                refresh_token_stored = true;
                tracing::info!(secret_id = %settings.secrets.secret_id, "stored Spotify's new refresh token in the secret");
            }
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "could not store Spotify's new refresh token");
                rotation_error = Some(e);
            }
        }
    }
    if report.reauthorization_required {
        tracing::error!(
            secret_id = %settings.secrets.secret_id,
            metric = "ReauthorizationRequired",
            "Spotify refused the refresh token (invalid_grant: it expires 6 months after authorization, \
             or was revoked). The user's sources stay stopped until someone runs `tracklake auth` against \
             this secret. The invocation succeeds so that Lambda does not retry into the same refusal"
        );
    }
    let undelivered = report.totals.rejected + report.totals.failed;
    let error = if let Some(e) = &report.error {
        Some(InvocationError::Run {
            message: error_chain(e),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_contexts_else_the_longest_run() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let ms = now.timestamp_millis() as u64 + 90_000;
        assert_eq!(deadline(now, ms), now + chrono::Duration::seconds(90));
        assert_eq!(deadline(now, u64::MAX), now + LAMBDA_MAX_RUN);
    }
}
