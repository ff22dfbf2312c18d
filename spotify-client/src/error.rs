//! Everything that can go wrong talking to Spotify. No variant holds a secret: messages carry
//! endpoints, statuses and Spotify's own error text, never a token or the client secret.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::accounts::TokenError;

/// A failed Spotify call. [`SpotifyError::ends_run_cleanly`] tells the caller which ones mean
/// "persist what you have and stop until later" rather than "something is broken".
#[derive(Debug, thiserror::Error)]
pub enum SpotifyError {
    #[error(
        "Spotify rate-limited {endpoint} for longer than a run waits (Retry-After or window {retry_after:?}); \
         ending the run: do not call Spotify again before {not_before}"
    )]
    RateLimited {
        endpoint: String,
        retry_after: Duration,
        not_before: DateTime<Utc>,
    },

    #[error(
        "the daily Spotify quota of this developer account is spent (429 QUOTA_EXCEEDED on {endpoint}: \
         {message}); ending the run: do not call Spotify again before {not_before}"
    )]
    QuotaExceeded {
        endpoint: String,
        message: String,
        not_before: DateTime<Utc>,
    },

    #[error(
        "{endpoint} still failing after {attempts} attempts (last: {last}); ending the run, the next \
         scheduled run will try again"
    )]
    RetriesExhausted {
        endpoint: String,
        attempts: u32,
        last: String,
    },

    #[error(
        "this run's budget of {budget} Spotify requests is spent; ending the run (raise `request_budget` \
         if runs routinely need more)"
    )]
    BudgetExhausted { budget: u32 },

    #[error(
        "{endpoint} answered 401 Unauthorized even with a fresh token ({message}); check that the app \
         and user authorization are still valid"
    )]
    Unauthorized { endpoint: String, message: String },

    #[error("{endpoint} answered HTTP {status}: {message}{hint}")]
    Api {
        endpoint: String,
        status: u16,
        message: String,
        hint: &'static str,
    },

    /// The token endpoint refused or garbled the token request (its own retries are spent).
    #[error(transparent)]
    Token(#[from] TokenError),

    #[error("{endpoint} answered something that is not the expected JSON: {detail}")]
    InvalidResponse { endpoint: String, detail: String },

    #[error("refusing to send the Spotify token to {url}: it is not under the API base {base}")]
    ForeignUrl { url: String, base: String },

    #[error(
        "`{input}` is not a Spotify API path or URL ({detail}); paths start with `/`, e.g. `/me/tracks`"
    )]
    InvalidUrl { input: String, detail: String },

    #[error(
        "{endpoint}: page limit {limit} is above the maximum {max} Spotify accepts there (docs/spotify-web-api.md#paging); \
         lower it, Spotify would answer 400 \"Invalid limit\""
    )]
    PageLimitTooLarge { endpoint: String, limit: u64, max: u32 },

    #[error(
        "{endpoint}: offset {offset} is above the maximum {max} Spotify accepts there (docs/spotify-web-api.md#paging)"
    )]
    OffsetTooLarge { endpoint: String, offset: u64, max: u32 },

    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

impl SpotifyError {
    /// The errors that mean "stop calling Spotify, save progress, end the run normally".
    pub fn ends_run_cleanly(&self) -> bool {
        matches!(
            self,
            SpotifyError::RateLimited { .. }
                | SpotifyError::QuotaExceeded { .. }
                | SpotifyError::BudgetExhausted { .. }
                | SpotifyError::RetriesExhausted { .. }
        )
    }

    /// Whether Spotify refused the stored refresh token (expired or revoked): only a new
    /// `tracklake auth` helps, and the deployed producer raises an alarm for it.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(
            self,
            SpotifyError::Token(TokenError::ReauthorizationRequired { .. })
        )
    }

    /// The time before which the next run must not call Spotify, when Spotify named one.
    pub fn not_before(&self) -> Option<DateTime<Utc>> {
        match self {
            SpotifyError::RateLimited { not_before, .. } | SpotifyError::QuotaExceeded { not_before, .. } => {
                Some(*not_before)
            }
            _ => None,
        }
    }
}
