//! Realistic sample envelopes and Firehose events, shared by the tests, the benchmark and the
//! fuzz target. The Spotify objects follow the 2026 shapes of the vendored OpenAPI description
//! (`stand-ins/spotify-sandbox/openapi/spotify-web-api.yml`)
//! as a Development Mode app receives them (no popularity, no available_markets).

use serde_json::{json, Value};

use crate::firehose::{FirehoseEvent, FirehoseRecord};

const RELEASE_DATES: [(&str, &str); 3] = [("1998", "year"), ("1998-05", "month"), ("2021-11-12", "day")];

/// A full track object, as `GET /tracks/{id}` returns it to a new app.
pub fn track(n: usize) -> Value {
    json!({
        "album": {
            "album_type": "album",
            "artists": [{"external_urls": {"spotify": format!("https://open.spotify.com/artist/ar{n:020}")},
                         "href": format!("https://api.spotify.com/v1/artists/ar{n:020}"),
                         "id": format!("ar{n:020}"), "name": format!("Artist {n}"), "type": "artist",
                         "uri": format!("spotify:artist:ar{n:020}")}],
            "external_urls": {"spotify": format!("https://open.spotify.com/album/al{n:020}")},
            "href": format!("https://api.spotify.com/v1/albums/al{n:020}"),
            "id": format!("al{n:020}"),
            "images": [
                {"height": 640, "url": format!("https://i.scdn.co/image/ab67616d0000b273{n:024x}"), "width": 640},
                {"height": 300, "url": format!("https://i.scdn.co/image/ab67616d00001e02{n:024x}"), "width": 300},
                {"height": 64, "url": format!("https://i.scdn.co/image/ab67616d00004851{n:024x}"), "width": 64}
            ],
            "is_playable": true,
            "name": format!("Album {n}"),
            "release_date": RELEASE_DATES[n % 3].0,
            "release_date_precision": RELEASE_DATES[n % 3].1,
            "total_tracks": 12,
            "type": "album",
            "uri": format!("spotify:album:al{n:020}")
        },
        "artists": [
            {"external_urls": {"spotify": format!("https://open.spotify.com/artist/ar{n:020}")},
             "href": format!("https://api.spotify.com/v1/artists/ar{n:020}"),
             "id": format!("ar{n:020}"), "name": format!("Artist {n}"), "type": "artist",
             "uri": format!("spotify:artist:ar{n:020}")},
            {"external_urls": {"spotify": "https://open.spotify.com/artist/0000000000000000000002"},
             "href": "https://api.spotify.com/v1/artists/0000000000000000000002",
             "id": "0000000000000000000002", "name": "Featured Artist", "type": "artist",
             "uri": "spotify:artist:0000000000000000000002"}
        ],
        "disc_number": 1,
        "duration_ms": 180_000 + (n % 1000) as i64 * 97,
        "explicit": n.is_multiple_of(7),
        "external_ids": {"isrc": format!("USRC1{n:07}")},
        "external_urls": {"spotify": format!("https://open.spotify.com/track/tr{n:020}")},
        "href": format!("https://api.spotify.com/v1/tracks/tr{n:020}"),
        "id": format!("tr{n:020}"),
        "is_local": false,
        "is_playable": true,
        "name": format!("Track number {n}"),
        "preview_url": null,
        "track_number": (n % 12) + 1,
        "type": "track",
        "uri": format!("spotify:track:tr{n:020}")
    })
}

/// One envelope line (JSON and `\n`) of each source in turn, for the n-th observation.
pub fn envelope_line(n: usize) -> Vec<u8> {
    let observed_at = "2026-11-24T08:00:00.000Z";
    let played_at = format!("2026-11-{:02}T{:02}:{:02}:00.000Z", 1 + n % 23, n % 24, n % 60);
    let env = match n % 5 {
        0 => json!({"v": 1, "source": "recently_played", "observed_at": observed_at, "user_id": "listener",
                    "context": {"played_at": played_at},
                    "spotify": {"track": track(n), "played_at": played_at,
                                "context": {"type": "playlist", "uri": "spotify:playlist:pl0000000000000000001"}}}),
        1 => json!({"v": 1, "source": "playlist", "observed_at": observed_at, "user_id": "listener",
                    "context": {"playlist_id": "pl0000000000000000001", "snapshot_id": "MTcsYjQ5", "position": n % 50},
                    "spotify": {"added_at": "2025-03-01T12:00:00Z", "added_by": {"id": "listener", "type": "user"},
                                "is_local": false, "item": track(n), "track": track(n)}}),
        2 => json!({"v": 1, "source": "saved_tracks", "observed_at": observed_at, "user_id": "listener",
                    "spotify": {"added_at": played_at, "track": track(n)}}),
        3 => json!({"v": 1, "source": "top_tracks", "observed_at": observed_at, "user_id": "listener",
                    "context": {"time_range": "short_term", "rank": 1 + n % 50}, "spotify": track(n)}),
        _ => json!({"v": 1, "source": "search", "observed_at": observed_at,
                    "context": {"query": "genre:jazz year:1998", "rank": 1 + n % 10}, "spotify": track(n)}),
    };
    let mut line = serde_json::to_vec(&env).expect("JSON");
    line.push(b'\n');
    line
}

/// A Firehose event carrying the given record payloads.
pub fn event(payloads: impl IntoIterator<Item = Vec<u8>>) -> FirehoseEvent {
    FirehoseEvent {
        invocation_id: "00540a87-5050-496a-84e4-e7d92bbaf5e2".into(),
        delivery_stream_arn:
            "arn:aws:firehose:eu-west-1:123456789012:deliverystream/tracklake-track-observations".into(),
        region: "eu-west-1".into(),
        records: payloads
            .into_iter()
            .enumerate()
            .map(|(i, p)| FirehoseRecord {
                record_id: format!("49546986683135544286507457936321625675700192471156785154{i:08}"),
                approximate_arrival_timestamp: 1_764_000_000_000 + i as i64,
                data: base64_simd::STANDARD.encode_to_string(p),
            })
            .collect(),
    }
}

/// An event of realistic records whose JSON is about `target_bytes` long.
pub fn event_of_size(target_bytes: usize) -> FirehoseEvent {
    let mut payloads = Vec::new();
    let mut size = 200;
    let mut n = 0;
    while size < target_bytes {
        let line = envelope_line(n);
        size += line.len().div_ceil(3) * 4 + 140;
        payloads.push(line);
        n += 1;
    }
    payloads.pop();
    event(payloads)
}
