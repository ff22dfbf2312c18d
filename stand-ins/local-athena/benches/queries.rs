//! The named queries timed on the local Athena (DataFusion) and, in the same run, on DuckDB (its
//! Python package) over the same Parquet files.
//!
//! `cargo bench -p local-athena` (rows: `TRACKLAKE_BENCH_ROWS`, default 1,000,000). The lake is a
//! generated listening history written as the local Firehose writes it (snappy Parquet under
//! `processed/source=…/dt=…/`). Each query runs once on each engine to warm up, then `RUNS`
//! rounds in which the two engines take turns; the medians are printed, and the speed ratio is the
//! median of the rounds' ratios, with their range. Both engines use the same number of threads.
//! It only prints figures.
//!
//! DuckDB is asked with `TRACKLAKE_PYTHON`, else `.venv/bin/python` at the workspace root, else
//! `python3`; without the `duckdb` module the DuckDB column says so and is skipped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `tracklake` binary's allocator (tracklake/src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use local_athena::LocalAthena;
use serde_json::json;
use test_support::duckdb::DuckDbProcess;
use test_support::lake::{self, Obs, Track};

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
    let athena = runtime.block_on(LocalAthena::open(dir)).expect("open the lake");
    let mut duck = DuckDb::start(dir, threads);
    let local_run = |name: &str| {
        let t = Instant::now();
        let batches = runtime.block_on(athena.run_named(name)).expect("query");
        (t.elapsed(), batches.iter().map(|b| b.num_rows()).sum::<usize>())
    };

    println!();
    println!(
        "| query | rows out | local Athena (DataFusion) ms | DuckDB ms | local speed (DuckDB ms / local ms) | range |"
    );
    println!("|---|---|---|---|---|---|");
    for q in athena.queries().iter().filter(|q| !q.is_view()) {
        let name = q.name.as_str();
        // One warm-up run each, then RUNS rounds in which the engines take turns, so that a slow
        // spell of this shared machine falls on both rather than on one.
        let (_, rows) = local_run(name);
        let duck_sql = duckdb_sql(&q.sql);
        let mut duck_rows = duck.as_mut().ok().map(|d| d.run(&duck_sql).map(|(_, n)| n));
        let (mut local_times, mut duck_times) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
        for _ in 0..RUNS {
            local_times.push(local_run(name).0);
            if !matches!(duck_rows, Some(Ok(_))) {
                continue;
            }
            if let Ok(d) = duck.as_mut() {
                match d.run(&duck_sql) {
                    Ok((time, _)) => duck_times.push(time),
                    Err(why) => duck_rows = Some(Err(why)),
                }
            }
        }
        let ms = median(local_times.clone()).as_secs_f64() * 1e3;
        match duck_rows {
            Some(Ok(n)) if duck_times.len() == RUNS => {
                // Timing different answers would compare nothing.
                assert_eq!(
                    n, rows,
                    "{name}: DuckDB returned another number of rows than the local Athena"
                );
                let dms = median(duck_times.clone()).as_secs_f64() * 1e3;
                let mut ratios: Vec<f64> = duck_times
                    .iter()
                    .zip(&local_times)
                    .map(|(d, l)| d.as_secs_f64() / l.as_secs_f64())
                    .collect();
                ratios.sort_by(f64::total_cmp);
                println!(
                    "| {name} | {rows} | {ms:.1} | {dms:.1} | {:.2}x | {:.2}-{:.2}x |",
                    ratios[RUNS / 2],
                    ratios[0],
                    ratios[RUNS - 1]
                );
            }
            Some(Err(why)) => println!("| {name} | {rows} | {ms:.1} | DuckDB failed: {why} | - | - |"),
            _ => println!("| {name} | {rows} | {ms:.1} | - | - | - |"),
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
/// A query of `sql/` as DuckDB runs it: the file after `DUCKDB_REWRITES`, nothing else.
fn duckdb_sql(sql: &str) -> String {
    DUCKDB_REWRITES
        .iter()
        .fold(sql.to_owned(), |sql, (trino, duck)| sql.replace(trino, duck))
}

/// DuckDB over the lake, in one Python process that stays up for the whole bench: each request
/// (`{"sql": ...}`) runs one statement and answers with its time inside Python and its row count.
struct DuckDb(DuckDbProcess);

const DUCKDB_SCRIPT: &str = r#"
import json, sys, time
import duckdb
con = duckdb.connect()
con.execute(f"SET threads = {int(sys.argv[1])}")
con.execute("SET TimeZone = 'UTC'")
# Past 2 s a query draws a progress bar on stdout, which must carry only the JSON answers.
con.execute("SET enable_progress_bar = false")
for line in sys.stdin:
    try:
        t = time.perf_counter()
        rows = len(con.execute(json.loads(line)["sql"]).fetchall())
        answer = {"s": time.perf_counter() - t, "rows": rows}
    except Exception as e:
        answer = {"error": str(e)}
    print(json.dumps(answer), flush=True)
"#;

impl DuckDb {
    /// Starts DuckDB over the lake, with the views of `sql/` created; an error says why not.
    fn start(lake: &Path, threads: usize) -> Result<Self, String> {
        let mut duck = DuckDb(DuckDbProcess::start(DUCKDB_SCRIPT, &[&threads.to_string()])?);
        duck.run(&format!(
            "CREATE OR REPLACE VIEW track_observations AS SELECT * FROM read_parquet('{}/processed/*/*/*.parquet', hive_partitioning = true)",
            lake.display()
        ))?;
        for view in local_athena::built_in_queries().iter().filter(|q| q.is_view()) {
            duck.run(&duckdb_sql(&view.sql))?;
        }
        Ok(duck)
    }

    /// Runs one statement: the time DuckDB took and the rows it returned.
    fn run(&mut self, sql: &str) -> Result<(Duration, usize), String> {
        self.0.ask(&json!({ "sql": sql }))
    }
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
