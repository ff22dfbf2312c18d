//! The Spotify Web API client's transport: tokens, rate limits, quotas, bounded retries, a per-run
//! request budget and per-endpoint counters. It returns response bodies as received; what they
//! mean is the business of the sources built on top.
//!
//! The rules (docs/spotify-web-api.md#rate-limits and docs/spotify-web-api.md#daily-quotas):
//! - 429 with `0 < Retry-After <= inline_wait_cap`: wait it, then retry;
//! - 429 with a missing, zero, negative or unreadable `Retry-After`: exponential backoff with full
//!   jitter, never an immediate retry (`Retry-After: 0` caused a retry storm in another client, see
//!   the rate-limits section);
//! - 429 with a longer `Retry-After`: [`SpotifyError::RateLimited`] with an absolute not-before
//!   time, so the caller persists it and ends the run;
//! - 429 with reason `QUOTA_EXCEEDED`: never retried, [`SpotifyError::QuotaExceeded`];
//! - 5xx, timeouts, connection errors: backoff, a bounded number of attempts;
//! - 401: one fresh token and one more try; other 4xx: a typed error at once;
//! - every request, token requests included, counts against the run's budget.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, StatusCode, Url};

mod token;

use crate::{normalize_endpoint, EndpointStats, Sleeper, SpotifyConfig, SpotifyError, TokioSleeper};

/// Not-before time after a `QUOTA_EXCEEDED` answer that carries no usable `Retry-After`. Reported
/// quota waits run to 13–14 hours (docs/spotify-web-api.md#daily-quotas), but the reset time is undisclosed; guessing
/// long would silence the pipeline for half a day and lose plays, since recently-played keeps only
/// the last 50. An hour costs at most one refused request per hour while the quota stays spent.
pub const QUOTA_EXCEEDED_DEFAULT_WAIT: Duration = Duration::from_secs(60 * 60);

/// Longest `Retry-After` believed. Quotas are daily (docs/spotify-web-api.md#daily-quotas), so a wait beyond a day is a
/// broken header; clamping also keeps the not-before time representable.
pub const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

/// Spotify's error text quoted in errors is cut to this many characters: enough for any real
/// message, and an HTML error page from a proxy does not flood the log.
const MAX_MESSAGE_CHARS: usize = 300;

/// A Spotify Web API client. Share it behind an `Arc`; it is `Send + Sync`.
pub struct SpotifyClient {
    config: SpotifyConfig,
    api_base: String,
    http: reqwest::Client,
    sleeper: Arc<dyn Sleeper>,
    tokens: tokio::sync::Mutex<token::TokenState>,
    requests_sent: AtomicU32,
    stats: Mutex<BTreeMap<String, EndpointStats>>,
}

impl std::fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyClient")
            .field("config", &self.config)
            .field("requests_sent", &self.requests_sent)
            .finish_non_exhaustive()
    }
}

/// An answer the retry loop hands back: anything but 429, 5xx and transport failures.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

/// An attempt that deserves another.
enum Failure {
    /// 429 with the wait Spotify asked for (at most the inline cap), or `None` if it named none.
    Throttled(Option<Duration>),
    /// 5xx, timeout or connection error, described for the final error.
    Transient(String),
}

impl SpotifyClient {
    /// A client that really sleeps between attempts.
    pub fn new(config: SpotifyConfig) -> Result<Self, SpotifyError> {
        Self::with_sleeper(config, Arc::new(TokioSleeper))
    }

    /// A client whose waits go through `sleeper` (tests record them instead of sleeping).
    pub fn with_sleeper(config: SpotifyConfig, sleeper: Arc<dyn Sleeper>) -> Result<Self, SpotifyError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .user_agent(concat!("tracklake-producer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SpotifyError::Client(e.to_string()))?;
        let tokens = token::TokenState::new(&config.credentials);
        Ok(SpotifyClient {
            api_base: config.api_base.trim_end_matches('/').to_string(),
            config,
            http,
            sleeper,
            tokens: tokio::sync::Mutex::new(tokens),
            requests_sent: AtomicU32::new(0),
            stats: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn config(&self) -> &SpotifyConfig {
        &self.config
    }

    /// Requests sent so far in this run, token requests included.
    pub fn requests_sent(&self) -> u32 {
        self.requests_sent.load(Ordering::Relaxed)
    }

    /// Counters per normalized endpoint (see [`normalize_endpoint`]), for the run report.
    pub fn stats(&self) -> BTreeMap<String, EndpointStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `GET` an API path (`/me/tracks`) or a full URL under the API base (a page's `next`), with
    /// extra query pairs, and parse the body as JSON.
    pub async fn get_json(
        &self,
        path_or_url: &str,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, SpotifyError> {
        let (url, endpoint) = self.resolve(path_or_url, query)?;
        let body = self.get_url(&url, &endpoint).await?;
        serde_json::from_slice(&body).map_err(|e| SpotifyError::InvalidResponse {
            endpoint,
            detail: e.to_string(),
        })
    }

    /// Like [`SpotifyClient::get_json`], but returns the body bytes as received, for callers that
    /// keep the Spotify object verbatim (`schemas::RawEnvelope` borrows it as a `RawValue`).
    pub async fn get_bytes(
        &self,
        path_or_url: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<u8>, SpotifyError> {
        let (url, endpoint) = self.resolve(path_or_url, query)?;
        self.get_url(&url, &endpoint).await
    }

    /// The request URL and the normalized endpoint name. Full URLs must lie under the API base:
    /// the bearer token goes with the request, and must never go to another host.
    fn resolve(&self, path_or_url: &str, query: &[(&str, &str)]) -> Result<(Url, String), SpotifyError> {
        let path = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            match path_or_url.strip_prefix(self.api_base.as_str()) {
                Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest,
                _ => {
                    return Err(SpotifyError::ForeignUrl {
                        url: path_or_url.to_string(),
                        base: self.api_base.clone(),
                    })
                }
            }
        } else if path_or_url.starts_with('/') {
            path_or_url
        } else {
            return Err(SpotifyError::InvalidUrl {
                input: path_or_url.to_string(),
                detail: "neither a path nor a URL".to_string(),
            });
        };
        let mut url =
            Url::parse(&format!("{}{}", self.api_base, path)).map_err(|e| SpotifyError::InvalidUrl {
                input: path_or_url.to_string(),
                detail: e.to_string(),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok((url, normalize_endpoint(path)))
    }

    /// One authorized `GET`, with one token refresh on 401.
    async fn get_url(&self, url: &Url, endpoint: &str) -> Result<Vec<u8>, SpotifyError> {
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let reply = self
                .send(endpoint, || {
                    self.http.get(url.clone()).bearer_auth(token.expose())
                })
                .await?;
            match reply.status {
                s if s.is_success() => return Ok(reply.body),
                StatusCode::UNAUTHORIZED if !refreshed => {
                    // The token expired early or was revoked: one fresh token, one more try.
                    tracing::info!(
                        endpoint,
                        "401 Unauthorized; fetching a fresh token and retrying once"
                    );
                    self.invalidate_token(&token).await;
                    self.count(endpoint, |s| s.retries += 1);
                    refreshed = true;
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(SpotifyError::Unauthorized {
                        endpoint: endpoint.to_string(),
                        message: api_message(&reply.body),
                    })
                }
                status => {
                    return Err(SpotifyError::Api {
                        endpoint: endpoint.to_string(),
                        status: status.as_u16(),
                        message: api_message(&reply.body),
                        hint: hint_for(status),
                    })
                }
            }
        }
    }

    /// Sends the request `build` makes until it gets an answer that is not a 429, a 5xx or a
    /// transport failure, waiting between attempts as the module rules say.
    async fn send(&self, endpoint: &str, build: impl Fn() -> RequestBuilder) -> Result<Reply, SpotifyError> {
        let backoff = self.config.backoff;
        let mut attempts = 0u32;
        let mut backoffs = 0u32;
        loop {
            self.spend_budget(endpoint)?;
            attempts += 1;
            let failure = match self.attempt(endpoint, build()).await? {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            let (wait, reason) = match &failure {
                Failure::Throttled(Some(wait)) => {
                    (*wait, format!("HTTP 429, Retry-After {}s", wait.as_secs()))
                }
                Failure::Throttled(None) => (
                    backoff.delay(backoffs),
                    "HTTP 429 without usable Retry-After".into(),
                ),
                Failure::Transient(reason) => (backoff.delay(backoffs), reason.clone()),
            };
            if !matches!(failure, Failure::Throttled(Some(_))) {
                backoffs += 1;
            }
            if !backoff.may_retry_after(attempts) {
                return Err(match failure {
                    // Still throttled: end the run cleanly, like a long Retry-After would.
                    Failure::Throttled(asked) => {
                        let retry_after = asked.unwrap_or(RATE_LIMIT_WINDOW);
                        SpotifyError::RateLimited {
                            endpoint: endpoint.to_string(),
                            retry_after,
                            not_before: not_before(retry_after),
                        }
                    }
                    Failure::Transient(last) => SpotifyError::RetriesExhausted {
                        endpoint: endpoint.to_string(),
                        attempts,
                        last,
                    },
                });
            }
            tracing::warn!(endpoint, attempt = attempts, wait_ms = wait.as_millis() as u64, %reason, "retrying");
            self.count(endpoint, |s| {
                s.retries += 1;
                s.waits += 1;
                s.wait_time += wait;
            });
            self.sleeper.sleep(wait).await;
        }
    }

    /// One attempt: `Ok(Ok(reply))` to hand back, `Ok(Err(failure))` to retry, `Err` to stop now.
    async fn attempt(
        &self,
        endpoint: &str,
        request: RequestBuilder,
    ) -> Result<Result<Reply, Failure>, SpotifyError> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() => {
                return Err(SpotifyError::InvalidUrl {
                    input: endpoint.to_string(),
                    detail: e.to_string(),
                })
            }
            Err(e) => return Ok(Err(Failure::Transient(transport_reason(&e)))),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(e) => return Ok(Err(Failure::Transient(transport_reason(&e)))),
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.count(endpoint, |s| s.throttled += 1);
            if let Some(message) = quota_exceeded(&body) {
                // A spent daily quota: retrying only spends more of nothing
                // (docs/spotify-web-api.md#daily-quotas).
                let wait = retry_after.unwrap_or(QUOTA_EXCEEDED_DEFAULT_WAIT);
                return Err(SpotifyError::QuotaExceeded {
                    endpoint: endpoint.to_string(),
                    message,
                    not_before: not_before(wait),
                });
            }
            return match retry_after {
                Some(wait) if wait > self.config.inline_wait_cap => Err(SpotifyError::RateLimited {
                    endpoint: endpoint.to_string(),
                    retry_after: wait,
                    not_before: not_before(wait),
                }),
                asked => Ok(Err(Failure::Throttled(asked))),
            };
        }
        if status.is_server_error() {
            let reason = format!("HTTP {}: {}", status.as_u16(), api_message(&body));
            return Ok(Err(Failure::Transient(reason)));
        }
        Ok(Ok(Reply { status, body }))
    }

    /// Counts one request against the run's budget, or refuses it.
    fn spend_budget(&self, endpoint: &str) -> Result<(), SpotifyError> {
        let budget = self.config.request_budget;
        let spent = self
            .requests_sent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < budget).then_some(n + 1)
            });
        if spent.is_err() {
            return Err(SpotifyError::BudgetExhausted { budget });
        }
        self.count(endpoint, |s| s.requests += 1);
        Ok(())
    }

    fn count(&self, endpoint: &str, update: impl FnOnce(&mut EndpointStats)) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        update(stats.entry(endpoint.to_string()).or_default());
    }
}

/// Spotify's rate limit is a rolling 30-second window (docs/spotify-web-api.md#rate-limits): the not-before wait when
/// 429s outlast our attempts and Spotify named no wait.
pub const RATE_LIMIT_WINDOW: Duration = Duration::from_secs(30);

/// `Retry-After` in whole seconds (the form Spotify sends). Missing, zero, negative or unreadable
/// gives `None`: the caller backs off instead of retrying at once.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: i64 = value.trim().parse().ok()?;
    (seconds > 0).then(|| Duration::from_secs(seconds as u64).min(RETRY_AFTER_CEILING))
}

fn not_before(wait: Duration) -> DateTime<Utc> {
    let wait = chrono::TimeDelta::from_std(wait.min(RETRY_AFTER_CEILING)).unwrap_or(chrono::TimeDelta::MAX);
    Utc::now() + wait
}

/// The message of a 429 whose body says `"reason": "QUOTA_EXCEEDED"`, if it does.
fn quota_exceeded(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = json.get("error")?;
    (error.get("reason")?.as_str()? == "QUOTA_EXCEEDED").then(|| {
        error
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("no message")
            .to_string()
    })
}

/// Spotify's error message (`{"error":{"status":…,"message":…}}`), else the body's start.
fn api_message(body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|json| json.get("error")?.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if message.is_empty() {
        return "no message".to_string();
    }
    truncate(message)
}

fn truncate(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(MAX_MESSAGE_CHARS) {
        text.truncate(at);
        text.push('…');
    }
    text
}

/// Why a 403 or 404 is likely what it is: the 2024 and 2026 API changes
/// (docs/spotify-web-api.md#endpoints-gone-for-new-apps).
fn hint_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => {
            "; Spotify refuses this to the app: Development Mode apps lost batch lookups, other users' \
             playlists and several endpoints in Feb 2026, or the user did not grant the scope"
        }
        StatusCode::NOT_FOUND => {
            "; either the id is wrong or the resource is gone for new apps (Spotify-owned editorial \
             playlists answer 404 since Nov 2024, removed endpoints since Feb 2026)"
        }
        _ => "",
    }
}

/// A transport error without its URL's query (search terms are the user's business) and without
/// any header: reqwest never prints headers, so the bearer token and Basic auth stay out.
fn transport_reason(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    let mut detail = error.to_string();
    if let Some(url) = error.url() {
        let mut bare = url.clone();
        bare.set_query(None);
        detail = detail.replace(url.as_str(), bare.as_str());
    }
    truncate(format!("{kind}: {detail}"))
}
