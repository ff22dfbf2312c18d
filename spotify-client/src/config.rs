//! What the client needs to know: where Spotify is, who we are, and how patient to be.

use std::fmt;
use std::time::Duration;

use crate::backoff::Backoff;

/// The Web API root; every API path is relative to it.
pub const DEFAULT_API_BASE: &str = "https://api.spotify.com/v1";

/// The accounts service that issues tokens (`POST /api/token`, docs/spotify-web-api.md#authorization).
pub const DEFAULT_ACCOUNTS_BASE: &str = "https://accounts.spotify.com";

/// Longest `Retry-After` we sit out inside a run. Longer waits end the run with a not-before time
/// instead: other clients slept an hour or hung for 20,000 s inside one request
/// (docs/spotify-web-api.md#rate-limits), and Spotify's rate-limit window is itself 30 s.
pub const DEFAULT_INLINE_WAIT_CAP: Duration = Duration::from_secs(30);

/// One request, connection and body included. Spotify answers in well under a second; a request
/// that takes this long is stuck, and a retry is the better bet.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Backoff for a 429 with a missing, zero or negative `Retry-After`, for 5xx and for transport
/// errors. Its `max_attempts` bounds the attempts of one request for all causes together (it is
/// the "max retries" setting: retries = `max_attempts - 1`). Ceilings 1, 2, 4, 8, 16 s sum to about
/// one 30-second rate-limit window (docs/spotify-web-api.md#rate-limits), so a throttled request
/// outlasts the window.
pub const DEFAULT_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    cap: Duration::from_secs(30),
    max_attempts: 6,
};

/// Requests (token requests included) one run may make. Daily quotas are undisclosed
/// (docs/spotify-web-api.md#daily-quotas), so a bug that loops, or a huge library, must not spend
/// the day's quota in one run; a normal run of every source for one user needs well under a hundred
/// pages of 50.
pub const DEFAULT_REQUEST_BUDGET: u32 = 500;

/// A secret string (client secret, access or refresh token). `Debug` prints a placeholder and there
/// is no `Display`, so a secret cannot reach a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Where a JSON document that may hold a secret failed to parse, without serde's message: that
/// message can quote a value, and the value may be a token.
pub fn json_error_position(error: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}

/// How the client gets an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// App-only token (`grant_type=client_credentials`, HTTP Basic auth with id and secret): public
    /// catalog data, no user data. Pass `market` on requests that take it
    /// (docs/spotify-web-api.md#markets).
    ClientCredentials { client_secret: Secret },
    /// User token from an earlier authorization code with PKCE grant (`tracklake auth`), renewed
    /// with `grant_type=refresh_token` and the client id (PKCE apps send no secret). Spotify may
    /// answer with a new refresh token: see [`crate::SpotifyClient::take_new_refresh_token`].
    RefreshToken { refresh_token: Secret },
}

/// Settings of a [`crate::SpotifyClient`]. `Debug` is safe to log: secrets print redacted.
#[derive(Debug, Clone)]
pub struct SpotifyConfig {
    /// Web API root, without a trailing slash; tests point it at a local server.
    pub api_base: String,
    /// Accounts service root (token endpoint at `{accounts_base}/api/token`).
    pub accounts_base: String,
    /// The app's client id (not a secret: it appears in authorization URLs).
    pub client_id: String,
    /// How to get a token; holds the client secret or the refresh token.
    pub credentials: Credentials,
    /// Time limit for one HTTP request.
    pub request_timeout: Duration,
    /// Longest `Retry-After` waited inline; longer ones end the run with
    /// [`crate::SpotifyError::RateLimited`].
    pub inline_wait_cap: Duration,
    /// Waits when Spotify gives no usable `Retry-After`, for 5xx and for transport errors; its
    /// `max_attempts` bounds the attempts of one request.
    pub backoff: Backoff,
    /// Requests this run may make, token requests included; then
    /// [`crate::SpotifyError::BudgetExhausted`].
    pub request_budget: u32,
}

impl SpotifyConfig {
    /// Client-credentials settings with every default.
    pub fn client_credentials(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self::with_credentials(
            client_id,
            Credentials::ClientCredentials {
                client_secret: client_secret.into(),
            },
        )
    }

    /// Refresh-token (PKCE) settings with every default.
    pub fn refresh_token(client_id: impl Into<String>, refresh_token: impl Into<Secret>) -> Self {
        Self::with_credentials(
            client_id,
            Credentials::RefreshToken {
                refresh_token: refresh_token.into(),
            },
        )
    }

    fn with_credentials(client_id: impl Into<String>, credentials: Credentials) -> Self {
        SpotifyConfig {
            api_base: DEFAULT_API_BASE.to_string(),
            accounts_base: DEFAULT_ACCOUNTS_BASE.to_string(),
            client_id: client_id.into(),
            credentials,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            inline_wait_cap: DEFAULT_INLINE_WAIT_CAP,
            backoff: DEFAULT_BACKOFF,
            request_budget: DEFAULT_REQUEST_BUDGET,
        }
    }
}
