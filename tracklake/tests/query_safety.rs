//! `tracklake query` on a real lake (filled by `tracklake run` from the sandbox, as a new user
//! fills it): it only reads, and deeply nested SQL gets an error, never an abort. Each check runs
//! the real binary as a subprocess, so a stack overflow (SIGABRT) fails the test instead of
//! killing the test process.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CONFIG: &str = r#"
[local]
sandbox_seed = 3
sandbox_now = "2026-11-24T18:30:00Z"
# The Web API's plays are enough here; the import has its own tests.
sandbox_history = false
"#;

fn tracklake(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    command.env_clear().env("RUST_LOG", "warn").current_dir(cwd);
    command
}

/// A temporary folder with a lake that `tracklake run` filled.
fn lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tracklake.toml"), CONFIG).unwrap();
    let out = tracklake(dir.path())
        .args(["run", "--lake", "lake"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("lake/state/sandbox-producer.json").is_file());
    dir
}

fn query(dir: &Path, sql: &str) -> Output {
    tracklake(dir)
        .args(["query", "--lake", "lake", "--format", "csv", sql])
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `root` with its content.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                all.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    all
}

/// The statement is refused with the read-only error and leaves every file (and every folder
/// outside the lake it names) as it was.
fn assert_refused(dir: &Path, sql: &str) {
    let lake = dir.join("lake");
    let before = files(dir);
    let out = query(dir, sql);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{sql}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("the local query engine is read-only")
            && stderr.contains("tracklake run")
            && stderr.contains("--format csv or json"),
        "{sql}: {stderr}"
    );
    assert_eq!(files(dir), before, "{sql} changed files under {}", dir.display());
    assert!(lake.join("processed").is_dir());
}

fn first_parquet(lake: &Path) -> PathBuf {
    files(&lake.join("processed"))
        .into_keys()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a Parquet file in the lake")
}

#[test]
fn query_is_read_only_insert_is_refused() {
    let dir = lake();
    assert_refused(
        dir.path(),
        "INSERT INTO track_observations SELECT * FROM track_observations",
    );
}

#[test]
fn query_is_read_only_copy_is_refused() {
    let dir = lake();
    let lake = dir.path().join("lake");
    let state = lake.join("state/sandbox-producer.json");
    assert_refused(
        dir.path(),
        &format!("COPY (SELECT 1 AS x) TO '{}' STORED AS JSON", state.display()),
    );
    let parquet = first_parquet(&lake);
    assert_refused(
        dir.path(),
        &format!(
            "COPY (SELECT * FROM track_observations LIMIT 1) TO '{}' STORED AS PARQUET",
            parquet.display()
        ),
    );
    // EXPLAIN ANALYZE would run the COPY.
    assert_refused(
        dir.path(),
        &format!(
            "EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{}' STORED AS JSON",
            state.display()
        ),
    );
}

#[test]
fn query_is_read_only_create_drop_and_set_are_refused() {
    let dir = lake();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    for sql in [
        format!(
            "CREATE EXTERNAL TABLE anywhere STORED AS PARQUET LOCATION '{}/'",
            elsewhere.display()
        ),
        "CREATE TABLE mine AS SELECT * FROM track_observations".to_owned(),
        "CREATE VIEW mine AS SELECT 1 AS x".to_owned(),
        "DROP VIEW track_observations_dedup".to_owned(),
        "DROP TABLE track_observations".to_owned(),
        "SET datafusion.execution.batch_size = 1".to_owned(),
    ] {
        assert_refused(dir.path(), &sql);
    }
}

#[test]
fn query_is_read_only_but_the_engines_view_and_every_named_query_run() {
    let dir = lake();
    let out = query(
        dir.path(),
        "SELECT count(*) > 0 AS some FROM track_observations_dedup",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "some\ntrue\n");

    let out = tracklake(dir.path()).args(["query", "--list"]).output().unwrap();
    let (list, _) = text(&out);
    let names: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(
        names.contains(&"dedupe") && names.contains(&"top_tracks"),
        "{list}"
    );
    for name in names {
        let out = query(dir.path(), name);
        let (_, stderr) = text(&out);
        assert!(out.status.success(), "{name}: {stderr}");
    }
}

/// `SELECT 1 + 1 + ...` with `n` additions.
fn additions(n: usize) -> String {
    format!("SELECT 1{} AS total", "+1".repeat(n))
}

/// Fails the test on a signal (the abort of a stack overflow) and returns the output.
fn no_abort(out: Output, what: &str) -> Output {
    assert_eq!(
        out.status.signal(),
        None,
        "{what}: killed by a signal\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn query_with_500_additions_does_not_abort() {
    let dir = lake();
    let sql = additions(500);
    assert!(sql.len() > 1000);
    let out = no_abort(query(dir.path(), &sql), "500 additions");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "total\n501\n");
}

#[test]
fn query_with_400_ors_does_not_abort() {
    let dir = lake();
    // track_number is 0 to 14 in the sandbox's lake: the ORs select every row.
    let ors = (0..=400)
        .map(|n| format!("track_number = {n}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "SELECT count(*) > 0 AND count(*) = (SELECT count(*) FROM track_observations) AS all_rows \
         FROM track_observations WHERE {ors}"
    );
    let out = no_abort(query(dir.path(), &sql), "400 ORs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "all_rows\ntrue\n");
}

#[test]
fn query_with_5000_additions_is_refused_with_a_clear_error_not_an_abort() {
    let dir = lake();
    for (what, sql) in [
        ("5,000 additions", additions(5_000)),
        (
            "5,000 ORs",
            format!(
                "SELECT count(*) FROM track_observations WHERE {}",
                vec!["track_number = 1"; 5_001].join(" OR ")
            ),
        ),
    ] {
        let out = no_abort(query(dir.path(), &sql), what);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.contains("nests expressions more than 1000 levels deep"),
            "{what}: {stderr}"
        );
    }
}

/// The limit is backed by the stack: SQL just within it runs.
#[test]
fn query_at_the_depth_limit_runs() {
    let dir = lake();
    let out = no_abort(query(dir.path(), &additions(998)), "998 additions");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "total\n999\n");
}

/// `tracklake query ... | head`: the reader closes the pipe early; that ends the output quietly
/// (exit 0), it is no panic.
#[test]
fn query_into_a_pipe_closed_early_ends_quietly() {
    let dir = lake();
    let mut child = tracklake(dir.path())
        .args([
            "query",
            "--lake",
            "lake",
            "--format",
            "csv",
            "SELECT * FROM track_observations",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the query has written anything, as `head` does once it has
    // its lines.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
