//! `tracklake import --target aws` end to end: the real binary imports an export straight into a
//! bucket of moto's S3 (over HTTP, with the real AWS SDK), and the objects are read back as
//! Parquet (docs/privacy-exports.md#into-aws).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use arrow::array::AsArray;
use moto_server::MotoServer;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{json, Value};

const BUCKET: &str = "tracklake-import-test";
const IP: &str = "198.51.100.23";

fn play(ts: &str, id: &str) -> Value {
    json!({
        "ts": ts, "platform": "Android OS 9 API 28 (samsung, SM-G960F)", "ms_played": 215000,
        "conn_country": "SE", "ip_addr_decrypted": IP,
        "master_metadata_track_name": format!("Track {id}"),
        "master_metadata_album_artist_name": "Artist", "master_metadata_album_album_name": "Album",
        "spotify_track_uri": format!("spotify:track:{id}"),
        "episode_name": null, "episode_show_name": null, "spotify_episode_uri": null,
        "reason_start": "trackdone", "reason_end": "trackdone", "shuffle": false, "skipped": false,
        "offline": false, "offline_timestamp": 0, "incognito_mode": false
    })
}

/// Plays `range` of a history of one play a day from 2015-01-01 (so many days, many partitions).
fn export(dir: &Path, name: &str, range: std::ops::Range<i64>) -> std::path::PathBuf {
    let start = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
    let plays: Vec<Value> = range
        .map(|i| {
            let day = start + chrono::Duration::days(i);
            play(&format!("{day}T12:00:00Z"), &format!("track{i:05}"))
        })
        .collect();
    let path = dir.join(name).join("Streaming_History_Audio_2015-2024_0.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&plays).unwrap()).unwrap();
    path
}

fn import(moto: &MotoServer, bucket: &str, path: &Path) -> (Output, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .args(["import", "--target", "aws", "--bucket", bucket, "--s3-endpoint"])
        .arg(moto.endpoint())
        .arg(path)
        .env("AWS_ACCESS_KEY_ID", moto_server::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", moto_server::SECRET_ACCESS_KEY)
        .env("AWS_REGION", moto_server::REGION)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stdout.contains(IP) && !stderr.contains(IP),
        "the IP address was printed"
    );
    (output, stdout, stderr)
}

fn total(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no total in\n{stdout}"));
    line.split_whitespace().map(str::to_owned).collect()
}

/// Every object of the bucket: its key and, read as Parquet, its record keys and dates.
async fn lake(s3: &aws_sdk_s3::Client) -> BTreeMap<String, (Vec<u8>, Vec<String>)> {
    let listed = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert!(
        !listed.is_truncated().unwrap_or(false),
        "more objects than one listing"
    );
    let mut objects = BTreeMap::new();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        let body = s3.get_object().bucket(BUCKET).key(&key).send().await.unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
        assert_eq!(
            reader.schema().fields(),
            schemas::arrow::arrow_schema().fields(),
            "{key} has the lake's schema"
        );
        let mut keys = Vec::new();
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let column = batch.column_by_name("record_key").unwrap().as_string::<i32>();
            keys.extend(column.iter().flatten().map(str::to_owned));
            let ip = batch.columns().iter().any(|c| {
                arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &Default::default())
                    .map(|f| (0..c.len()).any(|i| f.value(i).to_string().contains(IP)))
                    .unwrap_or(false)
            });
            assert!(!ip, "{key} holds the IP address");
        }
        objects.insert(key, (bytes.to_vec(), keys));
    }
    objects
}

fn day_key(i: i64) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap() + chrono::Duration::days(i);
    format!("processed/source=streaming_history/dt={day}/streaming-history.parquet")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_lands_in_the_bucket_once_and_an_overlapping_one_adds_only_new_plays() {
    let moto = MotoServer::start();
    let s3 = moto.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    // More days than partitions in flight, so several rounds of merges run.
    let older = export(dir.path(), "older", 0..40);

    let (output, stdout, stderr) = import(&moto, BUCKET, &older);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..4], ["total", "40", "40", "0"], "{stdout}");
    let first = lake(&s3).await;
    let expected: BTreeSet<String> = (0..40).map(day_key).collect();
    assert_eq!(first.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(first.values().all(|(_, keys)| keys.len() == 1), "one play a day");

    // The same export again: nothing added, no object rewritten.
    let (output, stdout, stderr) = import(&moto, BUCKET, &older);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..4], ["total", "40", "0", "40"], "{stdout}");
    assert_eq!(lake(&s3).await, first);

    // A newer export overlapping the older one: only its new plays, no play twice.
    let newer = export(dir.path(), "newer", 30..50);
    let (output, stdout, stderr) = import(&moto, BUCKET, &newer);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..4], ["total", "20", "10", "10"], "{stdout}");
    let after = lake(&s3).await;
    assert_eq!(after.len(), 50);
    let keys: Vec<&String> = after.values().flat_map(|(_, keys)| keys).collect();
    assert_eq!(keys.len(), 50);
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 50, "no play twice");
    for i in 0..30 {
        assert_eq!(
            after[&day_key(i)],
            first[&day_key(i)],
            "days only the older export has are untouched"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_named_with_what_to_do() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let path = export(dir.path(), "export", 0..3);
    let (output, stdout, stderr) = import(&moto, "no-such-tracklake-bucket", &path);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the bucket no-such-tracklake-bucket does not exist") && stderr.contains("--bucket"),
        "{stderr}"
    );
    assert!(!stdout.contains("total"), "nothing was imported: {stdout}");
}
