//! The normalization rules, each pinned by a test on a small envelope.

use crate::support::one;
use firehose_transform::sample::track;
use firehose_transform::RecordResult::{Dropped, Ok as Kept, ProcessingFailed};
use serde_json::{json, Value};

const OBSERVED: &str = "2026-11-24T08:00:00.000Z";

fn top(track: Value, rank: u32, observed_at: &str) -> Value {
    json!({"v": 1, "source": "top_tracks", "observed_at": observed_at, "user_id": "alice",
           "context": {"time_range": "short_term", "rank": rank}, "spotify": track})
}

fn played(track: Value, played_at: &str, observed_at: &str) -> Value {
    json!({"v": 1, "source": "recently_played", "observed_at": observed_at, "user_id": "alice",
           "context": {"played_at": played_at}, "spotify": {"track": track, "played_at": played_at}})
}

fn kept(envelope: &Value) -> Value {
    let (result, record) = one(envelope);
    assert_eq!(result, Kept, "expected Ok for {envelope}");
    record.unwrap()
}

#[test]
fn item_is_read_before_track() {
    let mut other = track(2);
    other["name"] = json!("the old key");
    let env = json!({"v": 1, "source": "playlist", "observed_at": OBSERVED,
        "context": {"playlist_id": "p", "position": 0},
        "spotify": {"added_at": "2025-01-01T00:00:00Z", "item": track(1), "track": other}});
    assert_eq!(kept(&env)["track_name"], "Track number 1");
}

#[test]
fn every_artist_is_kept_in_order() {
    let r = kept(&top(track(5), 1, OBSERVED));
    assert_eq!(r["artist_names"], json!(["Artist 5", "Featured Artist"]));
    assert_eq!(
        r["artist_ids"],
        json!(["ar00000000000000000005", "0000000000000000000002"])
    );
    assert_eq!(r["primary_artist_name"], "Artist 5");
}

#[test]
fn release_dates_of_each_precision() {
    for (text, date, precision) in [
        ("1998", json!("1998-01-01"), json!("year")),
        ("1998-05", json!("1998-05-01"), json!("month")),
        ("1998-05-12", json!("1998-05-12"), json!("day")),
        ("0000", Value::Null, Value::Null),
        ("1998-13", Value::Null, Value::Null),
        ("soon", Value::Null, Value::Null),
    ] {
        let mut t = track(1);
        t["album"]["release_date"] = json!(text);
        let r = kept(&top(t, 1, OBSERVED));
        assert_eq!(
            (&r["album_release_date"], &r["album_release_date_precision"]),
            (&date, &precision),
            "{text}"
        );
    }
}

#[test]
fn missing_popularity_is_null_never_zero() {
    let r = kept(&top(track(1), 1, OBSERVED));
    assert_eq!(r["popularity"], Value::Null);
    let mut t = track(1);
    t["popularity"] = json!(0);
    assert_eq!(
        kept(&top(t, 1, OBSERVED))["popularity"],
        0,
        "a real 0 from an old app stays 0"
    );
}

#[test]
fn timestamps_are_written_as_openx_serde_reads_them() {
    let r = kept(&played(track(1), "2026-11-23T23:59:59.25+00:00", OBSERVED));
    assert_eq!(r["event_at"], "2026-11-23T23:59:59.250Z");
    assert_eq!(r["observed_at"], OBSERVED);
}

#[test]
fn event_time_decides_the_dt_partition() {
    // Played just before midnight UTC, observed the next morning: dt is the day of the play.
    let env = played(track(1), "2026-11-23T23:59:59.250Z", OBSERVED);
    let mut line = serde_json::to_vec(&env).unwrap();
    line.push(b'\n');
    let resp = crate::support::response(&firehose_transform::sample::event([line]));
    let keys = &resp.records[0].metadata.as_ref().unwrap().partition_keys;
    assert_eq!(keys["dt"], "2026-11-23");
    assert_eq!(keys["source"], "recently_played");
}

#[test]
fn record_key_is_the_same_for_the_same_play_seen_twice() {
    let a = kept(&played(track(1), "2026-11-23T10:00:00Z", "2026-11-23T10:05:00Z"));
    let b = kept(&played(track(1), "2026-11-23T10:00:00Z", "2026-11-23T11:05:00Z"));
    assert_eq!(
        a["record_key"], b["record_key"],
        "a play is one observation whenever it is read"
    );
    let c = kept(&played(track(1), "2026-11-23T10:04:00Z", "2026-11-23T10:05:00Z"));
    assert_ne!(
        a["record_key"], c["record_key"],
        "another play of the same track is another observation"
    );
}

#[test]
fn record_key_separates_snapshots_and_ranks() {
    let a = kept(&top(track(1), 1, "2026-11-23T08:00:00Z"));
    let again = kept(&top(track(1), 1, "2026-11-23T08:00:00Z"));
    let next_day = kept(&top(track(1), 1, "2026-11-24T08:00:00Z"));
    let other_rank = kept(&top(track(1), 2, "2026-11-23T08:00:00Z"));
    assert_eq!(
        a["record_key"], again["record_key"],
        "a resent record keeps its key"
    );
    assert_ne!(a["record_key"], next_day["record_key"]);
    assert_ne!(a["record_key"], other_rank["record_key"]);
    assert_eq!(a["record_key"].as_str().unwrap().len(), 32);
}

#[test]
fn local_files_have_no_ids_and_no_popularity() {
    let local = json!({"type": "track", "id": null, "uri": "spotify:local:A:B:C:193", "name": "C", "duration_ms": 193000,
        "explicit": false, "popularity": 0, "is_local": true,
        "album": {"id": null, "name": "B", "album_type": null, "release_date": null, "images": []},
        "artists": [{"id": null, "name": "A"}]});
    let env = json!({"v": 1, "source": "playlist", "observed_at": OBSERVED,
        "context": {"playlist_id": "p", "position": 0},
        "spotify": {"added_at": "2025-01-01T00:00:00Z", "is_local": true, "item": local}});
    let r = kept(&env);
    assert_eq!(
        (&r["track_id"], &r["is_local"], &r["popularity"]),
        (&Value::Null, &json!(true), &Value::Null)
    );
    assert_eq!(r["artist_ids"], json!([null]));
    assert_eq!(r["primary_artist_id"], Value::Null);
    assert_eq!(r["album_id"], Value::Null);
}

#[test]
fn episodes_and_removed_tracks_are_dropped() {
    let episode =
        json!({"type": "episode", "id": "e", "name": "Ep", "duration_ms": 1, "uri": "spotify:episode:e"});
    let playlist = |item: Value| {
        json!({"v": 1, "source": "playlist", "observed_at": OBSERVED,
               "context": {"playlist_id": "p", "position": 0}, "spotify": {"added_at": null, "item": item}})
    };
    assert_eq!(one(&playlist(episode.clone())).0, Dropped);
    assert_eq!(one(&playlist(Value::Null)).0, Dropped);
    assert_eq!(one(&played(episode, "2026-11-23T10:00:00Z", OBSERVED)).0, Dropped);
    let search_null = json!({"v": 1, "source": "search", "observed_at": OBSERVED,
        "context": {"query": "q", "rank": 1}, "spotify": null});
    assert_eq!(one(&search_null).0, Dropped);
}

fn playlist_entry(added_at: Value, position: u32, observed_at: &str) -> Value {
    json!({"v": 1, "source": "playlist", "observed_at": observed_at, "user_id": "alice",
        "context": {"playlist_id": "p", "snapshot_id": "s", "position": position},
        "spotify": {"added_at": added_at, "added_by": null, "track": track(1)}})
}

fn partition_keys(envelopes: &[Value]) -> Vec<(String, String)> {
    let lines = envelopes.iter().map(|env| {
        let mut line = serde_json::to_vec(env).unwrap();
        line.push(b'\n');
        line
    });
    let resp = crate::support::response(&firehose_transform::sample::event(lines));
    resp.records
        .iter()
        .map(|r| {
            let keys = &r.metadata.as_ref().unwrap().partition_keys;
            (keys["source"].clone(), keys["dt"].clone())
        })
        .collect()
}

#[test]
fn playlist_entry_is_an_observation_of_the_snapshot() {
    // event_at is the observation time; the added time is kept in added_at.
    let r = kept(&playlist_entry(json!("2019-08-30T17:45:00Z"), 4, OBSERVED));
    assert_eq!(r["event_at"], OBSERVED);
    assert_eq!(r["added_at"], "2019-08-30T17:45:00.000Z");
    assert_eq!(
        (&r["context_id"], &r["position"], &r["snapshot_id"]),
        (&json!("p"), &json!(4), &json!("s"))
    );
    // Old entries have a null added_at: it stays null.
    let old = kept(&playlist_entry(Value::Null, 5, OBSERVED));
    assert_eq!(old["event_at"], OBSERVED);
    assert_eq!(old["added_at"], Value::Null);
}

#[test]
fn playlist_snapshot_lands_in_one_partition() {
    // Entries added over years, read in one snapshot: one `dt`, the day of the observation,
    // not one per day an entry was added (Firehose allows 500 active partitions per buffer).
    let entries: Vec<Value> = (0..40)
        .map(|i| {
            let added = format!("{}-0{}-1{}T12:00:00Z", 2010 + i / 3, 1 + i % 9, i % 10);
            playlist_entry(json!(added), i, "2026-11-23T23:59:59Z")
        })
        .collect();
    let keys = partition_keys(&entries);
    assert_eq!(keys.len(), 40);
    assert!(
        keys.iter()
            .all(|k| k == &("playlist".to_string(), "2026-11-23".to_string())),
        "{keys:?}"
    );
}

#[test]
fn playlist_record_key_does_not_depend_on_added_at() {
    // The key of a snapshot entry is its playlist, place and observation time, as before added_at
    // left event_at: the same observation keeps its key, a resent envelope dedupes.
    let a = kept(&playlist_entry(json!("2019-08-30T17:45:00Z"), 4, OBSERVED));
    let b = kept(&playlist_entry(json!("2021-01-01T00:00:00Z"), 4, OBSERVED));
    let c = kept(&playlist_entry(Value::Null, 4, OBSERVED));
    assert_eq!(a["record_key"], b["record_key"]);
    assert_eq!(a["record_key"], c["record_key"]);
    let next_run = kept(&playlist_entry(
        json!("2019-08-30T17:45:00Z"),
        4,
        "2026-11-25T08:00:00Z",
    ));
    assert_ne!(a["record_key"], next_run["record_key"]);
}

#[test]
fn saved_track_event_time_and_added_at_are_the_save_time() {
    let env = json!({"v": 1, "source": "saved_tracks", "observed_at": OBSERVED, "user_id": "alice",
        "spotify": {"added_at": "2019-08-30T17:45:00Z", "track": track(1)}});
    let r = kept(&env);
    assert_eq!(r["event_at"], "2019-08-30T17:45:00.000Z");
    assert_eq!(r["added_at"], "2019-08-30T17:45:00.000Z");
    assert_eq!(partition_keys(&[env])[0].1, "2019-08-30");
}

#[test]
fn added_at_is_null_for_plays_top_lists_and_search() {
    let search = json!({"v": 1, "source": "search", "observed_at": OBSERVED,
        "context": {"query": "q", "rank": 1}, "spotify": track(1)});
    // A play-history object carries no added_at, and one sent anyway is not read.
    let mut play = played(track(1), "2026-11-23T10:00:00Z", OBSERVED);
    play["spotify"]["added_at"] = json!("2019-08-30T17:45:00Z");
    for env in [play, top(track(1), 1, OBSERVED), search] {
        assert_eq!(kept(&env)["added_at"], Value::Null, "{env}");
    }
}

#[test]
fn missing_source_context_fails_with_a_reason() {
    let env = json!({"v": 1, "source": "search", "observed_at": OBSERVED, "context": {"rank": 1}, "spotify": track(1)});
    assert_eq!(one(&env).0, ProcessingFailed);
    let env = json!({"v": 1, "source": "playlist", "observed_at": OBSERVED,
        "context": {"position": 0}, "spotify": {"item": track(1)}});
    assert_eq!(one(&env).0, ProcessingFailed);
}

#[test]
fn rank_beyond_an_int_fails_instead_of_wrapping() {
    let env = top(track(1), u32::MAX, OBSERVED);
    assert_eq!(one(&env).0, ProcessingFailed);
}

#[test]
fn only_schema_fields_are_written() {
    let r = kept(&top(track(1), 1, OBSERVED));
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = schemas::FIELD_NAMES.to_vec();
    expected.sort();
    assert_eq!(keys, expected);
}

#[test]
fn widest_image_or_first_when_sizes_are_null() {
    let r = kept(&top(track(1), 1, OBSERVED));
    assert!(r["album_image_url"]
        .as_str()
        .unwrap()
        .starts_with("https://i.scdn.co/image/ab67616d0000b273"));
    let mut t = track(1);
    t["album"]["images"] =
        json!([{"url": "first", "width": null, "height": null}, {"url": "second", "width": null}]);
    assert_eq!(kept(&top(t, 1, OBSERVED))["album_image_url"], "first");
}

#[test]
fn emf_document_carries_every_count() {
    let event =
        firehose_transform::sample::event([b"{".to_vec(), firehose_transform::sample::envelope_line(3)]);
    let processed = firehose_transform::process(&event);
    let emf = processed.summary.emf(1_795_500_000_000, "fn");
    let metrics = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
    for m in metrics {
        let name = m["Name"].as_str().unwrap();
        assert!(
            emf[name].is_u64(),
            "metric {name} has a value at the top level, as EMF requires"
        );
    }
    assert_eq!(emf["Records"], 2);
    assert_eq!(emf["RecordsOk"], 1);
    assert_eq!(emf["Reason.invalid_json"], 1);
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "tracklake/firehose-transform"
    );
}

/// Found by fuzzing (see `fuzz/`): timestamps whose UTC year left 1-9999 produced an Ok record
/// that failed schema validation and a malformed `dt`. They are now rejected with a reason.
#[test]
fn regression_timestamps_outside_years_1_to_9999_are_rejected() {
    let out_of_range_observed = json!({"v": 1, "source": "top_tracks", "observed_at": "0000-01-01T00:30:00+01:00",
        "context": {"time_range": "short_term", "rank": 1},
        "spotify": {"uri": "spotify:track:x", "name": "t", "duration_ms": 1, "explicit": false}});
    assert_eq!(one(&out_of_range_observed).0, ProcessingFailed);
    let out_of_range_added = json!({"v": 1, "source": "saved_tracks", "observed_at": OBSERVED,
        "spotify": {"added_at": "9999-12-31T23:30:00-01:00",
                    "track": {"uri": "spotify:track:x", "name": "t", "duration_ms": 1, "explicit": false}}});
    assert_eq!(one(&out_of_range_added).0, ProcessingFailed);
}

/// JSON is UTF-8 (RFC 8259). A record with a byte sequence that is not UTF-8 fails as invalid JSON
/// and says so, even when the bad bytes sit in a field the transform does not read.
#[test]
fn a_record_that_is_not_utf8_fails_as_invalid_json() {
    let mut env = top(track(1), 1, OBSERVED);
    env["spotify"]["href"] = json!("MARK");
    let mut line = serde_json::to_vec(&env).unwrap();
    assert_eq!(
        one(&env).0,
        Kept,
        "the record is good before the bad byte goes in"
    );
    let at = line.windows(4).position(|w| w == b"MARK").unwrap();
    line[at + 1] = 0xff;
    let failure = firehose_transform::normalize::normalize_bytes(&line).unwrap_err();
    assert_eq!(
        failure.reason,
        firehose_transform::normalize::FailReason::InvalidJson
    );
    assert!(failure.detail.contains("UTF-8"), "{}", failure.detail);
    let r = crate::support::response(&firehose_transform::sample::event([line]))
        .records
        .remove(0);
    assert_eq!(r.result, ProcessingFailed);
}

/// A field value can be as large as the record (up to 1,000 KiB). The reason's detail names the
/// field and shows the start of the value with its size, never the whole value.
#[test]
fn a_900_kb_field_value_is_bounded_in_the_reason() {
    let huge = "x".repeat(900_000);
    let mut unsupported_type = track(1);
    unsupported_type["type"] = json!(huge);
    let mut wrong_kind = track(1);
    wrong_kind["popularity"] = json!(huge);
    for spotify in [unsupported_type, wrong_kind] {
        let env = top(spotify, 1, OBSERVED);
        let line = serde_json::to_vec(&env).unwrap();
        let failure = firehose_transform::normalize::normalize_bytes(&line).unwrap_err();
        let limit = schemas::echo::MAX_ECHO_CHARS;
        assert!(
            failure.detail.len() <= limit + 40,
            "detail of {} bytes: {}…",
            failure.detail.len(),
            &failure.detail[..300]
        );
        assert!(failure.detail.ends_with("bytes)"), "{}", failure.detail);
        assert_eq!(one(&env).0, ProcessingFailed);
    }
}

/// Asserts that `envelope` is `ProcessingFailed`, counted as `Reason.schema_violation` (the
/// metric an operator sees), and returns the logged detail.
fn schema_violation(envelope: &Value) -> String {
    assert_eq!(
        one(envelope).0,
        ProcessingFailed,
        "expected ProcessingFailed for {envelope}"
    );
    let event = firehose_transform::sample::event([serde_json::to_vec(envelope).unwrap()]);
    let processed = firehose_transform::process(&event);
    let emf = processed.summary.emf(1_795_500_000_000, "fn");
    assert_eq!(emf["Reason.schema_violation"], 1, "{envelope}");
    processed.summary.failures[0].detail.clone()
}

#[test]
fn duration_ms_of_minus_one_is_processing_failed() {
    let mut t = track(1);
    t["duration_ms"] = json!(-1);
    let detail = schema_violation(&top(t, 1, OBSERVED));
    assert!(detail.contains("`duration_ms` -1 is negative"), "{detail}");
    let mut t = track(1);
    t["duration_ms"] = json!(0);
    assert_eq!(kept(&top(t, 1, OBSERVED))["duration_ms"], 0, "0 ms is a length");
}

#[test]
fn popularity_of_101_is_processing_failed() {
    for bad in [101, -1] {
        let mut t = track(1);
        t["popularity"] = json!(bad);
        let detail = schema_violation(&top(t, 1, OBSERVED));
        assert!(
            detail.contains(&format!("`popularity` {bad} is outside")),
            "{detail}"
        );
    }
    for good in [0, 100] {
        let mut t = track(1);
        t["popularity"] = json!(good);
        assert_eq!(kept(&top(t, 1, OBSERVED))["popularity"], good);
    }
}

#[test]
fn played_at_9999_12_31_is_processing_failed_not_an_invisible_partition() {
    let detail = schema_violation(&played(track(1), "9999-12-31T12:00:00Z", OBSERVED));
    assert!(
        detail.contains("event date 9999-12-31 is outside the dt partitions"),
        "{detail}"
    );
    // A snapshot source takes its event time from observed_at: the same rule holds.
    schema_violation(&top(track(1), 1, "9999-12-31T12:00:00Z"));
}

#[test]
fn event_dates_before_the_projections_first_day_are_processing_failed() {
    // schemas/glue/track_observations.json: projection.dt.range = 2006-01-01,NOW.
    assert_eq!(
        firehose_transform::normalize::first_partition_date().to_string(),
        "2006-01-01"
    );
    let detail = schema_violation(&played(track(1), "2005-12-31T23:59:59.999Z", OBSERVED));
    assert!(detail.contains("event date 2005-12-31"), "{detail}");
    kept(&played(track(1), "2006-01-01T00:00:00Z", OBSERVED));
}

#[test]
fn event_dates_up_to_tomorrow_are_kept_for_clock_skew() {
    let now = chrono::Utc::now();
    let allowed = firehose_transform::normalize::FUTURE_DAYS_ALLOWED;
    let at = |days: i64| (now + chrono::TimeDelta::days(days)).to_rfc3339();
    kept(&played(track(1), &at(0), &at(0)));
    kept(&played(track(1), &at(allowed), &at(0)));
    // Two days on, so the test holds when the UTC date changes while it runs.
    schema_violation(&played(track(1), &at(allowed + 2), &at(0)));
}

#[test]
fn streaming_history_envelopes_are_refused_with_what_to_do() {
    // `tracklake import` writes imported plays to the lake itself; through the stream they would
    // bypass its merge and land twice.
    let env = json!({"v": 1, "source": "streaming_history", "observed_at": OBSERVED,
        "context": {"played_at": OBSERVED}, "spotify": {"track": track(1), "played_at": OBSERVED}});
    assert_eq!(one(&env).0, ProcessingFailed);
    let event = firehose_transform::sample::event([serde_json::to_vec(&env).unwrap()]);
    let processed = firehose_transform::process(&event);
    assert_eq!(
        processed.summary.emf(1_795_500_000_000, "fn")["Reason.invalid_envelope"],
        1
    );
    assert!(
        processed.summary.failures[0].detail.contains("tracklake import"),
        "{}",
        processed.summary.failures[0].detail
    );
}
