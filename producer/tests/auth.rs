//! `tracklake auth` as a library: the whole flow (authorization URL, loopback redirect, code
//! exchange) ending in the refresh-token file. wiremock plays Spotify's accounts service; the test
//! plays the browser by sending the redirect to the loopback listener with reqwest. PKCE and the
//! authorization URL on their own are tested with `spotify-client`.

use std::collections::HashMap;
use std::time::Duration;

use producer::auth::{authorize, AuthConfig, AuthError, LocalFileSecretStore, SecretStore};
use reqwest::Url;
use spotify_client::accounts::{code_challenge, AuthorizationError, TokenError, Tokens, SCOPES};
use spotify_client::Secret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CODE: &str = "AQD-the-authorization-code-xyz";
const ACCESS: &str = "BQ-the-access-token";
const REFRESH: &str = "AQ-the-refresh-token";

fn config(accounts: &MockServer) -> AuthConfig {
    AuthConfig {
        accounts_base: accounts.uri(),
        redirect_port: 0,
        callback_timeout: Duration::from_secs(10),
        ..AuthConfig::new("the-client-id")
    }
}

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

async fn token_endpoint(accounts: &MockServer, response: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(response)
        .expect(calls)
        .mount(accounts)
        .await;
}

fn tokens_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": ACCESS, "token_type": "Bearer", "scope": SCOPES.join(" "),
        "expires_in": 3600, "refresh_token": REFRESH,
    }))
}

/// Runs `authorize`; when the URL is shown, the "browser" follows it to the redirect with the
/// query that `redirect_query` builds from the authorization URL's parameters.
async fn run_flow(
    config: &AuthConfig,
    store: &LocalFileSecretStore,
    redirect_query: impl FnOnce(&HashMap<String, String>) -> Vec<(&'static str, String)>,
) -> (Result<Tokens, AuthError>, String, reqwest::Response) {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let flow = authorize(config, store, move |url| tx.send(url.to_string()).unwrap());
    let browser = async {
        let url = rx.await.unwrap();
        let params = query(&url);
        let mut redirect = Url::parse(&params["redirect_uri"]).unwrap();
        redirect.query_pairs_mut().extend_pairs(redirect_query(&params));
        (url, reqwest::get(redirect).await.unwrap())
    };
    let (result, (url, page)) = tokio::join!(flow, browser);
    (result, url, page)
}

fn good_redirect(params: &HashMap<String, String>) -> Vec<(&'static str, String)> {
    vec![("code", CODE.to_string()), ("state", params["state"].clone())]
}

#[test]
fn default_redirect_is_a_fixed_loopback_ip_literal() {
    assert_eq!(AuthConfig::new("cid").redirect_port, 8888);
    assert_eq!(
        spotify_client::accounts::redirect_uri(8888),
        "http://127.0.0.1:8888/callback"
    );
}

#[tokio::test]
async fn full_flow_stores_the_refresh_token_in_an_owner_only_file() {
    let accounts = MockServer::start().await;
    token_endpoint(&accounts, tokens_ok(), 1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("refresh-token.json"));

    let (result, url, page) = run_flow(&config(&accounts), &store, good_redirect).await;
    let tokens = result.unwrap();

    // The redirect URI sent is a loopback IP literal, never `localhost` (docs/spotify-web-api.md#authorization).
    let redirect = Url::parse(&query(&url)["redirect_uri"]).unwrap();
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), "/callback");
    assert_ne!(redirect.port(), Some(0));

    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("close this tab"));
    assert_eq!(tokens.access_token.expose(), ACCESS);
    assert_eq!(tokens.refresh_token.expose(), REFRESH);
    assert_eq!(tokens.expires_in, Duration::from_secs(3600));
    assert_eq!(store.load().await.unwrap(), Some(Secret::new(REFRESH)));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn exchange_sends_code_verifier_and_no_client_secret() {
    let accounts = MockServer::start().await;
    token_endpoint(&accounts, tokens_ok(), 1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));

    let (result, url, _) = run_flow(&config(&accounts), &store, good_redirect).await;
    result.unwrap();

    let requests = accounts.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request.headers.get("authorization").is_none(),
        "PKCE sends no Basic auth"
    );
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form: HashMap<String, String> = url::form_urlencoded_pairs(&request.body);
    let sent = query(&url);
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], CODE);
    assert_eq!(form["redirect_uri"], sent["redirect_uri"]);
    assert_eq!(form["client_id"], "the-client-id");
    // The verifier sent is the one whose challenge went into the authorization URL.
    assert_eq!(code_challenge(&form["code_verifier"]), sent["code_challenge"]);
    assert!(!form.contains_key("client_secret"));
}

/// The form body's pairs, decoded with the same encoder reqwest's `Url` uses.
mod url {
    use std::collections::HashMap;

    pub fn form_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
        let text = std::str::from_utf8(body).unwrap();
        let url = reqwest::Url::parse(&format!("http://x.invalid/?{text}")).unwrap();
        url.query_pairs().into_owned().collect()
    }
}

#[tokio::test]
async fn wrong_state_is_refused_and_nothing_is_exchanged_or_stored() {
    let accounts = MockServer::start().await;
    token_endpoint(&accounts, tokens_ok(), 0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));

    let (result, _, page) = run_flow(&config(&accounts), &store, |_| {
        vec![("code", CODE.to_string()), ("state", "forged".to_string())]
    })
    .await;

    assert!(
        matches!(
            result,
            Err(AuthError::Authorization(AuthorizationError::StateMismatch))
        ),
        "{result:?}"
    );
    assert_eq!(page.status(), 400);
    assert_eq!(store.load().await.unwrap(), None);
}

#[tokio::test]
async fn access_denied_is_a_typed_error() {
    let accounts = MockServer::start().await;
    token_endpoint(&accounts, tokens_ok(), 0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));

    let (result, _, page) = run_flow(&config(&accounts), &store, |params| {
        vec![
            ("error", "access_denied".to_string()),
            ("state", params["state"].clone()),
        ]
    })
    .await;

    let error = result.unwrap_err();
    assert!(
        matches!(error, AuthError::Authorization(AuthorizationError::AccessDenied)),
        "{error:?}"
    );
    assert!(error.to_string().contains("tracklake auth"));
    assert_eq!(page.status(), 400);
}

#[tokio::test]
async fn other_paths_get_404_and_the_wait_goes_on() {
    let accounts = MockServer::start().await;
    token_endpoint(&accounts, tokens_ok(), 1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));

    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let config = config(&accounts);
    let flow = authorize(&config, &store, move |url| tx.send(url.to_string()).unwrap());
    let browser = async {
        let params = query(&rx.await.unwrap());
        let mut redirect = Url::parse(&params["redirect_uri"]).unwrap();
        let favicon = redirect.join("/favicon.ico").unwrap();
        let favicon_status = reqwest::get(favicon).await.unwrap().status();
        redirect.query_pairs_mut().extend_pairs(good_redirect(&params));
        (favicon_status, reqwest::get(redirect).await.unwrap().status())
    };
    let (result, (favicon_status, callback_status)) = tokio::join!(flow, browser);
    assert_eq!(favicon_status, 404);
    assert_eq!(callback_status, 200);
    assert_eq!(result.unwrap().refresh_token.expose(), REFRESH);
}

#[tokio::test]
async fn no_redirect_times_out() {
    let accounts = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));
    let config = AuthConfig {
        callback_timeout: Duration::from_millis(200),
        ..config(&accounts)
    };
    let result = authorize(&config, &store, |_| {}).await;
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            AuthError::Authorization(AuthorizationError::CallbackTimeout { .. })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("http://127.0.0.1:"));
}

#[tokio::test]
async fn missing_refresh_token_is_an_error_and_nothing_is_stored() {
    let accounts = MockServer::start().await;
    let response = ResponseTemplate::new(200).set_body_json(
        serde_json::json!({"access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600}),
    );
    token_endpoint(&accounts, response, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));

    let (result, _, _) = run_flow(&config(&accounts), &store, good_redirect).await;

    assert!(
        matches!(result, Err(AuthError::Token(TokenError::MissingRefreshToken))),
        "{result:?}"
    );
    assert_eq!(store.load().await.unwrap(), None);
}

#[tokio::test]
async fn no_secret_appears_in_errors() {
    // Spotify echoing the code back in its error text must not carry it into our message.
    let accounts = MockServer::start().await;
    let response = ResponseTemplate::new(400).set_body_json(serde_json::json!({
        "error": "invalid_grant", "error_description": format!("Invalid authorization code {CODE}"),
    }));
    token_endpoint(&accounts, response, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));
    let (result, _, _) = run_flow(&config(&accounts), &store, good_redirect).await;
    let rejected = result.unwrap_err();
    assert!(
        matches!(
            rejected,
            AuthError::Token(TokenError::Rejected { status: 400, .. })
        ),
        "{rejected:?}"
    );

    // A token response whose shape is wrong: serde would quote the value, here a token.
    let accounts = MockServer::start().await;
    let response = ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({"access_token": ACCESS, "expires_in": REFRESH}));
    token_endpoint(&accounts, response, 1).await;
    let (result, _, _) = run_flow(&config(&accounts), &store, good_redirect).await;
    let invalid = result.unwrap_err();
    assert!(
        matches!(invalid, AuthError::Token(TokenError::InvalidResponse { .. })),
        "{invalid:?}"
    );

    // A refresh-token file that is not JSON: the parse error must not quote it.
    std::fs::write(store.path(), format!("{{\"refresh_token\": {REFRESH}}}")).unwrap();
    let unreadable = AuthError::from(store.load().await.unwrap_err());

    for error in [&rejected, &invalid, &unreadable] {
        for text in [error.to_string(), format!("{error:?}")] {
            for secret in [CODE, ACCESS, REFRESH] {
                assert!(!text.contains(secret), "{secret} leaks in {text}");
            }
        }
    }
    let tokens = Tokens {
        access_token: Secret::new(ACCESS),
        refresh_token: Secret::new(REFRESH),
        expires_in: Duration::from_secs(1),
        scope: String::new(),
    };
    let debug = format!("{tokens:?}");
    assert!(!debug.contains(ACCESS) && !debug.contains(REFRESH), "{debug}");
}

#[tokio::test]
async fn save_replaces_the_stored_refresh_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileSecretStore::new(dir.path().join("t.json"));
    assert_eq!(store.load().await.unwrap(), None);
    store.save(&Secret::new("first")).await.unwrap();
    store.save(&Secret::new("rotated")).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(Secret::new("rotated")));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
