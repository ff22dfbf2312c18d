//! Spotify's Web API as a wiremock server, for tests that script its answers one by one (the
//! `spotify-sandbox` stand-in is for tests that want a whole listener behind it).

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The access token the mocked token endpoint grants.
pub const ACCESS_TOKEN: &str = "token";

/// A server whose token endpoint (`POST /api/token`) grants every request an access token valid
/// for an hour; the test mounts the API answers it needs.
pub async fn with_token() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    server
}

/// [`with_token`], and `GET /v1/me` answering the user `user`.
pub async fn with_user(user: &str) -> MockServer {
    let server = with_token().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": user, "type": "user"})))
        .mount(&server)
        .await;
    server
}
