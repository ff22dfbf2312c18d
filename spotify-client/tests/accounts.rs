//! The accounts service's pieces on their own: PKCE, the authorization URL, and the loopback
//! listener that takes the redirect (the test plays the browser with reqwest and raw TCP). The code
//! exchange is tested against the stand-in accounts service in `sandbox_accounts.rs` and, within
//! `tracklake auth`, with the producer.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Url;
use spotify_client::accounts::{
    authorization_url, code_challenge, random_state, AuthorizationError, CallbackListener, Pkce,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

#[test]
fn challenge_matches_rfc_7636_appendix_b() {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636 Appendix B's value (checked with Python's hashlib too; a truncated variant that
    // circulates, "E9Melhoa2OwvFrS8jfcy…", is not it).
    let expected = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_eq!(code_challenge(verifier), expected);
    assert_eq!(Pkce::from_verifier(verifier).unwrap().challenge(), expected);
}

/// The verifier and the state come from the OS's CSPRNG (`getrandom`): full length and alphabet on
/// every draw, never a repeat over many draws, and an error, not a weaker fallback, when the OS
/// has no generator. That failure cannot be caused honestly on a working machine, so the last part
/// hands `Pkce::generate_with` a stand-in source that fails as `getrandom` does.
#[test]
fn pkce_uses_the_os_csprng() {
    const DRAWS: usize = 20_000;
    let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut verifiers = std::collections::HashSet::new();
    let mut states = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..DRAWS {
        let pkce = Pkce::generate().expect("the OS's generator is available here");
        let verifier = pkce.verifier().expose().to_string();
        // 64 bytes base64url without padding: 86 characters, 512 bits.
        assert_eq!(verifier.len(), 86, "{verifier}");
        assert!(verifier.chars().all(base64url), "{verifier}");
        seen.extend(verifier.chars());
        assert!(verifiers.insert(verifier), "a verifier repeated");
        let state = random_state().expect("the OS's generator is available here");
        // 32 bytes: 43 characters, 256 bits.
        assert_eq!(state.len(), 43, "{state}");
        assert!(state.chars().all(base64url), "{state}");
        assert!(states.insert(state), "a state repeated");
    }
    // Every one of the 64 base64url characters turns up: the bytes are not from a narrow source.
    assert_eq!(seen.len(), 64);

    let err = Pkce::generate_with(|_| Err(getrandom::Error::UNSUPPORTED)).unwrap_err();
    assert!(matches!(err, AuthorizationError::NoRandomness(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("random number generator is not available"),
        "{message}"
    );
    assert!(message.contains("tracklake auth"), "{message}");
}

#[test]
fn generated_verifiers_follow_rfc_7636_and_differ() {
    let a = Pkce::generate().unwrap();
    let b = Pkce::generate().unwrap();
    for pkce in [&a, &b] {
        let v = pkce.verifier().expose();
        assert!((43..=128).contains(&v.len()), "length {}", v.len());
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
        assert_eq!(pkce.challenge(), code_challenge(v));
        assert!(
            !format!("{pkce:?}").contains(v),
            "the verifier leaks through Debug"
        );
    }
    assert_ne!(a.verifier(), b.verifier());
    assert!(matches!(
        Pkce::from_verifier("too-short"),
        Err(AuthorizationError::InvalidVerifier { .. })
    ));
    let bad_char = format!("{}!", "a".repeat(50));
    assert!(matches!(
        Pkce::from_verifier(bad_char),
        Err(AuthorizationError::InvalidVerifier { .. })
    ));
}

#[test]
fn authorization_url_carries_every_parameter() {
    let url = authorization_url(
        "https://accounts.spotify.com/",
        "cid",
        "http://127.0.0.1:8888/callback",
        "the-challenge",
        "the-state",
    )
    .unwrap();
    let parsed = Url::parse(&url).unwrap();
    assert_eq!(parsed.host_str(), Some("accounts.spotify.com"));
    assert_eq!(parsed.path(), "/authorize");
    let q = query(&url);
    assert_eq!(q["client_id"], "cid");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:8888/callback");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"], "the-challenge");
    assert_eq!(q["state"], "the-state");
    let scopes: Vec<&str> = q["scope"].split(' ').collect();
    for scope in [
        "user-read-recently-played",
        "user-top-read",
        "user-library-read",
        "playlist-read-private",
        "playlist-read-collaborative",
    ] {
        assert!(scopes.contains(&scope), "missing scope {scope}");
    }
}

/// A listener on a free port, and its redirect URI with `pairs` as the query.
async fn listener_and_redirect(pairs: &[(&str, &str)]) -> (CallbackListener, Url) {
    let listener = CallbackListener::bind(0).await.unwrap();
    let mut redirect = Url::parse(listener.redirect_uri()).unwrap();
    redirect.query_pairs_mut().extend_pairs(pairs);
    (listener, redirect)
}

fn host_and_port(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

#[tokio::test]
async fn the_redirect_returns_the_code_and_answers_the_browser() {
    let (listener, redirect) = listener_and_redirect(&[("code", "the-code"), ("state", "s1")]).await;
    let wait = listener.wait_for_code("s1", Duration::from_secs(10));
    let browser = async {
        let page = reqwest::get(redirect).await.unwrap();
        let headers = page.headers().clone();
        (page.status(), headers, page.text().await.unwrap())
    };
    let (code, (status, headers, text)) = tokio::join!(wait, browser);
    assert_eq!(code.unwrap().expose(), "the-code");
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(text.contains("close this tab"), "{text}");
}

#[tokio::test]
async fn the_state_is_checked_before_the_code_or_error() {
    for (pairs, expected) in [
        (vec![("code", "c"), ("state", "forged")], "StateMismatch"),
        (vec![("error", "access_denied")], "StateMismatch"),
        (vec![("error", "access_denied"), ("state", "s1")], "AccessDenied"),
        (
            vec![("error", "server_error"), ("state", "s1")],
            "AuthorizationFailed",
        ),
        (vec![("state", "s1")], "MissingCode"),
        (vec![("code", ""), ("state", "s1")], "MissingCode"),
    ] {
        let (listener, redirect) = listener_and_redirect(&pairs).await;
        let wait = listener.wait_for_code("s1", Duration::from_secs(10));
        let (outcome, page) = tokio::join!(wait, async { reqwest::get(redirect).await.unwrap() });
        let error = outcome.unwrap_err();
        assert!(format!("{error:?}").starts_with(expected), "{pairs:?}: {error:?}");
        assert_eq!(page.status(), 400, "{pairs:?}");
        assert!(page.text().await.unwrap().contains("Authorization failed"));
    }
}

/// Browsers open speculative connections that send nothing, and ask for `/favicon.ico`: neither
/// may hold up or take the redirect.
#[tokio::test]
async fn a_silent_connection_and_other_paths_do_not_block_the_redirect() {
    let (listener, redirect) = listener_and_redirect(&[("code", "the-code"), ("state", "s1")]).await;
    let address = host_and_port(&redirect);
    let wait = listener.wait_for_code("s1", Duration::from_secs(10));
    let browser = async {
        let silent = tokio::net::TcpStream::connect(&address).await.unwrap();
        let favicon = reqwest::get(redirect.join("/favicon.ico").unwrap())
            .await
            .unwrap();
        let status = reqwest::get(redirect.clone()).await.unwrap().status();
        (silent, favicon.status(), status)
    };
    let (code, (silent, favicon, status)) = tokio::join!(wait, browser);
    assert_eq!(favicon, 404);
    assert_eq!(status, 200);
    assert_eq!(code.unwrap().expose(), "the-code");
    drop(silent);
}

/// The listener takes one redirect: once it is answered, the port is closed.
#[tokio::test]
async fn one_redirect_is_taken_then_the_listener_closes() {
    let (listener, redirect) = listener_and_redirect(&[("code", "the-code"), ("state", "s1")]).await;
    let address = host_and_port(&redirect);
    let wait = listener.wait_for_code("s1", Duration::from_secs(10));
    let browser = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "GET {}?{} HTTP/1.1\r\nHost: {address}\r\n\r\n",
            redirect.path(),
            redirect.query().unwrap()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8(answer).unwrap()
    };
    let (code, answer) = tokio::join!(wait, browser);
    assert_eq!(code.unwrap().expose(), "the-code");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("close this tab"), "{answer}");
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "nobody listens after the redirect"
    );
}

#[tokio::test]
async fn no_redirect_times_out_naming_the_redirect_uri() {
    let listener = CallbackListener::bind(0).await.unwrap();
    let uri = listener.redirect_uri().to_string();
    let error = listener
        .wait_for_code("s1", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthorizationError::CallbackTimeout { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&uri), "{error}");
}

#[tokio::test]
async fn a_port_in_use_is_a_bind_error_that_says_what_to_do() {
    let taken = CallbackListener::bind(0).await.unwrap();
    let port = Url::parse(taken.redirect_uri()).unwrap().port().unwrap();
    let error = CallbackListener::bind(port).await.unwrap_err();
    assert!(matches!(error, AuthorizationError::Bind { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("register http://127.0.0.1:PORT/callback"),
        "{error}"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the OS's reason is the cause"
    );
}
