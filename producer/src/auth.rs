//! `tracklake auth`: the authorization code flow with PKCE (RFC 7636) that gives the producer a
//! refresh token for the user's data (docs/spotify-web-api.md#authorization), and the stores that
//! keep it between runs.
//!
//! [`authorize`] runs the accounts service's steps from `spotify_client::accounts`:
//! 1. [`CallbackListener::bind`] listens on `http://127.0.0.1:PORT/callback` (Spotify accepts only
//!    HTTPS or a loopback IP literal as redirect URI, `localhost` is refused);
//! 2. [`Pkce::generate`] and [`random_state`] make the verifier, its S256 challenge and the CSRF
//!    `state`; [`authorization_url`] is the page the user opens;
//! 3. [`CallbackListener::wait_for_code`] takes the one redirect, checks `state`, answers the
//!    browser and returns the code;
//! 4. [`TokenEndpoint::exchange_code`] trades the code and verifier for tokens (no client secret:
//!    PKCE);
//! 5. a [`SecretStore`] keeps the refresh token ([`LocalFileSecretStore`] by default,
//!    [`SecretsManagerStore`] for the deployed Lambda).
//!
//! No secret (code, verifier, tokens) reaches an error message or a `Debug` output: they travel as
//! [`Secret`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use spotify_client::accounts::{
    authorization_url, random_state, AuthorizationError, CallbackListener, Pkce, TokenEndpoint, TokenError,
    Tokens, DEFAULT_CALLBACK_TIMEOUT, DEFAULT_REDIRECT_PORT,
};
use spotify_client::{json_error_position, Secret, DEFAULT_ACCOUNTS_BASE, DEFAULT_REQUEST_TIMEOUT};

mod secrets_manager;
pub use secrets_manager::{SecretsManagerStore, SpotifySecret};

/// A failed `tracklake auth`: the authorization, the code exchange, or storing the refresh token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Authorization(#[from] AuthorizationError),

    #[error(transparent)]
    Token(#[from] TokenError),

    #[error(transparent)]
    Store(#[from] SecretStoreError),
}

/// Where the refresh token lives between runs.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error("could not read the refresh-token file {location}; check the path and its permissions")]
    Read {
        location: String,
        source: std::io::Error,
    },

    #[error("could not write the refresh-token file {location}; check free space and permissions")]
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
    let tokens = TokenEndpoint::new(&config.accounts_base, &config.client_id)
        .exchange_code(config.request_timeout, &code, &redirect_uri, &pkce)
        .await?;
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
            detail: json_error_position(&e),
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
