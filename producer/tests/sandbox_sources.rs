//! The producer's sources against the Spotify sandbox (the local stand-in for the Web API):
//! pagination to the end, the recently-played cursor, the saved-tracks watermark, playlist snapshot
//! skipping, search ranks, and every source through mixed faults. What the producer makes of the sandbox's answers must match what the
//! sandbox says it served (its ledger), line for line, and every line passes the real
//! `firehose_transform` normalizer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use firehose_transform::normalize::{normalize_bytes, DropReason, Verdict};
use producer::sources::{self, SourcesConfig};
use producer::state::State;
use schemas::{RawEnvelope, Source};
use spotify_client::{RecordingSleeper, SpotifyClient, SpotifyConfig, SpotifyError};
use spotify_sandbox::{Faults, ItemType, Place, Sandbox, SandboxConfig, SourceKind};

/// The sandbox's fixed clock.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 20, 30, 0).unwrap()
}

fn config() -> SandboxConfig {
    SandboxConfig::small(now())
}

async fn sandbox(config: SandboxConfig) -> Sandbox {
    spotify_sandbox::start(config).await.expect("the sandbox starts")
}

/// The client for the sandbox user (refresh-token grant), as the producer runs it; its waits are
/// recorded, not slept.
fn user_client(sandbox: &Sandbox) -> (SpotifyClient, Arc<RecordingSleeper>) {
    let mut config = SpotifyConfig::refresh_token(sandbox.client_id(), sandbox.refresh_token());
    config.api_base = sandbox.api_base();
    config.accounts_base = sandbox.accounts_base();
    config.request_timeout = Duration::from_secs(10);
    config.request_budget = 5000;
    let sleeper = Arc::new(RecordingSleeper::default());
    (
        SpotifyClient::with_sleeper(config, sleeper.clone()).unwrap(),
        sleeper,
    )
}

/// Runs every line through the transform: (kept, dropped as episode, dropped as removed).
fn transform(lines: &[Vec<u8>]) -> (usize, usize, usize) {
    let (mut kept, mut episodes, mut removed) = (0, 0, 0);
    for line in lines {
        let _: RawEnvelope = serde_json::from_slice(line).expect("a raw envelope");
        match normalize_bytes(line) {
            Ok(Verdict::Keep(..)) => kept += 1,
            Ok(Verdict::Drop(DropReason::Episode)) => episodes += 1,
            Ok(Verdict::Drop(DropReason::RemovedTrack)) => removed += 1,
            Err(failure) => panic!(
                "the transform refused {}: {failure:?}",
                String::from_utf8_lossy(line)
            ),
        }
    }
    (kept, episodes, removed)
}

#[tokio::test]
async fn recently_played_takes_the_last_50_then_only_new_plays_as_time_passes() {
    let sandbox = sandbox(config()).await;
    let (client, _) = user_client(&sandbox);
    let user = sources::current_user_id(&client).await.unwrap();
    assert_eq!(user, sandbox.user_id());

    let mut state = State::default();
    let first = sources::recently_played(&client, &state, now(), Some(&user))
        .await
        .unwrap();
    assert_eq!(first.lines.len(), 50, "Spotify keeps the last 50 plays");
    assert_eq!(transform(&first.lines), (50, 0, 0));
    let served: Vec<i64> = sandbox
        .served()
        .of(SourceKind::RecentlyPlayed)
        .map(|o| match o.place {
            Place::PlayedAt(ms) => ms,
            _ => panic!("a play is placed by played_at"),
        })
        .collect();
    assert_eq!(served.len(), 50);
    let newest = *served.iter().max().unwrap();
    assert_eq!(first.changes.recently_played_after, Some(newest));
    first.changes.apply(&mut state);

    // Same clock: nothing new.
    let again = sources::recently_played(&client, &state, now(), Some(&user))
        .await
        .unwrap();
    assert!(again.lines.is_empty());
    assert_eq!(sandbox.served().of(SourceKind::RecentlyPlayed).count(), 50);

    // Three hours later: exactly the plays after the cursor, none seen before.
    let later = now() + TimeDelta::hours(3);
    sandbox.set_now(Some(later));
    let pull = sources::recently_played(&client, &state, later, Some(&user))
        .await
        .unwrap();
    assert!(!pull.lines.is_empty(), "an evening has plays");
    assert!(
        pull.lines.len() < 50,
        "fewer than the window: nothing was lost between polls"
    );
    let ledger = sandbox.served();
    let plays: BTreeSet<i64> = ledger
        .of(SourceKind::RecentlyPlayed)
        .map(|o| match o.place {
            Place::PlayedAt(ms) => ms,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        plays.len(),
        50 + pull.lines.len(),
        "each new play served once, old ones not again"
    );
    assert!(plays.iter().filter(|ms| **ms > newest).count() == pull.lines.len());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn saved_tracks_pages_to_the_end_then_stops_at_the_watermark() {
    let sandbox = sandbox(config()).await;
    let (client, _) = user_client(&sandbox);
    let mut state = State::default();
    let pull = sources::saved_tracks(&client, &state, now(), Some("u"))
        .await
        .unwrap();
    let total = sandbox.served().of(SourceKind::SavedTracks).count();
    assert!(total > 100, "a library of several pages: {total}");
    assert_eq!(pull.lines.len(), total, "every saved track, all pages");
    assert_eq!(transform(&pull.lines), (total, 0, 0));
    let pages = sandbox.requests()["GET /me/tracks"];
    assert_eq!(pages as usize, total.div_ceil(50));
    pull.changes.apply(&mut state);

    let again = sources::saved_tracks(&client, &state, now(), Some("u"))
        .await
        .unwrap();
    assert!(again.lines.is_empty());
    assert_eq!(
        sandbox.requests()["GET /me/tracks"],
        pages + 1,
        "one page suffices"
    );

    // Saves keep arriving (about one every two days by default).
    let later = now() + TimeDelta::days(30);
    sandbox.set_now(Some(later));
    let new = sources::saved_tracks(&client, &state, later, Some("u"))
        .await
        .unwrap();
    assert!(!new.lines.is_empty());
    assert_eq!(
        sandbox.served().of(SourceKind::SavedTracks).count(),
        total + new.lines.len()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn playlists_are_read_to_the_end_and_skipped_while_their_snapshot_stays() {
    let sandbox = sandbox(config()).await;
    let (client, _) = user_client(&sandbox);
    let user = sandbox.user_id().to_string();
    let mut state = State::default();
    let pull = sources::playlist(&client, &state, now(), &user).await.unwrap();
    let ledger = sandbox.served();
    let served: Vec<_> = ledger.of(SourceKind::Playlist).collect();
    let nulls = served.iter().filter(|o| o.item_type == ItemType::Removed).count();
    // Entries whose track is null are sent too: the transform drops them, counted.
    assert_eq!(pull.lines.len(), served.len(), "every entry became a line");
    let (kept, episodes, removed) = transform(&pull.lines);
    assert_eq!(removed, nulls, "removed tracks are dropped by the transform");
    assert_eq!(
        episodes,
        served.iter().filter(|o| o.item_type == ItemType::Episode).count()
    );
    assert_eq!(
        kept,
        served.iter().filter(|o| o.item_type == ItemType::Track).count()
    );
    // Realistic edge cases appear at the default scale.
    assert!(served.iter().any(|o| o.is_local), "local files");
    assert!(episodes > 0 && nulls > 0, "episodes and removed tracks");
    // Own and collaborative playlists only: followed ones are never requested (they answer 403).
    let snapshots = pull.changes.playlist_snapshots.clone().unwrap();
    let config = sandbox.config();
    assert_eq!(
        snapshots.len() as u32,
        config.own_playlists + config.collaborative_playlists
    );
    let contexts: BTreeSet<&str> = served.iter().map(|o| o.context.as_str()).collect();
    assert_eq!(contexts.len(), snapshots.len());
    // Positions run 0.. in each playlist, nulls included.
    for id in &contexts {
        let mut positions: Vec<u32> = served
            .iter()
            .filter(|o| o.context == *id)
            .map(|o| match o.place {
                Place::Position(p) => p,
                _ => unreachable!(),
            })
            .collect();
        positions.sort_unstable();
        assert_eq!(positions, (0..positions.len() as u32).collect::<Vec<_>>());
    }
    let item_requests = sandbox.requests()["GET /playlists/{id}/items"];
    pull.changes.apply(&mut state);

    // Same clock: every snapshot is known, no item is read again.
    let again = sources::playlist(&client, &state, now(), &user).await.unwrap();
    assert!(again.lines.is_empty());
    assert_eq!(sandbox.requests()["GET /playlists/{id}/items"], item_requests);

    // Days later some playlists changed: only those are read, under their new snapshot.
    let later = now() + TimeDelta::days(4);
    sandbox.set_now(Some(later));
    let changed = sources::playlist(&client, &state, later, &user).await.unwrap();
    let new_snapshots = changed.changes.playlist_snapshots.unwrap();
    let differing = new_snapshots
        .iter()
        .filter(|(id, snap)| snapshots.get(*id) != Some(snap))
        .count();
    assert!(
        differing > 0 && differing < new_snapshots.len(),
        "some, not all, changed: {differing}"
    );
    let requests_now = sandbox.requests()["GET /playlists/{id}/items"];
    assert!(requests_now > item_requests);
    assert!(!changed.lines.is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn top_tracks_cover_three_ranges_in_pages_and_change_by_day() {
    let sandbox = sandbox(config()).await;
    let (client, _) = user_client(&sandbox);
    let pull = sources::top_tracks(&client, now(), Some("u")).await.unwrap();
    let ledger = sandbox.served();
    let served: Vec<_> = ledger.of(SourceKind::TopTracks).collect();
    assert_eq!(pull.lines.len(), served.len());
    assert_eq!(transform(&pull.lines).0, served.len());
    for range in sources::TIME_RANGES {
        let n = served.iter().filter(|o| o.context == range).count();
        assert_eq!(n, 100, "{range}: the configured length, over two pages of 50");
    }
    let ranked = |ledger: &spotify_sandbox::ServedLedger, range: &str, date: &str| -> Vec<String> {
        let mut v: Vec<_> = ledger
            .of(SourceKind::TopTracks)
            .filter(|o| o.context == range && o.snapshot == date)
            .map(|o| (o.place.clone(), o.uri.clone().unwrap()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, u)| u).collect()
    };
    let today = ranked(&ledger, "short_term", "2026-11-24");
    assert_ne!(today, ranked(&ledger, "long_term", "2026-11-24"), "ranges differ");
    let later = now() + TimeDelta::days(21);
    sandbox.set_now(Some(later));
    sources::top_tracks(&client, later, Some("u")).await.unwrap();
    let moved = ranked(&sandbox.served(), "short_term", "2026-12-15");
    assert_eq!(moved.len(), 100);
    assert_ne!(today, moved, "the short-term list moves over three weeks");
    let overlap = today.iter().filter(|u| moved.contains(u)).count();
    assert!(overlap > 0, "but not into a different user");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn search_pages_by_ten_up_to_the_offset_cap_with_ranks() {
    let sandbox = sandbox(SandboxConfig {
        tracks: 3000,
        ..config()
    })
    .await;
    let (client, _) = user_client(&sandbox);
    let config = SourcesConfig {
        enabled: vec![Source::Search],
        search_queries: vec!["genre:jazz".to_string(), "year:1990-2026".to_string()],
        ..SourcesConfig::default()
    };
    let pull = sources::search(&client, &config, now(), None).await.unwrap();
    let ledger = sandbox.served();
    let jazz = ledger
        .of(SourceKind::Search)
        .filter(|o| o.context == "genre:jazz")
        .count();
    let recent = ledger
        .of(SourceKind::Search)
        .filter(|o| o.context == "year:1990-2026")
        .count();
    assert!(jazz > 10 && jazz < 1000, "jazz is a few pages: {jazz}");
    assert_eq!(recent, 1000, "year:1990-2026 is read up to the 1000-result cap");
    assert_eq!(pull.lines.len(), jazz + recent);
    let body = client
        .get_json("/search?q=year:1990-2026&type=track&offset=1000&limit=10", &[])
        .await
        .unwrap();
    assert!(
        body["tracks"]["total"].as_u64().unwrap() > 1010,
        "more than the cap can reach"
    );
    assert_eq!(transform(&pull.lines).0, pull.lines.len());
    // Ranks 1..=n per query, contiguous across pages.
    let mut ranks: Vec<u32> = ledger
        .of(SourceKind::Search)
        .filter(|o| o.context == "genre:jazz")
        .map(|o| match o.place {
            Place::Rank(r) => r,
            _ => unreachable!(),
        })
        .collect();
    ranks.sort_unstable();
    assert_eq!(ranks, (1..=jazz as u32).collect::<Vec<_>>());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_client_credentials_client_can_search_but_not_read_the_user() {
    let sandbox = sandbox(config()).await;
    let mut config = SpotifyConfig::client_credentials(sandbox.client_id(), sandbox.client_secret());
    config.api_base = sandbox.api_base();
    config.accounts_base = sandbox.accounts_base();
    let client = SpotifyClient::new(config).unwrap();
    let sources_config = SourcesConfig {
        search_queries: vec!["night".to_string()],
        search_max_results: 25,
        ..SourcesConfig::default()
    };
    let pull = sources::search(&client, &sources_config, now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 25);
    let err = sources::current_user_id(&client).await.unwrap_err();
    assert!(matches!(err, SpotifyError::Unauthorized { .. }), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_producer_gets_every_source_through_mixed_faults() {
    let sandbox = sandbox(SandboxConfig {
        faults: Faults {
            seed: 2,
            rate_limit_rate: 0.1,
            rate_limit_retry_after: Some(1),
            server_error_rate: 0.1,
            expired_token_rate: 0.05,
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let (client, sleeper) = user_client(&sandbox);
    let user = sources::current_user_id(&client).await.unwrap();
    let state = State::default();
    let mut lines = 0;
    lines += sources::recently_played(&client, &state, now(), Some(&user))
        .await
        .unwrap()
        .lines
        .len();
    lines += sources::saved_tracks(&client, &state, now(), Some(&user))
        .await
        .unwrap()
        .lines
        .len();
    lines += sources::top_tracks(&client, now(), Some(&user))
        .await
        .unwrap()
        .lines
        .len();
    lines += sources::playlist(&client, &state, now(), &user)
        .await
        .unwrap()
        .lines
        .len();
    let ledger = sandbox.served();
    assert_eq!(
        lines,
        ledger.len(),
        "every served entry reached the producer once"
    );
    assert!(
        sleeper.waits().contains(&Duration::from_secs(1)),
        "Retry-After was honoured"
    );
    sandbox.shutdown().await;
}
