//! The accounts service: `POST /api/token` (client credentials, authorization code with PKCE,
//! refresh token) and `GET /authorize` (approves at once and redirects), and the access tokens the
//! Web API checks.

use std::collections::HashMap;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::TOKEN_LIFETIME_SECS;
use crate::server::{form_encode, Shared};

/// How long an authorization code may wait for its exchange (Spotify does not say; OAuth 2.0
/// recommends at most 10 minutes, RFC 6749 §4.1.2).
const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// The scopes every user token carries: those the producer asks for (all are granted).
const GRANTED_SCOPES: &str =
    "playlist-read-private playlist-read-collaborative user-library-read user-read-recently-played user-top-read";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Client credentials: catalog only.
    App,
    /// On behalf of the sandbox user.
    User,
}

#[derive(Debug, Clone)]
struct AccessToken {
    kind: TokenKind,
    expires_ms: i64,
}

#[derive(Debug, Clone)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    expires_ms: i64,
}

/// Tokens and codes issued so far.
pub struct AuthState {
    access: HashMap<String, AccessToken>,
    /// Refresh token -> still valid.
    refresh: HashMap<String, bool>,
    codes: HashMap<String, PendingCode>,
    rng: fastrand::Rng,
}

/// Why a bearer token is not accepted.
pub enum TokenProblem {
    Missing,
    Invalid,
    Expired,
}

impl AuthState {
    pub fn new(seed: u64, refresh_token: &str) -> Self {
        AuthState {
            access: HashMap::new(),
            refresh: HashMap::from([(refresh_token.to_string(), true)]),
            codes: HashMap::new(),
            rng: crate::rng::rng(seed, &[crate::rng::Kind::Token as u64]),
        }
    }

    fn token(&mut self, prefix: &str, len: usize) -> String {
        let mut text = String::with_capacity(len + prefix.len());
        text.push_str(prefix);
        for _ in 0..len {
            text.push(self.rng.alphanumeric());
        }
        text
    }

    fn issue_access(&mut self, kind: TokenKind, now_ms: i64) -> String {
        let token = self.token("BQ", 110);
        self.access.insert(
            token.clone(),
            AccessToken {
                kind,
                expires_ms: now_ms + TOKEN_LIFETIME_SECS * 1000,
            },
        );
        token
    }

    /// The kind of a valid bearer token.
    pub fn check(&self, bearer: Option<&str>, now_ms: i64) -> Result<TokenKind, TokenProblem> {
        let token = bearer.ok_or(TokenProblem::Missing)?;
        let found = self.access.get(token).ok_or(TokenProblem::Invalid)?;
        if now_ms >= found.expires_ms {
            return Err(TokenProblem::Expired);
        }
        Ok(found.kind)
    }

    /// Ends a token's life now (the expired-token fault).
    pub fn expire(&mut self, bearer: &str, now_ms: i64) {
        if let Some(token) = self.access.get_mut(bearer) {
            token.expires_ms = token.expires_ms.min(now_ms);
        }
    }

    pub fn revoke_refresh(&mut self, refresh_token: &str) {
        if let Some(valid) = self.refresh.get_mut(refresh_token) {
            *valid = false;
        }
    }

    /// Roll a number in [0, 1) from the token generator (refresh-token rotation).
    fn roll(&mut self) -> f64 {
        self.rng.f64()
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// `Authorization: Basic base64(id:secret)`.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The OAuth error body the accounts service answers with.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn invalid_client() -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Invalid client")
}

/// `POST /api/token`.
pub async fn token(
    State(shared): State<std::sync::Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    shared.count("POST /api/token");
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let config = &shared.config;
    let now_ms = shared.now_ms();
    let basic = basic(&headers);
    // The app authenticates with Basic auth (id and secret) or, for PKCE, names itself only.
    let client_ok = match &basic {
        Some((id, secret)) => *id == config.client_id && *secret == config.client_secret,
        None => form.get("client_id") == Some(&config.client_id),
    };
    let grant = form.get("grant_type").map(String::as_str);
    let mut auth = shared.auth.lock().unwrap_or_else(|e| e.into_inner());
    match grant {
        Some("client_credentials") => {
            match &basic {
                Some(_) if client_ok => {}
                Some((id, _)) if *id == config.client_id => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Invalid client secret")
                }
                _ => return invalid_client(),
            }
            let access = auth.issue_access(TokenKind::App, now_ms);
            Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECS}))
                .into_response()
        }
        Some("refresh_token") => {
            if !client_ok {
                return invalid_client();
            }
            let Some(refresh) = form.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token must be supplied",
                );
            };
            match auth.refresh.get(refresh) {
                None => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid refresh token")
                }
                Some(false) => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Refresh token revoked")
                }
                Some(true) => {}
            }
            let access = auth.issue_access(TokenKind::User, now_ms);
            let mut body = json!({
                "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECS,
                "scope": GRANTED_SCOPES,
            });
            // Sometimes Spotify rotates the refresh token (docs/spotify-web-api.md#refresh-tokens).
            // The old one keeps working here, so a client that fails to store the new one is not
            // punished at once.
            if auth.roll() < config.refresh_rotation_rate {
                let rotated = auth.token("AQ", 130);
                auth.refresh.insert(rotated.clone(), true);
                body["refresh_token"] = json!(rotated);
            }
            Json(body).into_response()
        }
        Some("authorization_code") => {
            if !client_ok {
                return invalid_client();
            }
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(pending) = auth.codes.remove(&code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            };
            if now_ms > pending.expires_ms {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code expired",
                );
            }
            if pending.client_id != config.client_id {
                return invalid_client();
            }
            if form.get("redirect_uri") != Some(&pending.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid redirect URI");
            }
            match (&pending.challenge, form.get("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "code_verifier was incorrect",
                        );
                    }
                }
                (Some(_), None) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "code_verifier required",
                    )
                }
                // Without PKCE the app must prove itself with its secret.
                (None, _) if basic.is_none() => return invalid_client(),
                (None, _) => {}
            }
            let access = auth.issue_access(TokenKind::User, now_ms);
            let refresh = auth.token("AQ", 130);
            auth.refresh.insert(refresh.clone(), true);
            Json(json!({
                "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECS,
                "refresh_token": refresh, "scope": GRANTED_SCOPES,
            }))
            .into_response()
        }
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or refresh_token",
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type parameter is missing",
        ),
    }
}

/// Whether Spotify accepts `uri` as a redirect URI: HTTPS, or HTTP to a loopback IP literal;
/// `localhost` is refused (docs/spotify-web-api.md#authorization).
pub fn redirect_uri_allowed(uri: &str) -> bool {
    if let Some(rest) = uri.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn authorize_error(message: &str) -> Response {
    // Spotify shows an error page to the user rather than redirecting when the client or the
    // redirect URI is wrong.
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

/// `GET /authorize`: the user approves at once; 302 to `redirect_uri` with `code` and `state`.
pub async fn authorize(
    State(shared): State<std::sync::Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.count("GET /authorize");
    let config = &shared.config;
    if query.get("client_id") != Some(&config.client_id) {
        return authorize_error("INVALID_CLIENT: Invalid client");
    }
    let Some(redirect_uri) = query.get("redirect_uri") else {
        return authorize_error("INVALID_CLIENT: Invalid redirect URI");
    };
    if !redirect_uri_allowed(redirect_uri) {
        return authorize_error("INVALID_CLIENT: Insecure redirect URI");
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let state = query
        .get("state")
        .map(|s| format!("&state={}", form_encode(s)))
        .unwrap_or_default();
    let redirect = |pairs: String| {
        (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                format!("{redirect_uri}{separator}{pairs}{state}"),
            )],
        )
            .into_response()
    };
    if query.get("response_type").map(String::as_str) != Some("code") {
        return redirect("error=unsupported_response_type".to_string());
    }
    let challenge = query.get("code_challenge").cloned();
    if challenge.is_some() && query.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return redirect("error=invalid_request".to_string());
    }
    let now_ms = shared.now_ms();
    let mut auth = shared.auth.lock().unwrap_or_else(|e| e.into_inner());
    let code = auth.token("AQ", 120);
    auth.codes.insert(
        code.clone(),
        PendingCode {
            client_id: config.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge,
            expires_ms: now_ms + CODE_LIFETIME_MS,
        },
    );
    redirect(format!("code={code}"))
}

#[cfg(test)]
mod tests {
    use super::redirect_uri_allowed;

    #[test]
    fn redirect_uris_follow_spotifys_rules() {
        assert!(redirect_uri_allowed("http://127.0.0.1:8888/callback"));
        assert!(redirect_uri_allowed("http://[::1]:8888/callback"));
        assert!(redirect_uri_allowed("https://example.com/callback"));
        assert!(!redirect_uri_allowed("http://localhost:8888/callback"));
        assert!(!redirect_uri_allowed("http://example.com/callback"));
        assert!(!redirect_uri_allowed("ftp://127.0.0.1/callback"));
    }
}
