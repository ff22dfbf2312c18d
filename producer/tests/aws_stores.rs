//! The deployed Lambda's stores with the real AWS SDK over HTTP against moto's server (the Python
//! AWS mock, started by each test on a free loopback port through `moto-server`). Index:
//! - `s3_state_*`: `S3StateStore` loads a missing object as a fresh state, round-trips the state,
//!   and turns both conditional-put refusals into `StateError::Conflict`: `If-None-Match: *` when
//!   two first runs overlap, `If-Match` when a run saves over a newer object. moto 5.2.5 enforces
//!   both conditions on PutObject (412 PreconditionFailed, checked before these tests were
//!   written), so no stand-in is needed;
//! - `run_lock_*`: `S3RunLock` takes the lock with `If-None-Match: *` (a second taker is busy),
//!   takes an expired one over with `If-Match`, and releases with a conditional DeleteObject that
//!   leaves a lock taken over by someone else in place. moto 5.2.5 enforces `If-None-Match: *`
//!   and `If-Match` on PutObject and `If-Match` on DeleteObject (412 PreconditionFailed), which
//!   these tests show: without them the second take and the late release would go through. It
//!   checks each condition and then writes without holding a lock, so two requests arriving at
//!   the same instant could both pass there (S3 itself decides atomically); the overlap tests
//!   therefore start the second taker after the first holds the lock;
//! - `secrets_manager_*`: `SecretsManagerStore` reads the contract's JSON and writes a rotated
//!   refresh token back, keeping every other key; errors name the secret, never its value.

use moto_server::MotoServer;
use producer::auth::{SecretStore, SecretStoreError, SecretsManagerStore};
use producer::state::lock::{Acquired, HeldLock, LockBody, Released, S3RunLock};
use producer::state::{S3StateStore, State, StateError, StateStore, StateVersion, RUN_LOCK_SUFFIX};
use serde_json::{json, Value};
use spotify_client::Secret;

const BUCKET: &str = "tracklake-state-test";
const KEY: &str = "state/producer.json";
const SECRET_ID: &str = "tracklake/spotify";

fn s3(moto: &MotoServer) -> aws_sdk_s3::Client {
    moto.s3_client()
}

fn secrets(moto: &MotoServer) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config())
}

async fn bucket(moto: &MotoServer) -> aws_sdk_s3::Client {
    moto.create_bucket(BUCKET).await
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

fn held(acquired: Acquired) -> HeldLock {
    match acquired {
        Acquired::Held(held) => held,
        Acquired::Busy { expires_at } => panic!("the lock was busy (until {expires_at:?})"),
    }
}

async fn lock_body(client: &aws_sdk_s3::Client) -> Option<LockBody> {
    let object = client
        .get_object()
        .bucket(BUCKET)
        .key(format!("{KEY}{RUN_LOCK_SUFFIX}"))
        .send()
        .await
        .ok()?;
    Some(serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap())
}

#[tokio::test]
async fn run_lock_admits_one_holder_until_it_expires_and_a_late_release_keeps_the_new_holder() {
    let moto = MotoServer::start();
    let client = bucket(&moto).await;
    let lock = S3RunLock::new(client.clone(), BUCKET, KEY);
    assert_eq!(lock.location(), format!("s3://{BUCKET}/{KEY}.lock"));
    let t0: chrono::DateTime<chrono::Utc> = "2026-12-06T20:00:00Z".parse().unwrap();
    let minutes = chrono::Duration::minutes;

    let first = held(lock.acquire(t0, t0 + minutes(6)).await.unwrap());
    assert!(!first.took_over);
    assert_eq!(lock_body(&client).await.unwrap().expires_at, t0 + minutes(6));
    // Live: a second taker is refused by `If-None-Match: *` and reads when it expires.
    match lock.acquire(t0 + minutes(1), t0 + minutes(7)).await.unwrap() {
        Acquired::Busy { expires_at } => assert_eq!(expires_at, Some(t0 + minutes(6))),
        Acquired::Held(_) => panic!("two holders at once"),
    }
    assert_eq!(lock_body(&client).await.unwrap().expires_at, t0 + minutes(6));

    // Expired (the first holder overran): taken over with `If-Match`.
    let second = held(lock.acquire(t0 + minutes(7), t0 + minutes(13)).await.unwrap());
    assert!(second.took_over);
    assert_eq!(second.stale_expires_at, Some(t0 + minutes(6)));
    // The first holder's late release must not delete the second's lock.
    assert_eq!(lock.release(first).await.unwrap(), Released::NotOurs);
    assert_eq!(lock_body(&client).await.unwrap().expires_at, t0 + minutes(13));
    assert_eq!(lock.release(second).await.unwrap(), Released::Deleted);
    assert!(lock_body(&client).await.is_none());

    // Released: the next taker creates it afresh; an unreadable lock counts as stale.
    let third = held(lock.acquire(t0 + minutes(15), t0 + minutes(21)).await.unwrap());
    assert!(!third.took_over);
    assert_eq!(lock.release(third).await.unwrap(), Released::Deleted);
    client
        .put_object()
        .bucket(BUCKET)
        .key(format!("{KEY}{RUN_LOCK_SUFFIX}"))
        .body(b"garbage".to_vec().into())
        .send()
        .await
        .unwrap();
    let fourth = held(lock.acquire(t0 + minutes(16), t0 + minutes(22)).await.unwrap());
    assert!(fourth.took_over);
    assert_eq!(fourth.stale_expires_at, None);
}

#[tokio::test]
async fn run_lock_errors_name_the_lock_and_the_permissions() {
    let moto = MotoServer::start();
    let client = s3(&moto); // no bucket
    let lock = S3RunLock::new(client, "no-such-bucket", KEY);
    let now = chrono::Utc::now();
    let err = lock
        .acquire(now, now + chrono::Duration::minutes(5))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("s3://no-such-bucket/{KEY}.lock")),
        "{text}"
    );
    assert!(text.contains("s3:DeleteObject"), "{text}");
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
