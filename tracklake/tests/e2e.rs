//! End to end, offline, every part real: the Spotify sandbox with its faults on ->
//! the real `tracklake` binary (reqwest client, `aws-sdk-firehose` sink) -> the local Firehose
//! with partial failures (raw backup, the firehose-transform processor, Parquet conversion from
//! the Glue table, dynamic partitioning) -> the lake -> the local Athena's SQL.
//!
//! What it pins down:
//! - the distinct `record_key`s in the Parquet equal the track observations the sandbox served,
//!   observation for observation; the episodes and removed tracks it served are exactly the
//!   records the transform dropped, counted per reason;
//! - the raw backup holds every record the producer sent (resent copies included);
//! - the Parquet schema equals the Glue definition; object paths follow the prefix template and
//!   each row sits in the partition of its own `source` and `dt`;
//! - nothing reached the error output.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, TimestampMillisecondType};
use chrono::{DateTime, TimeZone, Utc};
use firehose_transform::normalize::{normalize_bytes, Verdict};
use local_athena::LocalAthena;
use local_firehose::{FirehoseConfig, Output};
use spotify_sandbox::{Faults, Place, SandboxConfig, SourceKind};
use test_support::files::files_under;
use test_support::stand_ins::{firehose_endpoint_env, sandbox_env};
use tokio::process::Command;

/// The sandbox's clock: fixed, so the history, top lists and playlists are the same every run.
fn sandbox_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 18, 30, 0).unwrap()
}

fn faults() -> Faults {
    Faults {
        seed: 11,
        // Missing Retry-After: backoff with jitter (a waited Retry-After would only slow the test;
        // the producer's own tests cover the values).
        rate_limit_rate: 0.04,
        rate_limit_retry_after: None,
        server_error_rate: 0.04,
        expired_token_rate: 0.02,
        ..Faults::default()
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let file = dir.join("tracklake.toml");
    std::fs::write(
        &file,
        r#"
[spotify]
request_budget = 2000

[firehose]
target = "aws"
max_attempts = 8

[sources]
enabled = ["recently_played", "top_tracks", "saved_tracks", "playlist", "search"]
search_queries = ["love", "genre:rock"]
search_max_results = 60

# The test flushes the local Firehose after every run, so no partition stays active into the
# next one (tests/pacing.rs runs them within the buffer window instead).
[sources.pacing]
window_secs = 0
"#,
    )
    .unwrap();
    file
}

/// Every line of every gzip object under `lake/<prefix>`.
fn gzip_lines(lake: &Path, prefix: &str) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for file in files_under(&lake.join(prefix)) {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        assert!(
            text.ends_with(b"\n"),
            "{} does not end with a newline",
            file.display()
        );
        lines.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    lines
}

/// What identifies an observation in both the ledger and the lake.
type Identity = (String, String, String, Option<String>);

fn source_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::RecentlyPlayed => "recently_played",
        SourceKind::SavedTracks => "saved_tracks",
        SourceKind::TopTracks => "top_tracks",
        SourceKind::Playlist => "playlist",
        SourceKind::Search => "search",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_to_sql_every_served_track_lands_once_and_everything_else_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let sandbox = spotify_sandbox::start(SandboxConfig {
        seed: 7,
        now: Some(sandbox_now()),
        faults: faults(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let firehose = local_firehose::start(FirehoseConfig {
        output: Output::LocalDir(lake.clone()),
        fault_rate: 0.1,
        seed: 3,
        ..FirehoseConfig::default()
    })
    .await
    .unwrap();

    // A library saved over years arrives over several runs (the producer's per-run bound on
    // `dt` partitions); run until the report no longer says the backfill is pending. Between
    // runs the local Firehose flushes, as its buffer interval would between scheduled runs.
    let mut runs = 0;
    loop {
        runs += 1;
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
        sandbox_env(&mut command, &sandbox, dir.path());
        firehose_endpoint_env(&mut command, &firehose.endpoint())
            .arg("run")
            .arg("--config")
            .arg(write_config(dir.path()))
            .env("RUST_LOG", "info");
        let output = tokio::time::timeout(Duration::from_secs(240), command.output())
            .await
            .expect("one cycle finishes within 4 minutes")
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "tracklake run {runs} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        firehose.flush().await.unwrap();
        if !stdout.contains("library backfill pending") {
            break;
        }
        assert!(runs < 15, "the backfill does not end:\n{stdout}");
    }
    assert!(runs > 1, "the sandbox library should take more than one run");
    let stats = firehose.shutdown().await.unwrap();
    assert!(stats.is_accounted(), "{stats:?}");
    assert!(
        stats.records_refused > 0,
        "the fault switch refused nothing: {stats:?}"
    );
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    assert!(stats.errored.is_empty(), "records in the error output: {stats:?}");
    assert!(files_under(&lake.join("errors")).is_empty());

    let served = sandbox.served();
    let requests = sandbox.requests();
    sandbox.shutdown().await;
    // Faults were hit, or this test shows nothing about them.
    assert!(
        served.tracks().count() > 300,
        "{} tracks served",
        served.tracks().count()
    );
    for kind in [
        SourceKind::RecentlyPlayed,
        SourceKind::TopTracks,
        SourceKind::SavedTracks,
        SourceKind::Playlist,
        SourceKind::Search,
    ] {
        assert!(
            served.of(kind).count() > 0,
            "nothing served for {kind:?}; requests {requests:?}"
        );
    }

    // The raw backup: every record sent, as sent (resent copies included), and its distinct
    // lines are exactly the served observations (a resent envelope is byte for byte the same).
    let raw = gzip_lines(&lake, "raw");
    assert_eq!(
        raw.len() as u64,
        stats.records_received,
        "raw backup vs records received"
    );
    let distinct_raw: BTreeSet<&Vec<u8>> = raw.iter().collect();
    assert_eq!(
        distinct_raw.len(),
        served.len(),
        "distinct raw records vs served observations"
    );
    let mut dropped: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &distinct_raw {
        if let Verdict::Drop(reason) = normalize_bytes(line).expect("a raw record normalizes") {
            *dropped.entry(reason.as_str()).or_default() += 1;
        }
    }
    assert_eq!(
        dropped,
        served.dropped_by_reason(),
        "drops per reason vs what was served"
    );

    // The lake through SQL: one row per served track, observation for observation.
    let athena = LocalAthena::open(&lake).await.unwrap();
    let batches = athena
        .query(
            "SELECT record_key, source, dt, context_id, position, track_uri, event_at \
             FROM track_observations",
        )
        .await
        .unwrap();
    let mut keys = BTreeSet::new();
    let mut rows = 0;
    let mut in_lake: BTreeSet<Identity> = BTreeSet::new();
    for batch in &batches {
        for i in 0..batch.num_rows() {
            rows += 1;
            keys.insert(string(batch, "record_key", i).unwrap());
            let source = string(batch, "source", i).unwrap();
            let event_at = batch
                .column_by_name("event_at")
                .unwrap()
                .as_primitive_opt::<TimestampMillisecondType>()
                .map(|a| a.value(i))
                .expect("event_at is a millisecond timestamp");
            let event_date = Utc
                .timestamp_millis_opt(event_at)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string();
            assert_eq!(
                string(batch, "dt", i).unwrap(),
                event_date,
                "dt is the UTC date of event_at"
            );
            let position = batch
                .column_by_name("position")
                .unwrap()
                .as_primitive::<Int32Type>();
            let position = (!position.is_null(i)).then(|| position.value(i));
            let context = string(batch, "context_id", i).unwrap_or_default();
            let place = match source.as_str() {
                "recently_played" | "saved_tracks" => event_at.to_string(),
                _ => position.expect("snapshot sources have a position").to_string(),
            };
            in_lake.insert((source, context, place, string(batch, "track_uri", i)));
        }
    }
    let served_tracks: BTreeSet<Identity> = served
        .tracks()
        .map(|o| {
            let place = match &o.place {
                Place::Position(p) | Place::Rank(p) => p.to_string(),
                Place::PlayedAt(ms) | Place::AddedAt(ms) => ms.to_string(),
            };
            let context = match o.source {
                SourceKind::RecentlyPlayed | SourceKind::SavedTracks => String::new(),
                _ => o.context.clone(),
            };
            (source_name(o.source).to_string(), context, place, o.uri.clone())
        })
        .collect();
    let missing: Vec<_> = served_tracks.difference(&in_lake).take(5).collect();
    let extra: Vec<_> = in_lake.difference(&served_tracks).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "served but not in the lake: {missing:?}\nin the lake but not served: {extra:?}"
    );
    assert_eq!(
        keys.len(),
        served.tracks().count(),
        "distinct record_keys vs served tracks"
    );
    assert_eq!(
        rows as u64, stats.delivered,
        "rows in the lake vs records delivered"
    );
    let deduped = athena
        .query("SELECT count(*) AS n FROM track_observations_dedup")
        .await
        .unwrap();
    let n = deduped[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(
        n as usize,
        keys.len(),
        "the dedupe view keeps one row per record_key"
    );

    // Object layout and the Parquet schema.
    let glue = local_athena::GlueTable::track_observations().unwrap();
    let parquet_files: Vec<PathBuf> = files_under(&lake.join("processed"));
    assert!(!parquet_files.is_empty());
    let stream = schemas::delivery::settings().stream_name;
    for file in &parquet_files {
        let text = file
            .strip_prefix(lake.join("processed"))
            .unwrap()
            .to_string_lossy();
        let parts: Vec<&str> = text.split('/').collect();
        assert_eq!(parts.len(), 3, "processed/source=…/dt=…/object: {text}");
        assert!(
            parts[0].starts_with("source=") && parts[1].starts_with("dt="),
            "{text}"
        );
        assert!(
            chrono::NaiveDate::parse_from_str(&parts[1]["dt=".len()..], "%Y-%m-%d").is_ok(),
            "{text}"
        );
        let name = parts[2];
        assert!(
            name.starts_with(&format!("{stream}-")) && name.ends_with(".parquet"),
            "{text}"
        );
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(file).unwrap(),
        )
        .unwrap();
        let schema = reader.schema();
        let found: Vec<(&str, &arrow::datatypes::DataType)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type()))
            .collect();
        let expected: Vec<(&str, &arrow::datatypes::DataType)> = glue
            .columns
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type()))
            .collect();
        assert_eq!(found, expected, "{text}: Parquet columns vs the Glue definition");
    }
}

fn string(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let array = arrow::compute::cast(array, &arrow::datatypes::DataType::Utf8).unwrap();
    let array = array.as_string::<i32>();
    (!array.is_null(row)).then(|| array.value(row).to_string())
}
