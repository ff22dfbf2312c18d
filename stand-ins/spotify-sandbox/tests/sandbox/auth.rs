//! The accounts service: PKCE authorize and exchange through the producer's own auth code,
//! refresh rotation and revocation, client credentials, token expiry by the sandbox clock.

use std::time::Duration;

use chrono::Duration as TimeDelta;
use producer::auth::{authorization_url, exchange_code, AuthConfig, AuthError, Pkce};
use producer::spotify::{Secret, SpotifyError};
use serde_json::Value;

use crate::{app_token, config, get, http, now, sandbox, user_client, user_token};

fn auth_config(sandbox: &spotify_sandbox::Sandbox) -> AuthConfig {
    let mut config = AuthConfig::new(sandbox.client_id());
    config.accounts_base = sandbox.accounts_base();
    config.request_timeout = Duration::from_secs(5);
    config
}

/// Follows the authorization URL like a browser whose user clicks "Agree": the 302's `code`.
async fn authorize(url: &str) -> (u16, Option<String>) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location)
}

fn query_value(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

#[tokio::test]
async fn pkce_authorize_and_exchange_with_the_producers_auth_code() {
    let sandbox = sandbox(config()).await;
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
    let (status, location) = authorize(&url).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(location.starts_with(redirect));
    assert_eq!(query_value(&location, "state").as_deref(), Some("state-123"));
    let code = Secret::new(query_value(&location, "code").unwrap());

    // The wrong verifier is refused and spends the code, as a one-time code must.
    let other = Pkce::generate().unwrap();
    let err = exchange_code(&auth_config(&sandbox), &code, redirect, &other)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::ExchangeRejected { error, .. } if error == "invalid_grant"),
        "{err}"
    );

    let (_, location) = authorize(&url).await;
    let code = Secret::new(query_value(&location.unwrap(), "code").unwrap());
    let tokens = exchange_code(&auth_config(&sandbox), &code, redirect, &pkce)
        .await
        .unwrap();
    let (status, _, me) = get(&sandbox, tokens.access_token.expose(), "/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], sandbox.user_id());
    // The code works once.
    let err = exchange_code(&auth_config(&sandbox), &code, redirect, &pkce)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::ExchangeRejected { .. }));

    // The new refresh token works with the producer's client.
    let mut client_config =
        producer::spotify::SpotifyConfig::refresh_token(sandbox.client_id(), tokens.refresh_token.expose());
    client_config.api_base = sandbox.api_base();
    client_config.accounts_base = sandbox.accounts_base();
    let client = producer::spotify::SpotifyClient::new(client_config).unwrap();
    assert_eq!(
        producer::sources::current_user_id(&client).await.unwrap(),
        sandbox.user_id()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn authorize_refuses_localhost_and_unknown_clients() {
    let sandbox = sandbox(config()).await;
    let pkce = Pkce::generate().unwrap();
    for (client, redirect) in [
        (sandbox.client_id(), "http://localhost:8888/callback"),
        (sandbox.client_id(), "http://example.com/callback"),
        ("someone-else", "http://127.0.0.1:8888/callback"),
    ] {
        let url =
            authorization_url(&sandbox.accounts_base(), client, redirect, pkce.challenge(), "s").unwrap();
        let (status, location) = authorize(&url).await;
        assert_eq!((status, location), (400, None), "{client} {redirect}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refresh_sometimes_rotates_and_revoked_tokens_need_reauthorization() {
    let sandbox = sandbox(config()).await;
    let mut rotated = 0;
    for _ in 0..20 {
        let body = format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}",
            sandbox.refresh_token(),
            sandbox.client_id()
        );
        let response = http()
            .post(format!("{}/api/token", sandbox.accounts_base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["expires_in"], 3600);
        if json.get("refresh_token").is_some() {
            rotated += 1;
        }
    }
    assert!(
        rotated > 0 && rotated < 20,
        "sometimes a new refresh token, sometimes not: {rotated}"
    );

    sandbox.revoke_refresh_token(sandbox.refresh_token());
    let (client, _) = user_client(&sandbox);
    let err = producer::sources::current_user_id(&client).await.unwrap_err();
    assert!(
        matches!(err, SpotifyError::ReauthorizationRequired { .. }),
        "{err}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn client_credentials_need_the_right_secret() {
    let sandbox = sandbox(config()).await;
    let token = app_token(&sandbox).await;
    let (status, _, _) = get(&sandbox, &token, "/search?q=night&type=track").await;
    assert_eq!(status, 200);
    let response = http()
        .post(format!("{}/api/token", sandbox.accounts_base()))
        .basic_auth(sandbox.client_id(), Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"], "invalid_client");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tokens_expire_after_an_hour_of_sandbox_time() {
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    sandbox.set_now(Some(now() + TimeDelta::seconds(3599)));
    assert_eq!(get(&sandbox, &token, "/me").await.0, 200);
    sandbox.set_now(Some(now() + TimeDelta::seconds(3600)));
    let (status, _, body) = get(&sandbox, &token, "/me").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "The access token expired");
    // The producer's client renews the token on its own.
    let (client, _) = user_client(&sandbox);
    assert!(producer::sources::current_user_id(&client).await.is_ok());
    sandbox.shutdown().await;
}
