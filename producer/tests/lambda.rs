//! The producer Lambda's invocation end to end, through the plain function the binary adapts
//! (`producer::lambda::invoke`): wiremock as Spotify, the Firehose stand-in of `tests/sink/`, and
//! moto's server for the S3 state and the Secrets Manager secret (the real AWS SDK over HTTP for
//! all three). Index:
//! - `rotated_refresh_token_*`: a run delivers, saves its state in S3, writes Spotify's new
//!   refresh token into the secret, and the next invocation uses it;
//! - `invalid_grant_*`: the invocation succeeds (no retry loop) with ReauthorizationRequired = 1;
//! - `failed_delivery_*`: records Firehose never accepts make the invocation an error, and the
//!   state in S3 does not move past them;
//! - `unreadable_secret_*`: no run, an error, RunsFailed = 1;
//! - `binary_*`: the `producer` binary served through a stand-in of the Lambda Runtime API, with
//!   its configuration from the environment and its JSON log and EMF lines on stdout.

#[path = "sink/fake_firehose.rs"]
#[allow(dead_code)] // Shared with tests/sink.rs, which uses the parts this file does not.
mod fake_firehose;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use chrono::Utc;
use fake_firehose::{FakeFirehose, Reply};
use firehose_transform::sample;
use moto_server::MotoServer;
use producer::backoff::Backoff;
use producer::lambda::{invoke, Clients, InvocationError, LambdaConfig};
use producer::sink::{FirehoseSink, SinkConfig};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STREAM: &str = "tracklake-raw";
const BUCKET: &str = "tracklake-state-test";
const STATE_KEY: &str = "state/producer.json";
const SECRET_ID: &str = "tracklake/spotify";
const FUNCTION: &str = "tracklake-producer";
const PLAYED: [&str; 2] = ["2026-11-24T07:50:00.500Z", "2026-11-24T07:40:00Z"];

fn credentials() -> Credentials {
    Credentials::new(
        moto_server::ACCESS_KEY_ID,
        moto_server::SECRET_ACCESS_KEY,
        None,
        None,
        "moto",
    )
}

/// moto with the state bucket and the secret, as `infra/` creates them (plus a refresh token).
async fn aws(moto: &MotoServer, secret: Value) -> (aws_sdk_s3::Client, aws_sdk_secretsmanager::Client) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .endpoint_url(moto.endpoint())
            .region(Region::new(moto_server::REGION))
            .credentials_provider(credentials())
            .force_path_style(true)
            .behavior_version(BehaviorVersion::latest())
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .endpoint_url(moto.endpoint())
            .region(aws_sdk_secretsmanager::config::Region::new(moto_server::REGION))
            .credentials_provider(credentials())
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .build(),
    );
    secrets
        .create_secret()
        .name(SECRET_ID)
        .secret_string(secret.to_string())
        .send()
        .await
        .unwrap();
    (s3, secrets)
}

fn sink(firehose: &FakeFirehose) -> FirehoseSink {
    let config = SinkConfig {
        retry: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts: 3,
        },
        max_in_flight: 2,
        call_timeout: Duration::from_secs(10),
    };
    FirehoseSink::new(
        firehose.client_with_sdk_retries(RetryConfig::disabled()),
        STREAM,
        config,
    )
}

/// The configuration as the function's environment gives it.
fn config(spotify: &MockServer) -> LambdaConfig {
    let vars: HashMap<&str, String> = HashMap::from([
        ("TRACKLAKE_STREAM", STREAM.to_string()),
        ("TRACKLAKE_STATE_BUCKET", BUCKET.to_string()),
        ("TRACKLAKE_SECRET_ID", SECRET_ID.to_string()),
        ("TRACKLAKE_SOURCES", "recently_played".to_string()),
        ("SPOTIFY_API_BASE", format!("{}/v1", spotify.uri())),
        ("SPOTIFY_ACCOUNTS_BASE", spotify.uri()),
    ]);
    LambdaConfig::from_env(|name| vars.get(name).cloned()).unwrap()
}

fn token(refresh: Option<&str>) -> ResponseTemplate {
    let mut body = json!({"access_token": "access", "token_type": "Bearer", "expires_in": 3600});
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Spotify with the user and two plays; token answers are mounted by each test.
async fn spotify() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "alice"})))
        .mount(&server)
        .await;
    let items: Vec<Value> = PLAYED
        .iter()
        .enumerate()
        .map(|(n, at)| json!({"track": sample::track(n), "played_at": at, "context": null}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/v1/me/player/recently-played"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": items, "next": null, "cursors": null, "limit": 50})),
        )
        .mount(&server)
        .await;
    server
}

fn user_secret(refresh: &str) -> Value {
    json!({"client_id": "app-id", "refresh_token": refresh})
}

async fn secret(client: &aws_sdk_secretsmanager::Client) -> Value {
    let answer = client
        .get_secret_value()
        .secret_id(SECRET_ID)
        .send()
        .await
        .unwrap();
    serde_json::from_str(answer.secret_string().unwrap()).unwrap()
}

/// The state object, or `None` when no run saved one.
async fn state(client: &aws_sdk_s3::Client) -> Option<Value> {
    let object = client
        .get_object()
        .bucket(BUCKET)
        .key(STATE_KEY)
        .send()
        .await
        .ok()?;
    let body = object.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&body).unwrap())
}

fn accepted(firehose: &FakeFirehose) -> usize {
    firehose
        .calls()
        .iter()
        .map(|c| c.accepted.iter().filter(|a| **a).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_refresh_token_lands_in_the_secret_and_the_next_invocation_uses_it() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("first-token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("refresh_token=first-token"))
        .respond_with(token(Some("second-token")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("refresh_token=second-token"))
        .respond_with(token(None))
        .expect(1)
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3: s3.clone(),
        secrets: secrets.clone(),
        sink: sink(&firehose),
    };
    let config = config(&server);

    let first = invoke(&config, &clients, Utc::now()).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    assert!(first.refresh_token_stored);
    assert_eq!(secret(&secrets).await, user_secret("second-token"));
    assert_eq!(accepted(&firehose), 2);
    let saved = state(&s3).await.expect("the state is saved in S3");
    assert!(saved["recently_played_after"].is_i64(), "{saved}");
    let emf = first.emf(1_700_000_000_000, FUNCTION);
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "tracklake/producer"
    );
    assert_eq!(emf["FunctionName"], FUNCTION);
    assert_eq!(
        (emf["RecordsPulled"].as_u64(), emf["RecordsDelivered"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (
            emf["RunsFailed"].as_u64(),
            emf["ReauthorizationRequired"].as_u64()
        ),
        (Some(0), Some(0))
    );
    // Token, /me, recently played.
    assert_eq!(emf["SpotifyRequests"], 3);
    let summary = first.summary();
    assert_eq!(summary["ok"], true);
    assert!(!summary.to_string().contains("second-token"), "{summary}");

    // The next invocation refreshes with the stored token (the mounts' `expect(1)` check it).
    let second = invoke(&config, &clients, Utc::now()).await;
    assert!(second.error.is_none(), "{:?}", second.error);
    assert!(
        !second.refresh_token_stored,
        "Spotify sent no new token this time"
    );
    assert_eq!(secret(&secrets).await, user_secret("second-token"));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_grant_succeeds_with_the_reauthorization_metric() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("expired-token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Refresh token revoked"
        })))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3: s3.clone(),
        secrets: secrets.clone(),
        sink: sink(&firehose),
    };

    let invocation = invoke(&config(&server), &clients, Utc::now()).await;
    assert!(
        invocation.error.is_none(),
        "a retry cannot fix invalid_grant, so the invocation must not fail: {:?}",
        invocation.error
    );
    let report = invocation.report.as_ref().unwrap();
    assert!(report.reauthorization_required);
    let emf = invocation.emf(1_700_000_000_000, FUNCTION);
    assert_eq!(emf["ReauthorizationRequired"], 1);
    assert_eq!(emf["RunsFailed"], 1, "the run did not do its job");
    assert_eq!(emf["RecordsDelivered"], 0);
    assert!(firehose.calls().is_empty());
    assert_eq!(
        secret(&secrets).await,
        user_secret("expired-token"),
        "nothing rotated"
    );
    assert!(!invocation.summary().to_string().contains("expired-token"));
    let saved = state(&s3).await.expect("the run's summary is saved");
    assert!(saved["recently_played_after"].is_null(), "{saved}");
    assert!(
        saved["last_run"]["stopped_early"]
            .as_str()
            .unwrap()
            .contains("tracklake auth"),
        "{saved}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_delivery_makes_the_invocation_an_error_and_keeps_the_state() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token(None))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| {
        Reply::Records(vec![
            Some((
                "ServiceUnavailableException",
                "Slow down.".to_string()
            ));
            records.len()
        ])
    })
    .await;
    let clients = Clients {
        s3: s3.clone(),
        secrets,
        sink: sink(&firehose),
    };

    let invocation = invoke(&config(&server), &clients, Utc::now()).await;
    match &invocation.error {
        Some(e @ InvocationError::Undelivered { failed: 2, .. }) => {
            assert!(e.to_string().contains("pulls them again"), "{e}");
        }
        other => panic!("expected an undelivered error, got {other:?}"),
    }
    let emf = invocation.emf(1_700_000_000_000, FUNCTION);
    assert_eq!(
        (emf["RecordsFailed"].as_u64(), emf["RunsFailed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(emf["RecordsResent"], 4, "three attempts each");
    let saved = state(&s3).await.expect("the state is saved, without the cursor");
    assert!(saved["recently_played_after"].is_null(), "{saved}");
    assert_eq!(saved["last_run"]["undelivered"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_secret_is_an_error_before_any_request() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, json!({"client_id": "app-id"})).await;
    let server = spotify().await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3: s3.clone(),
        secrets,
        sink: sink(&firehose),
    };

    // The placeholder infra creates: a client id and nothing to sign in with yet.
    let invocation = invoke(&config(&server), &clients, Utc::now()).await;
    let error = invocation.error.as_ref().expect("an error");
    assert!(
        matches!(error, InvocationError::NoCredentials { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("tracklake auth"), "{error}");
    assert_eq!(invocation.emf(0, FUNCTION)["RunsFailed"], 1);

    let mut missing = config(&server);
    missing.secret_id = "no/such/secret".into();
    let invocation = invoke(&missing, &clients, Utc::now()).await;
    assert!(
        matches!(invocation.error, Some(InvocationError::Secret(_))),
        "{:?}",
        invocation.error
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(state(&s3).await.is_none(), "no run, no state");
}
