//! `tracklake redrive`, the real binary, against an error output produced for real: a local
//! Firehose whose transformation has two planted bugs (one source fails, another comes out with a
//! timestamp Parquet cannot read) and whose active-partition limit is tiny, so that each error
//! type holds records. The redrive then goes through the fixed pipeline (the real transform, the
//! default limit), and the lake is read back through the local Athena (or, for S3, the Parquet
//! objects in moto's bucket).

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use base64::Engine;
use firehose_transform::sample::envelope_line;
use local_firehose::{
    BufferHints, BufferingOverrides, DeliveryStats, FirehoseConfig, Output as Destination, Processor,
};
use producer::sink::{FirehoseSink, SinkConfig};
use serde_json::{json, Value};
use test_support::stand_ins::flush_only;
use tokio::process::Command;

/// Records sent: sample envelopes 0..20 (each source in turn), plus one sent twice, as a producer
/// resend would, so that two error documents hold the same original.
const RECORDS: usize = 20;
const RESENT: usize = 3;
/// With three active partitions, the first three (source, dt) pairs open partitions and the
/// records of any other pair go to `activePartitionExceeded`.
const TINY_PARTITION_LIMIT: usize = 3;

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn unb64(data: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(data).unwrap()
}

/// The real transform with two bugs planted: `top_tracks` records fail (`ProcessingFailed`), and
/// `search` records come out with an `event_at` the Parquet conversion cannot read.
fn faulty_transform() -> Processor {
    Processor::new(|event| {
        let parsed: firehose_transform::FirehoseEvent =
            serde_json::from_slice(event).map_err(|e| e.to_string())?;
        let answer = firehose_transform::process(&parsed);
        let mut response: Value = serde_json::from_str(answer.response.get()).unwrap();
        let records = response["records"].as_array_mut().unwrap();
        for (out, input) in records.iter_mut().zip(&parsed.records) {
            let envelope: Value = serde_json::from_slice(&unb64(&input.data)).unwrap();
            match envelope["source"].as_str() {
                Some("top_tracks") => {
                    *out = json!({"recordId": out["recordId"], "result": "ProcessingFailed", "data": ""});
                }
                Some("search") => {
                    let mut row: Value =
                        serde_json::from_slice(&unb64(out["data"].as_str().unwrap())).unwrap();
                    row["event_at"] = json!("yesterday");
                    out["data"] = json!(b64((row.to_string() + "\n").as_bytes()));
                }
                _ => {}
            }
        }
        Ok(serde_json::to_vec(&response).unwrap())
    })
}

/// The records in the order sent: the `search` ones first, so that they open a partition (and
/// reach the conversion) before the limit is reached.
fn lines() -> Vec<Vec<u8>> {
    let mut order: Vec<usize> = (0..RECORDS).filter(|n| n % 5 == 4).collect();
    order.extend((0..RECORDS).filter(|n| n % 5 != 4));
    order.push(RESENT);
    order.into_iter().map(envelope_line).collect()
}

/// Sends [`lines`] through the faulty pipeline into `output`; returns what it delivered.
async fn produce_errors(output: Destination) -> DeliveryStats {
    // Its own journal folder: an S3 output's default is shared by every stream of the bucket.
    let state = tempfile::tempdir().unwrap();
    let firehose = local_firehose::start(FirehoseConfig {
        output,
        state_dir: Some(state.path().to_owned()),
        buffering: flush_only(),
        active_partition_limit: TINY_PARTITION_LIMIT,
        processor: faulty_transform(),
        ..FirehoseConfig::default()
    })
    .await
    .unwrap();
    let sink = FirehoseSink::local(
        &firehose.endpoint(),
        firehose.stream_name(),
        SinkConfig::default(),
    );
    let report = sink.send_all(lines()).await;
    assert!(report.all_delivered(), "{report:?}");
    let stats = firehose.shutdown().await.unwrap();
    assert!(stats.is_accounted(), "{stats:?}");
    for kind in [
        "processing-failed",
        "format-conversion-failed",
        "activePartitionExceeded",
    ] {
        assert!(
            stats.errored.get(kind).copied().unwrap_or(0) > 0,
            "no {kind}: {stats:?}"
        );
    }
    stats
}

/// The binary with a clean environment, in a folder without a config file.
fn tracklake(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    command
        .env_clear()
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

async fn run(mut command: Command) -> (bool, String) {
    let out: Output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("tracklake redrive finishes within two minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.success(), format!("{stdout}\n--- stderr:\n{stderr}"))
}

/// The report line of one error type.
fn type_line<'a>(report: &'a str, kind: &str) -> &'a str {
    let prefix = format!("  {kind}: ");
    report
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {kind} in:\n{report}"))
}

async fn count(lake: &Path, sql: &str) -> i64 {
    let athena = local_athena::LocalAthena::open(lake).await.unwrap();
    let batches = athena.query(sql).await.unwrap();
    use arrow::array::AsArray;
    batches[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0)
}

/// Every file under `prefix` of the lake, relative, sorted.
fn files(lake: &Path, prefix: &str) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), out);
            } else {
                out.push(entry.path());
            }
        }
    }
    let mut out = Vec::new();
    walk(&lake.join(prefix), &mut out);
    let mut keys: Vec<String> = out
        .iter()
        .map(|p| p.strip_prefix(lake).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn redrive_sends_each_original_once_into_the_lake_and_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let stats = produce_errors(Destination::LocalDir(lake.clone())).await;
    let errored = |kind: &str| stats.errored.get(kind).copied().unwrap_or(0);
    let rows_before = count(&lake, "SELECT count(*) FROM track_observations").await;
    assert_eq!(rows_before as u64, stats.delivered);
    assert!(rows_before < RECORDS as i64);

    // A dry run reports and changes nothing.
    let (ok, report) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--dry-run", "--lake"]).arg(&lake);
        c
    })
    .await;
    assert!(ok, "{report}");
    assert!(
        report.contains(&format!("records would send: {}", RECORDS - rows_before as usize)),
        "{report}"
    );
    assert!(files(&lake, "redriven/").is_empty(), "{report}");
    assert_eq!(
        count(&lake, "SELECT count(*) FROM track_observations").await,
        rows_before
    );

    let (ok, report) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--lake"]).arg(&lake);
        c
    })
    .await;
    assert!(ok, "{report}");
    // processing-failed holds the resent record twice: sent once, the other is a duplicate.
    let pf = type_line(&report, "processing-failed");
    assert!(
        pf.contains(&format!(
            "{} document(s) read: sent {}, duplicates of a record sent with another document 1,",
            errored("processing-failed"),
            errored("processing-failed") - 1
        )),
        "{report}"
    );
    for kind in ["format-conversion-failed", "activePartitionExceeded"] {
        let line = type_line(&report, kind);
        assert!(
            line.contains(&format!(
                "{} document(s) read: sent {},",
                errored(kind),
                errored(kind)
            )),
            "{report}"
        );
        assert!(line.ends_with("left 0"), "{report}");
    }
    // Every record is in the lake exactly once: the resent one too, and the ones whose error
    // document held only the transform's output.
    assert_eq!(
        count(&lake, "SELECT count(*) FROM track_observations").await,
        RECORDS as i64,
        "{report}"
    );
    assert_eq!(
        count(&lake, "SELECT count(DISTINCT record_key) FROM track_observations").await,
        RECORDS as i64
    );
    assert_eq!(
        count(
            &lake,
            "SELECT count(*) FROM track_observations WHERE source = 'search'"
        )
        .await,
        (RECORDS / 5) as i64
    );
    // The consumed error objects moved to ledgers.
    assert!(
        files(&lake, "errors/").is_empty(),
        "{:?}",
        files(&lake, "errors/")
    );
    let ledgers = files(&lake, "redriven/errors/");
    assert_eq!(ledgers.len() as u64, stats.objects.error_output, "{ledgers:?}");
    let ledger_docs: usize = ledgers
        .iter()
        .map(|k| std::fs::read_to_string(lake.join(k)).unwrap().lines().count())
        .sum();
    assert_eq!(ledger_docs as u64, stats.errored_total());

    let (ok, again) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--lake"]).arg(&lake);
        c
    })
    .await;
    assert!(ok, "{again}");
    assert!(again.contains("records sent: 0;"), "{again}");
    assert_eq!(
        count(&lake, "SELECT count(*) FROM track_observations").await,
        RECORDS as i64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_redrive_resends_only_what_no_ledger_shows_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let stats = produce_errors(Destination::LocalDir(lake.clone())).await;
    let rows_before = count(&lake, "SELECT count(*) FROM track_observations").await;

    let (ok, report) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--type", "processing-failed", "--lake"])
            .arg(&lake);
        c
    })
    .await;
    assert!(ok, "{report}");
    assert!(
        !report.contains("format-conversion-failed"),
        "only the type asked for: {report}"
    );
    let after_first = count(&lake, "SELECT count(*) FROM track_observations").await;
    assert_eq!(after_first, rows_before + (RECORDS / 5) as i64, "{report}");
    // Killed after writing the ledger, before removing the error object: put it back.
    for ledger in files(&lake, "redriven/errors/processing-failed/") {
        let original = ledger.strip_prefix("redriven/").unwrap();
        std::fs::copy(lake.join(&ledger), lake.join(original)).unwrap();
    }
    assert!(!files(&lake, "errors/processing-failed/").is_empty());

    let (ok, report) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--lake"]).arg(&lake);
        c
    })
    .await;
    assert!(ok, "{report}");
    let pf = type_line(&report, "processing-failed");
    assert!(
        pf.contains(&format!(
            "sent 0, duplicates of a record sent with another document 0, already redriven before {}",
            stats.errored["processing-failed"]
        )),
        "{report}"
    );
    assert!(files(&lake, "errors/processing-failed/").is_empty(), "{report}");
    assert_eq!(
        count(&lake, "SELECT count(*) FROM track_observations").await,
        RECORDS as i64,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_that_cannot_be_redriven_are_left_in_place_with_the_reason_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let pf = "errors/processing-failed/2026/11/24/tracklake-track-observations-1-2026-11-24-08-00-00-x";
    let fc =
        "errors/format-conversion-failed/2026/11/24/tracklake-track-observations-1-2026-11-24-08-00-00-y";
    let transformed = b64(br#"{"record_key":"0123456789abcdef0123456789abcdef"}"#);
    for (key, line) in [
        (
            pf,
            json!({"arrivalTimestamp": 1_764_000_000_000_i64, "rawData": "%%% not base64"}),
        ),
        (
            fc,
            json!({"arrivalTimestamp": 1_764_000_000_000_i64, "rawData": transformed}),
        ),
    ] {
        std::fs::create_dir_all(lake.join(key).parent().unwrap()).unwrap();
        std::fs::write(lake.join(key), line.to_string() + "\n").unwrap();
    }
    let (ok, report) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--lake"]).arg(&lake);
        c
    })
    .await;
    assert!(!ok, "something was left, so the exit status says so: {report}");
    assert!(report.contains("left 1: rawData is not base64"), "{report}");
    assert!(
        report.contains("left 1: original not found in the raw backup"),
        "{report}"
    );
    assert!(report.contains("documents left: 2"), "{report}");
    assert!(lake.join(pf).exists() && lake.join(fc).exists());
    assert!(files(&lake, "redriven/").is_empty());

    // --from after their date: nothing read, nothing left.
    let (ok, report) = run({
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--from", "2026-11-25", "--lake"]).arg(&lake);
        c
    })
    .await;
    assert!(ok, "{report}");
    assert!(
        type_line(&report, "processing-failed").contains("0 object(s)"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redrive_from_an_s3_bucket_through_the_configured_stream() {
    const BUCKET: &str = "tracklake-redrive-test";
    let moto = moto_server::MotoServer::start();
    // The local Firehose's S3 store reads the standard AWS configuration, as the binary does.
    moto.set_credentials_in_environment();
    let s3 = moto.create_bucket(BUCKET).await;
    let into_bucket = || Destination::S3 {
        bucket: BUCKET.into(),
        endpoint: Some(moto.endpoint()),
    };
    let stats = produce_errors(into_bucket()).await;

    // The fixed stream the configuration points at: the real transform, and buffers that close
    // a partition within a fraction of a second but a partition limit as tiny as before, so that
    // only the redrive's pacing (two partitions per round, a one-second window) keeps its
    // records out of activePartitionExceeded.
    let quick = BufferHints {
        size_bytes: usize::MAX / 2,
        interval: Duration::from_millis(200),
    };
    let fixed_state = tempfile::tempdir().unwrap();
    let fixed = local_firehose::start(FirehoseConfig {
        output: into_bucket(),
        state_dir: Some(fixed_state.path().to_owned()),
        buffering: BufferingOverrides {
            processed: Some(quick),
            raw_backup: Some(quick),
            processor: Some(BufferHints {
                interval: Duration::from_millis(100),
                ..quick
            }),
        },
        active_partition_limit: 2,
        ..FirehoseConfig::default()
    })
    .await
    .unwrap();
    let redrive = |fixed: &local_firehose::LocalFirehose| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tracklake.toml"),
            "[sources.pacing]\npartition_budget = 2\nwindow_secs = 1\n",
        )
        .unwrap();
        let mut c = tracklake(dir.path());
        c.args(["redrive", "--bucket", BUCKET])
            .env("AWS_ACCESS_KEY_ID", moto_server::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", moto_server::SECRET_ACCESS_KEY)
            .env("AWS_REGION", moto_server::REGION)
            .env("AWS_ENDPOINT_URL_S3", moto.endpoint())
            .env("AWS_ENDPOINT_URL_FIREHOSE", fixed.endpoint());
        (dir, c)
    };
    let (_dir, command) = redrive(&fixed);
    let (ok, report) = run(command).await;
    assert!(ok, "{report}");
    let sent = (stats.errored_total() - 1) as usize;
    assert!(report.contains(&format!("records sent: {sent};")), "{report}");
    let rounds: usize = report
        .split("  in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rounds line in:\n{report}"));
    assert!(rounds > 1, "the records span more than two partitions: {report}");
    let (_dir, command) = redrive(&fixed);
    let (ok, again) = run(command).await;
    assert!(ok, "{again}");
    assert!(again.contains("records sent: 0;"), "{again}");
    let fixed_stats = fixed.shutdown().await.unwrap();
    assert_eq!(fixed_stats.records_received as usize, sent);
    assert_eq!(
        fixed_stats.errored_total(),
        0,
        "paced: no partition over the limit: {fixed_stats:?}"
    );
    assert_eq!(fixed_stats.delivered as usize, sent, "{fixed_stats:?}");

    // Every record once in the bucket's Parquet, and the error objects gone.
    let listed = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert!(!keys.iter().any(|k| k.starts_with("errors/")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("redriven/errors/")), "{keys:?}");
    let mut rows = 0;
    for key in keys.iter().filter(|k| k.ends_with(".parquet")) {
        let body = s3.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let reader = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
        use parquet::file::reader::FileReader;
        rows += reader.metadata().file_metadata().num_rows();
    }
    assert_eq!(rows, RECORDS as i64, "{keys:?}");
}
