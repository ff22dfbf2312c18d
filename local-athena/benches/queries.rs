//! The named queries timed on the local Athena (DataFusion) and, in the same run, on DuckDB (its
//! Python package) over the same Parquet files.
//!
//! `cargo bench -p local-athena` (rows: `TRACKLAKE_BENCH_ROWS`, default 1,000,000). The lake is a
//! generated listening history written as the local Firehose writes it (snappy Parquet under
//! `processed/source=…/dt=…/`). Each query runs once to warm up, then `RUNS` times; the median
//! is printed. Both engines use the same number of threads. It only prints figures.
//!
//! DuckDB is asked with `TRACKLAKE_PYTHON`, else `.venv/bin/python` at the workspace root, else
//! `python3`; without the `duckdb` module the DuckDB column says so and is skipped.

#[path = "../tests/athena/lake.rs"]
#[allow(dead_code)]
mod lake;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lake::{Obs, Track};
use local_athena::LocalAthena;
use serde_json::json;

/// Timed runs per query and engine (after one warm-up run).
const RUNS: usize = 5;
const DEFAULT_ROWS: usize = 1_000_000;
/// Rows under `cargo test` (no `--bench` argument).
const TEST_ROWS: usize = 20_000;
/// The generated history spans this many days (one `dt` per day per source).
const DAYS: usize = 730;
const TRACKS: usize = 20_000;
const ARTISTS: usize = 2_000;

/// DuckDB has other names for some Trino functions. The bench runs the very files of `sql/` on
/// DuckDB after these textual replacements (Trino left, DuckDB right), and nothing else.
const DUCKDB_REWRITES: &[(&str, &str)] = &[
    ("day_of_week(", "isodow("),
    ("date_format(event_at, '%W')", "dayname(event_at)"),
    ("year_of_week(", "isoyear("),
    ("week_of_year(", "weekofyear("),
];

fn main() {
    // `cargo test --all-targets` runs this too, without `--bench`: then a small lake, so the
    // test suite checks that the bench still works without spending minutes on it.
    let bench = std::env::args().any(|a| a == "--bench");
    let rows: usize = std::env::var("TRACKLAKE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { DEFAULT_ROWS } else { TEST_ROWS });
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // TRACKLAKE_BENCH_LAKE=<folder> keeps the generated lake there, to look at it afterwards
    // (`tracklake query --lake <folder> ...`); the folder must not hold a lake already.
    let dir = match std::env::var_os("TRACKLAKE_BENCH_LAKE") {
        Some(keep) => tempfile::Builder::new()
            .prefix("bench-lake-")
            .tempdir_in({
                std::fs::create_dir_all(&keep).expect("create TRACKLAKE_BENCH_LAKE");
                &keep
            })
            .expect("a folder in TRACKLAKE_BENCH_LAKE")
            .keep(),
        None => tempfile::tempdir().expect("temp dir").keep(),
    };
    let _cleanup = Cleanup(
        std::env::var_os("TRACKLAKE_BENCH_LAKE")
            .is_none()
            .then(|| dir.clone()),
    );
    let dir = dir.as_path();
    let started = Instant::now();
    let (written, files) = generate(dir, rows);
    if std::env::var_os("TRACKLAKE_BENCH_LAKE").is_some() {
        println!("lake kept at {}", dir.display());
    }
    println!(
        "lake: {written} rows in {files} Parquet files over {DAYS} days, written in {:.1} s; {threads} threads per engine",
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let local: Vec<(String, Duration, usize)> = runtime.block_on(async {
        let athena = LocalAthena::open(dir).await.expect("open the lake");
        let mut out = Vec::new();
        for q in athena.queries().iter().filter(|q| !q.is_view()) {
            let count = |b: &[arrow::array::RecordBatch]| b.iter().map(|b| b.num_rows()).sum::<usize>();
            let n = count(&athena.run_named(&q.name).await.expect("query"));
            let mut times = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let t = Instant::now();
                athena.run_named(&q.name).await.expect("query");
                times.push(t.elapsed());
            }
            out.push((q.name.clone(), median(times), n));
        }
        out
    });

    let duck = duckdb(dir, threads);
    println!();
    println!("| query | rows out | local Athena (DataFusion) ms | DuckDB ms | local speed-up (DuckDB ms / local ms) |");
    println!("|---|---|---|---|---|");
    for (name, time, n) in &local {
        let ms = time.as_secs_f64() * 1e3;
        match duck.as_ref().ok().and_then(|d| d.get(name)) {
            Some(d) => {
                let dms = d["median_s"].as_f64().unwrap() * 1e3;
                println!("| {name} | {n} | {ms:.1} | {dms:.1} | {:.2}x |", dms / ms);
                // Timing different answers would compare nothing.
                assert_eq!(
                    d["rows"].as_u64(),
                    Some(*n as u64),
                    "{name}: DuckDB returned another number of rows than the local Athena"
                );
            }
            None => println!("| {name} | {n} | {ms:.1} | - | - |"),
        }
    }
    if let Err(why) = duck {
        println!("\nDuckDB skipped: {why}");
    }
}

/// Removes the generated lake at the end unless it is to be kept.
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Generates about `rows` observations: 85% plays with a daily and weekly rhythm (1% read twice),
/// weekly top-list snapshots of three time ranges, weekly snapshots of four playlists, saves.
fn generate(root: &Path, rows: usize) -> (usize, usize) {
    let mut rng = fastrand_like::Rng(0x5eed);
    let tracks: Vec<Track> = (0..TRACKS)
        .map(|i| {
            let a = (i * 7919) % ARTISTS;
            Track {
                id: leak(format!("tr{i:020}")),
                name: leak(format!("Track {i}")),
                artist_id: leak(format!("ar{a:020}")),
                artist_name: leak(format!("Artist {a}")),
                duration_ms: 150_000 + (i % 120) as i32 * 1000,
            }
        })
        .collect();
    // A listener's taste: a Zipf-like pick, so top lists have a head and a long tail.
    let pick = |rng: &mut fastrand_like::Rng| {
        let u = rng.f64();
        tracks[((TRACKS as f64).powf(u) as usize)
            .saturating_sub(1)
            .min(TRACKS - 1)]
    };
    let plays_per_day = rows * 85 / 100 / DAYS;
    let start = chrono::NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
    let (mut written, mut files) = (0, 0);
    for day in 0..DAYS {
        let date = start + chrono::Days::new(day as u64);
        let d = date.format("%Y-%m-%d").to_string();
        let mut day_obs: Vec<Obs> = Vec::new();
        let weekend = date.format("%u").to_string().parse::<u32>().unwrap() >= 6;
        for _ in 0..plays_per_day {
            // Daily rhythm: mornings and evenings; later on weekends.
            let hour = match rng.f64() {
                u if u < 0.35 => (if weekend { 10 } else { 7 }) + rng.below(3),
                u if u < 0.75 => 18 + rng.below(5),
                _ => rng.below(24),
            };
            let at = format!("{d}T{hour:02}:{:02}:{:02}.000Z", rng.below(60), rng.below(60));
            let p = lake::play(pick(&mut rng), &at);
            if rng.below(100) == 0 {
                day_obs.push(p.copy_observed_at(&format!("{d}T23:59:59.000Z")));
            }
            day_obs.push(p);
        }
        if day % 7 == 0 {
            let observed = format!("{d}T06:00:00.000Z");
            for range in ["short_term", "medium_term", "long_term"] {
                let per_list = rows * 10 / 100 / (DAYS / 7) / 3;
                for rank in 1..=per_list.max(1) {
                    let popularity = (rng.below(3) > 0).then(|| 30 + rng.below(70) as i32);
                    day_obs.push(lake::top(
                        pick(&mut rng),
                        range,
                        rank as i32,
                        &observed,
                        popularity,
                    ));
                }
            }
            for playlist in 0..4 {
                let per_list = rows * 4 / 100 / (DAYS / 7) / 4;
                let snapshot = format!("snap-{playlist}-{day}");
                for pos in 0..per_list.max(1) {
                    // Mostly the same entries week to week, a few replaced.
                    let t = if rng.below(10) == 0 {
                        pick(&mut rng)
                    } else {
                        tracks[(playlist * 1000 + pos) % TRACKS]
                    };
                    let o = lake::entry(
                        t,
                        leak(format!("pl{playlist:020}")),
                        &snapshot,
                        pos as i32,
                        &observed,
                        &observed,
                    );
                    day_obs.push(o);
                }
            }
        }
        for _ in 0..(rows / 100 / DAYS).max(1) {
            let at = format!("{d}T20:{:02}:00.000Z", rng.below(60));
            day_obs.push(lake::saved(pick(&mut rng), &at, &at));
        }
        // One file per source for the day: the partition of the day.
        for source in ["recently_played", "top_tracks", "playlist", "saved_tracks"] {
            let records: Vec<&serde_json::Value> = day_obs
                .iter()
                .filter(|o| o.source == source)
                .map(|o| &o.record)
                .collect();
            if records.is_empty() {
                continue;
            }
            let partition = root.join(format!("processed/source={source}/dt={d}"));
            lake::write_parquet(&partition, files, &lake::batch(&records));
            written += records.len();
            files += 1;
        }
    }
    (written, files)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The DuckDB side: a Python script run once, timing every query; its answer per query name is
/// `{"median_s": …, "rows": …}`.
fn duckdb(lake: &Path, threads: usize) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import duckdb"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => {
            return Err(format!(
                "`{} -c 'import duckdb'` failed; pip install duckdb (or set TRACKLAKE_PYTHON)",
                python.display()
            ))
        }
    }
    let mut queries = serde_json::Map::new();
    let mut setup = vec![format!(
        "CREATE OR REPLACE VIEW track_observations AS SELECT * FROM read_parquet('{}/processed/*/*/*.parquet', hive_partitioning = true)",
        lake.display()
    )];
    for q in local_athena::built_in_queries() {
        let mut sql = q.sql.clone();
        for (trino, duck) in DUCKDB_REWRITES {
            sql = sql.replace(trino, duck);
        }
        if q.is_view() {
            setup.push(sql);
        } else {
            queries.insert(q.name.clone(), json!(sql));
        }
    }
    let input = json!({"setup": setup, "queries": queries, "runs": RUNS, "threads": threads});
    let script = r#"
import json, statistics, sys, time
import duckdb
spec = json.load(sys.stdin)
con = duckdb.connect()
con.execute(f"SET threads = {spec['threads']}")
con.execute("SET TimeZone = 'UTC'")
# Past 2 s a query draws a progress bar on stdout, which must carry only the JSON answer.
con.execute("SET enable_progress_bar = false")
for s in spec["setup"]:
    con.execute(s)
out = {}
for name, sql in spec["queries"].items():
    rows = len(con.execute(sql).fetchall())
    times = []
    for _ in range(spec["runs"]):
        t = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - t)
    out[name] = {"median_s": statistics.median(times), "rows": rows}
print(json.dumps(out))
"#;
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "DuckDB script failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("DuckDB script answered no JSON: {e}"))
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("TRACKLAKE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// A tiny deterministic generator (xorshift), so the lake is the same on every run.
mod fastrand_like {
    pub struct Rng(pub u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn f64(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }
}
