//! Integration tests of the Spotify sandbox, one binary. Modules:
//!
//! - `auth`: the redirect URIs and clients the accounts service accepts, client credentials, token
//!   expiry by the sandbox clock;
//! - `limits`: page limits, search limits, Spotify's error bodies, endpoints gone for new apps;
//! - `faults`: each fault switch, its determinism, and the real client getting through faults;
//! - `export`: the privacy exports, read by the importer, holding the API's plays, with real quirks;
//! - `determinism`: same seed, same data; another seed, other data; time moves the history;
//! - `schema`: every served shape against the published OpenAPI schemas (the vendored `spotify-sandbox/openapi/spotify-web-api.yml`).

mod auth;
mod determinism;
mod export;
mod faults;
mod limits;
mod schema;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use spotify_client::{RecordingSleeper, SpotifyClient, SpotifyConfig};
use spotify_sandbox::{Sandbox, SandboxConfig};

/// The fixed clock most tests use.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 20, 30, 0).unwrap()
}

/// A small, fast world with a fixed clock.
pub fn config() -> SandboxConfig {
    SandboxConfig::small(now())
}

pub async fn sandbox(config: SandboxConfig) -> Sandbox {
    spotify_sandbox::start(config).await.expect("the sandbox starts")
}

/// The real client for the sandbox user (refresh-token grant), waits recorded not slept.
pub fn user_client(sandbox: &Sandbox) -> (SpotifyClient, Arc<RecordingSleeper>) {
    let mut config = SpotifyConfig::refresh_token(sandbox.client_id(), sandbox.refresh_token());
    config.api_base = sandbox.api_base();
    config.accounts_base = sandbox.accounts_base();
    config.request_timeout = Duration::from_secs(10);
    config.request_budget = 5000;
    let sleeper = Arc::new(RecordingSleeper::default());
    (
        SpotifyClient::with_sleeper(config, sleeper.clone()).unwrap(),
        sleeper,
    )
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A user access token, through the refresh-token grant as the producer gets one.
pub async fn user_token(sandbox: &Sandbox) -> String {
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
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    json["access_token"].as_str().unwrap().to_string()
}

/// An app token (client credentials, Basic auth).
pub async fn app_token(sandbox: &Sandbox) -> String {
    let response = http()
        .post(format!("{}/api/token", sandbox.accounts_base()))
        .basic_auth(sandbox.client_id(), Some(sandbox.client_secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    json["access_token"].as_str().unwrap().to_string()
}

/// `GET` an API path (or full URL) with a token: status, headers and JSON body.
pub async fn get(
    sandbox: &Sandbox,
    token: &str,
    path_or_url: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_string()
    } else {
        format!("{}{path_or_url}", sandbox.api_base())
    };
    let response = http().get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// Every page of an offset-paged list, following `next` to the end (`key`: search nests it).
pub async fn all_pages(sandbox: &Sandbox, token: &str, first: &str, key: Option<&str>) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(url) = next {
        let (status, _, body) = get(sandbox, token, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let paging = key.map_or(&body, |k| &body[k]);
        next = paging["next"].as_str().map(str::to_string);
        if let Some(n) = &next {
            assert!(
                n.starts_with(&sandbox.api_base()),
                "next is absolute on the sandbox: {n}"
            );
        }
        pages.push(body);
        assert!(pages.len() < 500, "paging does not end");
    }
    pages
}
