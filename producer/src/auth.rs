//! `tracklake auth`: the authorization code flow with PKCE (RFC 7636) that gives the producer a
//! refresh token for the user's data (docs/spotify-web-api.md#authorization).
//!
//! The steps, each usable on its own and all together in [`authorize`]:
//! 1. [`CallbackListener::bind`] listens on `http://127.0.0.1:PORT/callback`: Spotify accepts only
//!    HTTPS or a loopback IP literal as redirect URI, `localhost` is refused
//!    (docs/spotify-web-api.md#authorization);
//! 2. [`Pkce::generate`] and [`random_state`] make the verifier, its S256 challenge and the CSRF
//!    `state`; [`authorization_url`] is the page the user opens;
//! 3. [`CallbackListener::wait_for_code`] takes the one redirect, checks `state`, answers the
//!    browser and returns the code;
//! 4. [`exchange_code`] trades the code and verifier for tokens (no client secret: PKCE);
//! 5. a [`SecretStore`] keeps the refresh token ([`LocalFileSecretStore`] by default,
//!    [`SecretsManagerStore`] for the deployed Lambda).
//!
//! No secret (code, verifier, tokens) reaches an error message or a `Debug` output: they travel as
//! [`Secret`], and text quoted from Spotify is scrubbed of them.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{header, Url};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::spotify::{form, Secret, DEFAULT_ACCOUNTS_BASE, DEFAULT_REQUEST_TIMEOUT};

mod secrets_manager;
pub use secrets_manager::{SecretsManagerStore, SpotifySecret};

/// The scopes the five sources need (docs/spotify-web-api.md#scopes): recently played,
/// top tracks, saved tracks, and the user's own and collaborative playlists. Search needs none.
pub const SCOPES: &[&str] = &[
    "user-read-recently-played",
    "user-top-read",
    "user-library-read",
    "playlist-read-private",
    "playlist-read-collaborative",
];

/// Default port of the loopback redirect. The redirect URI must match one registered in the app's
/// settings exactly, port included, so the default is fixed: register
/// `http://127.0.0.1:8888/callback` (8888 is the port of Spotify's own examples).
pub const DEFAULT_REDIRECT_PORT: u16 = 8888;

/// Path of the redirect URI (`http://127.0.0.1:PORT/callback`).
pub const CALLBACK_PATH: &str = "/callback";

/// How long to wait for the user to log in and click "Agree" before giving up, so that a
/// forgotten terminal does not hold the port forever.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long one connection to the listener may take to send its request line and headers.
/// Browsers open speculative connections that never send anything; they must not block the
/// real redirect.
const CONNECTION_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest request head read from the browser; the redirect is a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Authorization page, under the accounts base (Spotify's authorization code with PKCE guide).
const AUTHORIZE_PATH: &str = "/authorize";

/// The token endpoint, under the accounts base (docs/spotify-web-api.md#authorization).
const TOKEN_PATH: &str = "/api/token";

/// Verifier length bounds (RFC 7636 §4.1).
const VERIFIER_LENGTHS: std::ops::RangeInclusive<usize> = 43..=128;

/// Spotify's error text quoted in errors is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 200;

const SUCCESS_PAGE: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>tracklake</title></head>\
<body><p>tracklake is authorized. You can close this tab and return to the terminal.</p></body></html>";
const FAILURE_PAGE: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>tracklake</title></head>\
<body><p>Authorization failed. You can close this tab; the terminal says why.</p></body></html>";
const NOT_FOUND_PAGE: &str = "<!doctype html><html><body><p>Not found.</p></body></html>";

/// A failed authorization. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "could not listen on 127.0.0.1:{port} for Spotify's redirect: {source}; stop what uses the port, \
         or choose another port and register http://127.0.0.1:PORT/callback in the app's settings"
    )]
    Bind { port: u16, source: std::io::Error },

    #[error(
        "the operating system's random number generator is not available ({0}): the PKCE verifier and \
         the state must be unpredictable, so the authorization stops; run `tracklake auth` on a system \
         that provides one (Linux getrandom(2) or /dev/urandom, macOS, Windows)"
    )]
    NoRandomness(String),

    #[error("the loopback listener for Spotify's redirect failed: {source}; run `tracklake auth` again")]
    Listener { source: std::io::Error },

    #[error(
        "no redirect from Spotify within {waited:?}; run `tracklake auth` again and finish the login in \
         the browser (check that the app's redirect URI is exactly {redirect_uri})"
    )]
    CallbackTimeout { waited: Duration, redirect_uri: String },

    #[error(
        "the redirect's `state` does not match this authorization (possible CSRF, or a stale browser \
         tab); nothing was stored: run `tracklake auth` again and use the new URL"
    )]
    StateMismatch,

    #[error(
        "the authorization was declined in the browser (access_denied); run `tracklake auth` again and \
         click \"Agree\" to let tracklake read your listening data"
    )]
    AccessDenied,

    #[error("Spotify refused the authorization ({error}); check the app's settings and run `tracklake auth` again")]
    AuthorizationFailed { error: String },

    #[error("Spotify's redirect carried neither a code nor an error; run `tracklake auth` again")]
    MissingCode,

    #[error(
        "the PKCE code verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1); \
         this one has {length} characters or others"
    )]
    InvalidVerifier { length: usize },

    #[error("the accounts base `{base}` is not a valid URL ({detail}); fix `accounts_base`")]
    InvalidAccountsBase { base: String, detail: String },

    #[error("could not build the HTTP client: {0}")]
    Client(String),

    #[error("could not reach Spotify's token endpoint: {detail}; check the network and run `tracklake auth` again")]
    Transport { detail: String },

    #[error(
        "Spotify's token endpoint refused the code (HTTP {status}, {error}: {description}); check the \
         client id and that the redirect URI is registered, then run `tracklake auth` again"
    )]
    ExchangeRejected {
        status: u16,
        error: String,
        description: String,
    },

    #[error("Spotify's token response is not the expected JSON ({detail}); run `tracklake auth` again")]
    InvalidTokenResponse { detail: String },

    #[error(
        "Spotify's token response carried no refresh token, so the producer could not renew access; \
         run `tracklake auth` again"
    )]
    MissingRefreshToken,

    #[error(transparent)]
    Store(#[from] SecretStoreError),
}

/// Where the refresh token lives between runs.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error(
        "could not read the refresh-token file {location}: {source}; check the path and its permissions"
    )]
    Read {
        location: String,
        source: std::io::Error,
    },

    #[error("could not write the refresh-token file {location}: {source}; check free space and permissions")]
    Write {
        location: String,
        source: std::io::Error,
    },

    #[error("the refresh-token file {location} is not valid ({detail}); delete it and run `tracklake auth`")]
    Invalid { location: String, detail: String },

    #[error(
        "could not {operation} the Secrets Manager secret `{secret_id}`: {detail}; check \
         TRACKLAKE_SECRET_ID, the region, and that the role may secretsmanager:GetSecretValue and \
         secretsmanager:PutSecretValue on it"
    )]
    Remote {
        secret_id: String,
        operation: &'static str,
        detail: String,
    },

    #[error(
        "the Secrets Manager secret `{secret_id}` is not the expected JSON ({detail}): its SecretString \
         must be {{\"client_id\": \"…\", \"client_secret\": \"… (optional)\", \"refresh_token\": \"… (optional)\"}}; \
         fix it with `aws secretsmanager put-secret-value`, or run `tracklake auth` against it"
    )]
    InvalidSecret { secret_id: String, detail: String },
}

/// A PKCE pair: the secret verifier and its public S256 challenge (RFC 7636 §4.1–4.2).
#[derive(Clone)]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A fresh verifier of 86 characters (64 random bytes from the OS's CSPRNG, base64url), well
    /// inside 43–128. Fails only when the OS has no random source to offer.
    pub fn generate() -> Result<Self, AuthError> {
        Self::generate_with(getrandom::fill)
    }

    /// [`Pkce::generate`] over another source of random bytes (tests: one that fails).
    pub fn generate_with(
        fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
    ) -> Result<Self, AuthError> {
        let bytes = random_bytes::<64>(fill)?;
        Self::from_verifier(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The pair for a given verifier, checked against RFC 7636 §4.1.
    pub fn from_verifier(verifier: impl Into<Secret>) -> Result<Self, AuthError> {
        let verifier = verifier.into();
        let text = verifier.expose();
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if !VERIFIER_LENGTHS.contains(&text.len()) || !text.chars().all(unreserved) {
            return Err(AuthError::InvalidVerifier {
                length: text.chars().count(),
            });
        }
        let challenge = code_challenge(text);
        Ok(Pkce { verifier, challenge })
    }

    pub fn verifier(&self) -> &Secret {
        &self.verifier
    }

    /// `BASE64URL(SHA256(verifier))` without padding: safe to show, it is sent in the URL.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &self.verifier)
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// The S256 code challenge of `verifier` (RFC 7636 §4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random `state` (43 base64url characters, 256 bits): binds the redirect to this authorization.
pub fn random_state() -> Result<String, AuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>(getrandom::fill)?))
}

/// `N` bytes from `fill`: the OS's CSPRNG through the `getrandom` crate outside tests. There is no
/// fallback: a verifier or state that could be guessed would let another program on the machine
/// complete the authorization, so without the OS's generator the flow stops.
fn random_bytes<const N: usize>(
    fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    fill(&mut bytes).map_err(|e| AuthError::NoRandomness(e.to_string()))?;
    Ok(bytes)
}

/// `http://127.0.0.1:{port}/callback`.
pub fn redirect_uri(port: u16) -> String {
    format!("http://{}:{port}{CALLBACK_PATH}", Ipv4Addr::LOCALHOST)
}

/// The page the user opens to grant access, with every parameter of Spotify's PKCE guide.
pub fn authorization_url(
    accounts_base: &str,
    client_id: &str,
    redirect_uri: &str,
    code_challenge: &str,
    state: &str,
) -> Result<String, AuthError> {
    let base = accounts_base.trim_end_matches('/');
    let mut url =
        Url::parse(&format!("{base}{AUTHORIZE_PATH}")).map_err(|e| AuthError::InvalidAccountsBase {
            base: accounts_base.to_string(),
            detail: e.to_string(),
        })?;
    url.query_pairs_mut().extend_pairs([
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("code_challenge_method", "S256"),
        ("code_challenge", code_challenge),
        ("state", state),
        ("scope", &SCOPES.join(" ")),
    ]);
    Ok(url.into())
}

/// A listener on the loopback address, bound before the URL is shown so the port is known (and
/// taken) by the time the browser comes back.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

impl CallbackListener {
    /// Listens on `127.0.0.1:port`; port 0 takes any free port (tests: Spotify would refuse a
    /// redirect URI that is not registered).
    pub async fn bind(port: u16) -> Result<Self, AuthError> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|source| AuthError::Bind { port, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| AuthError::Bind { port, source })?;
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
    pub async fn wait_for_code(self, expected_state: &str, timeout: Duration) -> Result<Secret, AuthError> {
        match tokio::time::timeout(timeout, self.serve(expected_state)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AuthError::CallbackTimeout {
                waited: timeout,
                redirect_uri: self.redirect_uri,
            }),
        }
    }

    async fn serve(&self, expected_state: &str) -> Result<Secret, AuthError> {
        loop {
            let (mut stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|source| AuthError::Listener { source })?;
            let Ok(Some(target)) =
                tokio::time::timeout(CONNECTION_READ_TIMEOUT, read_target(&mut stream)).await
            else {
                continue;
            };
            let Some(query) = callback_query(&target) else {
                respond(&mut stream, "404 Not Found", NOT_FOUND_PAGE).await;
                continue;
            };
            let outcome = check_callback(&query, expected_state);
            let (status, page) = match outcome {
                Ok(_) => ("200 OK", SUCCESS_PAGE),
                Err(_) => ("400 Bad Request", FAILURE_PAGE),
            };
            respond(&mut stream, status, page).await;
            return outcome;
        }
    }
}

/// The request target of a GET (`/callback?code=…`), read up to the end of the headers; `None`
/// for anything else.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let line = head.split(|&b| b == b'\r').next()?;
    let mut parts = std::str::from_utf8(line).ok()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_string()),
        _ => None,
    }
}

/// The query pairs of a request to [`CALLBACK_PATH`]; `None` for other paths.
fn callback_query(target: &str) -> Option<Vec<(String, String)>> {
    let url = Url::parse(&format!("http://{}{target}", Ipv4Addr::LOCALHOST)).ok()?;
    (url.path() == CALLBACK_PATH).then(|| url.query_pairs().into_owned().collect())
}

fn check_callback(query: &[(String, String)], expected_state: &str) -> Result<Secret, AuthError> {
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    // State first: an error or code on a redirect we did not start is not ours to act on.
    if get("state") != Some(expected_state) {
        return Err(AuthError::StateMismatch);
    }
    if let Some(error) = get("error") {
        return Err(match error {
            "access_denied" => AuthError::AccessDenied,
            other => AuthError::AuthorizationFailed {
                error: other.chars().take(MAX_QUOTED_CHARS).collect(),
            },
        });
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(Secret::new(code)),
        _ => Err(AuthError::MissingCode),
    }
}

/// Best effort: the browser may already have gone, and the outcome is decided either way.
async fn respond(stream: &mut TcpStream, status: &str, page: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Settings of the authorization flow. `Debug` is safe to log: it holds no secret.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Accounts service root; tests point it at a local server.
    pub accounts_base: String,
    /// The app's client id (public: it is part of the authorization URL).
    pub client_id: String,
    /// Port of the loopback redirect; must match the redirect URI registered for the app.
    pub redirect_port: u16,
    /// How long to wait for the browser to come back.
    pub callback_timeout: Duration,
    /// Time limit of the code exchange request.
    pub request_timeout: Duration,
}

impl AuthConfig {
    /// Every default: Spotify's accounts service, port [`DEFAULT_REDIRECT_PORT`].
    pub fn new(client_id: impl Into<String>) -> Self {
        AuthConfig {
            accounts_base: DEFAULT_ACCOUNTS_BASE.to_string(),
            client_id: client_id.into(),
            redirect_port: DEFAULT_REDIRECT_PORT,
            callback_timeout: DEFAULT_CALLBACK_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// What the code exchange returns. `Debug` prints the tokens redacted.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_in: Duration,
    /// The scopes granted, space-separated as Spotify sends them.
    pub scope: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: u64,
    #[serde(default)]
    scope: String,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Trades the authorization code for tokens (`grant_type=authorization_code`). PKCE: the client id
/// and verifier go in the body and no client secret is sent.
pub async fn exchange_code(
    config: &AuthConfig,
    code: &Secret,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<Tokens, AuthError> {
    let http = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .build()
        .map_err(|e| AuthError::Client(e.to_string()))?;
    let url = format!("{}{TOKEN_PATH}", config.accounts_base.trim_end_matches('/'));
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("client_id", &config.client_id),
        ("code_verifier", pkce.verifier().expose()),
    ]);
    let response = http
        .post(&url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| AuthError::Transport {
            detail: e.to_string(),
        })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| AuthError::Transport {
        detail: e.to_string(),
    })?;
    // Spotify's own text is quoted in errors; it has no business echoing a secret, but if it does,
    // the secret stays out of the message.
    let scrub = |text: &str| {
        let text: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        text.replace(code.expose(), "<redacted>")
            .replace(pkce.verifier().expose(), "<redacted>")
    };
    if !status.is_success() {
        let error: TokenError = serde_json::from_slice(&bytes).unwrap_or_else(|_| TokenError {
            error: "unknown_error".to_string(),
            error_description: String::from_utf8_lossy(&bytes).into_owned(),
        });
        return Err(AuthError::ExchangeRejected {
            status: status.as_u16(),
            error: scrub(&error.error),
            description: scrub(&error.error_description),
        });
    }
    // Only the position of a parse error: serde's message can quote a value, here a token.
    let parsed: TokenResponse =
        serde_json::from_slice(&bytes).map_err(|e| AuthError::InvalidTokenResponse {
            detail: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        })?;
    let refresh_token = parsed
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingRefreshToken)?;
    Ok(Tokens {
        access_token: Secret::new(parsed.access_token),
        refresh_token: Secret::new(refresh_token),
        expires_in: Duration::from_secs(parsed.expires_in),
        scope: parsed.scope,
    })
}

/// The whole flow: listen, show the URL through `open_url` (the CLI prints it and may open a
/// browser), wait for the redirect, exchange the code and store the refresh token in `store`.
pub async fn authorize<S: SecretStore>(
    config: &AuthConfig,
    store: &S,
    open_url: impl FnOnce(&str),
) -> Result<Tokens, AuthError> {
    let listener = CallbackListener::bind(config.redirect_port).await?;
    let redirect_uri = listener.redirect_uri().to_string();
    let pkce = Pkce::generate()?;
    let state = random_state()?;
    let url = authorization_url(
        &config.accounts_base,
        &config.client_id,
        &redirect_uri,
        pkce.challenge(),
        &state,
    )?;
    open_url(&url);
    let code = listener.wait_for_code(&state, config.callback_timeout).await?;
    let tokens = exchange_code(config, &code, &redirect_uri, &pkce).await?;
    store.save(&tokens.refresh_token).await?;
    Ok(tokens)
}

/// Keeps the refresh token between runs. `save` replaces the stored token: a refresh may return a
/// new one, and the old one may then stop working (docs/spotify-web-api.md#refresh-tokens). Two
/// implementations: a local file ([`LocalFileSecretStore`], the CLI's default) and AWS Secrets
/// Manager ([`SecretsManagerStore`], the deployed Lambda's).
pub trait SecretStore {
    /// The stored refresh token, or `None` if there is none yet.
    fn load(&self) -> impl Future<Output = Result<Option<Secret>, SecretStoreError>> + Send;
    fn save(&self, refresh_token: &Secret) -> impl Future<Output = Result<(), SecretStoreError>> + Send;
}

/// The refresh token as a local JSON file, `{"refresh_token": "…"}`, readable by its owner only
/// (0600 on unix, set at creation), replaced atomically like [`crate::state::LocalFileStore`].
#[derive(Debug, Clone)]
pub struct LocalFileSecretStore {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct SecretFile {
    refresh_token: String,
}

impl LocalFileSecretStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalFileSecretStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn load_sync(&self) -> Result<Option<Secret>, SecretStoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SecretStoreError::Read {
                    location: self.location(),
                    source,
                })
            }
        };
        // Only the position of a parse error: serde's message could quote the token.
        let file: SecretFile = serde_json::from_slice(&bytes).map_err(|e| SecretStoreError::Invalid {
            location: self.location(),
            detail: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        })?;
        Ok(Some(Secret::new(file.refresh_token)))
    }

    fn save_sync(&self, refresh_token: &Secret) -> Result<(), SecretStoreError> {
        let mut bytes = serde_json::to_vec_pretty(&SecretFile {
            refresh_token: refresh_token.expose().to_string(),
        })
        .expect("a string field always serializes");
        bytes.push(b'\n');
        crate::state::replace_private(&self.path, &bytes).map_err(|source| SecretStoreError::Write {
            location: self.location(),
            source,
        })?;
        Ok(())
    }
}

impl SecretStore for LocalFileSecretStore {
    // A small local file: blocking for well under a millisecond, so no spawn_blocking.
    fn load(&self) -> impl Future<Output = Result<Option<Secret>, SecretStoreError>> + Send {
        std::future::ready(self.load_sync())
    }

    fn save(&self, refresh_token: &Secret) -> impl Future<Output = Result<(), SecretStoreError>> + Send {
        std::future::ready(self.save_sync(refresh_token))
    }
}
