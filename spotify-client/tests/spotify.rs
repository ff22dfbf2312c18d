//! The Spotify client's transport against a wiremock server. Waits go through a recording
//! `Sleeper`, so each test asserts the waits the client asked for without sitting through them.
//!
//! - pagination: `next` to the end, the search limit and offset caps;
//! - rate limits: short, huge, zero, missing and odd `Retry-After`, QUOTA_EXCEEDED;
//! - tokens: client credentials, 401 refresh, refresh-token rotation and `invalid_grant`;
//! - failures: 5xx, timeouts, other 4xx, the request budget, foreign URLs;
//! - secrets: never in an error's `Display` or `Debug`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use spotify_client::accounts::TokenError;
use spotify_client::backoff::Backoff;
use spotify_client::{
    Pager, RecordingSleeper, SpotifyClient, SpotifyConfig, SpotifyError, LIST_PAGES,
    QUOTA_EXCEEDED_DEFAULT_WAIT, RATE_LIMIT_WINDOW, SEARCH_PAGES,
};
use wiremock::matchers::{basic_auth, bearer_token, body_string, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "s3cr3t-client-secret-never-logged";
const ACCESS_TOKEN: &str = "access-token-one";

/// Small waits, so that a test that did sleep for real would still be quick; 4 attempts in all.
const TEST_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(1),
    max_attempts: 4,
};

fn token_response(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": 3600
    }))
}

/// A server whose token endpoint accepts exactly our client credentials.
async fn server_with_token() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(basic_auth(CLIENT_ID, CLIENT_SECRET))
        .and(body_string("grant_type=client_credentials"))
        .respond_with(token_response(ACCESS_TOKEN))
        .mount(&server)
        .await;
    server
}

fn config(server: &MockServer) -> SpotifyConfig {
    let mut config = SpotifyConfig::client_credentials(CLIENT_ID, CLIENT_SECRET);
    config.api_base = format!("{}/v1", server.uri());
    config.accounts_base = server.uri();
    config.backoff = TEST_BACKOFF;
    config.request_timeout = Duration::from_secs(5);
    config
}

fn client(config: SpotifyConfig) -> (SpotifyClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    (
        SpotifyClient::with_sleeper(config, sleeper.clone()).unwrap(),
        sleeper,
    )
}

fn api(route: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(format!("/v1{route}")))
}

fn ok_me() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"id": "me", "type": "user"}))
}

fn too_many(retry_after: Option<&str>) -> ResponseTemplate {
    let response = ResponseTemplate::new(429)
        .set_body_json(json!({"error": {"status": 429, "message": "API rate limit exceeded"}}));
    match retry_after {
        Some(value) => response.insert_header("Retry-After", value),
        None => response,
    }
}

fn quota_exceeded(retry_after: Option<&str>) -> ResponseTemplate {
    let response = ResponseTemplate::new(429).set_body_json(json!({
        "error": {"status": 429, "message": "Quota exceeded for today", "reason": "QUOTA_EXCEEDED"}
    }));
    match retry_after {
        Some(value) => response.insert_header("Retry-After", value),
        None => response,
    }
}

/// A saved-tracks page of `n` items at `offset`, whose `next` points at the following page.
fn saved_tracks_page(server: &MockServer, offset: u64, n: u64, total: u64) -> Value {
    let next =
        (offset + n < total).then(|| format!("{}/v1/me/tracks?offset={}&limit=50", server.uri(), offset + n));
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"track": {"id": format!("t{}", offset + i)}}))
        .collect();
    json!({"href": "…", "items": items, "limit": 50, "offset": offset, "total": total, "next": next, "previous": null})
}

/// Asserts `t` lies in `[before + wait, after + wait]`.
fn assert_not_before(t: DateTime<Utc>, before: DateTime<Utc>, after: DateTime<Utc>, wait: Duration) {
    let wait = chrono::TimeDelta::from_std(wait).unwrap();
    assert!(
        t >= before + wait && t <= after + wait,
        "not_before {t} outside [{}, {}]",
        before + wait,
        after + wait
    );
}

// --- pagination ---

#[tokio::test]
async fn pager_follows_next_to_the_end_across_three_pages() {
    let server = server_with_token().await;
    for (offset, n) in [(0, 50), (50, 50), (100, 20)] {
        api("/me/tracks")
            .and(query_param("offset", offset.to_string()))
            .and(query_param("limit", "50"))
            .and(bearer_token(ACCESS_TOKEN))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(saved_tracks_page(&server, offset, n, 120)),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let (client, _) = client(config(&server));
    let mut pager = Pager::new(
        &client,
        "/me/tracks",
        &[("limit", "50"), ("offset", "0")],
        LIST_PAGES,
    )
    .unwrap();
    let mut pages = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        pages.push((page.offset, page.items, page.total));
    }
    assert_eq!(
        pages,
        [(0, 50, Some(120)), (50, 50, Some(120)), (100, 20, Some(120))]
    );
    assert!(!pager.stopped_at_offset_cap());
    assert_eq!(client.stats()["/me/tracks"].requests, 3);
    assert_eq!(
        client.stats()["/api/token"].requests,
        1,
        "one token serves the whole walk"
    );
}

#[tokio::test]
async fn pager_refuses_a_search_limit_above_ten_before_any_request() {
    let server = server_with_token().await;
    let (client, _) = client(config(&server));
    let query = [("q", "abba"), ("type", "track"), ("limit", "11")];
    let err = Pager::new(&client, "/search", &query, SEARCH_PAGES).unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::PageLimitTooLarge {
                limit: 11,
                max: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Pager::new(&client, "/search", &[("offset", "1001")], SEARCH_PAGES).unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::OffsetTooLarge {
                offset: 1001,
                max: 1000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(client.requests_sent(), 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn pager_stops_before_a_search_offset_beyond_1000() {
    let server = server_with_token().await;
    let next = format!(
        "{}/v1/search?q=abba&type=track&offset=1010&limit=10",
        server.uri()
    );
    let body =
        json!({"tracks": {"items": [{"id": "a"}], "limit": 10, "offset": 1000, "total": 5000, "next": next}});
    api("/search")
        .and(query_param("offset", "1000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    let query = [
        ("q", "abba"),
        ("type", "track"),
        ("limit", "10"),
        ("offset", "1000"),
    ];
    let mut pager = Pager::new(&client, "/search", &query, SEARCH_PAGES)
        .unwrap()
        .nested("tracks");
    let page = pager.next_page().await.unwrap().unwrap();
    assert_eq!((page.offset, page.items), (1000, 1));
    assert!(
        pager.next_page().await.unwrap().is_none(),
        "offset 1010 must not be requested"
    );
    assert!(pager.stopped_at_offset_cap());
}

#[tokio::test]
async fn pager_rejects_a_page_larger_than_the_endpoint_allows() {
    let server = server_with_token().await;
    let body = json!({"tracks": {"items": [], "limit": 20, "offset": 0, "total": 0, "next": null}});
    api("/search")
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    let mut pager = Pager::new(&client, "/search", &[("q", "x")], SEARCH_PAGES)
        .unwrap()
        .nested("tracks");
    let err = pager.next_page().await.unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::PageLimitTooLarge {
                limit: 20,
                max: 10,
                ..
            }
        ),
        "{err:?}"
    );
}

// --- rate limits ---

#[tokio::test]
async fn short_retry_after_is_waited_inline_then_the_request_succeeds() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(too_many(Some("2")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    api("/me").respond_with(ok_me()).expect(1).mount(&server).await;
    let (client, sleeper) = client(config(&server));
    let me = client.get_json("/me", &[]).await.unwrap();
    assert_eq!(me["id"], "me");
    assert_eq!(
        sleeper.waits(),
        [Duration::from_secs(2)],
        "exactly the Retry-After, once"
    );
    let stats = client.stats()["/me"];
    assert_eq!(
        (stats.requests, stats.retries, stats.throttled, stats.waits),
        (2, 1, 1, 1)
    );
    assert_eq!(stats.wait_time, Duration::from_secs(2));
}

#[tokio::test]
async fn huge_retry_after_ends_the_run_with_not_before_and_no_further_request() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(too_many(Some("50000")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeper) = client(config(&server));
    let before = Utc::now();
    let err = client.get_json("/me", &[]).await.unwrap_err();
    let after = Utc::now();
    let SpotifyError::RateLimited {
        not_before,
        retry_after,
        ref endpoint,
    } = err
    else {
        panic!("expected RateLimited, got {err:?}")
    };
    assert_eq!(
        (endpoint.as_str(), retry_after),
        ("/me", Duration::from_secs(50_000))
    );
    assert_not_before(not_before, before, after, retry_after);
    assert!(err.ends_run_cleanly());
    assert_eq!(err.not_before(), Some(not_before));
    assert!(
        sleeper.waits().is_empty(),
        "a wait above the cap must not be slept"
    );
}

#[tokio::test]
async fn unusable_retry_after_uses_bounded_jittered_backoff_never_an_immediate_retry() {
    for retry_after in [Some("0"), None, Some("-5"), Some("soon")] {
        let server = server_with_token().await;
        api("/me")
            .respond_with(too_many(retry_after))
            .up_to_n_times(3)
            .expect(3)
            .mount(&server)
            .await;
        api("/me").respond_with(ok_me()).expect(1).mount(&server).await;
        let (client, sleeper) = client(config(&server));
        client.get_json("/me", &[]).await.unwrap();
        let waits = sleeper.waits();
        assert_eq!(
            waits.len(),
            3,
            "Retry-After {retry_after:?}: one backoff wait per 429"
        );
        for (n, wait) in waits.iter().enumerate() {
            assert!(
                *wait <= TEST_BACKOFF.ceiling(n as u32),
                "Retry-After {retry_after:?}: wait {wait:?}"
            );
        }
        // Jitter may draw a zero, but three in a row (odds about 1e-7) mean "retry at once".
        assert!(
            waits.iter().any(|w| !w.is_zero()),
            "Retry-After {retry_after:?}: {waits:?}"
        );
    }
}

#[tokio::test]
async fn endless_zero_retry_after_stops_after_max_attempts_as_rate_limited() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(too_many(Some("0")))
        .expect(u64::from(TEST_BACKOFF.max_attempts))
        .mount(&server)
        .await;
    let (client, sleeper) = client(config(&server));
    let before = Utc::now();
    let err = client.get_json("/me", &[]).await.unwrap_err();
    let after = Utc::now();
    let SpotifyError::RateLimited {
        not_before,
        retry_after,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(retry_after, RATE_LIMIT_WINDOW);
    assert_not_before(not_before, before, after, RATE_LIMIT_WINDOW);
    assert_eq!(sleeper.waits().len() as u32, TEST_BACKOFF.max_attempts - 1);
}

#[tokio::test]
async fn quota_exceeded_is_never_retried_and_keeps_spotifys_retry_after() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(quota_exceeded(Some("50400")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeper) = client(config(&server));
    let before = Utc::now();
    let err = client.get_json("/me", &[]).await.unwrap_err();
    let after = Utc::now();
    let SpotifyError::QuotaExceeded {
        not_before,
        ref message,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(message, "Quota exceeded for today");
    assert_not_before(not_before, before, after, Duration::from_secs(50_400));
    assert!(err.ends_run_cleanly() && sleeper.waits().is_empty());
}

#[tokio::test]
async fn quota_exceeded_without_retry_after_uses_the_default_not_before() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(quota_exceeded(None))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    let before = Utc::now();
    let err = client.get_json("/me", &[]).await.unwrap_err();
    let after = Utc::now();
    let SpotifyError::QuotaExceeded { not_before, .. } = err else {
        panic!("{err:?}")
    };
    assert_not_before(not_before, before, after, QUOTA_EXCEEDED_DEFAULT_WAIT);
}

// --- tokens ---

#[tokio::test]
async fn a_401_fetches_a_fresh_token_once_and_retries() {
    let server = MockServer::start().await;
    let token = || Mock::given(method("POST")).and(path("/api/token"));
    token()
        .respond_with(token_response("old-token"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token()
        .respond_with(token_response("new-token"))
        .expect(1)
        .mount(&server)
        .await;
    api("/me")
        .and(bearer_token("old-token"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    api("/me")
        .and(bearer_token("new-token"))
        .respond_with(ok_me())
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    assert_eq!(client.get_json("/me", &[]).await.unwrap()["id"], "me");
    assert_eq!(client.stats()["/api/token"].requests, 2);
    assert_eq!(client.stats()["/me"].retries, 1);
}

#[tokio::test]
async fn a_second_401_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token_response(ACCESS_TOKEN))
        .expect(2)
        .mount(&server)
        .await;
    let body = json!({"error": {"status": 401, "message": "Invalid access token"}});
    api("/me")
        .respond_with(ResponseTemplate::new(401).set_body_json(body))
        .expect(2)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    let err = client.get_json("/me", &[]).await.unwrap_err();
    assert!(matches!(&err, SpotifyError::Unauthorized { message, .. } if message == "Invalid access token"));
}

#[tokio::test]
async fn refresh_token_grant_sends_client_id_and_hands_back_a_rotated_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string(format!("grant_type=refresh_token&refresh_token=rt-old&client_id={CLIENT_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-new"
        })))
        .expect(1)
        .mount(&server)
        .await;
    api("/me")
        .and(bearer_token(ACCESS_TOKEN))
        .respond_with(ok_me())
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.credentials = SpotifyConfig::refresh_token(CLIENT_ID, "rt-old").credentials;
    let (client, _) = client(config);
    client.get_json("/me", &[]).await.unwrap();
    assert_eq!(
        client
            .take_new_refresh_token()
            .await
            .map(|t| t.expose().to_string()),
        Some("rt-new".into())
    );
    assert!(
        client.take_new_refresh_token().await.is_none(),
        "handed back once"
    );
    let request = &server.received_requests().await.unwrap()[0];
    assert!(
        request.headers.get("authorization").is_none(),
        "PKCE refresh sends no client secret"
    );
}

#[tokio::test]
async fn invalid_grant_asks_for_reauthorization_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "Refresh token revoked"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.credentials = SpotifyConfig::refresh_token(CLIENT_ID, "rt-old").credentials;
    let (client, _) = client(config);
    let err = client.get_json("/me", &[]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            SpotifyError::Token(TokenError::ReauthorizationRequired { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("run `tracklake auth` again"), "{err}");
}

// --- failures ---

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    api("/me").respond_with(ok_me()).expect(1).mount(&server).await;
    let (client, sleeper) = client(config(&server));
    client.get_json("/me", &[]).await.unwrap();
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] <= TEST_BACKOFF.ceiling(0) && waits[1] <= TEST_BACKOFF.ceiling(1),
        "{waits:?}"
    );
    assert_eq!(client.stats()["/me"].retries, 2);
}

#[tokio::test]
async fn endless_server_errors_stop_after_max_attempts() {
    let server = server_with_token().await;
    let body = json!({"error": {"status": 500, "message": "Server error"}});
    api("/me")
        .respond_with(ResponseTemplate::new(500).set_body_json(body))
        .expect(u64::from(TEST_BACKOFF.max_attempts))
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    let err = client.get_json("/me", &[]).await.unwrap_err();
    let SpotifyError::RetriesExhausted {
        attempts, ref last, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(attempts, TEST_BACKOFF.max_attempts);
    assert_eq!(last, "HTTP 500: Server error");
    assert!(err.ends_run_cleanly());
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let server = server_with_token().await;
    api("/me")
        .respond_with(ok_me().set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    api("/me").respond_with(ok_me()).expect(1).mount(&server).await;
    let mut config = config(&server);
    config.request_timeout = Duration::from_millis(300);
    let (client, sleeper) = client(config);
    client.get_json("/me", &[]).await.unwrap();
    assert_eq!(sleeper.waits().len(), 1);
}

#[tokio::test]
async fn other_client_errors_are_typed_and_not_retried() {
    let server = server_with_token().await;
    let invalid_limit = json!({"error": {"status": 400, "message": "Invalid limit"}});
    api("/search")
        .respond_with(ResponseTemplate::new(400).set_body_json(invalid_limit))
        .expect(1)
        .mount(&server)
        .await;
    let gone = json!({"error": {"status": 404, "message": "Resource not found"}});
    api("/playlists/37i9dQZEVXbMDoHDwVN2tF/items")
        .respond_with(ResponseTemplate::new(404).set_body_json(gone))
        .expect(1)
        .mount(&server)
        .await;
    let (client, sleeper) = client(config(&server));

    let err = client.get_json("/search", &[("limit", "11")]).await.unwrap_err();
    assert!(
        matches!(&err, SpotifyError::Api { status: 400, message, endpoint, .. } if message == "Invalid limit" && endpoint == "/search"),
        "{err:?}"
    );
    let err = client
        .get_json("/playlists/37i9dQZEVXbMDoHDwVN2tF/items", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SpotifyError::Api { status: 404, endpoint, .. } if endpoint == "/playlists/{id}/items")
    );
    assert!(
        err.to_string()
            .contains("editorial playlists answer 404 since Nov 2024"),
        "{err}"
    );
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn the_request_budget_ends_the_run_and_counts_token_requests() {
    let server = server_with_token().await;
    for (offset, n) in [(0, 50), (50, 50), (100, 20)] {
        api("/me/tracks")
            .and(query_param("offset", offset.to_string()))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(saved_tracks_page(&server, offset, n, 120)),
            )
            .mount(&server)
            .await;
    }
    let mut config = config(&server);
    config.request_budget = 3; // the token and two pages
    let (client, _) = client(config);
    let mut pager = Pager::new(
        &client,
        "/me/tracks",
        &[("limit", "50"), ("offset", "0")],
        LIST_PAGES,
    )
    .unwrap();
    assert!(pager.next_page().await.unwrap().is_some());
    assert!(pager.next_page().await.unwrap().is_some());
    let err = pager.next_page().await.unwrap_err();
    assert!(
        matches!(err, SpotifyError::BudgetExhausted { budget: 3 }),
        "{err:?}"
    );
    assert!(err.ends_run_cleanly());
    assert_eq!(client.requests_sent(), 3);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        3,
        "the refused request was not sent"
    );
}

#[tokio::test]
async fn the_token_is_never_sent_to_a_url_outside_the_api_base() {
    let server = server_with_token().await;
    let (client, _) = client(config(&server));
    let err = client
        .get_json("https://evil.example/v1/me", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SpotifyError::ForeignUrl { .. }), "{err:?}");
    // A prefix match that is not a path boundary is foreign too.
    let err = client
        .get_json(&format!("{}/v1evil/me", server.uri()), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SpotifyError::ForeignUrl { .. }), "{err:?}");
    assert_eq!(client.requests_sent(), 0);
}

// --- secrets ---

#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug_output() {
    let mut errors = Vec::new();

    // The app's credentials refused.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_client", "error_description": "Invalid client secret"}),
            ),
        )
        .mount(&server)
        .await;
    let first = client_for(&server);
    errors.push(first.get_json("/me", &[]).await.unwrap_err());
    assert!(
        matches!(
            errors[0],
            SpotifyError::Token(TokenError::Rejected { status: 400, .. })
        ),
        "{:?}",
        errors[0]
    );
    let debug_client = format!("{first:?} {:?}", first.config());

    // Unauthorized with a valid-looking token, and a refresh token rejected.
    let server = server_with_token().await;
    api("/me")
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    errors.push(client_for(&server).get_json("/me", &[]).await.unwrap_err());
    let mut refresh = config(&server);
    refresh.credentials = SpotifyConfig::refresh_token(CLIENT_ID, "rt-secret-refresh").credentials;
    let refresh_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&refresh_server)
        .await;
    refresh.accounts_base = refresh_server.uri();
    errors.push(client(refresh.clone()).0.get_json("/me", &[]).await.unwrap_err());
    let debug_refresh = format!("{refresh:?}");

    // Nobody listening: transport errors carry the URL, never the headers or body.
    let mut unreachable = config(&server);
    unreachable.accounts_base = "http://127.0.0.1:9".to_string();
    errors.push(client(unreachable).0.get_json("/me", &[]).await.unwrap_err());
    assert!(
        matches!(errors[3], SpotifyError::RetriesExhausted { .. }),
        "{:?}",
        errors[3]
    );

    let secrets = [CLIENT_SECRET, ACCESS_TOKEN, "rt-secret-refresh"];
    for text in errors
        .iter()
        .flat_map(|e| [e.to_string(), format!("{e:?}")])
        .chain([debug_client, debug_refresh])
    {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }
}

fn client_for(server: &MockServer) -> SpotifyClient {
    client(config(server)).0
}
