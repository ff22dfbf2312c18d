//! The deployed Lambda's stores with the real AWS SDK over HTTP against moto's server (the Python
//! AWS mock, started by each test on a free loopback port through `moto-server`). Index:
//! - `s3_state_*`: `S3StateStore` loads a missing object as a fresh state, round-trips the state,
//!   and turns both conditional-put refusals into `StateError::Conflict`: `If-None-Match: *` when
//!   two first runs overlap, `If-Match` when a run saves over a newer object. moto 5.2.5 enforces
//!   both conditions on PutObject (412 PreconditionFailed, checked before these tests were
//!   written), so no stand-in is needed;
//! - `secrets_manager_*`: `SecretsManagerStore` reads the contract's JSON and writes a rotated
//!   refresh token back, keeping every other key; errors name the secret, never its value.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use moto_server::MotoServer;
use producer::auth::{SecretStore, SecretStoreError, SecretsManagerStore};
use producer::spotify::Secret;
use producer::state::{S3StateStore, State, StateError, StateStore, StateVersion};
use serde_json::{json, Value};

const BUCKET: &str = "tracklake-state-test";
const KEY: &str = "state/producer.json";
const SECRET_ID: &str = "tracklake/spotify";

fn credentials() -> Credentials {
    Credentials::new(
        moto_server::ACCESS_KEY_ID,
        moto_server::SECRET_ACCESS_KEY,
        None,
        None,
        "moto",
    )
}

fn s3(moto: &MotoServer) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .endpoint_url(moto.endpoint())
        .region(Region::new(moto_server::REGION))
        .credentials_provider(credentials())
        .force_path_style(true)
        .behavior_version(BehaviorVersion::latest())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn secrets(moto: &MotoServer) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .endpoint_url(moto.endpoint())
        .region(aws_sdk_secretsmanager::config::Region::new(moto_server::REGION))
        .credentials_provider(credentials())
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

async fn bucket(moto: &MotoServer) -> aws_sdk_s3::Client {
    let client = s3(moto);
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    client
}

async fn object(client: &aws_sdk_s3::Client) -> Value {
    let body = client
        .get_object()
        .bucket(BUCKET)
        .key(KEY)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    serde_json::from_slice(&body).unwrap()
}

fn with_cursor(cursor: i64) -> State {
    State {
        recently_played_after: Some(cursor),
        ..State::default()
    }
}

#[tokio::test]
async fn s3_state_round_trips_and_a_missing_object_is_a_fresh_state() {
    let moto = MotoServer::start();
    let client = bucket(&moto).await;
    let store = S3StateStore::new(client.clone(), BUCKET, KEY);

    let (state, version) = store.load().await.unwrap();
    assert_eq!(state, State::default());
    assert_eq!(version, StateVersion::ABSENT);

    let saved = store.save(&with_cursor(1), &version).await.unwrap();
    assert!(saved.tag().is_some(), "the ETag is the new version");
    let (state, version) = store.load().await.unwrap();
    assert_eq!(state, with_cursor(1));
    assert_eq!(version, saved, "load sees the version save returned");
    assert_eq!(object(&client).await["recently_played_after"], 1);

    // The next run saves over its own load.
    let again = store.save(&with_cursor(2), &version).await.unwrap();
    assert_ne!(again, saved);
    assert_eq!(store.load().await.unwrap().0, with_cursor(2));
}

#[tokio::test]
async fn s3_state_overlapping_runs_conflict_instead_of_overwriting() {
    let moto = MotoServer::start();
    let client = bucket(&moto).await;
    let store = S3StateStore::new(client.clone(), BUCKET, KEY);

    // Two first runs: both loaded "no object"; the second put must not replace the first.
    let (_, a) = store.load().await.unwrap();
    let (_, b) = store.load().await.unwrap();
    store.save(&with_cursor(10), &a).await.unwrap();
    let err = store.save(&with_cursor(20), &b).unwrap_or_conflict().await;
    assert!(
        matches!(&err, StateError::Conflict { location } if location == &format!("s3://{BUCKET}/{KEY}")),
        "{err:?}"
    );
    assert_eq!(object(&client).await["recently_played_after"], 10);

    // Two later runs load the same version; the slower one's If-Match fails.
    let (_, a) = store.load().await.unwrap();
    let (_, b) = store.load().await.unwrap();
    store.save(&with_cursor(11), &a).await.unwrap();
    let err = store.save(&with_cursor(21), &b).unwrap_or_conflict().await;
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("another run overlapped"), "{err}");
    assert_eq!(object(&client).await["recently_played_after"], 11);
}

/// Awaits a save that must fail.
trait UnwrapErr {
    async fn unwrap_or_conflict(self) -> StateError;
}

impl<F: std::future::Future<Output = Result<StateVersion, StateError>>> UnwrapErr for F {
    async fn unwrap_or_conflict(self) -> StateError {
        match self.await {
            Ok(version) => panic!("the save went through (version {version:?}): an overwrite"),
            Err(e) => e,
        }
    }
}

#[tokio::test]
async fn s3_state_errors_name_the_object_and_what_to_check() {
    let moto = MotoServer::start();
    let client = bucket(&moto).await;
    client
        .put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(
            b"{\"version\": 1, \"recently_played_after\": \"soon\"}"
                .to_vec()
                .into(),
        )
        .send()
        .await
        .unwrap();
    let err = S3StateStore::new(client.clone(), BUCKET, KEY)
        .load()
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("s3://{BUCKET}/{KEY}")), "{err}");

    let err = S3StateStore::new(client, "no-such-bucket-here", KEY)
        .load()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StateError::Storage { .. }), "{err:?}");
    for part in [
        "s3://no-such-bucket-here/",
        "NoSuchBucket",
        "TRACKLAKE_STATE_BUCKET",
        "s3:GetObject",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
}

#[tokio::test]
async fn secrets_manager_reads_the_secret_and_writes_a_rotated_token_back_keeping_the_rest() {
    let moto = MotoServer::start();
    let client = secrets(&moto);
    let doc = json!({"client_id": "app-id", "client_secret": "app-secret", "refresh_token": "old-token", "note": "kept"});
    client
        .create_secret()
        .name(SECRET_ID)
        .secret_string(doc.to_string())
        .send()
        .await
        .unwrap();
    let store = SecretsManagerStore::new(client.clone(), SECRET_ID);

    let secret = store.load_spotify().await.unwrap();
    assert_eq!(secret.client_id, "app-id");
    assert_eq!(secret.client_secret, Some(Secret::new("app-secret")));
    assert_eq!(secret.refresh_token, Some(Secret::new("old-token")));
    assert!(!format!("{secret:?}").contains("app-secret"), "Debug redacts");
    assert_eq!(store.load().await.unwrap(), Some(Secret::new("old-token")));

    store.save(&Secret::new("new-token")).await.unwrap();
    let stored: Value = serde_json::from_str(
        client
            .get_secret_value()
            .secret_id(SECRET_ID)
            .send()
            .await
            .unwrap()
            .secret_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored,
        json!({"client_id": "app-id", "client_secret": "app-secret", "refresh_token": "new-token", "note": "kept"})
    );
    assert_eq!(store.load().await.unwrap(), Some(Secret::new("new-token")));
}

#[tokio::test]
async fn secrets_manager_the_placeholder_secret_gets_its_first_refresh_token() {
    // infra creates the secret with only client_id; `tracklake auth` then saves the token.
    let moto = MotoServer::start();
    let client = secrets(&moto);
    client
        .create_secret()
        .name(SECRET_ID)
        .secret_string(r#"{"client_id": "app-id"}"#)
        .send()
        .await
        .unwrap();
    let store = SecretsManagerStore::new(client, SECRET_ID);
    assert_eq!(store.load().await.unwrap(), None);
    store.save(&Secret::new("first-token")).await.unwrap();
    let secret = store.load_spotify().await.unwrap();
    assert_eq!(
        (secret.client_id.as_str(), secret.refresh_token),
        ("app-id", Some(Secret::new("first-token")))
    );
}

#[tokio::test]
async fn secrets_manager_errors_name_the_secret_and_never_its_value() {
    let moto = MotoServer::start();
    let client = secrets(&moto);
    let err = SecretsManagerStore::new(client.clone(), "no/such/secret")
        .load_spotify()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SecretStoreError::Remote { .. }), "{err:?}");
    for part in [
        "no/such/secret",
        "ResourceNotFoundException",
        "TRACKLAKE_SECRET_ID",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }

    client
        .create_secret()
        .name(SECRET_ID)
        .secret_string(r#"{"client_id": "app-id", "refresh_token": "leaky-token""#)
        .send()
        .await
        .unwrap();
    let store = SecretsManagerStore::new(client, SECRET_ID);
    let err = store.load_spotify().await.unwrap_err();
    assert!(matches!(err, SecretStoreError::InvalidSecret { .. }), "{err:?}");
    assert!(!err.to_string().contains("leaky-token"), "{err}");
    // A token is never written into a document that could not be read.
    assert!(store.save(&Secret::new("new-token")).await.is_err());
}
