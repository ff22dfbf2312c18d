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

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_firehose::config::retry::RetryConfig;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use firehose_transform::sample;
use moto_server::MotoServer;
use producer::lambda::{invoke, Clients, Invocation, InvocationError, Skipped};
use producer::settings::Settings;
use producer::sink::{FirehoseSink, SinkConfig};
use producer::state::lock::LockBody;
use producer::state::RUN_LOCK_SUFFIX;
use serde_json::{json, Value};
use spotify_client::backoff::Backoff;
use test_support::fake_firehose::{FakeFirehose, Reply};
use tracing::instrument::WithSubscriber;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STREAM: &str = "tracklake-raw";
const BUCKET: &str = "tracklake-state-test";
const STATE_KEY: &str = "state/producer.json";
const SECRET_ID: &str = "tracklake/spotify";
const FUNCTION: &str = "tracklake-producer";
const PLAYED: [&str; 2] = ["2026-11-24T07:50:00.500Z", "2026-11-24T07:40:00Z"];

/// moto with the state bucket and the secret, as `infra/` creates them (plus a refresh token).
async fn aws(moto: &MotoServer, secret: Value) -> (aws_sdk_s3::Client, aws_sdk_secretsmanager::Client) {
    let s3 = moto.create_bucket(BUCKET).await;
    let secrets = moto.create_secret(SECRET_ID, &secret.to_string()).await;
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
fn config(spotify: &MockServer) -> Settings {
    let vars: HashMap<&str, String> = HashMap::from([
        ("TRACKLAKE_STREAM", STREAM.to_string()),
        ("TRACKLAKE_STATE_BUCKET", BUCKET.to_string()),
        ("TRACKLAKE_SECRET_ID", SECRET_ID.to_string()),
        ("TRACKLAKE_SOURCES", "recently_played".to_string()),
        ("SPOTIFY_API_BASE", format!("{}/v1", spotify.uri())),
        ("SPOTIFY_ACCOUNTS_BASE", spotify.uri()),
    ]);
    Settings::lambda_from_env(|name| vars.get(name).cloned()).unwrap()
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

/// An invocation now, with five minutes left before Lambda's deadline.
async fn invoke_now(config: &Settings, clients: &Clients) -> Invocation {
    let now = Utc::now();
    invoke(config, clients, now, now + chrono::Duration::minutes(5)).await
}

/// The run lock's key, beside the state object.
fn lock_key() -> String {
    format!("{STATE_KEY}{RUN_LOCK_SUFFIX}")
}

async fn lock_exists(client: &aws_sdk_s3::Client) -> bool {
    client
        .head_object()
        .bucket(BUCKET)
        .key(lock_key())
        .send()
        .await
        .is_ok()
}

/// Writes a lock as another invocation would have, expiring at `expires_at`; returns its ETag.
async fn put_lock(client: &aws_sdk_s3::Client, expires_at: DateTime<Utc>) -> String {
    let body = LockBody {
        owner: "another-invocation".into(),
        acquired_at: expires_at - chrono::Duration::minutes(6),
        expires_at,
    };
    let written = client
        .put_object()
        .bucket(BUCKET)
        .key(lock_key())
        .body(serde_json::to_vec(&body).unwrap().into())
        .send()
        .await
        .unwrap();
    written.e_tag().unwrap().to_string()
}

/// An object's ETag, or `None` when it does not exist.
async fn etag(client: &aws_sdk_s3::Client, key: &str) -> Option<String> {
    let head = client.head_object().bucket(BUCKET).key(key).send().await.ok()?;
    head.e_tag().map(str::to_string)
}

/// The secret's versions: (how many, the `AWSCURRENT` one's id).
async fn secret_versions(client: &aws_sdk_secretsmanager::Client) -> (usize, String) {
    let listed = client
        .list_secret_version_ids()
        .secret_id(SECRET_ID)
        .send()
        .await
        .unwrap();
    let current = client
        .get_secret_value()
        .secret_id(SECRET_ID)
        .send()
        .await
        .unwrap();
    (listed.versions().len(), current.version_id().unwrap().to_string())
}

/// The JSON log lines the producer's code writes (as the binary's subscriber formats them), for
/// tests that count them.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let log = self.clone();
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || log.clone())
            .finish()
    }

    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
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

    let first = invoke_now(&config, &clients).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    assert!(first.refresh_token_stored);
    assert_eq!(secret(&secrets).await, user_secret("second-token"));
    assert_eq!(accepted(&firehose), 2);
    let saved = state(&s3).await.expect("the state is saved in S3");
    assert!(saved["recently_played_after"].is_i64(), "{saved}");
    assert!(!lock_exists(&s3).await, "the run lock is released after a run");
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
    assert_eq!(
        (
            &summary["ran"],
            &summary["skipped"],
            &summary["awaiting_authorization"]
        ),
        (&json!(true), &Value::Null, &json!(false))
    );
    assert!(!summary.to_string().contains("second-token"), "{summary}");

    // The next invocation refreshes with the stored token (the mounts' `expect(1)` check it).
    let second = invoke_now(&config, &clients).await;
    assert!(second.error.is_none(), "{:?}", second.error);
    assert!(
        !second.refresh_token_stored,
        "Spotify sent no new token this time"
    );
    assert_eq!(secret(&secrets).await, user_secret("second-token"));
    server.verify().await;
}

/// Spotify may answer a refresh with no refresh token, with the one it was sent, or with a new
/// one: only the last is a new secret version (PutSecretValue), once.
#[tokio::test(flavor = "multi_thread")]
async fn the_secret_is_written_only_when_spotify_returns_a_new_refresh_token() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("first-token")).await;
    let server = spotify().await;
    // Mounted first, matched first: each answers one refresh, in this order.
    for answer in [Some("first-token"), None, Some("second-token")] {
        Mock::given(method("POST"))
            .and(path("/api/token"))
            .and(body_string_contains("refresh_token=first-token"))
            .respond_with(token(answer))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("refresh_token=second-token"))
        .respond_with(token(Some("second-token")))
        .expect(1)
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3,
        secrets: secrets.clone(),
        sink: sink(&firehose),
    };
    let config = config(&server);
    let (count, created) = secret_versions(&secrets).await;
    assert_eq!(count, 1);

    for (run, answered) in ["the same token", "no token"].into_iter().enumerate() {
        let invocation = invoke_now(&config, &clients).await;
        assert!(invocation.error.is_none(), "{:?}", invocation.error);
        assert!(
            !invocation.refresh_token_stored,
            "run {run}: Spotify sent {answered}"
        );
        assert_eq!(
            secret_versions(&secrets).await,
            (1, created.clone()),
            "run {run}: Spotify sent {answered}, so the secret must not get a new version"
        );
    }

    let rotated = invoke_now(&config, &clients).await;
    assert!(rotated.error.is_none(), "{:?}", rotated.error);
    assert!(rotated.refresh_token_stored);
    let (count, current) = secret_versions(&secrets).await;
    assert_eq!(count, 2, "one new version for the new token");
    assert_ne!(current, created);
    assert_eq!(secret(&secrets).await, user_secret("second-token"));

    // The next refresh answers with the token now stored: no write.
    let after = invoke_now(&config, &clients).await;
    assert!(after.error.is_none(), "{:?}", after.error);
    assert!(!after.refresh_token_stored);
    assert_eq!(secret_versions(&secrets).await, (2, current));
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

    let invocation = invoke_now(&config(&server), &clients).await;
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

    let invocation = invoke_now(&config(&server), &clients).await;
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
    assert!(
        !lock_exists(&s3).await,
        "the run lock is released after a failed run"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_secret_is_an_error_before_any_request() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("token")).await;
    let server = spotify().await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3: s3.clone(),
        secrets,
        sink: sink(&firehose),
    };

    let mut missing = config(&server);
    missing.secrets.secret_id = "no/such/secret".into();
    let invocation = invoke_now(&missing, &clients).await;
    assert!(
        matches!(invocation.error, Some(InvocationError::Secret(_))),
        "{:?}",
        invocation.error
    );
    assert_eq!(invocation.emf(0, FUNCTION)["RunsFailed"], 1);
    let response = invocation.summary();
    assert_eq!(
        (&response["ok"], &response["ran"], &response["skipped"]),
        (&json!(false), &json!(false), &Value::Null),
        "{response}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(state(&s3).await.is_none(), "no run, no state");
    assert!(
        !lock_exists(&s3).await,
        "the lock is released after a failed invocation too"
    );
}

/// The secret as the stack creates it before the user stored a token (infra's placeholder is
/// `{"client_id": …}`; `tracklake auth` adds `refresh_token`), and an emptied token.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_awaiting_authorization_ends_the_run_cleanly_with_one_warning_and_a_metric() {
    for placeholder in [
        json!({"client_id": "app-id"}),
        json!({"client_id": "app-id", "refresh_token": ""}),
    ] {
        let moto = MotoServer::start();
        let (s3, secrets) = aws(&moto, placeholder.clone()).await;
        let server = spotify().await;
        let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
        let clients = Clients {
            s3: s3.clone(),
            secrets,
            sink: sink(&firehose),
        };

        let log = CapturedLog::default();
        let invocation = invoke_now(&config(&server), &clients)
            .with_subscriber(log.subscriber())
            .await;
        tracing::subscriber::with_default(log.subscriber(), || invocation.log_summary());

        assert!(
            invocation.error.is_none(),
            "{placeholder}: no token yet is no failure: {:?}",
            invocation.error
        );
        let emf = invocation.emf(1_700_000_000_000, FUNCTION);
        assert_eq!(
            (
                emf["AwaitingAuthorization"].as_u64(),
                emf["RunsFailed"].as_u64(),
                emf["RunsSkipped"].as_u64()
            ),
            (Some(1), Some(0), Some(0)),
            "{emf}"
        );
        let declared = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"].to_string();
        assert!(declared.contains("\"AwaitingAuthorization\""), "{declared}");
        let response = invocation.summary();
        assert_eq!(response["ok"], true, "{response}");
        assert_eq!(response["ran"], false, "{response}");
        assert_eq!(response["skipped"], "awaiting_authorization", "{response}");
        assert_eq!(response["awaiting_authorization"], true, "{response}");

        let lines = log.lines();
        assert_eq!(lines.len(), 1, "one log line, nothing else: {lines:#?}");
        assert_eq!(lines[0]["level"], "WARN", "{:#}", lines[0]);
        let message = lines[0]["message"].as_str().unwrap();
        for needed in [
            "holds no Spotify refresh token".to_string(),
            format!("tracklake auth --secret-id {SECRET_ID}"),
            "SPOTIFY_CLIENT_ID=".to_string(),
        ] {
            assert!(message.contains(&needed), "{needed:?} missing from: {message}");
        }
        assert!(server.received_requests().await.unwrap().is_empty());
        assert!(firehose.calls().is_empty());
        assert!(state(&s3).await.is_none(), "no run, no state");
        assert!(!lock_exists(&s3).await, "the lock is released");
    }
}

/// State in S3 as an earlier run left it, for the lock tests to check it is left alone.
async fn earlier_state(client: &aws_sdk_s3::Client) -> String {
    let state = json!({"version": 1, "recently_played_after": 1_700_000_000_000i64});
    client
        .put_object()
        .bucket(BUCKET)
        .key(STATE_KEY)
        .body(serde_json::to_vec(&state).unwrap().into())
        .send()
        .await
        .unwrap();
    etag(client, STATE_KEY).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_run_lock_makes_the_invocation_skip_and_touch_nothing() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("token")).await;
    let server = spotify().await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3: s3.clone(),
        secrets: secrets.clone(),
        sink: sink(&firehose),
    };
    let state_etag = earlier_state(&s3).await;
    let (versions, _) = secret_versions(&secrets).await;
    let held_until = Utc::now() + chrono::Duration::minutes(10);
    let lock_etag = put_lock(&s3, held_until).await;

    let log = CapturedLog::default();
    let invocation = invoke_now(&config(&server), &clients)
        .with_subscriber(log.subscriber())
        .await;
    tracing::subscriber::with_default(log.subscriber(), || invocation.log_summary());

    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    assert!(invocation.report.is_none());
    match &invocation.skipped {
        Some(Skipped::RunInProgress { lock_expires_at, .. }) => {
            assert_eq!(
                lock_expires_at.map(|t| t.timestamp()),
                Some(held_until.timestamp())
            )
        }
        other => panic!("expected a skip for the lock, got {other:?}"),
    }
    let emf = invocation.emf(1_700_000_000_000, FUNCTION);
    assert_eq!(
        (
            emf["RunsSkipped"].as_u64(),
            emf["RunsFailed"].as_u64(),
            emf["AwaitingAuthorization"].as_u64()
        ),
        (Some(1), Some(0), Some(0)),
        "{emf}"
    );
    let response = invocation.summary();
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(response["ran"], false, "{response}");
    assert_eq!(response["skipped"], "run_in_progress", "{response}");
    assert_eq!(response["awaiting_authorization"], false, "{response}");
    assert!(response["lock_expires_at"].is_string(), "{response}");
    let lines = log.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0]["message"].as_str().unwrap().contains(&lock_key()),
        "{:#}",
        lines[0]
    );

    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no Spotify request"
    );
    assert!(firehose.calls().is_empty());
    assert_eq!(etag(&s3, STATE_KEY).await, Some(state_etag), "state untouched");
    assert_eq!(
        etag(&s3, &lock_key()).await,
        Some(lock_etag),
        "the holder's lock is left alone"
    );
    assert_eq!(secret_versions(&secrets).await.0, versions);
}

/// The second of two overlapping invocations (a slow run and a retried manual invoke) finds the
/// first one's lock and skips; the first runs to the end and releases it.
#[tokio::test(flavor = "multi_thread")]
async fn two_overlapping_invocations_one_runs_and_one_skips() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("first-token")).await;
    let server = spotify().await;
    // The first run's token request is slow (longer than the second invocation takes even on a
    // loaded machine), so the second invocation starts and ends during it.
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token(Some("second-token")).set_delay(Duration::from_secs(4)))
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

    let first = tokio::spawn({
        let (config, clients) = (config.clone(), clients.clone());
        async move { invoke_now(&config, &clients).await }
    });
    // The first invocation holds the lock once it asks Spotify for a token.
    tokio::time::timeout(Duration::from_secs(30), async {
        while server.received_requests().await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the first invocation reached Spotify");
    assert!(lock_exists(&s3).await, "the running invocation holds the lock");
    let state_during = etag(&s3, STATE_KEY).await;

    let second = invoke_now(&config, &clients).await;
    assert!(second.error.is_none(), "{:?}", second.error);
    assert!(
        matches!(
            second.skipped,
            Some(Skipped::RunInProgress {
                lock_expires_at: Some(_),
                ..
            })
        ),
        "{:?}",
        second.skipped
    );
    assert_eq!(second.emf(0, FUNCTION)["RunsSkipped"], 1);
    assert_eq!(
        etag(&s3, STATE_KEY).await,
        state_during,
        "the skipped run wrote no state"
    );
    assert!(lock_exists(&s3).await, "the skip left the holder's lock in place");

    let first = first.await.unwrap();
    assert!(first.error.is_none(), "{:?}", first.error);
    assert!(first.skipped.is_none());
    assert_eq!(first.summary()["ran"], true);
    assert_eq!(first.emf(0, FUNCTION)["RunsSkipped"], 0);
    assert_eq!(accepted(&firehose), 2, "the records were delivered once");
    assert_eq!(secret(&secrets).await, user_secret("second-token"));
    assert!(!lock_exists(&s3).await, "released after the run");
    server.verify().await;
}

/// An invocation stopped at its timeout never released its lock; once that lock has expired
/// the next invocation takes it over and runs.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_run_lock_is_taken_over() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token(None))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let clients = Clients {
        s3: s3.clone(),
        secrets,
        sink: sink(&firehose),
    };
    put_lock(&s3, Utc::now() - chrono::Duration::seconds(1)).await;

    let invocation = invoke_now(&config(&server), &clients).await;
    assert!(invocation.error.is_none(), "{:?}", invocation.error);
    assert!(invocation.skipped.is_none(), "{:?}", invocation.skipped);
    assert_eq!(accepted(&firehose), 2);
    assert!(state(&s3).await.unwrap()["recently_played_after"].is_i64());
    assert!(
        !lock_exists(&s3).await,
        "the taken-over lock is released after the run"
    );
}

/// A stand-in of the Lambda Runtime API (no Lambda service runs here): the documented
/// `GET /2018-06-01/runtime/invocation/next` hands out the queued events one by one, and
/// `POST .../invocation/{id}/response` or `.../error` are captured.
mod runtime_api {
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    use axum::routing::{get, post};
    use axum::Router;
    use tokio::sync::mpsc;

    #[derive(Clone)]
    struct Api {
        events: Arc<Mutex<VecDeque<(String, String)>>>,
        answers: mpsc::UnboundedSender<(String, String)>,
    }

    async fn next(State(api): State<Api>) -> (HeaderMap, String) {
        let event = api.events.lock().unwrap().pop_front();
        let Some((id, event)) = event else {
            // No more invocations: later polls wait, as the real API does between invocations.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!()
        };
        let mut headers = HeaderMap::new();
        headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
        headers.insert("lambda-runtime-deadline-ms", "9999999999999".parse().unwrap());
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:tracklake-producer"
                .parse()
                .unwrap(),
        );
        (headers, event)
    }

    async fn answer(
        State(api): State<Api>,
        Path((id, kind)): Path<(String, String)>,
        body: String,
    ) -> &'static str {
        api.answers.send((format!("{id}/{kind}"), body)).unwrap();
        "accepted"
    }

    async fn init_error(body: String) -> &'static str {
        panic!("the function failed to start: {body}")
    }

    /// Serves `events` as (request id, body); returns the address and the answers' receiver.
    pub async fn start(events: Vec<(&str, &str)>) -> (SocketAddr, mpsc::UnboundedReceiver<(String, String)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let api = Api {
            events: Arc::new(Mutex::new(
                events
                    .into_iter()
                    .map(|(id, body)| (id.to_string(), body.to_string()))
                    .collect(),
            )),
            answers: tx,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, rx)
    }
}

async fn next_answer(
    answers: &mut tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
) -> (String, String) {
    tokio::time::timeout(Duration::from_secs(60), answers.recv())
        .await
        .expect("the function answered within 60 s")
        .unwrap()
}

/// EventBridge Scheduler's default event for a Lambda target is the schedule's input; infra
/// passes a small JSON object.
const SCHEDULER_EVENT: &str = r#"{"source": "tracklake.schedule"}"#;

/// The `producer` binary as Lambda starts it, served by the Runtime API stand-in at `addr`, its
/// stdout captured.
fn start_binary(
    addr: std::net::SocketAddr,
    moto: &MotoServer,
    firehose: &FakeFirehose,
    server: &MockServer,
) -> tokio::process::Child {
    binary(addr, moto, firehose, server).spawn().unwrap()
}

/// The command [`start_binary`] spawns, for a test that changes its environment first.
fn binary(
    addr: std::net::SocketAddr,
    moto: &MotoServer,
    firehose: &FakeFirehose,
    server: &MockServer,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_producer"));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ACCESS_KEY_ID", moto_server::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", moto_server::SECRET_ACCESS_KEY)
        .env("AWS_REGION", moto_server::REGION)
        .env("AWS_ENDPOINT_URL_S3", moto.endpoint())
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint())
        .env("AWS_ENDPOINT_URL_FIREHOSE", firehose.endpoint())
        .env("TRACKLAKE_STREAM", STREAM)
        .env("TRACKLAKE_STATE_BUCKET", BUCKET)
        .env("TRACKLAKE_SECRET_ID", SECRET_ID)
        .env("TRACKLAKE_SOURCES", "recently_played")
        .env("SPOTIFY_API_BASE", format!("{}/v1", server.uri()))
        .env("SPOTIFY_ACCOUNTS_BASE", server.uri())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `RUST_LOG=trace` in the Lambda, the AWS SDK's tracing included: the credentials the SDK reads
/// from the environment (as Lambda provides them) appear nowhere in the log, while the invocation
/// really signs its S3, Secrets Manager and Firehose calls with them. moto does not check them.
#[tokio::test(flavor = "multi_thread")]
async fn lambda_trace_logs_never_print_credentials() {
    const ACCESS_KEY_ID: &str = "ASIAEXAMPLEKEYID1234";
    const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMIexampleSECRETaccessKEY1234";
    const SESSION_TOKEN: &str = "IQoJexampleSESSIONtoken1234";
    let moto = MotoServer::start();
    let (_s3, _secrets) = aws(&moto, user_secret("first-token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token(Some("second-token")))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let (addr, mut answers) = runtime_api::start(vec![("req-1", SCHEDULER_EVENT)]).await;

    let mut command = binary(addr, &moto, &firehose, &server);
    command
        .env("RUST_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN);
    let mut child = command.spawn().unwrap();
    // Read as it comes: trace output fills the pipe, and a full pipe would block the function.
    let mut pipe = child.stdout.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut out)
            .await
            .map(|_| out)
    });
    let (first, body) = next_answer(&mut answers).await;
    assert_eq!(first, "req-1/response", "{body}");
    child.kill().await.unwrap();
    let stdout = reader.await.unwrap().unwrap();

    assert!(accepted(&firehose) > 0, "the SDK signed and sent the records");
    assert!(stdout.contains("\"TRACE\""), "trace is on");
    assert!(stdout.contains("aws_smithy_runtime"), "the SDK's tracing is on");
    for leak in [
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        SESSION_TOKEN,
        "first-token",
        "second-token",
    ] {
        let line = stdout.lines().find(|l| l.contains(leak));
        assert!(line.is_none(), "{leak} in the log: {}", line.unwrap_or_default());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_serves_scheduled_invocations_with_json_logs_and_emf_on_stdout() {
    let moto = MotoServer::start();
    let (s3, secrets) = aws(&moto, user_secret("first-token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token(Some("second-token")))
        .mount(&server)
        .await;
    // The first invocation's records fail all six of the default sink's attempts; the second
    // invocation pulls them again (the state did not move) and they are accepted.
    let attempts = producer::sink::SinkConfig::default().retry.max_attempts as usize;
    let firehose = FakeFirehose::start(STREAM, move |n, records| {
        if n < attempts {
            Reply::Records(vec![
                Some(("InternalFailure", "broken".to_string()));
                records.len()
            ])
        } else {
            Reply::accept_all(records)
        }
    })
    .await;
    let (addr, mut answers) =
        runtime_api::start(vec![("req-1", SCHEDULER_EVENT), ("req-2", SCHEDULER_EVENT)]).await;

    let mut child = start_binary(addr, &moto, &firehose, &server);
    let (first, body) = next_answer(&mut answers).await;
    assert_eq!(
        first, "req-1/error",
        "undelivered records fail the invocation: {body}"
    );
    assert!(body.contains("not delivered"), "{body}");
    let (second, body) = next_answer(&mut answers).await;
    assert_eq!(second, "req-2/response", "{body}");
    let response: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (response["ok"].as_bool(), response["delivered"].as_u64()),
        (Some(true), Some(2))
    );
    assert_eq!(
        (
            &response["ran"],
            &response["skipped"],
            &response["awaiting_authorization"]
        ),
        (&json!(true), &Value::Null, &json!(false)),
        "{response}"
    );
    child.kill().await.unwrap();
    let stdout = String::from_utf8(child.wait_with_output().await.unwrap().stdout).unwrap();

    assert_eq!(secret(&secrets).await, user_secret("second-token"));
    assert!(state(&s3).await.unwrap()["recently_played_after"].is_i64());
    // Every stdout line is JSON (no ANSI, nothing else): log records and EMF documents.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(emf.len(), 2, "one EMF line per invocation:\n{stdout}");
    assert_eq!(emf[0]["FunctionName"], FUNCTION);
    assert_eq!(
        (emf[0]["RecordsFailed"].as_u64(), emf[0]["RunsFailed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (emf[1]["RecordsDelivered"].as_u64(), emf[1]["RunsFailed"].as_u64()),
        (Some(2), Some(0))
    );
    let summaries = lines.iter().filter(|l| l["message"] == "run summary").count();
    assert_eq!(summaries, 2, "{stdout}");
    for secret in ["first-token", "second-token"] {
        assert!(
            !stdout.contains(secret),
            "{secret} leaked into the log:\n{stdout}"
        );
    }
}

/// The function reads the producer's environment layer, the CLI's too: a setting the Lambda once
/// took only from its defaults (the sink's attempts per record), given with spaces around it,
/// bounds the invocation's PutRecordBatch calls.
#[tokio::test(flavor = "multi_thread")]
async fn binary_takes_every_setting_from_the_shared_environment_layer() {
    let moto = MotoServer::start();
    let (_s3, _secrets) = aws(&moto, user_secret("first-token")).await;
    let server = spotify().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(token(None))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| {
        Reply::Records(vec![
            Some(("InternalFailure", "broken".to_string()));
            records.len()
        ])
    })
    .await;
    let (addr, mut answers) = runtime_api::start(vec![("req-1", SCHEDULER_EVENT)]).await;

    let mut command = binary(addr, &moto, &firehose, &server);
    command
        .env("TRACKLAKE_FIREHOSE_MAX_ATTEMPTS", " 2 ")
        .env("TRACKLAKE_STREAM", format!(" {STREAM}\n"));
    let mut child = command.spawn().unwrap();
    let (first, body) = next_answer(&mut answers).await;
    child.kill().await.unwrap();
    assert_eq!(first, "req-1/error", "{body}");
    assert!(body.contains("2 records were pulled but not delivered"), "{body}");
    assert_eq!(
        firehose.calls().len(),
        2,
        "one call and one resend, not the default six"
    );
}

/// The binary answers both kinds of skip with a successful response saying why it did not run,
/// one log line and the skip's metric: first a live run lock, then (lock gone) the infra's
/// placeholder secret.
#[tokio::test(flavor = "multi_thread")]
async fn binary_answers_a_skip_with_a_successful_response_that_says_why() {
    let moto = MotoServer::start();
    let (s3, _secrets) = aws(&moto, json!({"client_id": "app-id"})).await;
    let server = spotify().await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let held_until = Utc::now() + chrono::Duration::minutes(10);
    put_lock(&s3, held_until).await;

    let mut results = Vec::new();
    for (request, skipped) in [("req-1", "run_in_progress"), ("req-2", "awaiting_authorization")] {
        let (addr, mut answers) = runtime_api::start(vec![(request, SCHEDULER_EVENT)]).await;
        let mut child = start_binary(addr, &moto, &firehose, &server);
        let (answer, body) = next_answer(&mut answers).await;
        assert_eq!(
            answer,
            format!("{request}/response"),
            "a skip is no error: {body}"
        );
        let response: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (&response["ok"], &response["ran"], &response["skipped"]),
            (&json!(true), &json!(false), &json!(skipped)),
            "{response}"
        );
        child.kill().await.unwrap();
        let stdout = String::from_utf8(child.wait_with_output().await.unwrap().stdout).unwrap();
        let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        results.push((response, lines));
        s3.delete_object()
            .bucket(BUCKET)
            .key(lock_key())
            .send()
            .await
            .unwrap();
    }

    let (locked, lines) = &results[0];
    assert_eq!(
        locked["lock_expires_at"]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .map(|t| t.timestamp()),
        Some(held_until.timestamp()),
        "{locked}"
    );
    let (awaiting, awaiting_lines) = &results[1];
    assert_eq!(awaiting["awaiting_authorization"], true, "{awaiting}");
    for (lines, level, metric) in [
        (lines, "INFO", "RunsSkipped"),
        (awaiting_lines, "WARN", "AwaitingAuthorization"),
    ] {
        let logged: Vec<&Value> = lines
            .iter()
            .filter(|l| l.get("_aws").is_none() && l["message"] != "producer ready")
            .collect();
        assert_eq!(
            logged.len(),
            1,
            "one log line per skipped invocation: {logged:#?}"
        );
        assert_eq!(logged[0]["level"], level, "{:#}", logged[0]);
        let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
        assert_eq!(emf.len(), 1);
        assert_eq!(
            (emf[0][metric].as_u64(), emf[0]["RunsFailed"].as_u64()),
            (Some(1), Some(0)),
            "{:#}",
            emf[0]
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(state(&s3).await.is_none());
}
