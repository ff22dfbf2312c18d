//! The stand-in accounts service itself: the redirect URIs and clients it accepts, client
//! credentials, token expiry by the sandbox clock. The real client's code exchange, refresh
//! rotation and revocation against it are tested with `spotify-client`.

use chrono::Duration as TimeDelta;
use serde_json::Value;
use spotify_client::accounts::{authorization_url, Pkce};

use crate::{app_token, config, get, http, now, sandbox, user_client, user_token};

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
    // The real client renews the token on its own.
    let (client, _) = user_client(&sandbox);
    assert!(client.get_json("/me", &[]).await.is_ok());
    sandbox.shutdown().await;
}
