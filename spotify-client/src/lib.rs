//! A client of Spotify's two services: the Web API (`api.spotify.com/v1`) and the accounts service
//! (`accounts.spotify.com`) that issues its tokens. It knows Spotify's rules (tokens, rate limits,
//! daily quotas, page sizes) and nothing of what the producer does with the answers.
//!
//! - [`SpotifyClient`] (`client`): authorized `GET`s with the rate-limit and quota rules, bounded
//!   retries, a per-run request budget and per-endpoint counters; [`Pager`] walks offset-paged
//!   lists; [`Sleeper`] carries every wait, so tests can record them;
//! - [`accounts`]: the accounts service: the token endpoint (one implementation for the
//!   authorization code, refresh token and client credentials grants), PKCE, the authorization URL
//!   and the loopback listener that takes the redirect;
//! - [`backoff`]: exponential backoff with full jitter, for this client's retries and any other
//!   retry loop (the producer's Firehose sink uses it too).
//!
//! PKCE, the authorization URL and the redirect live here, not with the `tracklake auth` command:
//! they are the accounts service's protocol (its parameters, its redirect rules, its error codes),
//! they end in the same token endpoint as the refresh, and the stand-in accounts service tests
//! them. Where the refresh token is kept between runs (a file, Secrets Manager) is the caller's
//! business.
//!
//! No secret (client secret, code, verifier, tokens) reaches an error message or a `Debug`
//! output: they travel as [`Secret`], and text quoted from Spotify is scrubbed of them.

pub mod accounts;
pub mod backoff;
mod client;
mod config;
mod error;
mod paging;
mod stats;
mod wait;

pub use client::{SpotifyClient, QUOTA_EXCEEDED_DEFAULT_WAIT, RATE_LIMIT_WINDOW, RETRY_AFTER_CEILING};
pub use config::{
    json_error_position, Credentials, Secret, SpotifyConfig, DEFAULT_ACCOUNTS_BASE, DEFAULT_API_BASE,
    DEFAULT_BACKOFF, DEFAULT_INLINE_WAIT_CAP, DEFAULT_REQUEST_BUDGET, DEFAULT_REQUEST_TIMEOUT,
};
pub use error::SpotifyError;
pub use paging::{Page, PageLimits, Pager, ARTIST_ALBUMS_PAGES, LIST_PAGES, SEARCH_PAGES};
pub use stats::{normalize_endpoint, EndpointStats};
pub use wait::{RecordingSleeper, Sleeper, TokioSleeper};
