//! The loopback redirect: after the user agrees, Spotify sends the browser to
//! `http://127.0.0.1:PORT/callback?code=…&state=…`. [`CallbackListener`] serves that one request
//! with axum, checks `state`, answers the browser with a page and hands the code back.

use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{AuthorizationError, MAX_QUOTED_CHARS};
use crate::Secret;

/// Default port of the loopback redirect. The redirect URI must match one registered in the app's
/// settings exactly, port included, so the default is fixed: register
/// `http://127.0.0.1:8888/callback` (8888 is the port of Spotify's own examples).
pub const DEFAULT_REDIRECT_PORT: u16 = 8888;

/// Path of the redirect URI (`http://127.0.0.1:PORT/callback`).
pub const CALLBACK_PATH: &str = "/callback";

/// How long to wait for the user to log in and click "Agree" before giving up, so that a
/// forgotten terminal does not hold the port forever.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Once the redirect is taken, how long the page may take to reach the browser before the listener
/// closes anyway: a browser may keep another connection open that never sends a request.
const ANSWER_GRACE: Duration = Duration::from_secs(2);

const SUCCESS_PAGE: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>tracklake</title></head>\
<body><p>tracklake is authorized. You can close this tab and return to the terminal.</p></body></html>";
const FAILURE_PAGE: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>tracklake</title></head>\
<body><p>Authorization failed. You can close this tab; the terminal says why.</p></body></html>";
const NOT_FOUND_PAGE: &str = "<!doctype html><html><body><p>Not found.</p></body></html>";

/// `http://127.0.0.1:{port}/callback`. Spotify accepts only HTTPS or a loopback IP literal as
/// redirect URI; `localhost` is refused (docs/spotify-web-api.md#authorization).
pub fn redirect_uri(port: u16) -> String {
    format!("http://{}:{port}{CALLBACK_PATH}", Ipv4Addr::LOCALHOST)
}

/// A listener on the loopback address, bound before the URL is shown so the port is known (and
/// taken) by the time the browser comes back.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

/// What the handler shares with [`CallbackListener::wait_for_code`]: the state to expect, and the
/// one place the outcome goes (taken by the first redirect).
struct Redirect {
    expected_state: String,
    outcome: Mutex<Option<oneshot::Sender<Result<Secret, AuthorizationError>>>>,
}

impl CallbackListener {
    /// Listens on `127.0.0.1:port`; port 0 takes any free port (tests: Spotify would refuse a
    /// redirect URI that is not registered).
    pub async fn bind(port: u16) -> Result<Self, AuthorizationError> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|source| AuthorizationError::Bind { port, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| AuthorizationError::Bind { port, source })?;
        Ok(CallbackListener {
            listener,
            redirect_uri: redirect_uri(bound.port()),
        })
    }

    /// The redirect URI to send, with the port actually bound.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits up to `timeout` for one request to `/callback`, answers the browser and returns the
    /// code. Requests to other paths (a browser's `/favicon.ico`) get a 404 and the wait goes on.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<Secret, AuthorizationError> {
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let redirect = Arc::new(Redirect {
            expected_state: expected_state.to_string(),
            outcome: Mutex::new(Some(outcome_tx)),
        });
        let app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .fallback(not_found)
            .with_state(redirect);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = axum::serve(self.listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .into_future();
        let mut server = std::pin::pin!(server);
        let outcome = tokio::select! {
            waited = tokio::time::timeout(timeout, outcome_rx) => match waited {
                Ok(Ok(outcome)) => outcome,
                // The sender lives in the router until the server ends, which the other arm sees.
                Ok(Err(_)) => Err(AuthorizationError::Listener {
                    source: std::io::Error::other("the redirect handler went away"),
                }),
                Err(_) => Err(AuthorizationError::CallbackTimeout {
                    waited: timeout,
                    redirect_uri: self.redirect_uri,
                }),
            },
            ended = &mut server => {
                return Err(AuthorizationError::Listener {
                    source: ended
                        .err()
                        .unwrap_or_else(|| std::io::Error::other("the listener stopped")),
                });
            }
        };
        // Graceful shutdown lets the page in flight reach the browser, then closes.
        let _ = stop_tx.send(());
        let _ = tokio::time::timeout(ANSWER_GRACE, server).await;
        outcome
    }
}

/// The redirect: the first one decides the outcome; a later one (a reload while the listener
/// closes) is not taken.
async fn callback(State(redirect): State<Arc<Redirect>>, RawQuery(query): RawQuery) -> Response {
    let query: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let Some(sender) = redirect.outcome.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return not_found().await;
    };
    let outcome = check_callback(&query, &redirect.expected_state);
    let status = match outcome {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    // The receiver is gone only after a timeout; the page tells the truth about this redirect.
    let _ = sender.send(outcome);
    page(
        status,
        if status == StatusCode::OK {
            SUCCESS_PAGE
        } else {
            FAILURE_PAGE
        },
    )
}

async fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE)
}

fn page(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONNECTION, "close"),
        ],
        body,
    )
        .into_response()
}

fn check_callback(query: &[(String, String)], expected_state: &str) -> Result<Secret, AuthorizationError> {
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    // State first: an error or code on a redirect we did not start is not ours to act on.
    if get("state") != Some(expected_state) {
        return Err(AuthorizationError::StateMismatch);
    }
    if let Some(error) = get("error") {
        return Err(match error {
            "access_denied" => AuthorizationError::AccessDenied,
            other => AuthorizationError::AuthorizationFailed {
                error: other.chars().take(MAX_QUOTED_CHARS).collect(),
            },
        });
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(Secret::new(code)),
        _ => Err(AuthorizationError::MissingCode),
    }
}
