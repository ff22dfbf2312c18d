//! The accounts client against the stand-in accounts service (`spotify-sandbox`): the PKCE
//! authorization and code exchange, refresh-token rotation and revocation.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::{StatusCode, Url};
use spotify_client::accounts::{authorization_url, Grant, Pkce, TokenEndpoint, TokenError};
use spotify_client::{Secret, SpotifyClient, SpotifyConfig, SpotifyError};
use spotify_sandbox::{Sandbox, SandboxConfig};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

async fn sandbox() -> Sandbox {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 20, 30, 0).unwrap();
    spotify_sandbox::start(SandboxConfig::small(now))
        .await
        .expect("the sandbox starts")
}

fn client(sandbox: &Sandbox, refresh_token: &str) -> SpotifyClient {
    let mut config = SpotifyConfig::refresh_token(sandbox.client_id(), refresh_token);
    config.api_base = sandbox.api_base();
    config.accounts_base = sandbox.accounts_base();
    config.request_timeout = REQUEST_TIMEOUT;
    SpotifyClient::new(config).unwrap()
}

/// A browser whose user clicks "Agree": the sandbox's answer to the authorization URL, and the
/// redirect's query when it is a redirect.
async fn agree(url: &str) -> (StatusCode, Option<Url>) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    let location = answer.headers().get(reqwest::header::LOCATION);
    let redirect = location.map(|l| Url::parse(l.to_str().unwrap()).unwrap());
    (answer.status(), redirect)
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn pkce_authorize_and_exchange_with_the_producers_auth_code() {
    let sandbox = sandbox().await;
    let endpoint = TokenEndpoint::new(&sandbox.accounts_base(), sandbox.client_id());
    let pkce = Pkce::generate().unwrap();
    let redirect = "http://127.0.0.1:8888/callback";
    let url = authorization_url(
        &sandbox.accounts_base(),
        sandbox.client_id(),
        redirect,
        pkce.challenge(),
        "state-123",
    )
    .unwrap();
    let (status, location) = agree(&url).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(location.as_str().starts_with(redirect));
    assert_eq!(param(&location, "state").as_deref(), Some("state-123"));
    let code = Secret::new(param(&location, "code").unwrap());

    // The wrong verifier is refused and spends the code, as a one-time code must.
    let other = Pkce::generate().unwrap();
    let err = endpoint
        .exchange_code(REQUEST_TIMEOUT, &code, redirect, &other)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TokenError::Rejected { error, .. } if error == "invalid_grant"),
        "{err}"
    );

    let code = Secret::new(param(&agree(&url).await.1.unwrap(), "code").unwrap());
    let tokens = endpoint
        .exchange_code(REQUEST_TIMEOUT, &code, redirect, &pkce)
        .await
        .unwrap();
    // The code works once.
    let err = endpoint
        .exchange_code(REQUEST_TIMEOUT, &code, redirect, &pkce)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Rejected { .. }), "{err}");

    // The new refresh token works with the Web API client.
    let me = client(&sandbox, tokens.refresh_token.expose())
        .get_json("/me", &[])
        .await
        .unwrap();
    assert_eq!(me["id"], sandbox.user_id());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refresh_sometimes_rotates_and_revoked_tokens_need_reauthorization() {
    let sandbox = sandbox().await;
    let endpoint = TokenEndpoint::new(&sandbox.accounts_base(), sandbox.client_id());
    let http = reqwest::Client::new();
    let refresh_token = Secret::new(sandbox.refresh_token());
    let grant = Grant::RefreshToken {
        refresh_token: &refresh_token,
    };
    let mut rotated = 0;
    for _ in 0..20 {
        let answer = endpoint.request(&http, &grant).send().await.unwrap();
        let status = answer.status();
        let body = answer.bytes().await.unwrap();
        let reply = TokenEndpoint::read_reply(&grant, status, &body).unwrap();
        assert_eq!(reply.expires_in, Duration::from_secs(3600));
        if reply.refresh_token.is_some() {
            rotated += 1;
        }
    }
    assert!(
        rotated > 0 && rotated < 20,
        "sometimes a new refresh token, sometimes not: {rotated}"
    );

    sandbox.revoke_refresh_token(sandbox.refresh_token());
    let err = client(&sandbox, sandbox.refresh_token())
        .get_json("/me", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::Token(TokenError::ReauthorizationRequired { .. })
        ),
        "{err}"
    );
    assert!(err.needs_reauthorization());
    sandbox.shutdown().await;
}
