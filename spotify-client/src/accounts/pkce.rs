//! The authorization request: a PKCE pair (RFC 7636), a CSRF `state`, and the URL the user opens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Url;
use sha2::{Digest, Sha256};

use super::AuthorizationError;
use crate::Secret;

/// The scopes the five sources need (docs/spotify-web-api.md#scopes): recently played,
/// top tracks, saved tracks, and the user's own and collaborative playlists. Search needs none.
pub const SCOPES: &[&str] = &[
    "user-read-recently-played",
    "user-top-read",
    "user-library-read",
    "playlist-read-private",
    "playlist-read-collaborative",
];

/// Authorization page, under the accounts base (Spotify's authorization code with PKCE guide).
const AUTHORIZE_PATH: &str = "/authorize";

/// Verifier length bounds (RFC 7636 §4.1).
const VERIFIER_LENGTHS: std::ops::RangeInclusive<usize> = 43..=128;

/// A PKCE pair: the secret verifier and its public S256 challenge (RFC 7636 §4.1–4.2).
#[derive(Clone)]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A fresh verifier of 86 characters (64 random bytes from the OS's CSPRNG, base64url), well
    /// inside 43–128. Fails only when the OS has no random source to offer.
    pub fn generate() -> Result<Self, AuthorizationError> {
        Self::generate_with(getrandom::fill)
    }

    /// [`Pkce::generate`] over another source of random bytes (tests: one that fails).
    pub fn generate_with(
        fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
    ) -> Result<Self, AuthorizationError> {
        let bytes = random_bytes::<64>(fill)?;
        Self::from_verifier(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The pair for a given verifier, checked against RFC 7636 §4.1.
    pub fn from_verifier(verifier: impl Into<Secret>) -> Result<Self, AuthorizationError> {
        let verifier = verifier.into();
        let text = verifier.expose();
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if !VERIFIER_LENGTHS.contains(&text.len()) || !text.chars().all(unreserved) {
            return Err(AuthorizationError::InvalidVerifier {
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
pub fn random_state() -> Result<String, AuthorizationError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>(getrandom::fill)?))
}

/// `N` bytes from `fill`: the OS's CSPRNG through the `getrandom` crate outside tests. There is no
/// fallback: a verifier or state that could be guessed would let another program on the machine
/// complete the authorization, so without the OS's generator the flow stops.
fn random_bytes<const N: usize>(
    fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<[u8; N], AuthorizationError> {
    let mut bytes = [0u8; N];
    fill(&mut bytes).map_err(|e| AuthorizationError::NoRandomness(e.to_string()))?;
    Ok(bytes)
}

/// The page the user opens to grant access, with every parameter of Spotify's PKCE guide.
pub fn authorization_url(
    accounts_base: &str,
    client_id: &str,
    redirect_uri: &str,
    code_challenge: &str,
    state: &str,
) -> Result<String, AuthorizationError> {
    let base = accounts_base.trim_end_matches('/');
    let mut url = Url::parse(&format!("{base}{AUTHORIZE_PATH}")).map_err(|e| {
        AuthorizationError::InvalidAccountsBase {
            base: accounts_base.to_string(),
            detail: e.to_string(),
        }
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
