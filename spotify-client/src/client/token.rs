//! Access tokens: fetched on first use, reused until shortly before they expire, renewed early when
//! Spotify answers 401. The grant is a [`Credentials`] variant, so a new flow is one more arm.

use std::time::{Duration, Instant};

use crate::accounts::{Grant, TokenEndpoint, TokenReply, TOKEN_PATH};
use crate::{Credentials, Secret, SpotifyClient, SpotifyError};

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
        let lifetime = fetched.expires_in;
        let renew_at = Instant::now() + lifetime.saturating_sub(TOKEN_RENEWAL_MARGIN.min(lifetime / 2));
        let token = fetched.access_token;
        state.access = Some(Cached {
            token: token.clone(),
            renew_at,
        });
        // Spotify may send no refresh token, or the one it was given: only a different one is
        // new, so only that is handed out to be stored.
        if let Some(rotated) = fetched
            .refresh_token
            .filter(|t| state.refresh_token.as_ref() != Some(t))
        {
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

    /// One token request through the retry loop and the budget, like every other request.
    async fn fetch_token(&self, refresh_token: Option<&Secret>) -> Result<TokenReply, SpotifyError> {
        let grant = match (&self.config.credentials, refresh_token) {
            (Credentials::ClientCredentials { client_secret }, _) => {
                Grant::ClientCredentials { client_secret }
            }
            (Credentials::RefreshToken { refresh_token }, current) => Grant::RefreshToken {
                refresh_token: current.unwrap_or(refresh_token),
            },
        };
        let endpoint = TokenEndpoint::new(&self.config.accounts_base, &self.config.client_id);
        let reply = self
            .send(TOKEN_PATH, || endpoint.request(&self.http, &grant))
            .await?;
        Ok(TokenEndpoint::read_reply(&grant, reply.status, &reply.body)?)
    }
}
