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

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_producer"))
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
        .kill_on_drop(true)
        .spawn()
        .unwrap();
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
