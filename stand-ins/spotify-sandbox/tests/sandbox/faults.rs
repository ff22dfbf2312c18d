//! The fault switches: each answers as Spotify does, at its rate, in a reproducible order; the
//! real client gets through the transient ones and stops cleanly on the others. (The producer's
//! sources through mixed faults: `producer/tests/sandbox_sources.rs`.)

use std::time::{Duration, Instant};

use spotify_client::{Pager, SpotifyClient, SpotifyError, LIST_PAGES};
use spotify_sandbox::{Faults, SandboxConfig};

use crate::{config, get, sandbox, user_client, user_token};

fn with(faults: Faults) -> SandboxConfig {
    SandboxConfig { faults, ..config() }
}

/// Reads the whole saved-tracks library in pages of 50, as the producer's saved-tracks source
/// does: the entries read.
async fn saved_tracks(client: &SpotifyClient) -> Result<usize, SpotifyError> {
    let mut pager = Pager::new(client, "/me/tracks", &[("limit", "50")], LIST_PAGES)?;
    let mut entries = 0;
    while let Some(page) = pager.next_page().await? {
        entries += page.items;
    }
    Ok(entries)
}

#[tokio::test]
async fn rate_limit_answers_429_with_or_without_retry_after() {
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    sandbox.set_faults(Faults {
        rate_limit_rate: 1.0,
        rate_limit_retry_after: Some(7),
        ..Faults::default()
    });
    let (status, headers, body) = get(&sandbox, &token, "/me").await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"]["status"], 429);
    assert!(body["error"].get("reason").is_none());
    sandbox.set_faults(Faults {
        rate_limit_rate: 1.0,
        rate_limit_retry_after: None,
        ..Faults::default()
    });
    let (status, headers, _) = get(&sandbox, &token, "/me").await;
    assert_eq!(status, 429);
    assert!(headers.get("retry-after").is_none());
    sandbox.set_faults(Faults::default());
    assert_eq!(get(&sandbox, &token, "/me").await.0, 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn quota_exceeded_carries_its_reason_and_stops_the_producer() {
    let sandbox = sandbox(with(Faults {
        quota_exceeded_rate: 1.0,
        quota_retry_after: Some(13 * 3600),
        ..Faults::default()
    }))
    .await;
    let token = user_token(&sandbox).await;
    let (status, headers, body) = get(&sandbox, &token, "/me/tracks").await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "46800");
    assert_eq!(body["error"]["reason"], "QUOTA_EXCEEDED");
    assert_eq!(body["error"]["status"], 429);
    let (client, _) = user_client(&sandbox);
    let err = saved_tracks(&client).await.unwrap_err();
    assert!(matches!(err, SpotifyError::QuotaExceeded { .. }), "{err}");
    assert!(err.ends_run_cleanly());
    assert!(sandbox.served().is_empty(), "nothing was served");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn server_errors_use_the_configured_status_and_are_retried_by_the_producer() {
    let sandbox = sandbox(with(Faults {
        server_error_rate: 1.0,
        server_error_status: 502,
        ..Faults::default()
    }))
    .await;
    let token = user_token(&sandbox).await;
    let (status, _, body) = get(&sandbox, &token, "/me").await;
    assert_eq!((status, body["error"]["status"].as_u64()), (502, Some(502)));

    sandbox.set_faults(Faults {
        seed: 4,
        server_error_rate: 0.3,
        ..Faults::default()
    });
    let (client, sleeper) = user_client(&sandbox);
    let entries = saved_tracks(&client).await.unwrap();
    let expected = sandbox.served().len();
    assert_eq!(entries, expected, "every page arrived despite the 5xx answers");
    assert!(
        !sleeper.waits().is_empty(),
        "the client backed off: {:?}",
        sandbox.requests()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn slow_answers_are_delayed() {
    let sandbox = sandbox(with(Faults {
        slow_rate: 1.0,
        slow_delay_ms: 300,
        ..Faults::default()
    }))
    .await;
    let token = user_token(&sandbox).await;
    let started = Instant::now();
    assert_eq!(get(&sandbox, &token, "/me").await.0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the answer waited the delay"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn expired_token_fault_expires_the_token_and_the_producer_renews_it() {
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    sandbox.set_faults(Faults {
        expired_token_rate: 1.0,
        ..Faults::default()
    });
    let (status, _, body) = get(&sandbox, &token, "/me").await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("The access token expired"))
    );
    sandbox.set_faults(Faults::default());
    let (status, _, _) = get(&sandbox, &token, "/me").await;
    assert_eq!(status, 401, "the token stays expired");
    assert_eq!(get(&sandbox, &user_token(&sandbox).await, "/me").await.0, 200);

    sandbox.set_faults(Faults {
        seed: 5,
        expired_token_rate: 0.1,
        ..Faults::default()
    });
    let (client, _) = user_client(&sandbox);
    let entries = saved_tracks(&client).await.unwrap();
    assert_eq!(entries, sandbox.served().len());
    assert!(
        sandbox.requests()["POST /api/token"] > 3,
        "fresh tokens were fetched"
    );
    sandbox.shutdown().await;
}

/// The statuses of `n` requests under `faults`.
async fn pattern(faults: Faults, n: usize) -> Vec<u16> {
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    sandbox.set_faults(faults);
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(get(&sandbox, &token, "/me/playlists").await.0);
    }
    sandbox.shutdown().await;
    statuses
}

#[tokio::test]
async fn faults_fire_at_their_rate_in_a_reproducible_order() {
    let faults = Faults {
        seed: 11,
        rate_limit_rate: 0.2,
        server_error_rate: 0.2,
        ..Faults::default()
    };
    let a = pattern(faults.clone(), 200).await;
    let b = pattern(faults.clone(), 200).await;
    assert_eq!(a, b, "same seed, same faults");
    let throttled = a.iter().filter(|s| **s == 429).count();
    let failed = a.iter().filter(|s| **s == 503).count();
    // 20% of 200, and 20% of the remaining 80% of 200.
    assert!((25..=55).contains(&throttled), "{throttled}");
    assert!((18..=48).contains(&failed), "{failed}");
    assert_eq!(throttled + failed + a.iter().filter(|s| **s == 200).count(), 200);
    let c = pattern(Faults { seed: 12, ..faults }, 200).await;
    assert_ne!(a, c, "another seed, another order");
}
