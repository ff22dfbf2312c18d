//! The README's main command, `tracklake run`, as a new user runs it: no Spotify app, no AWS
//! account, nothing in the environment. It must start the Spotify sandbox and the local Firehose
//! itself, import the sandbox listener's privacy export into the new lake, fill the lake, print the
//! delivery and the analytics, keep its state so that a second run adds no play twice, and leave a
//! lake that `tracklake query` reads.

use std::path::Path;
use std::process::Output;

use tokio::process::Command;

/// A config that pins the sandbox's clock, so the served history is the same on every run.
const CONFIG: &str = r#"
[local]
sandbox_seed = 3
sandbox_now = "2026-11-24T18:30:00Z"
"#;

fn tracklake(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    // A clean environment: whatever the developer's shell has (SPOTIFY_*, AWS_*) must not leak in.
    command
        .env_clear()
        .env("RUST_LOG", "warn")
        .current_dir(cwd)
        .kill_on_drop(true);
    command
}

async fn run(mut command: Command) -> (Output, String, String) {
    let out = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    (out, stdout, stderr)
}

/// `SELECT ...` through `tracklake query --format json`, as rows of JSON objects.
async fn query(dir: &Path, sql: &str) -> Vec<serde_json::Value> {
    let mut command = tracklake(dir);
    command.args(["query", "--lake", "lake", "--format", "json", sql]);
    let (_, stdout, _) = run(command).await;
    let text = stdout.trim();
    // One JSON object per line (arrow's line-delimited writer) or an array: accept both.
    if text.starts_with('[') {
        serde_json::from_str::<Vec<serde_json::Value>>(text).unwrap()
    } else {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn count(rows: &[serde_json::Value], column: &str) -> i64 {
    rows[0][column]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer {column} in {rows:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn run_with_nothing_configured_fills_the_lake_from_the_sandbox_and_queries_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tracklake.toml"), CONFIG).unwrap();

    let mut first = tracklake(dir.path());
    first.args(["run", "--lake", "lake"]);
    let (_, stdout, stderr) = run(first).await;
    assert!(stderr.contains("local Spotify sandbox"), "{stderr}");
    assert!(
        stderr.contains("new lake: imported the sandbox listener's privacy export first"),
        "{stderr}"
    );
    assert!(stdout.contains("result: ok"), "{stdout}");
    assert!(stdout.contains("local Firehose -> lake"), "{stdout}");
    assert!(
        stdout.contains("to the error output 0"),
        "nothing may reach the error output:\n{stdout}"
    );
    for name in ["top_tracks:", "top_artists:", "listening_by_hour:"] {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
    let lake = dir.path().join("lake");
    assert!(lake.join("state/sandbox-producer.json").is_file());
    assert!(!lake.join("errors").exists(), "an error output was written");

    let plays = "SELECT count(*) AS n, count(DISTINCT record_key) AS k FROM track_observations \
                 WHERE source = 'recently_played'";
    let first_plays = query(dir.path(), plays).await;
    // Spotify (and so the sandbox) serves only the last 50 plays.
    assert_eq!(count(&first_plays, "n"), 50, "{first_plays:?}");
    assert_eq!(count(&first_plays, "k"), 50, "{first_plays:?}");
    // SQL that starts with a comment, as the files of sql/ do: the leading "-" is the query's.
    let sources = query(
        dir.path(),
        "-- name: sources\nSELECT count(DISTINCT source) AS n FROM track_observations",
    )
    .await;
    // recently_played, top_tracks, saved_tracks and playlist (the defaults with a user token),
    // and streaming_history (the export).
    assert_eq!(count(&sources, "n"), 5, "{sources:?}");
    // Three years of about 30 plays a day, each once.
    let imported = query(
        dir.path(),
        "SELECT count(*) AS n, count(DISTINCT record_key) AS k, \
         date_diff('day', min(event_at), max(event_at)) AS days \
         FROM track_observations WHERE source = 'streaming_history'",
    )
    .await;
    assert!(count(&imported, "n") > 30_000, "{imported:?}");
    assert_eq!(count(&imported, "n"), count(&imported, "k"), "{imported:?}");
    assert!(count(&imported, "days") >= 3 * 365 - 2, "{imported:?}");

    // The same clock again: the watermark says every play was delivered, so none comes twice.
    let mut second = tracklake(dir.path());
    second.args(["run", "--lake", "lake"]);
    let (_, _, second_stderr) = run(second).await;
    assert!(
        !second_stderr.contains("new lake"),
        "the export is imported once, into a new lake:\n{second_stderr}"
    );
    let second_plays = query(dir.path(), plays).await;
    assert_eq!(count(&second_plays, "n"), 50, "{second_plays:?}");

    // A named query by its name, as CSV.
    let mut named = tracklake(dir.path());
    named.args(["query", "--lake", "lake", "--format", "csv", "top_artists"]);
    let (_, csv, _) = run(named).await;
    let header = csv.lines().next().unwrap_or_default();
    assert!(
        header.contains("artist_name") && header.contains("plays"),
        "{csv}"
    );
    assert!(csv.lines().count() > 1, "no rows:\n{csv}");
    assert!(!csv.ends_with("\n\n"), "an empty last line:\n{csv}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_firehose_target_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(dir.path());
    command
        .args(["run", "--lake", "lake"])
        .env("TRACKLAKE_FIREHOSE", "kinesis");
    let out = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("kinesis") && stderr.contains("`aws`"), "{stderr}");
    assert!(!dir.path().join("lake").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn query_on_a_missing_lake_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(dir.path());
    command.args(["query", "--lake", "nowhere", "top_tracks"]);
    let out = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_with_lake_needs_no_config_file_but_without_it_a_broken_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tracklake.toml"), "this is = = broken\n").unwrap();
    // --lake says where the lake is: the broken config is not read, so the error is the lake's.
    let mut command = tracklake(dir.path());
    command.args(["query", "--lake", "nowhere", "top_tracks"]);
    let out = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nowhere") && !stderr.contains("tracklake.toml"),
        "{stderr}"
    );
    // --list reads no lake and no config.
    let mut command = tracklake(dir.path());
    command.args(["query", "--list"]);
    let out = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("top_tracks"), "{stdout}");
    // Without --lake the config names the default lake, so its error is reported.
    let mut command = tracklake(dir.path());
    command.args(["query", "top_tracks"]);
    let out = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tracklake.toml is not valid"), "{stderr}");
}

/// The lines of `stderr` from the first that starts with `error: {context}`: that line and the
/// `caused by:` lines under it.
fn error_report<'a>(stderr: &'a str, context: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("error: {context}")))
        .unwrap_or_else(|| panic!("no `error: {context}` line in:\n{stderr}"));
    let causes = lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("  caused by: "))
        .count();
    lines[start..=start + causes].to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_names_what_failed_then_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(dir.path());
    command.args(["run", "--config", "missing.toml"]);
    let out = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report = error_report(&stderr, "cannot read the config file missing.toml");
    assert_eq!(
        report[1..],
        ["  caused by: No such file or directory (os error 2)"],
        "{stderr}"
    );
    assert!(
        !report[0].contains("os error"),
        "the cause is printed once, below:\n{stderr}"
    );
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");

    // A port in use: the local Firehose's error (where it tried to listen) over the system's.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut command = tracklake(dir.path());
    command.args(["firehose", "--port", &port, "--lake", "lake"]);
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("the firehose command gives up on a port in use")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report = error_report(&stderr, &format!("could not listen on 127.0.0.1:{port}"));
    assert_eq!(report.len(), 2, "{stderr}");
    assert!(report[1].contains("in use"), "{stderr}");
    assert!(
        !report[0].contains("in use"),
        "the cause is printed once, below:\n{stderr}"
    );
    drop(taken);
}
