//! The Spotify sandbox: a local HTTP stand-in for the part of the Spotify Web API the
//! producer calls, so the whole pipeline runs offline with no credentials.
//!
//! - [`config`]: [`SandboxConfig`] (seed, scale, clock, credentials) and [`Faults`];
//! - `auth`: the accounts service (`/api/token` for client credentials, PKCE code exchange and
//!   refresh; `/authorize` approving at once) and access tokens that expire after 3600 s;
//! - `catalog`: the synthetic catalog (artists, albums, tracks with ISRCs, episodes);
//! - `history`: the user's plays, saves, playlists and top lists as functions of (seed, time);
//! - `server`: the `/v1` endpoints with Spotify's 2026 limits and shapes, and the fault switches;
//! - [`ledger`]: what was served, for end-to-end comparisons;
//! - [`write_export`]: the listener's privacy exports (both packages), holding the plays the API serves.
//!
//! ```no_run
//! # async fn demo() -> Result<(), spotify_sandbox::SandboxError> {
//! let sandbox = spotify_sandbox::start(spotify_sandbox::SandboxConfig::default()).await?;
//! println!("Web API at {}, tokens at {}", sandbox.api_base(), sandbox.accounts_base());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod catalog;
pub mod config;
mod export;
mod history;
pub mod ledger;
mod rng;
mod search;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use config::{Faults, SandboxConfig};
pub use export::{write_export, ExportWritten, ACCOUNT_FOLDER, EXTENDED_FOLDER};
pub use ledger::{ItemType, Observation, Place, ServedLedger, SourceKind};

use server::{lock, Shared};

/// How long [`Sandbox::shutdown`] lets requests in flight finish (a slow-answer fault may hold
/// one) before it stops the server anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox configuration: {0}")]
    InvalidConfig(String),

    #[error("the Spotify sandbox could not listen on {addr}; choose another address or port 0")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running sandbox. Dropping it stops the server; [`Sandbox::shutdown`] also waits for it.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the sandbox on `config.addr` (default: a free port on 127.0.0.1). Generating the default
/// catalog and library takes milliseconds; the history is generated as requests need it.
pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
    config.validate().map_err(SandboxError::InvalidConfig)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.addr,
        source,
    })?;
    let refresh_token = if config.refresh_token.is_empty() {
        format!("AQ{}", rng::spotify_id(config.seed, rng::Kind::User, 1).repeat(3))
    } else {
        config.refresh_token.clone()
    };
    let shared = Arc::new(Shared::new(config, format!("http://{addr}/v1"), refresh_token));
    let app = server::router(shared.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = served.await {
            tracing::error!(error = %e, "the Spotify sandbox stopped with an error");
        }
    });
    tracing::info!(%addr, "Spotify sandbox listening");
    Ok(Sandbox {
        shared,
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

impl Sandbox {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Web API root, `http://127.0.0.1:PORT/v1` (the producer's `api_base`).
    pub fn api_base(&self) -> String {
        self.shared.api_base.clone()
    }

    /// The accounts service root, `http://127.0.0.1:PORT` (the producer's `accounts_base`).
    pub fn accounts_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client_id(&self) -> &str {
        &self.shared.config.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.config.client_secret
    }

    /// A refresh token valid for the sandbox user from the start (until revoked).
    pub fn refresh_token(&self) -> &str {
        &self.shared.refresh_token
    }

    /// The sandbox user's Spotify id (what `/me` answers).
    pub fn user_id(&self) -> &str {
        &self.shared.config.user_id
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// What was served so far (a copy).
    pub fn served(&self) -> ServedLedger {
        lock(&self.shared.ledger).clone()
    }

    /// Forgets what was served so far.
    pub fn clear_served(&self) {
        *lock(&self.shared.ledger) = ServedLedger::default();
    }

    /// Replaces the fault switches; the fault generator restarts from `faults.seed`.
    pub fn set_faults(&self, faults: Faults) {
        let rng = fastrand::Rng::with_seed(faults.seed);
        *lock(&self.shared.faults) = (faults, rng);
    }

    /// The sandbox's clock now.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }

    /// Fixes the clock at `now`, or with `None` returns it to real time. Plays, saves and playlist
    /// changes up to the clock become visible; tokens expire by it.
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        *lock(&self.shared.clock) = now;
    }

    /// Makes a refresh token invalid: refreshing with it answers `invalid_grant`.
    pub fn revoke_refresh_token(&self, refresh_token: &str) {
        lock(&self.shared.auth).revoke_refresh(refresh_token);
    }

    /// Requests received per route (`"GET /me/tracks"`, `"POST /api/token"`, `"gone 404"` …).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.requests).clone()
    }

    /// Stops the server, letting requests in flight finish for a few seconds.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
