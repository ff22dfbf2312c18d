//! A small lake as the local Firehose writes it: Parquet (snappy) with the Arrow schema of
//! `schemas::arrow::arrow_schema()`, one file per `processed/source=<source>/dt=<dt>/` folder and
//! delivery, named as Firehose names converted objects. Rows are `track_observation` JSON objects,
//! the very records firehose-transform emits, decoded with the Arrow schema.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use schemas::record_key::{record_key, Identity};
use schemas::{Source, Timestamp};
use serde_json::{json, Value};

/// One observation: its source (a partition key, so not in the file) and its record.
#[derive(Debug, Clone)]
pub struct Obs {
    pub source: &'static str,
    pub record: Value,
}

impl Obs {
    /// The UTC date of event_at: the `dt` partition.
    pub fn dt(&self) -> String {
        self.record["event_at"].as_str().expect("event_at")[..10].to_owned()
    }

    /// The same observation read again later (a Firehose retry or a resent batch): same key.
    pub fn copy_observed_at(&self, observed_at: &str) -> Obs {
        let mut c = self.clone();
        c.record["observed_at"] = json!(observed_at);
        c
    }
}

/// A catalog track of the tests: id, name, primary artist id and name, duration.
#[derive(Debug, Clone, Copy)]
pub struct Track {
    pub id: &'static str,
    pub name: &'static str,
    pub artist_id: &'static str,
    pub artist_name: &'static str,
    pub duration_ms: i32,
}

pub const T1: Track = Track {
    id: "4uLU6hMCjMI75M1A2tKUQC",
    name: "Hold On",
    artist_id: "0OdUWJ0sBjDrqHygGUXeCF",
    artist_name: "Band of Horses",
    duration_ms: 180_000,
};
pub const T2: Track = Track {
    id: "7lQ8MOhq6IN2w8EYcFNSUk",
    name: "The Funeral",
    artist_id: "0OdUWJ0sBjDrqHygGUXeCF",
    artist_name: "Band of Horses",
    duration_ms: 240_000,
};
pub const T3: Track = Track {
    id: "2takcwOaAZWiXQijPHIx7B",
    name: "Time to Pretend",
    artist_id: "0SwO7SWeDHJijQ3XNS7xEE",
    artist_name: "MGMT",
    duration_ms: 180_000,
};
pub const T4: Track = Track {
    id: "3AhXZa8sUQht0UEdBJgpGc",
    name: "Like a Rolling Stone",
    artist_id: "74ASZWbe4lXaubB36ztrGX",
    artist_name: "Bob Dylan",
    duration_ms: 180_000,
};
pub const T5: Track = Track {
    id: "0VjIjW4GlUZAMYd2vXMi3b",
    name: "Blinding Lights",
    artist_id: "1Xyo4u8uXC1ZmMpatF05PJ",
    artist_name: "The Weeknd",
    duration_ms: 200_000,
};

pub const USER: &str = "listener";

/// The key firehose-transform gives the observation (32 hex digits of a hash), so that the
/// dedupe view sorts keys of the form it sorts in a real lake.
fn key(
    source: Source,
    track_uri: &str,
    context: Option<(&str, i32)>,
    event_at: &str,
    observed_at: &str,
) -> String {
    let at = |text: &str| Timestamp::parse(text).expect("a test timestamp");
    let identity = match context {
        None => Identity::Event {
            track_uri,
            event_at: at(event_at),
        },
        Some((context_id, position)) => Identity::Snapshot {
            track_uri,
            context_id: Some(context_id),
            position: Some(position),
            observed_at: at(observed_at),
        },
    };
    record_key(source, Some(USER), identity)
}

/// The uri Spotify gives a local file (no track id).
fn local_uri(name: &str) -> String {
    format!("spotify:local:Unknown:{name}:{name}:200")
}

/// An observation of `track` keyed from the same fields: `context` is the playlist id or top-list
/// range with the position, for the sources keyed by snapshot.
fn base(
    track: Track,
    source: Source,
    context: Option<(&str, i32)>,
    event_at: &str,
    observed_at: &str,
) -> Value {
    let uri = format!("spotify:track:{}", track.id);
    json!({
        "record_key": key(source, &uri, context, event_at, observed_at),
        "event_at": event_at,
        "observed_at": observed_at,
        "user_id": USER,
        "track_id": track.id,
        "track_uri": uri,
        "track_name": track.name,
        "duration_ms": track.duration_ms,
        "explicit": false,
        "popularity": null,
        "isrc": "USRC17607839",
        "is_local": false,
        "disc_number": 1,
        "track_number": 3,
        "album_id": "6akEvsycLGftJxYudPjmqK",
        "album_name": "Everything All the Time",
        "album_type": "album",
        "album_release_date": "2006-03-21",
        "album_release_date_precision": "day",
        "album_total_tracks": 10,
        "album_image_url": "https://i.scdn.co/image/ab67616d0000b273aaaa",
        "artist_ids": [track.artist_id],
        "artist_names": [track.artist_name],
        "primary_artist_id": track.artist_id,
        "primary_artist_name": track.artist_name
    })
}

/// A play at `played_at`, read by the producer a few minutes later.
pub fn play(track: Track, played_at: &str) -> Obs {
    let mut r = base(track, Source::RecentlyPlayed, None, played_at, played_at);
    r["observed_at"] = json!(later(played_at));
    r["play_context_type"] = json!("playlist");
    r["play_context_uri"] = json!("spotify:playlist:37i9dQZF1DXcBWIGoYBM5M");
    Obs {
        source: "recently_played",
        record: r,
    }
}

/// A play of a local file: no track id, no artist id.
pub fn local_play(name: &str, played_at: &str) -> Obs {
    let mut o = play(T1, played_at);
    let uri = local_uri(name);
    o.record["record_key"] = json!(key(Source::RecentlyPlayed, &uri, None, played_at, played_at));
    for k in [
        "track_id",
        "isrc",
        "album_id",
        "album_type",
        "album_release_date",
        "album_release_date_precision",
        "album_image_url",
        "primary_artist_id",
        "disc_number",
        "track_number",
        "album_total_tracks",
    ] {
        o.record[k] = Value::Null;
    }
    o.record["track_uri"] = json!(uri);
    o.record["track_name"] = json!(name);
    o.record["is_local"] = json!(true);
    o.record["artist_ids"] = json!([null]);
    o.record["artist_names"] = json!(["Unknown"]);
    o.record["primary_artist_name"] = json!("Unknown");
    o
}

/// An entry of a top list read at `observed_at` (event time = observation time).
pub fn top(track: Track, time_range: &str, rank: i32, observed_at: &str, popularity: Option<i32>) -> Obs {
    let mut r = base(
        track,
        Source::TopTracks,
        Some((time_range, rank)),
        observed_at,
        observed_at,
    );
    r["context_id"] = json!(time_range);
    r["position"] = json!(rank);
    r["popularity"] = json!(popularity);
    Obs {
        source: "top_tracks",
        record: r,
    }
}

/// A playlist entry of snapshot `snapshot_id` read at `observed_at`, added at `added_at`. An entry
/// is an observation of the snapshot: its event_at (and `dt`) is `observed_at`.
pub fn entry(
    track: Track,
    playlist: &str,
    snapshot_id: &str,
    position: i32,
    added_at: &str,
    observed_at: &str,
) -> Obs {
    let mut r = base(
        track,
        Source::Playlist,
        Some((playlist, position)),
        observed_at,
        observed_at,
    );
    r["added_at"] = json!(added_at);
    r["context_id"] = json!(playlist);
    r["position"] = json!(position);
    r["snapshot_id"] = json!(snapshot_id);
    r["added_by"] = json!(USER);
    Obs {
        source: "playlist",
        record: r,
    }
}

/// A local file in a playlist.
pub fn local_entry(
    name: &str,
    playlist: &str,
    snapshot_id: &str,
    position: i32,
    added_at: &str,
    observed_at: &str,
) -> Obs {
    let mut o = entry(T1, playlist, snapshot_id, position, added_at, observed_at);
    let l = local_play(name, added_at);
    for k in [
        "track_id",
        "track_uri",
        "track_name",
        "is_local",
        "artist_ids",
        "artist_names",
        "primary_artist_id",
        "primary_artist_name",
        "album_id",
    ] {
        o.record[k] = l.record[k].clone();
    }
    o.record["record_key"] = json!(key(
        Source::Playlist,
        &local_uri(name),
        Some((playlist, position)),
        observed_at,
        observed_at
    ));
    o
}

/// A saved track, added at `added_at`.
pub fn saved(track: Track, added_at: &str, observed_at: &str) -> Obs {
    let mut r = base(track, Source::SavedTracks, None, added_at, observed_at);
    r["added_at"] = json!(added_at);
    Obs {
        source: "saved_tracks",
        record: r,
    }
}

fn later(t: &str) -> String {
    // Five minutes after a `YYYY-MM-DDTHH:MM:SS.fffZ` time; tests only read it as "later".
    let parsed = chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339");
    (parsed + chrono::Duration::minutes(5))
        .to_utc()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Decodes records with the lake's Arrow schema, as the Firehose's JSON to Parquet step does.
pub fn batch(records: &[&Value]) -> RecordBatch {
    let schema = Arc::new(schemas::arrow::arrow_schema());
    let mut decoder = arrow::json::ReaderBuilder::new(schema)
        .build_decoder()
        .expect("decoder");
    decoder.serialize(records).expect("records fit the schema");
    decoder.flush().expect("flush").expect("rows")
}

/// Writes one Parquet file as Firehose names it into `dir`.
pub fn write_parquet(dir: &Path, n: usize, batch: &RecordBatch) {
    std::fs::create_dir_all(dir).expect("partition folder");
    let name = format!(
        "tracklake-track-observations-1-2026-11-30-10-00-00-{n:08x}-1b2c-4d5e-8f90-0123456789ab.parquet"
    );
    let file = File::create(dir.join(name)).expect("create");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// Writes the observations as a lake under `root`: one file per partition, or per partition and
/// `deliveries` group, so some partitions hold several files.
pub fn write_lake(root: &Path, observations: &[Obs]) {
    let mut partitions: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for o in observations {
        partitions
            .entry((o.source.to_owned(), o.dt()))
            .or_default()
            .push(&o.record);
    }
    std::fs::create_dir_all(root.join("processed")).expect("processed");
    for (n, ((source, dt), records)) in partitions.into_iter().enumerate() {
        let dir = root
            .join("processed")
            .join(format!("source={source}"))
            .join(format!("dt={dt}"));
        // Two files when a partition has more than one record: as two deliveries would.
        let mid = records.len() / 2;
        if mid > 0 {
            write_parquet(&dir, 2 * n, &batch(&records[..mid]));
            write_parquet(&dir, 2 * n + 1, &batch(&records[mid..]));
        } else {
            write_parquet(&dir, 2 * n, &batch(&records));
        }
    }
}

/// A play imported from a privacy export's extended streaming history: it ended at `ts` after
/// `ms_played` ms. As the importer writes it: no user, the track id and names, no duration, no
/// artist id; the export's own fields set to a finished play on a desktop.
pub fn export_play(track: Track, ts: &str, ms_played: i32) -> Obs {
    let uri = format!("spotify:track:{}", track.id);
    let record_key = record_key(
        Source::StreamingHistory,
        None,
        Identity::ExportPlay {
            track: &uri,
            ended_at: Timestamp::parse(ts).expect("a test timestamp"),
            ms_played,
        },
    );
    Obs {
        source: "streaming_history",
        record: json!({
            "record_key": record_key,
            "event_at": ts,
            "observed_at": later(ts),
            "track_id": track.id,
            "track_uri": uri,
            "track_name": track.name,
            "album_name": "Everything All the Time",
            "artist_ids": [],
            "artist_names": [track.artist_name],
            "primary_artist_name": track.artist_name,
            "ms_played": ms_played,
            "skipped": false,
            "reason_start": "trackdone",
            "reason_end": "trackdone",
            "shuffle": false,
            "offline": false,
            "incognito_mode": false,
            "platform": "windows",
            "conn_country": "SE",
            "export_file": "Streaming_History_Audio_2026.json"
        }),
    }
}

/// A play imported from the account data's streaming history: names only (no track id, no
/// URI), none of the extended history's fields but the time played.
pub fn account_play(track: Track, ts: &str, ms_played: i32) -> Obs {
    let mut o = export_play(track, ts, ms_played);
    let names = format!("{}\u{1f}{}", track.artist_name, track.name);
    o.record["record_key"] = json!(record_key(
        Source::StreamingHistory,
        None,
        Identity::ExportPlay {
            track: &names,
            ended_at: Timestamp::parse(ts).expect("a test timestamp"),
            ms_played,
        },
    ));
    for k in [
        "track_id",
        "track_uri",
        "album_name",
        "skipped",
        "reason_start",
        "reason_end",
        "shuffle",
        "offline",
        "incognito_mode",
        "platform",
        "conn_country",
    ] {
        o.record[k] = Value::Null;
    }
    o.record["export_file"] = json!("StreamingHistory_music_0.json");
    o
}
