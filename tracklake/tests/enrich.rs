//! `tracklake enrich` end to end: the real binary imports the Spotify sandbox's privacy export
//! (cut to its last weeks, so the lake is small), then fills the imported plays in from the
//! sandbox's catalog, which it starts itself as `run` does when no Spotify app is configured
//! (docs/privacy-exports.md#filling-in-what-an-export-lacks). The lake is read back with the
//! named queries through the local Athena.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use local_athena::LocalAthena;
use serde_json::Value;

/// The export's clock, and how many days of it the tests keep.
const NOW: &str = "2026-11-30T12:00:00Z";
const DAYS_KEPT: i64 = 40;

/// The sandbox listener's export (both packages, in Spotify's folders) with only the plays of
/// its last [`DAYS_KEPT`] days: the two packages overlap there, as they do in a real export.
fn recent_export(dir: &Path) -> (PathBuf, PathBuf) {
    let full = dir.join("full-export");
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc();
    let written =
        spotify_sandbox::write_export(&spotify_sandbox::SandboxConfig::default(), now, &full).unwrap();
    let since = (now - chrono::Duration::days(DAYS_KEPT))
        .format("%Y-%m-%d")
        .to_string();
    let recent = dir.join("export");
    for file in written.files {
        let mut plays: Vec<Value> = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        plays.retain(|play| {
            let at = play
                .get("ts")
                .or_else(|| play.get("endTime"))
                .and_then(Value::as_str);
            at.is_some_and(|at| at[..10] >= *since)
        });
        let into = recent.join(file.strip_prefix(&full).unwrap());
        std::fs::create_dir_all(into.parent().unwrap()).unwrap();
        std::fs::write(into, serde_json::to_vec(&plays).unwrap()).unwrap();
    }
    let account = recent.join(spotify_sandbox::ACCOUNT_FOLDER);
    assert!(
        account.is_dir(),
        "the sandbox writes the account data under {}",
        account.display()
    );
    (recent, account)
}

/// Runs the binary in `dir` (no tracklake.toml there) with no Spotify app configured.
fn tracklake(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .args(args)
        .current_dir(dir)
        .env_remove("SPOTIFY_CLIENT_ID")
        .env_remove("SPOTIFY_CLIENT_SECRET")
        .env_remove("SPOTIFY_REFRESH_TOKEN")
        .env_remove("TRACKLAKE_LAKE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tracklake {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn import(dir: &Path, lake: &Path, export: &Path) {
    tracklake(
        dir,
        &[
            "import",
            export.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
        ],
    );
}

fn enrich(dir: &Path, lake: &Path, budget: u32) -> String {
    tracklake(
        dir,
        &[
            "enrich",
            "--lake",
            lake.to_str().unwrap(),
            "--budget",
            &budget.to_string(),
        ],
    )
}

/// The number after `word` in `text` ("with 20 requests" -> 20 for "with").
fn number_after(text: &str, word: &str) -> usize {
    let at = text
        .find(&format!("{word} "))
        .unwrap_or_else(|| panic!("no `{word}` in {text}"));
    text[at + word.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no number after `{word}` in {text}"))
}

async fn count(lake: &Path, sql: &str) -> i64 {
    let athena = LocalAthena::open(lake).await.unwrap();
    let batches = athena.query(sql).await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// What identifies each imported play, as the play rule reads it, in a fixed order.
async fn plays_as_imported(lake: &Path) -> String {
    let athena = LocalAthena::open(lake).await.unwrap();
    let batches = athena
        .query(
            "SELECT record_key, event_at, track_name, primary_artist_name, ms_played, export_file \
             FROM track_observations WHERE source = 'streaming_history' ORDER BY record_key",
        )
        .await
        .unwrap();
    arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

/// Every named query about plays, as a table without its id columns (enrichment may give a play
/// an id it lacked; it must not change which plays count or how).
async fn play_answers(lake: &Path) -> BTreeMap<String, Vec<RecordBatch>> {
    let athena = LocalAthena::open(lake).await.unwrap();
    let mut answers = BTreeMap::new();
    for query in athena.queries().to_vec() {
        if !query.sql.contains("-- The play rule (") {
            continue;
        }
        let batches = athena.run_named(&query.name).await.unwrap();
        let without_ids = batches
            .iter()
            .map(|b| {
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| !b.schema().field(i).name().ends_with("_id"))
                    .collect();
                b.project(&keep).unwrap()
            })
            .collect();
        answers.insert(query.name, without_ids);
    }
    assert!(answers.len() >= 9, "the play queries: {:?}", answers.keys());
    answers
}

fn table(batches: &[RecordBatch]) -> String {
    arrow::util::pretty::pretty_format_batches(batches)
        .unwrap()
        .to_string()
}

fn drop_column(batch: &RecordBatch, column: &str) -> RecordBatch {
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| batch.schema().field(i).name() != column)
        .collect();
    batch.project(&keep).unwrap()
}

fn int64(batch: &RecordBatch, column: &str) -> arrow::array::Int64Array {
    let c = arrow::compute::cast(
        batch.column_by_name(column).unwrap(),
        &arrow::datatypes::DataType::Int64,
    )
    .unwrap();
    c.as_primitive::<Int64Type>().clone()
}

/// A column's largest value over every row of an answer.
fn max(batches: &[RecordBatch], column: &str) -> i64 {
    batches
        .iter()
        .filter_map(|b| arrow::compute::max(&int64(b, column)))
        .max()
        .unwrap_or(0)
}

/// A column summed over every row of an answer.
fn sum(batches: &[RecordBatch], column: &str) -> i64 {
    batches
        .iter()
        .map(|b| arrow::compute::sum(&int64(b, column)).unwrap_or(0))
        .sum()
}

/// A budget stops a run part way; the next run asks only for what is left, and once every
/// track has an answer a run asks nothing. Only empty columns are filled: what the export gave,
/// and every key, stay as imported.
#[tokio::test]
async fn enrichment_keeps_to_its_budget_goes_on_where_it_stopped_and_fills_only_empty_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (export, _) = recent_export(dir.path());
    let lake = dir.path().join("lake");
    import(dir.path(), &lake, &export);
    let imported = plays_as_imported(&lake).await;
    let missing =
        "SELECT count(*) FROM track_observations WHERE source = 'streaming_history' AND duration_ms IS NULL";
    let unfilled = count(&lake, missing).await;
    assert!(unfilled > 100, "an export gives no durations: {unfilled}");

    let first = enrich(dir.path(), &lake, 20);
    assert_eq!(number_after(&first, "with"), 20, "{first}");
    // One request is the token's.
    assert_eq!(number_after(&first, "looked up"), 19, "{first}");
    assert!(
        first.contains("still to look up") && first.contains("budget"),
        "{first}"
    );
    let filled = number_after(&first, "filled in");
    assert!(filled >= 19, "{first}");
    assert_eq!(count(&lake, missing).await, unfilled - filled as i64);

    let second = enrich(dir.path(), &lake, 100_000);
    let asked = number_after(&second, "looked up");
    assert_eq!(asked, number_after(&first, "still to look up:"), "{second}");
    assert_eq!(
        number_after(&second, "with"),
        asked + 1,
        "no track asked twice: {second}"
    );
    assert!(
        second.contains("every imported track has been looked up"),
        "{second}"
    );
    assert_eq!(
        count(&lake, missing).await,
        0,
        "the sandbox's catalog has every track"
    );
    let cache = std::fs::read_to_string(lake.join("state/track-catalog.jsonl")).unwrap();
    assert_eq!(cache.lines().count(), 19 + asked);

    let third = enrich(dir.path(), &lake, 100_000);
    assert_eq!(number_after(&third, "looked up"), 0, "{third}");
    assert_eq!(number_after(&third, "with"), 0, "{third}");

    assert_eq!(
        plays_as_imported(&lake).await,
        imported,
        "what the export gave stays"
    );
    let account_plays_with_ids = count(
        &lake,
        "SELECT count(*) FROM track_observations \
         WHERE export_file LIKE 'StreamingHistory%' AND track_id IS NOT NULL AND album_id IS NOT NULL",
    )
    .await;
    assert!(
        account_plays_with_ids > 0,
        "account-data plays found by their names"
    );
}

/// The named queries count the same plays before and after enrichment, with both packages
/// imported (their overlap is one play each, even when the account-data play has found its id)
/// and with the account data alone. What may change is what the catalog adds: the completion
/// rate measures more plays by their filled-in duration, and artists of the same name are told
/// apart by their ids.
#[tokio::test]
async fn every_play_query_counts_the_same_plays_with_or_without_enrichment() {
    let dir = tempfile::tempdir().unwrap();
    let (both, account) = recent_export(dir.path());
    for (name, export) in [("both packages", &both), ("account data alone", &account)] {
        let plain = dir.path().join(format!("{name} plain"));
        let enriched = dir.path().join(format!("{name} enriched"));
        import(dir.path(), &plain, export);
        import(dir.path(), &enriched, export);
        let out = enrich(dir.path(), &enriched, 100_000);
        assert!(number_after(&out, "filled in") > 0, "{out}");

        let before = play_answers(&plain).await;
        let after = play_answers(&enriched).await;
        for (query, answer) in &before {
            let enriched_answer = &after[query];
            if query == "completion_rate" {
                assert!(
                    sum(answer, "plays") + sum(answer, "unknown_plays") > 0,
                    "{name}: {query}"
                );
                assert_eq!(
                    sum(answer, "plays") + sum(answer, "unknown_plays"),
                    sum(enriched_answer, "plays") + sum(enriched_answer, "unknown_plays"),
                    "{name}: {query} counts other plays:\n{}\n{}",
                    table(answer),
                    table(enriched_answer)
                );
                assert!(
                    sum(enriched_answer, "by_duration") > sum(answer, "by_duration"),
                    "{name}: durations filled in measure plays"
                );
                continue;
            }
            // The account data says nothing of skips: skip_rate has no rows there, with or without.
            let has_rows = answer.iter().any(|b| b.num_rows() > 0);
            assert!(
                has_rows || (export == &account && query == "skip_rate"),
                "{name}: {query} is empty"
            );
            // An artist is its id where known: artists of the same name (the sandbox has some),
            // told apart once their ids are found, are separate artists. The plays stay the same.
            match query.as_str() {
                "first_listens" => assert_eq!(
                    sum(answer, "plays"),
                    sum(enriched_answer, "plays"),
                    "{name}: {query} counts other plays"
                ),
                "top_artists" => assert!(
                    max(enriched_answer, "plays") <= max(answer, "plays"),
                    "{name}: {query} joins plays of artists told apart"
                ),
                "new_discoveries" => {
                    assert!(sum(enriched_answer, "new_artists") >= sum(answer, "new_artists"));
                    let without = |batches: &[RecordBatch]| {
                        batches
                            .iter()
                            .map(|b| drop_column(b, "new_artists"))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(
                        table(&without(answer)),
                        table(&without(enriched_answer)),
                        "{name}: {query} answers differently after enrichment"
                    );
                }
                _ => assert_eq!(
                    table(answer),
                    table(enriched_answer),
                    "{name}: {query} answers differently after enrichment"
                ),
            }
        }
    }
}

/// Spotify's daily quota, spent part way (the sandbox answers some lookups with 429
/// `QUOTA_EXCEEDED` and a Retry-After of hours): the run ends with status 0, says when to go on,
/// and keeps and fills in what it found; the next run, once the quota is back, asks only for the
/// rest.
#[tokio::test]
async fn a_spent_quota_ends_the_run_cleanly_saying_when_to_go_on_and_the_next_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (export, _) = recent_export(dir.path());
    let lake = dir.path().join("lake");
    import(dir.path(), &lake, &export);
    let cache = lake.join("state/track-catalog.jsonl");
    let lines = || std::fs::read_to_string(&cache).map_or(0, |t| t.lines().count());

    let enrich_with = |sandbox: &spotify_sandbox::Sandbox| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracklake"));
        test_support::stand_ins::sandbox_env(&mut command, sandbox, dir.path()).args([
            "enrich",
            "--lake",
            lake.to_str().unwrap(),
            "--budget",
            "100000",
        ]);
        command.output()
    };
    let faults = spotify_sandbox::Faults {
        seed: 11,
        quota_exceeded_rate: 0.02,
        ..spotify_sandbox::Faults::default()
    };
    let spent = spotify_sandbox::start(spotify_sandbox::SandboxConfig {
        faults,
        ..spotify_sandbox::SandboxConfig::default()
    })
    .await
    .unwrap();
    let output = enrich_with(&spent).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("QUOTA_EXCEEDED") && stdout.contains("run `tracklake enrich` again after 20"),
        "{stdout}"
    );
    let found = number_after(&stdout, "looked up");
    assert_eq!(lines(), found, "every answer before the quota ran out is kept");
    let left = number_after(&stdout, "still to look up:");
    assert!(left > 0, "{stdout}");
    spent.shutdown().await;

    let back = spotify_sandbox::start(spotify_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let output = enrich_with(&back).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}");
    assert_eq!(number_after(&stdout, "looked up"), left, "{stdout}");
    assert!(
        stdout.contains("every imported track has been looked up"),
        "{stdout}"
    );
    assert_eq!(lines(), found + left);
    back.shutdown().await;
}

/// With `--target aws`, the plays `tracklake import --target aws` wrote into the bucket (moto's S3,
/// over HTTP with the real AWS SDK) are filled in the same way, each object replaced once.
#[tokio::test]
async fn the_bucket_s_imported_plays_are_filled_in_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let (export, _) = recent_export(dir.path());
    let moto = moto_server::MotoServer::start();
    let s3 = moto.create_bucket("tracklake-enrich-test").await;
    let aws = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_tracklake"))
            .args(args)
            .args([
                "--target",
                "aws",
                "--bucket",
                "tracklake-enrich-test",
                "--s3-endpoint",
            ])
            .arg(moto.endpoint())
            .current_dir(dir.path())
            .env_remove("SPOTIFY_CLIENT_ID")
            .env_remove("TRACKLAKE_LAKE")
            .env("AWS_ACCESS_KEY_ID", moto_server::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", moto_server::SECRET_ACCESS_KEY)
            .env("AWS_REGION", moto_server::REGION)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    aws(&["import", export.to_str().unwrap()]);
    // Rows of the bucket's imported plays without a duration.
    let unfilled = || async {
        let listed = s3
            .list_objects_v2()
            .bucket("tracklake-enrich-test")
            .send()
            .await
            .unwrap();
        let mut rows = (0, 0);
        for object in listed.contents() {
            let body = s3
                .get_object()
                .bucket("tracklake-enrich-test")
                .key(object.key().unwrap())
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body)
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                rows.0 += batch.num_rows();
                rows.1 += batch.column_by_name("duration_ms").unwrap().null_count();
            }
        }
        rows
    };
    let (rows, before) = unfilled().await;
    assert!(
        rows > 100 && before == rows,
        "imported plays carry no duration: {before} of {rows}"
    );

    let out = aws(&["enrich", "--budget", "100000"]);
    assert!(out.contains("every imported track has been looked up"), "{out}");
    assert_eq!(number_after(&out, "filled in"), rows, "{out}");
    assert_eq!(
        unfilled().await,
        (rows, 0),
        "every play of the bucket is filled in"
    );
    assert!(
        dir.path().join("lake/state/track-catalog.jsonl").is_file(),
        "the cache stays on this machine"
    );
}
