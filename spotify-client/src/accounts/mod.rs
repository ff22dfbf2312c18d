//! The accounts service (`accounts.spotify.com`, docs/spotify-web-api.md#authorization): the token
//! endpoint, and the authorization code flow with PKCE (RFC 7636) that gives the producer a refresh
//! token for the user's data.
//!
//! - [`TokenEndpoint`]: `POST /api/token` for every [`Grant`] (authorization code, refresh token,
//!   client credentials): one way to build the request, one way to read the answer, one error type
//!   ([`TokenError`]). The Web API client sends it through its retry loop and request budget;
//!   [`TokenEndpoint::exchange_code`] sends a one-time code once;
//! - [`Pkce`], [`random_state`] and [`authorization_url`]: the page the user opens to grant access;
//! - [`CallbackListener`]: the loopback listener that takes Spotify's redirect back with the code.

mod pkce;
mod redirect;

use std::time::Duration;

use reqwest::{header, RequestBuilder, StatusCode};
use serde::Deserialize;

use crate::{json_error_position, Secret};

pub use pkce::{authorization_url, code_challenge, random_state, Pkce, SCOPES};
pub use redirect::{
    redirect_uri, CallbackListener, CALLBACK_PATH, DEFAULT_CALLBACK_TIMEOUT, DEFAULT_REDIRECT_PORT,
};

/// The token endpoint, under the accounts base (docs/spotify-web-api.md#authorization).
pub const TOKEN_PATH: &str = "/api/token";

/// Spotify's error text quoted in errors is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 200;

/// A failed authorization request or redirect (the steps before the code exchange). No variant
/// holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    #[error(
        "could not listen on 127.0.0.1:{port} for Spotify's redirect; stop what uses the port, or \
         choose another port and register http://127.0.0.1:PORT/callback in the app's settings"
    )]
    Bind { port: u16, source: std::io::Error },

    #[error(
        "the operating system's random number generator is not available ({0}): the PKCE verifier and \
         the state must be unpredictable, so the authorization stops; run `tracklake auth` on a system \
         that provides one (Linux getrandom(2) or /dev/urandom, macOS, Windows)"
    )]
    NoRandomness(String),

    #[error("the loopback listener for Spotify's redirect stopped; run `tracklake auth` again")]
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
}

/// Which grant a token request was, for the messages of [`TokenError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantKind {
    /// What the token endpoint refused, and what to check.
    fn refused(self) -> &'static str {
        match self {
            GrantKind::AuthorizationCode => {
                "the code; check the client id and that the redirect URI is registered, then run \
                 `tracklake auth` again"
            }
            GrantKind::RefreshToken => {
                "the refresh request; check the client id: a refresh token works only for the app it \
                 was issued to"
            }
            GrantKind::ClientCredentials => "the app's credentials; check the client id and client secret",
        }
    }

    /// What to do after a failure that a later attempt may not meet.
    fn next_step(self) -> &'static str {
        match self {
            GrantKind::AuthorizationCode => "run `tracklake auth` again",
            GrantKind::RefreshToken | GrantKind::ClientCredentials => "the next run tries again",
        }
    }
}

/// What a token request asks for. The secrets are borrowed: a grant lives for one request.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    /// `grant_type=authorization_code` with PKCE: the client id and the verifier go in the body
    /// and no client secret is sent.
    AuthorizationCode {
        code: &'a Secret,
        redirect_uri: &'a str,
        verifier: &'a Secret,
    },
    /// `grant_type=refresh_token` for a PKCE app: the client id in the body, no secret.
    RefreshToken { refresh_token: &'a Secret },
    /// `grant_type=client_credentials`: HTTP Basic auth with the client id and secret.
    ClientCredentials { client_secret: &'a Secret },
}

impl Grant<'_> {
    pub fn kind(&self) -> GrantKind {
        match self {
            Grant::AuthorizationCode { .. } => GrantKind::AuthorizationCode,
            Grant::RefreshToken { .. } => GrantKind::RefreshToken,
            Grant::ClientCredentials { .. } => GrantKind::ClientCredentials,
        }
    }

    /// The `application/x-www-form-urlencoded` body.
    fn body(&self, client_id: &str) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        match self {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => form.extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
                ("code_verifier", verifier.expose()),
            ]),
            Grant::RefreshToken { refresh_token } => form.extend_pairs([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
                ("client_id", client_id),
            ]),
            Grant::ClientCredentials { .. } => form.append_pair("grant_type", "client_credentials"),
        };
        form.finish()
    }

    /// Spotify's own text is quoted in errors; it has no business echoing a secret, but if it
    /// does, the secret stays out of the message.
    fn scrub(&self, text: &str) -> String {
        let mut text: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        let secrets = match self {
            Grant::AuthorizationCode { code, verifier, .. } => vec![*code, *verifier],
            Grant::RefreshToken { refresh_token } => vec![*refresh_token],
            Grant::ClientCredentials { client_secret } => vec![*client_secret],
        };
        for secret in secrets.into_iter().filter(|s| !s.expose().is_empty()) {
            text = text.replace(secret.expose(), "<redacted>");
        }
        text
    }
}

/// A failed token request. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not build the HTTP client for Spotify's token endpoint: {0}")]
    Client(String),

    #[error("could not reach Spotify's token endpoint ({detail}); check the network and {}", .grant.next_step())]
    Transport { grant: GrantKind, detail: String },

    #[error(
        "Spotify's token endpoint refused {} (HTTP {status}, {error}: {description})",
        .grant.refused()
    )]
    Rejected {
        grant: GrantKind,
        status: u16,
        error: String,
        description: String,
    },

    #[error(
        "Spotify rejected the stored refresh token ({description}): it expired (6 months after \
         authorization) or was revoked; run `tracklake auth` again"
    )]
    ReauthorizationRequired { description: String },

    #[error("Spotify's token response is not the expected JSON ({detail}); {}", .grant.next_step())]
    InvalidResponse { grant: GrantKind, detail: String },

    #[error(
        "Spotify's token response carried no refresh token, so the producer could not renew access; \
         run `tracklake auth` again"
    )]
    MissingRefreshToken,
}

/// A successful token response. `Debug` prints the tokens redacted.
#[derive(Debug, Clone)]
pub struct TokenReply {
    pub access_token: Secret,
    pub expires_in: Duration,
    /// The scopes granted, space-separated as Spotify sends them.
    pub scope: String,
    /// Present when Spotify issues a refresh token (always for a code, sometimes on a refresh:
    /// docs/spotify-web-api.md#refresh-tokens); `None` means "keep the old one".
    pub refresh_token: Option<Secret>,
}

/// What the code exchange returns: the refresh token is required. `Debug` prints the tokens
/// redacted.
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
    expires_in: u64,
    #[serde(default)]
    scope: String,
    refresh_token: Option<String>,
}

/// The OAuth error body: `{"error":"invalid_grant","error_description":"Refresh token revoked"}`.
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Where the token endpoint is and which app asks.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    url: String,
    client_id: String,
}

impl TokenEndpoint {
    /// The endpoint at `{accounts_base}/api/token` for the app `client_id`.
    pub fn new(accounts_base: &str, client_id: impl Into<String>) -> Self {
        TokenEndpoint {
            url: format!("{}{TOKEN_PATH}", accounts_base.trim_end_matches('/')),
            client_id: client_id.into(),
        }
    }

    /// The request for `grant`, to send as often as the caller's retry rules say.
    pub fn request(&self, http: &reqwest::Client, grant: &Grant<'_>) -> RequestBuilder {
        let request = http
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(grant.body(&self.client_id));
        match grant {
            Grant::ClientCredentials { client_secret } => {
                request.basic_auth(&self.client_id, Some(client_secret.expose()))
            }
            _ => request,
        }
    }

    /// Reads the token endpoint's answer to `grant`.
    pub fn read_reply(grant: &Grant<'_>, status: StatusCode, body: &[u8]) -> Result<TokenReply, TokenError> {
        if !status.is_success() {
            let error: OAuthError = serde_json::from_slice(body).unwrap_or_else(|_| OAuthError {
                error: "unknown_error".to_string(),
                error_description: String::from_utf8_lossy(body).into_owned(),
            });
            if error.error == "invalid_grant" && grant.kind() == GrantKind::RefreshToken {
                // Expired (6 months) or revoked: only a new authorization helps, never a retry.
                return Err(TokenError::ReauthorizationRequired {
                    description: grant.scrub(&error.error_description),
                });
            }
            return Err(TokenError::Rejected {
                grant: grant.kind(),
                status: status.as_u16(),
                error: grant.scrub(&error.error),
                description: grant.scrub(&error.error_description),
            });
        }
        // Only the position of a parse error: serde's message can quote a value, here a token.
        let parsed: TokenResponse =
            serde_json::from_slice(body).map_err(|e| TokenError::InvalidResponse {
                grant: grant.kind(),
                detail: json_error_position(&e),
            })?;
        Ok(TokenReply {
            access_token: Secret::new(parsed.access_token),
            expires_in: Duration::from_secs(parsed.expires_in),
            scope: parsed.scope,
            refresh_token: parsed.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
        })
    }

    /// Trades an authorization code and its PKCE verifier for tokens, in one request: the code
    /// works once, so there is nothing to retry with.
    pub async fn exchange_code(
        &self,
        request_timeout: Duration,
        code: &Secret,
        redirect_uri: &str,
        pkce: &Pkce,
    ) -> Result<Tokens, TokenError> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .build()
            .map_err(|e| TokenError::Client(e.to_string()))?;
        let grant = Grant::AuthorizationCode {
            code,
            redirect_uri,
            verifier: pkce.verifier(),
        };
        let transport = |e: reqwest::Error| TokenError::Transport {
            grant: grant.kind(),
            detail: e.to_string(),
        };
        let response = self.request(&http, &grant).send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        let reply = Self::read_reply(&grant, status, &body)?;
        let refresh_token = reply.refresh_token.ok_or(TokenError::MissingRefreshToken)?;
        Ok(Tokens {
            access_token: reply.access_token,
            refresh_token,
            expires_in: reply.expires_in,
            scope: reply.scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encodes_reserved_characters() {
        let secret = Secret::new("x y&z=/+");
        let grant = Grant::RefreshToken {
            refresh_token: &secret,
        };
        assert_eq!(
            grant.body("id"),
            "grant_type=refresh_token&refresh_token=x+y%26z%3D%2F%2B&client_id=id"
        );
    }
}
