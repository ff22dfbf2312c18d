//! `tracklake import --target aws` of a ten-year extended streaming history, the real binary into
//! a bucket of moto's S3 over HTTP: how long 3,650 dates take, and what that says of a real
//! bucket (docs/privacy-exports.md#into-aws). moto answers on loopback and keeps objects in
//! memory, so its round trips are shorter than S3's; the bench prints the arithmetic for S3's.
//!
//! `cargo bench -p tracklake --bench import_aws` (TRACKLAKE_BENCH_AWS_YEARS, default 10;
//! TRACKLAKE_BENCH_AWS_PLAYS_PER_DAY, default 50). Needs moto: ./scripts/python-env.sh.

use std::path::Path;
use std::time::Instant;

use moto_server::MotoServer;
use serde_json::{json, Value};

const BUCKET: &str = "tracklake-import-bench";
const DEFAULT_YEARS: i64 = 10;
const DEFAULT_PLAYS_PER_DAY: i64 = 50;
/// The bound the import must keep for a ten-year history (issue: "Into the local lake and into AWS").
const BOUND_SECS: f64 = 600.0;
/// What one S3 request is assumed to take from a machine in the bucket's region: first-byte
/// latencies of 100-200 ms are typical of small S3 requests (AWS's S3 performance guidelines).
const S3_REQUEST_SECS: f64 = 0.2;
/// Requests per date: a GET of the partition file (NoSuchKey for a new one) and a PUT.
const REQUESTS_PER_DATE: f64 = 2.0;
/// `PARTITIONS_IN_FLIGHT` of tracklake/src/import_s3.rs.
const IN_FLIGHT: f64 = 16.0;

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn play(at: &str, id: u64) -> Value {
    json!({
        "ts": at, "platform": "Android OS 9 API 28 (samsung, SM-G960F)", "ms_played": 215000,
        "conn_country": "SE", "ip_addr_decrypted": "198.51.100.23",
        "user_agent_decrypted": "unknown", "username": "bench-listener",
        "master_metadata_track_name": format!("Track {id}"),
        "master_metadata_album_artist_name": format!("Artist {}", id % 500),
        "master_metadata_album_album_name": format!("Album {}", id % 2000),
        "spotify_track_uri": format!("spotify:track:{id:0>22}"),
        "episode_name": null, "episode_show_name": null, "spotify_episode_uri": null,
        "reason_start": "trackdone", "reason_end": "trackdone", "shuffle": false, "skipped": false,
        "offline": false, "offline_timestamp": 0, "incognito_mode": false
    })
}

/// One file per year, `per_day` plays a day spread over the day. Returns the plays written.
fn write_history(dir: &Path, years: i64, per_day: i64) -> usize {
    let start = chrono::NaiveDate::from_ymd_opt(2016, 1, 1).unwrap();
    let mut total = 0;
    for year in 0..years {
        let mut plays = Vec::new();
        for day in 0..365 {
            let date = start + chrono::Duration::days(year * 365 + day);
            for n in 0..per_day {
                let seconds = n * 86_000 / per_day;
                let at = format!(
                    "{date}T{:02}:{:02}:{:02}Z",
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60
                );
                plays.push(play(&at, ((year * 365 + day) * per_day + n) as u64 % 20_000));
            }
        }
        total += plays.len();
        let name = format!("Streaming_History_Audio_{}_{year}.json", 2016 + year);
        std::fs::write(dir.join(name), serde_json::to_vec(&plays).unwrap()).unwrap();
    }
    total
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs it without `--bench`: one small year, checked, not timed.
    let bench = std::env::args().any(|a| a == "--bench");
    let (years, per_day) = if bench {
        (
            env_number("TRACKLAKE_BENCH_AWS_YEARS", DEFAULT_YEARS),
            env_number("TRACKLAKE_BENCH_AWS_PLAYS_PER_DAY", DEFAULT_PLAYS_PER_DAY),
        )
    } else {
        (1, 2)
    };
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("Spotify Extended Streaming History");
    std::fs::create_dir_all(&export).unwrap();
    let plays = write_history(&export, years, per_day);
    let dates = years * 365;

    let moto = MotoServer::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .args(["import", "--target", "aws", "--bucket", BUCKET, "--s3-endpoint"])
        .arg(moto.endpoint())
        .arg(&export)
        .env("AWS_ACCESS_KEY_ID", moto_server::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", moto_server::SECRET_ACCESS_KEY)
        .env("AWS_REGION", moto_server::REGION)
        .output()
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut objects = 0;
    let mut pages = s3.list_objects_v2().bucket(BUCKET).into_paginator().send();
    while let Some(page) = pages.next().await {
        objects += page.unwrap().contents().len();
    }
    assert_eq!(objects as i64, dates, "one object per date");

    let s3_estimate = dates as f64 * REQUESTS_PER_DATE * S3_REQUEST_SECS / IN_FLIGHT;
    println!("tracklake import --target aws, {years} years ({dates} dates), {plays} plays, into moto's S3");
    println!(
        "  {elapsed:.1} s, {objects} objects, {:.1} dates/s",
        dates as f64 / elapsed
    );
    println!(
        "  on S3: + about {s3_estimate:.0} s of round trips ({dates} dates x {REQUESTS_PER_DATE} requests x \
         {S3_REQUEST_SECS} s / {IN_FLIGHT} in flight), so about {:.0} s against the bound of {BOUND_SECS} s",
        elapsed + s3_estimate
    );
}
