//! Access tokens: fetched on first use, reused until shortly before they expire, renewed early when
//! Spotify answers 401. The grant is a [`Credentials`] variant, so a new flow is one more arm.

use std::time::{Duration, Instant};

use reqwest::{header, Url};
use serde::Deserialize;

use super::{Credentials, Secret, SpotifyClient, SpotifyError};

/// The token endpoint, under the accounts base (docs/spotify-web-api.md#authorization).
const TOKEN_PATH: &str = "/api/token";

/// Renew this long before `expires_in` (3600 s for Spotify) runs out, so that a token does not
/// expire between the check and the request; a 401 is still handled if it does.
pub const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

pub(super) struct TokenState {
    access: Option<Cached>,
    /// The refresh token in use, for [`Credentials::RefreshToken`].
    refresh_token: Option<Secret>,
    /// A refresh token Spotify rotated in and the caller has not yet taken to store.
    rotated: Option<Secret>,
}

struct Cached {
    token: Secret,
    renew_at: Instant,
}

impl TokenState {
    pub(super) fn new(credentials: &Credentials) -> Self {
        let refresh_token = match credentials {
            Credentials::RefreshToken { refresh_token } => Some(refresh_token.clone()),
            Credentials::ClientCredentials { .. } => None,
        };
        TokenState {
            access: None,
            refresh_token,
            rotated: None,
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    /// Present when Spotify rotates the refresh token; absent means "keep the old one".
    refresh_token: Option<String>,
}

/// The OAuth error body: `{"error":"invalid_grant","error_description":"Refresh token revoked"}`.
#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl SpotifyClient {
    /// A valid access token, from the cache or freshly fetched.
    pub(super) async fn access_token(&self) -> Result<Secret, SpotifyError> {
        let mut state = self.tokens.lock().await;
        if let Some(cached) = &state.access {
            if Instant::now() < cached.renew_at {
                return Ok(cached.token.clone());
            }
        }
        // The lock stays held while fetching, so concurrent callers wait for one new token.
        let fetched = self.fetch_token(state.refresh_token.as_ref()).await?;
        let lifetime = Duration::from_secs(fetched.expires_in);
        let renew_at = Instant::now() + lifetime.saturating_sub(TOKEN_RENEWAL_MARGIN.min(lifetime / 2));
        let token = Secret::new(fetched.access_token);
        state.access = Some(Cached {
            token: token.clone(),
            renew_at,
        });
        // Spotify may send no refresh token, or the one it was given: only a different one is
        // new, so only that is handed out to be stored.
        let returned = fetched.refresh_token.filter(|t| !t.is_empty()).map(Secret::new);
        if let Some(rotated) = returned.filter(|t| state.refresh_token.as_ref() != Some(t)) {
            state.refresh_token = Some(rotated.clone());
            state.rotated = Some(rotated);
        }
        Ok(token)
    }

    /// Forgets `used` after a 401, unless another task has already replaced it.
    pub(super) async fn invalidate_token(&self, used: &Secret) {
        let mut state = self.tokens.lock().await;
        if state.access.as_ref().is_some_and(|cached| &cached.token == used) {
            state.access = None;
        }
    }

    /// A refresh token Spotify issued during this run in place of the configured one (never the
    /// configured one sent back), once: store it, the old one may stop working
    /// (docs/spotify-web-api.md#refresh-tokens: a refresh may or may not return one).
    pub async fn take_new_refresh_token(&self) -> Option<Secret> {
        self.tokens.lock().await.rotated.take()
    }

    async fn fetch_token(&self, refresh_token: Option<&Secret>) -> Result<TokenResponse, SpotifyError> {
        let accounts = self.config.accounts_base.trim_end_matches('/');
        let url = format!("{accounts}{TOKEN_PATH}");
        let client_id = self.config.client_id.as_str();
        let (body, basic_secret) = match (&self.config.credentials, refresh_token) {
            (Credentials::ClientCredentials { client_secret }, _) => {
                (form(&[("grant_type", "client_credentials")]), Some(client_secret))
            }
            // PKCE: the client id goes in the body and no secret is sent.
            (Credentials::RefreshToken { refresh_token }, current) => {
                let token = current.unwrap_or(refresh_token).expose();
                (
                    form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token),
                        ("client_id", client_id),
                    ]),
                    None,
                )
            }
        };
        let reply = self
            .send(TOKEN_PATH, || {
                let request = self
                    .http
                    .post(&url)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone());
                match basic_secret {
                    Some(secret) => request.basic_auth(client_id, Some(secret.expose())),
                    None => request,
                }
            })
            .await?;
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body).map_err(|e| SpotifyError::InvalidResponse {
                endpoint: TOKEN_PATH.to_string(),
                detail: format!("token response: {e}"),
            });
        }
        let error: TokenError = serde_json::from_slice(&reply.body).unwrap_or_else(|_| TokenError {
            error: "unknown_error".to_string(),
            error_description: String::from_utf8_lossy(&reply.body).chars().take(200).collect(),
        });
        if error.error == "invalid_grant" && refresh_token.is_some() {
            // Expired (6 months) or revoked: only a new authorization helps, never a retry.
            return Err(SpotifyError::ReauthorizationRequired {
                description: error.error_description,
            });
        }
        Err(SpotifyError::TokenRejected {
            status: reply.status.as_u16(),
            error: error.error,
            description: error.error_description,
        })
    }
}

/// `application/x-www-form-urlencoded` text. reqwest's `form` feature is off; `Url`'s query
/// serializer is the same encoder.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").expect("a constant, valid URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_encodes_reserved_characters() {
        assert_eq!(super::form(&[("a", "x y&z=/+")]), "a=x+y%26z%3D%2F%2B");
    }
}
