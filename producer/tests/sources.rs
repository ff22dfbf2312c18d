//! The five sources against a wiremock Spotify: pagination to the end, the recently-played cursor,
//! the saved-tracks incremental stop, playlist snapshot skipping, search ranks. Every line must
//! parse as a `schemas::RawEnvelope` and pass `firehose_transform`'s normalizer: the real contract
//! between producer and transform.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use firehose_transform::normalize::{normalize_bytes, DropReason, Verdict};
use firehose_transform::sample;
use producer::sources::{self, SourcesConfig};
use producer::state::State;
use schemas::{RawEnvelope, Source, Timestamp};
use serde_json::{json, Value};
use spotify_client::{SpotifyClient, SpotifyConfig};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "alice";

async fn server() -> MockServer {
    test_support::spotify_mock::with_token().await
}

fn client(server: &MockServer) -> SpotifyClient {
    let mut config = SpotifyConfig::client_credentials("id", "secret");
    config.api_base = format!("{}/v1", server.uri());
    config.accounts_base = server.uri();
    config.request_timeout = Duration::from_secs(5);
    SpotifyClient::new(config).unwrap()
}

fn api(route: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(format!("/v1{route}")))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// An offset page of `items` at `offset` in a list of `total`, `next` pointing at `route`.
fn page(
    server: &MockServer,
    route: &str,
    items: Vec<Value>,
    offset: usize,
    limit: usize,
    total: usize,
) -> Value {
    let next = (offset + items.len() < total).then(|| {
        format!(
            "{}/v1{route}?offset={}&limit={limit}",
            server.uri(),
            offset + items.len()
        )
    });
    json!({"href": "…", "items": items, "limit": limit, "offset": offset, "total": total, "next": next, "previous": null})
}

/// Parses every line as an envelope and runs it through the transform: kept records, dropped ones.
fn check_lines(lines: &[Vec<u8>], source: Source) -> (Vec<Value>, usize) {
    let mut kept = Vec::new();
    let mut dropped = 0;
    for bytes in lines {
        assert_eq!(bytes.last(), Some(&b'\n'), "a line ends in a newline");
        let envelope: RawEnvelope = serde_json::from_slice(bytes).unwrap();
        assert_eq!(envelope.source, source);
        assert_eq!(envelope.observed_at, Timestamp::from_datetime(now()).unwrap());
        match normalize_bytes(bytes) {
            Ok(Verdict::Keep(record, s)) => {
                assert_eq!(s, source);
                kept.push(serde_json::to_value(&*record).unwrap());
            }
            Ok(Verdict::Drop(_)) => dropped += 1,
            Err(failure) => panic!(
                "the transform refused {}: {failure:?}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }
    (kept, dropped)
}

fn envelope_json(line: &[u8]) -> Value {
    serde_json::from_slice(line).unwrap()
}

// --- recently_played ---

fn play(n: usize, played_at: &str) -> Value {
    json!({"track": sample::track(n), "played_at": played_at, "context": null})
}

#[tokio::test]
async fn recently_played_first_run_takes_all_and_sets_the_cursor_to_the_newest_play() {
    let server = server().await;
    // Newest first, as Spotify lists them; the cursor must be the newest, not the first or last.
    let body = json!({
        "items": [play(1, "2026-11-24T07:50:00.500Z"), play(2, "2026-11-24T07:40:00Z"), play(3, "2026-11-24T07:30:00Z")],
        "next": null, "cursors": {"after": "1795592000500", "before": "1795590600000"}, "limit": 50
    });
    api("/me/player/recently-played")
        .and(query_param("limit", "50"))
        .and(query_param_is_missing("after"))
        .respond_with(ok(body))
        .expect(1)
        .mount(&server)
        .await;
    let pull = sources::recently_played(&client(&server), &State::default(), now(), Some(USER))
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 3);
    let newest = Timestamp::parse("2026-11-24T07:50:00.500Z").unwrap();
    assert_eq!(pull.changes.recently_played_after, Some(newest.millis()));
    let (kept, _) = check_lines(&pull.lines, Source::RecentlyPlayed);
    assert_eq!(kept.len(), 3);
    let first = envelope_json(&pull.lines[0]);
    assert_eq!(first["context"]["played_at"], "2026-11-24T07:50:00.500Z");
    assert_eq!(first["user_id"], USER);
}

#[tokio::test]
async fn recently_played_asks_after_the_cursor_and_keeps_objects_byte_for_byte() {
    let server = server().await;
    let cursor = Timestamp::parse("2026-11-24T07:00:00Z").unwrap().millis();
    // Odd spacing and key order: the envelope must carry exactly these bytes.
    let item = r#"{ "played_at" : "2026-11-24T07:10:00Z",  "track": {"id":"t1","name":"Ünïcode ✓","type":"track"} }"#;
    let body = format!(r#"{{"items": [{item}], "next": null, "cursors": null, "limit": 50}}"#);
    api("/me/player/recently-played")
        .and(query_param("after", cursor.to_string()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let state = State {
        recently_played_after: Some(cursor),
        ..State::default()
    };
    let pull = sources::recently_played(&client(&server), &state, now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 1);
    let envelope: RawEnvelope = serde_json::from_slice(&pull.lines[0]).unwrap();
    assert_eq!(envelope.spotify.get(), item);
    assert!(envelope.user_id.is_none());
    assert_eq!(
        pull.changes.recently_played_after,
        Some(Timestamp::parse("2026-11-24T07:10:00Z").unwrap().millis())
    );
}

#[tokio::test]
async fn recently_played_with_nothing_new_leaves_the_cursor() {
    let server = server().await;
    api("/me/player/recently-played")
        .respond_with(ok(
            json!({"items": [], "next": null, "cursors": null, "limit": 50}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let state = State {
        recently_played_after: Some(1_000),
        ..State::default()
    };
    let pull = sources::recently_played(&client(&server), &state, now(), None)
        .await
        .unwrap();
    assert!(pull.lines.is_empty());
    assert_eq!(pull.changes.recently_played_after, None);
}

// --- top_tracks ---

#[tokio::test]
async fn top_tracks_reads_every_time_range_to_the_end_with_continuing_ranks() {
    let server = server().await;
    let route = "/me/top/tracks";
    let tracks = |from: usize, n: usize| (from..from + n).map(sample::track).collect::<Vec<_>>();
    api(route)
        .and(query_param("time_range", "short_term"))
        .and(query_param("offset", "0"))
        .and(query_param("limit", "50"))
        .respond_with(ok(page(&server, route, tracks(0, 50), 0, 50, 60)))
        .expect(1)
        .mount(&server)
        .await;
    // `next` carries no time_range in this stand-in; the pager follows it as given, so the second
    // page is matched by offset alone.
    api(route)
        .and(query_param("offset", "50"))
        .respond_with(ok(page(&server, route, tracks(50, 10), 50, 50, 60)))
        .expect(1)
        .mount(&server)
        .await;
    api(route)
        .and(query_param("time_range", "medium_term"))
        .respond_with(ok(page(&server, route, tracks(100, 3), 0, 50, 3)))
        .expect(1)
        .mount(&server)
        .await;
    api(route)
        .and(query_param("time_range", "long_term"))
        .respond_with(ok(page(&server, route, vec![], 0, 50, 0)))
        .expect(1)
        .mount(&server)
        .await;
    let pull = sources::top_tracks(&client(&server), now(), Some(USER))
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 63);
    check_lines(&pull.lines, Source::TopTracks);
    let contexts: Vec<(String, u64)> = pull
        .lines
        .iter()
        .map(|l| {
            let e = envelope_json(l);
            (
                e["context"]["time_range"].as_str().unwrap().to_string(),
                e["context"]["rank"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(contexts[0], ("short_term".to_string(), 1));
    assert_eq!(
        contexts[50],
        ("short_term".to_string(), 51),
        "rank continues on page 2"
    );
    assert_eq!(contexts[59], ("short_term".to_string(), 60));
    assert_eq!(
        contexts[60],
        ("medium_term".to_string(), 1),
        "rank restarts per time range"
    );
    assert_eq!(
        envelope_json(&pull.lines[50])["spotify"]["id"],
        sample::track(50)["id"]
    );
}

// --- saved_tracks ---

fn saved(n: usize, added_at: DateTime<Utc>) -> Value {
    json!({"added_at": added_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "track": sample::track(n)})
}

#[tokio::test]
async fn saved_tracks_stop_at_the_watermark_without_reading_older_pages() {
    let server = server().await;
    let route = "/me/tracks";
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    // 150 saves, newest first: item i was added `150 - i` hours after `base`.
    let item = |i: usize| saved(i, base + chrono::TimeDelta::hours((150 - i) as i64));
    for offset in [0, 50] {
        api(route)
            .and(query_param("offset", offset.to_string()))
            .respond_with(ok(page(
                &server,
                route,
                (offset..offset + 50).map(item).collect(),
                offset,
                50,
                150,
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    api(route)
        .and(query_param("offset", "100"))
        .respond_with(ok(page(
            &server,
            route,
            (100..150).map(item).collect(),
            100,
            50,
            150,
        )))
        .expect(0)
        .mount(&server)
        .await;
    // The watermark is item 70's save: items 0..70 are new.
    let watermark = Timestamp::from_datetime(base + chrono::TimeDelta::hours(80)).unwrap();
    let state = State {
        saved_tracks_watermark: Some(watermark),
        ..State::default()
    };
    let pull = sources::saved_tracks(&client(&server), &state, now(), Some(USER))
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 70);
    let (kept, _) = check_lines(&pull.lines, Source::SavedTracks);
    assert_eq!(kept.len(), 70);
    assert_eq!(
        envelope_json(&pull.lines[69])["spotify"]["track"]["id"],
        sample::track(69)["id"]
    );
    let newest = Timestamp::from_datetime(base + chrono::TimeDelta::hours(150)).unwrap();
    assert_eq!(pull.changes.saved_tracks_watermark, Some(newest));
}

#[tokio::test]
async fn saved_tracks_first_run_reads_the_whole_library() {
    let server = server().await;
    let route = "/me/tracks";
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let item = |i: usize| saved(i, base - chrono::TimeDelta::hours(i as i64));
    for offset in [0, 50] {
        let n = if offset == 0 { 50 } else { 5 };
        api(route)
            .and(query_param("offset", offset.to_string()))
            .respond_with(ok(page(
                &server,
                route,
                (offset..offset + n).map(item).collect(),
                offset,
                50,
                55,
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pull = sources::saved_tracks(&client(&server), &State::default(), now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 55);
    assert_eq!(
        pull.changes.saved_tracks_watermark,
        Timestamp::from_datetime(base)
    );
}

/// A one-page `/me/tracks` (the test libraries fit in the few pages a test mounts).
async fn mount_library(server: &MockServer, saves: &[Value]) {
    let route = "/me/tracks";
    for (index, chunk) in saves.chunks(50).enumerate() {
        let offset = index * 50;
        api(route)
            .and(query_param("offset", offset.to_string()))
            .respond_with(ok(page(server, route, chunk.to_vec(), offset, 50, saves.len())))
            .mount(server)
            .await;
    }
}

fn dates_of(lines: &[Vec<u8>]) -> std::collections::BTreeSet<String> {
    lines
        .iter()
        .map(|l| envelope_json(l)["spotify"]["added_at"].as_str().unwrap()[..10].to_string())
        .collect()
}

#[tokio::test]
async fn saved_tracks_first_run_takes_the_newest_dates_within_the_budget_and_leaves_a_backfill() {
    use producer::sources::SAVED_TRACKS_DATES_PER_RUN as BUDGET;
    let server = server().await;
    // Two saves a day (12:00 and 06:00) on BUDGET + 20 days, newest first.
    let newest = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let saves: Vec<Value> = (0..2 * (BUDGET + 20))
        .map(|i| {
            let at = newest
                - chrono::TimeDelta::days((i / 2) as i64)
                - chrono::TimeDelta::hours(6 * (i % 2) as i64);
            saved(i, at)
        })
        .collect();
    mount_library(&server, &saves).await;
    let pull = sources::saved_tracks(&client(&server), &State::default(), now(), None)
        .await
        .unwrap();
    assert_eq!(
        pull.lines.len(),
        2 * BUDGET,
        "both saves of each of the newest dates"
    );
    assert_eq!(dates_of(&pull.lines).len(), BUDGET);
    assert_eq!(
        pull.changes.saved_tracks_watermark,
        Timestamp::from_datetime(newest)
    );
    let oldest_sent = (newest - chrono::TimeDelta::days(BUDGET as i64 - 1)).date_naive();
    assert_eq!(
        pull.changes.saved_tracks_backfill_before,
        Some(Timestamp::from_datetime(
            oldest_sent.and_hms_opt(0, 0, 0).unwrap().and_utc()
        )),
    );
}

#[tokio::test]
async fn saved_tracks_new_saves_on_more_dates_than_the_budget_send_their_oldest_dates_first() {
    use producer::sources::SAVED_TRACKS_DATES_PER_RUN as BUDGET;
    let server = server().await;
    // The producer was off: BUDGET + 10 dates of new saves above the watermark, then old ones.
    let newest = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let saves: Vec<Value> = (0..BUDGET + 15)
        .map(|i| saved(i, newest - chrono::TimeDelta::days(i as i64)))
        .collect();
    mount_library(&server, &saves).await;
    let watermark = newest - chrono::TimeDelta::days((BUDGET + 10) as i64);
    let state = State {
        saved_tracks_watermark: Timestamp::from_datetime(watermark),
        ..State::default()
    };
    let pull = sources::saved_tracks(&client(&server), &state, now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), BUDGET);
    // Saves 10..BUDGET + 10: the oldest new dates, so the delivered range stays contiguous.
    assert_eq!(
        envelope_json(&pull.lines[0])["spotify"]["track"]["id"],
        sample::track(10)["id"]
    );
    assert_eq!(
        pull.changes.saved_tracks_watermark,
        Timestamp::from_datetime(newest - chrono::TimeDelta::days(10))
    );
    assert_eq!(
        pull.changes.saved_tracks_backfill_before, None,
        "no backfill pending, none started"
    );
}

#[tokio::test]
async fn saved_tracks_pending_backfill_skips_what_was_delivered_and_clears_at_the_end() {
    let server = server().await;
    let newest = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    // 0: new; 1..=3: delivered (dates 19th..17th); 4..=6: older, not delivered yet.
    let saves: Vec<Value> = (0..7)
        .map(|i| saved(i, newest - chrono::TimeDelta::days(i as i64)))
        .collect();
    mount_library(&server, &saves).await;
    let state = State {
        saved_tracks_watermark: Timestamp::from_datetime(newest - chrono::TimeDelta::days(1)),
        saved_tracks_backfill_before: Timestamp::parse("2026-11-17T00:00:00Z"),
        ..State::default()
    };
    let pull = sources::saved_tracks(&client(&server), &state, now(), Some(USER))
        .await
        .unwrap();
    let ids: Vec<Value> = pull
        .lines
        .iter()
        .map(|l| envelope_json(l)["spotify"]["track"]["id"].clone())
        .collect();
    let expected: Vec<Value> = [0, 4, 5, 6]
        .iter()
        .map(|i| sample::track(*i)["id"].clone())
        .collect();
    assert_eq!(ids, expected);
    check_lines(&pull.lines, Source::SavedTracks);
    assert_eq!(
        pull.changes.saved_tracks_watermark,
        Timestamp::from_datetime(newest)
    );
    assert_eq!(
        pull.changes.saved_tracks_backfill_before,
        Some(None),
        "the backfill is complete"
    );
}

// --- playlist ---

fn simple_playlist(id: &str, snapshot: &str, owner: &str, collaborative: bool) -> Value {
    json!({"id": id, "snapshot_id": snapshot, "collaborative": collaborative, "name": id,
           "owner": {"id": owner, "type": "user"}, "items": {"href": "…", "total": 0}})
}

#[tokio::test]
async fn playlist_reads_only_changed_own_or_collaborative_playlists() {
    let server = server().await;
    let list = "/me/playlists";
    let first = vec![
        simple_playlist("unchanged", "snap-1", USER, false),
        simple_playlist("changed", "snap-new", USER, false),
    ];
    let second = vec![
        simple_playlist("followed", "snap-x", "bob", false),
        simple_playlist("collab", "snap-c", "bob", true),
    ];
    api(list)
        .and(query_param("offset", "0"))
        .respond_with(ok(page(&server, list, first, 0, 2, 4)))
        .expect(1)
        .mount(&server)
        .await;
    api(list)
        .and(query_param("offset", "2"))
        .respond_with(ok(page(&server, list, second, 2, 2, 4)))
        .expect(1)
        .mount(&server)
        .await;
    for id in ["unchanged", "followed"] {
        api(&format!("/playlists/{id}/items"))
            .respond_with(ok(json!({})))
            .expect(0)
            .mount(&server)
            .await;
    }
    // `changed`: two pages; the new `item` key, the old `track` key, a removed track, an episode.
    let changed = "/playlists/changed/items";
    let entries_1 = vec![
        json!({"added_at": "2026-01-01T00:00:00Z", "added_by": {"id": USER}, "is_local": false, "item": sample::track(1)}),
        json!({"added_at": "2026-01-02T00:00:00Z", "added_by": null, "is_local": false, "track": sample::track(2)}),
    ];
    let entries_2 = vec![
        json!({"added_at": "2026-01-03T00:00:00Z", "added_by": null, "is_local": false, "item": null}),
        json!({"added_at": null, "added_by": null, "is_local": false,
               "item": {"type": "episode", "id": "ep1", "name": "A podcast"}}),
        json!({"added_at": "2026-01-04T00:00:00Z", "added_by": null, "is_local": false, "item": sample::track(5)}),
    ];
    api(changed)
        .and(query_param("offset", "0"))
        .and(query_param("limit", "50"))
        .respond_with(ok(page(&server, changed, entries_1, 0, 2, 5)))
        .expect(1)
        .mount(&server)
        .await;
    api(changed)
        .and(query_param("offset", "2"))
        .respond_with(ok(page(&server, changed, entries_2, 2, 2, 5)))
        .expect(1)
        .mount(&server)
        .await;
    api("/playlists/collab/items")
        .respond_with(ok(page(
            &server,
            "/playlists/collab/items",
            vec![json!({"item": sample::track(9)})],
            0,
            50,
            1,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let state = State {
        playlist_snapshots: BTreeMap::from([
            ("unchanged".to_string(), "snap-1".to_string()),
            ("changed".to_string(), "snap-old".to_string()),
            ("deleted".to_string(), "snap-d".to_string()),
        ]),
        ..State::default()
    };
    let pull = sources::playlist(&client(&server), &state, now(), USER)
        .await
        .unwrap();
    let (kept, dropped) = check_lines(&pull.lines, Source::Playlist);
    assert_eq!(
        (kept.len(), dropped),
        (4, 2),
        "tracks kept; the removed track and the episode dropped"
    );
    let contexts: Vec<(String, String, u64)> = pull
        .lines
        .iter()
        .map(|l| {
            let c = &envelope_json(l)["context"];
            (
                c["playlist_id"].as_str().unwrap().into(),
                c["snapshot_id"].as_str().unwrap().into(),
                c["position"].as_u64().unwrap(),
            )
        })
        .collect();
    let ctx = |p: &str, s: &str, n| (p.to_string(), s.to_string(), n);
    assert_eq!(
        contexts,
        [
            ctx("changed", "snap-new", 0),
            ctx("changed", "snap-new", 1),
            ctx("changed", "snap-new", 2),
            ctx("changed", "snap-new", 3),
            ctx("changed", "snap-new", 4),
            ctx("collab", "snap-c", 0),
        ]
    );
    // Entries are kept as received, `track` key included.
    assert_eq!(
        envelope_json(&pull.lines[1])["spotify"]["track"]["id"],
        sample::track(2)["id"]
    );
    assert!(matches!(
        normalize_bytes(&pull.lines[2]),
        Ok(Verdict::Drop(DropReason::RemovedTrack))
    ));
    assert_eq!(
        pull.changes.playlist_snapshots,
        Some(BTreeMap::from([
            ("changed".to_string(), "snap-new".to_string()),
            ("collab".to_string(), "snap-c".to_string()),
            ("unchanged".to_string(), "snap-1".to_string()),
        ])),
        "followed playlists are not tracked and deleted ones drop out"
    );
}

#[tokio::test]
async fn playlist_refuses_an_id_that_would_change_the_url_path() {
    let server = server().await;
    api("/me/playlists")
        .respond_with(ok(page(
            &server,
            "/me/playlists",
            vec![simple_playlist("../me", "s", USER, false)],
            0,
            50,
            1,
        )))
        .mount(&server)
        .await;
    let err = sources::playlist(&client(&server), &State::default(), now(), USER)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a base-62 Spotify id"), "{err}");
}

// --- search ---

fn search_page(server: &MockServer, q: &str, offset: usize, n: usize, total: usize) -> Value {
    let items: Vec<Value> = (offset..offset + n).map(sample::track).collect();
    let next = (offset + n < total).then(|| {
        format!(
            "{}/v1/search?q={q}&type=track&offset={}&limit=10",
            server.uri(),
            offset + n
        )
    });
    json!({"tracks": {"href": "…", "items": items, "limit": 10, "offset": offset, "total": total, "next": next, "previous": null}})
}

#[tokio::test]
async fn search_pages_by_ten_per_query_with_ranks() {
    let server = server().await;
    for (offset, n) in [(0, 10), (10, 10), (20, 3)] {
        api("/search")
            .and(query_param("q", "jazz"))
            .and(query_param("type", "track"))
            .and(query_param("limit", "10"))
            .and(query_param("offset", offset.to_string()))
            .respond_with(ok(search_page(&server, "jazz", offset, n, 23)))
            .expect(1)
            .mount(&server)
            .await;
    }
    api("/search")
        .and(query_param("q", "abba"))
        .respond_with(ok(search_page(&server, "abba", 0, 2, 2)))
        .expect(1)
        .mount(&server)
        .await;
    let config = SourcesConfig {
        enabled: vec![Source::Search],
        search_queries: vec!["jazz".into(), "abba".into()],
        ..SourcesConfig::default()
    };
    let pull = sources::search(&client(&server), &config, now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 25);
    assert!(!pull.truncated);
    check_lines(&pull.lines, Source::Search);
    let last_jazz = envelope_json(&pull.lines[22]);
    assert_eq!(last_jazz["context"], json!({"query": "jazz", "rank": 23}));
    assert_eq!(last_jazz["spotify"]["id"], sample::track(22)["id"]);
    assert_eq!(
        envelope_json(&pull.lines[23])["context"],
        json!({"query": "abba", "rank": 1})
    );
}

#[tokio::test]
async fn search_names_the_configured_market() {
    let server = server().await;
    api("/search")
        .and(query_param("q", "jazz"))
        .and(query_param("market", "SE"))
        .respond_with(ok(search_page(&server, "jazz", 0, 3, 3)))
        .expect(1)
        .mount(&server)
        .await;
    let config = SourcesConfig {
        enabled: vec![Source::Search],
        search_queries: vec!["jazz".into()],
        market: Some("se".to_string().try_into().unwrap()),
        ..SourcesConfig::default()
    };
    let pull = sources::search(&client(&server), &config, now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 3);
}

#[tokio::test]
async fn search_stops_at_the_configured_result_count() {
    let server = server().await;
    api("/search")
        .and(query_param("offset", "0"))
        .respond_with(ok(search_page(&server, "x", 0, 10, 500)))
        .expect(1)
        .mount(&server)
        .await;
    api("/search")
        .and(query_param("offset", "10"))
        .respond_with(ok(search_page(&server, "x", 10, 10, 500)))
        .expect(1)
        .mount(&server)
        .await;
    let config = SourcesConfig {
        search_queries: vec!["x".into()],
        search_max_results: 15,
        ..SourcesConfig::default()
    };
    let pull = sources::search(&client(&server), &config, now(), None)
        .await
        .unwrap();
    assert_eq!(pull.lines.len(), 15);
}

// --- schedule ---

#[test]
fn a_source_is_due_when_enabled_and_its_interval_has_passed() {
    let config = SourcesConfig::default();
    let mut state = State::default();
    assert!(config.is_due(Source::TopTracks, &state, now()), "never ran");
    assert!(
        !config.is_due(Source::Search, &state, now()),
        "not enabled by default"
    );
    state
        .last_success
        .insert(Source::TopTracks, now() - chrono::TimeDelta::hours(23));
    state.last_success.insert(Source::RecentlyPlayed, now());
    assert!(
        !config.is_due(Source::TopTracks, &state, now()),
        "top lists once a day"
    );
    assert!(config.is_due(Source::TopTracks, &state, now() + chrono::TimeDelta::hours(1)));
    assert!(config.is_due(Source::RecentlyPlayed, &state, now()), "every run");
    let custom = SourcesConfig {
        min_interval_secs: BTreeMap::from([(Source::TopTracks, 60)]),
        ..SourcesConfig::default()
    };
    assert!(custom.is_due(Source::TopTracks, &state, now()));
}

#[test]
fn a_pending_library_backfill_makes_saved_tracks_due_on_every_run() {
    let config = SourcesConfig::default();
    let mut state = State::default();
    state.last_success.insert(Source::SavedTracks, now());
    assert!(
        !config.is_due(Source::SavedTracks, &state, now()),
        "hourly by default"
    );
    state.saved_tracks_backfill_before =
        schemas::Timestamp::from_datetime(now() - chrono::TimeDelta::days(400));
    assert!(
        config.is_due(Source::SavedTracks, &state, now()),
        "the backfill continues"
    );
    let disabled = SourcesConfig {
        enabled: vec![Source::RecentlyPlayed],
        ..SourcesConfig::default()
    };
    assert!(
        !disabled.is_due(Source::SavedTracks, &state, now()),
        "unless the source is off"
    );
}

#[test]
fn sources_config_rejects_unknown_keys() {
    let err = serde_json::from_str::<SourcesConfig>(r#"{"search_query": ["x"]}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `search_query`"), "{err}");
    let config: SourcesConfig =
        serde_json::from_str(r#"{"enabled": ["search"], "min_interval_secs": {"search": 5}}"#).unwrap();
    assert_eq!(config.min_interval(Source::Search), Duration::from_secs(5));
}
