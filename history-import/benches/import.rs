//! Import throughput: `tracklake import` of a synthetic extended streaming history into a fresh
//! local lake (`import_into_lake`, partitioned by the play's UTC date), against DuckDB's Python
//! package converting the same files with `read_json` and `COPY ... TO` Parquet, side by side in
//! one run. Each side runs in a child process of its own, round by round, so that its peak
//! memory (`VmHWM`) is its own. It only prints figures.
//!
//! `cargo bench -p history-import --bench import` (plays: `TRACKLAKE_BENCH_IMPORT_PLAYS`, default
//! 1,000,000; rounds: `TRACKLAKE_BENCH_IMPORT_ROUNDS`, default 5). Python: `TRACKLAKE_PYTHON`, else `.venv/bin/python` at the workspace root, else
//! `python3`; DuckDB is skipped, with a message, when `import duckdb` fails there.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `tracklake` binary's allocator (tracklake/src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

const DEFAULT_PLAYS: usize = 1_000_000;
/// Plays under `cargo test` (no `--bench` argument).
const TEST_PLAYS: usize = 20_000;
/// Rounds of each side, taking turns.
const ROUNDS: usize = 5;
/// Plays per file, as in the exports Spotify sends (about 15,000 per file, 10 to 15 MB).
const PLAYS_PER_FILE: usize = 15_000;
/// Tracks the synthetic listener draws from.
const CATALOG_TRACKS: u64 = 30_000;
/// The argument that makes this binary the import's child process.
const CHILD_ARG: &str = "--import-child";
/// The folder name of the extended history in Spotify's zip.
const EXTENDED_FOLDER: &str = "Spotify Extended Streaming History";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == CHILD_ARG) {
        let phases = args.get(at + 3).is_some_and(|a| a == "phases");
        import_child(Path::new(&args[at + 1]), Path::new(&args[at + 2]), phases);
        return;
    }
    // `cargo test --all-targets` runs this too, without `--bench`: then a few plays, so the test
    // suite checks that the bench still works without spending minutes on it.
    let bench = args.iter().any(|a| a == "--bench");
    let n: usize = std::env::var("TRACKLAKE_BENCH_IMPORT_PLAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { DEFAULT_PLAYS } else { TEST_PLAYS });
    let rounds = std::env::var("TRACKLAKE_BENCH_IMPORT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(if bench { ROUNDS } else { 1 });
    let dir = tempfile::tempdir().expect("a temporary folder");
    let export = dir.path().join("export");
    let written = write_history(&export.join(EXTENDED_FOLDER), n);
    let mb = written.bytes as f64 / 1e6;
    println!(
        "import of a synthetic extended streaming history: {n} plays in {} files, {mb:.1} MB of JSON (MB = 10^6 bytes); {} plays kept by tracklake (the others are podcasts or private sessions, counted and left out); the sides take turns for {rounds} rounds, each in a child process: median times, and the median of the rounds' speed ratios with their range",
        written.files, written.kept
    );

    let mut duck = Duck::probe();
    if let Err(e) = &duck {
        println!("DuckDB skipped: {e}");
    }
    let mut ours = Vec::new();
    let mut ducks: Vec<(DuckRun, Vec<Measure>)> = DuckRun::ALL.iter().map(|&r| (r, Vec::new())).collect();
    for round in 0..rounds {
        let lake = dir.path().join(format!("lake-{round}"));
        // The phases are timed in the first round only: they take a second import.
        let measure = run_import(&export, &lake, written.kept, round == 0);
        std::fs::remove_dir_all(&lake).expect("remove the lake");
        ours.push(measure);
        if let Ok(python) = &duck {
            for (run, times) in &mut ducks {
                let out = dir.path().join(format!("duck-{round}"));
                match run.convert(python, &export, &out, n) {
                    Ok(m) => times.push(m),
                    Err(e) => {
                        println!("DuckDB failed, so it is left out: {e}");
                        duck = Err(e);
                        break;
                    }
                }
                let _ = std::fs::remove_dir_all(&out);
                let _ = std::fs::remove_file(&out);
            }
        }
    }

    let phases = |pick: fn(&Measure) -> Duration| pick(&ours[0]);
    println!(
        "tracklake, first round: read and parse the files {:.3} s, plays to records {:.3} s, merge into Parquet {:.3} s",
        phases(|m| m.phases[0]).as_secs_f64(),
        phases(|m| m.phases[1]).as_secs_f64(),
        phases(|m| m.phases[2]).as_secs_f64(),
    );
    println!();
    println!("| importer | seconds | plays/s | MB/s | peak memory (MB) | tracklake / this speed (range) |");
    println!("|---|---|---|---|---|---|");
    let peak = |ms: &[Measure]| ms.iter().map(|m| m.peak_kb).max().unwrap_or(0) as f64 / 1024.0;
    let ours_s = median(ours.iter().map(|m| m.time).collect()).as_secs_f64();
    // The import reads on one thread and merges on every core (history_import::import_into).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "| tracklake import ({cores} threads) | {ours_s:.3} | {:.0} | {:.1} | {:.0} | |",
        n as f64 / ours_s,
        mb / ours_s,
        peak(&ours)
    );
    for (run, times) in &ducks {
        if times.len() != rounds {
            continue;
        }
        let s = median(times.iter().map(|m| m.time).collect()).as_secs_f64();
        let ratios = ours
            .iter()
            .zip(times)
            .map(|(o, d)| d.time.as_secs_f64() / o.time.as_secs_f64())
            .collect();
        println!(
            "| DuckDB, {} | {s:.3} | {:.0} | {:.1} | {:.0} | {} |",
            run.label(),
            n as f64 / s,
            mb / s,
            peak(times),
            ratio_text(ratios)
        );
    }
}

/// One round of one side: the time of the work inside the child (its start not counted), its
/// phases (tracklake only) and the child's peak resident memory.
#[derive(Debug, Clone, Copy, Default)]
struct Measure {
    time: Duration,
    phases: [Duration; 3],
    peak_kb: u64,
}

/// Runs this binary as the import's child and reads its answer line.
fn run_import(export: &Path, lake: &Path, kept: usize, phases: bool) -> Measure {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .args([CHILD_ARG])
        .arg(export)
        .arg(lake)
        .arg(if phases { "phases" } else { "" })
        .output()
        .expect("start the import child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the import child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_str(stdout.trim()).expect("the child's answer");
    assert_eq!(answer["imported"].as_u64(), Some(kept as u64), "plays imported");
    let secs = |v: &Value| Duration::from_secs_f64(v.as_f64().expect("seconds"));
    Measure {
        time: secs(&answer["s"]),
        phases: [
            secs(&answer["read"]),
            secs(&answer["records"]),
            secs(&answer["merge"]),
        ],
        peak_kb: answer["peak_kb"].as_u64().expect("peak"),
    }
}

/// The child: imports `export` into `lake` as `tracklake import` does, then prints the time, the
/// plays imported and its peak memory as one JSON line. With `phases`, the phases are timed after
/// that by a second import (so that the timed import is exactly `import_into_lake`).
fn import_child(export: &Path, lake: &Path, phases: bool) {
    let options = history_import::Options::default();
    let start = Instant::now();
    let opened = history_import::Export::open(&[export]).expect("open the export");
    let run = history_import::import_into_lake(&opened, lake, &options, schemas::Timestamp::now());
    let seconds = start.elapsed().as_secs_f64();
    if let Some(e) = run.error {
        panic!("the import failed: {e}");
    }
    let imported: usize = run.files.iter().map(|f| f.imported).sum();
    let peak_kb = peak_kb();
    let phases = if phases {
        self::phases(&opened, &lake.with_extension("phases"), &options)
    } else {
        [Duration::ZERO; 3]
    };
    println!(
        "{}",
        json!({
            "s": seconds,
            "imported": imported,
            "peak_kb": peak_kb,
            "read": phases[0].as_secs_f64(),
            "records": phases[1].as_secs_f64(),
            "merge": phases[2].as_secs_f64(),
        })
    );
}

/// The import's three phases, as `import_into_lake` runs them, over every file, into a second
/// lake: read and parse, plays to records, merge into the partitions' Parquet files.
fn phases(export: &history_import::Export, lake: &Path, options: &history_import::Options) -> [Duration; 3] {
    let mut times = [Duration::ZERO; 3];
    let observed_at = schemas::Timestamp::now();
    for entry in &export.entries {
        let t = Instant::now();
        let report = entry.read(options).expect("read");
        times[0] += t.elapsed();
        let t = Instant::now();
        let mut partitions: std::collections::BTreeMap<String, Vec<schemas::TrackObservation>> =
            Default::default();
        for play in &report.plays {
            if let Ok(row) = history_import::observation::observation(play, entry.file_name(), observed_at) {
                partitions.entry(row.event_at.utc_date()).or_default().push(row);
            }
        }
        times[1] += t.elapsed();
        let t = Instant::now();
        for (dt, rows) in partitions {
            lake_layout::merge(&history_import::partition_file(lake, &dt), &rows).expect("merge");
        }
        times[2] += t.elapsed();
    }
    let _ = std::fs::remove_dir_all(lake);
    times
}

/// This process's peak resident memory in KiB (`VmHWM` of /proc/self/status; 0 where there is
/// none).
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The DuckDB conversions measured: partitioned by the UTC date like the lake, on DuckDB's
/// default threads (one per core) and on one; and unpartitioned, one file, on all cores.
#[derive(Debug, Clone, Copy)]
enum DuckRun {
    Partitioned { threads: Option<usize> },
    OneFile,
}

impl DuckRun {
    const ALL: [DuckRun; 3] = [
        DuckRun::Partitioned { threads: None },
        DuckRun::Partitioned { threads: Some(1) },
        DuckRun::OneFile,
    ];

    fn label(self) -> String {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self {
            DuckRun::Partitioned { threads: None } => format!("partitioned by date ({cores} threads)"),
            DuckRun::Partitioned { threads: Some(t) } => format!("partitioned by date ({t} thread)"),
            DuckRun::OneFile => format!("one file, unpartitioned ({cores} threads)"),
        }
    }

    /// Converts the export's files in a fresh Python process: the time the COPY took inside it,
    /// after checking the rows written, and the process's peak memory.
    fn convert(self, python: &Path, export: &Path, out: &Path, n: usize) -> Result<Measure, String> {
        let files = export.join(EXTENDED_FOLDER).join("*.json");
        let (threads, partitioned) = match self {
            DuckRun::Partitioned { threads } => (threads.unwrap_or(0), true),
            DuckRun::OneFile => (0, false),
        };
        let output = Command::new(python)
            .args(["-c", DUCKDB_SCRIPT])
            .arg(&files)
            .arg(out)
            .arg(threads.to_string())
            .arg(if partitioned { "1" } else { "0" })
            .output()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)));
        }
        let answer: Value = serde_json::from_str(stdout.trim())
            .map_err(|e| format!("DuckDB answered no JSON ({e}): {stdout}"))?;
        let rows = answer["rows"].as_u64().unwrap_or(0) as usize;
        if rows != n {
            return Err(format!("DuckDB wrote {rows} rows, expected {n}"));
        }
        Ok(Measure {
            time: Duration::from_secs_f64(answer["s"].as_f64().unwrap_or(0.0)),
            phases: [Duration::ZERO; 3],
            peak_kb: answer["peak_kb"].as_u64().unwrap_or(0),
        })
    }
}

/// `python -c DUCKDB_SCRIPT files out threads partitioned`: one COPY of every play, the columns
/// the import reads with the types the lake gives them, plus the UTC date; prints
/// `{"s", "rows", "peak_kb"}`.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, time
import duckdb
files, out, threads, partitioned = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
if threads:
    con.execute(f"SET threads = {threads}")
columns = {
    "ts": "TIMESTAMPTZ", "platform": "VARCHAR", "ms_played": "BIGINT", "conn_country": "VARCHAR",
    "master_metadata_track_name": "VARCHAR", "master_metadata_album_artist_name": "VARCHAR",
    "master_metadata_album_album_name": "VARCHAR", "spotify_track_uri": "VARCHAR",
    "episode_name": "VARCHAR", "spotify_episode_uri": "VARCHAR", "audiobook_uri": "VARCHAR",
    "audiobook_chapter_uri": "VARCHAR", "reason_start": "VARCHAR", "reason_end": "VARCHAR",
    "shuffle": "BOOLEAN", "skipped": "BOOLEAN", "offline": "BOOLEAN", "incognito_mode": "BOOLEAN",
}
cols = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
select = f"SELECT *, CAST(ts AS DATE) AS dt FROM read_json('{files}', format = 'array', columns = {{{cols}}})"
options = "FORMAT parquet, COMPRESSION snappy" + (", PARTITION_BY (dt)" if partitioned else "")
t = time.perf_counter()
con.execute(f"COPY ({select}) TO '{out}' ({options})")
seconds = time.perf_counter() - t
source = f"{out}/**/*.parquet" if partitioned else out
rows = con.execute(f"SELECT count(*) FROM read_parquet('{source}')").fetchone()[0]
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1])
print(json.dumps({"s": seconds, "rows": rows, "peak_kb": peak}), flush=True)
"#;

/// Finds a Python that imports duckdb: `TRACKLAKE_PYTHON`, else the workspace's `.venv`, else
/// `python3` (the lookup of test-support, whose dependencies this small crate does not need).
struct Duck;

impl Duck {
    fn probe() -> Result<PathBuf, String> {
        let python = std::env::var_os("TRACKLAKE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
                if venv.exists() {
                    venv
                } else {
                    PathBuf::from("python3")
                }
            });
        let probe = Command::new(&python).args(["-c", "import duckdb"]).output();
        if !matches!(probe, Ok(ref o) if o.status.success()) {
            return Err(format!(
                "`{} -c 'import duckdb'` failed. Install it (scripts/python-env.sh) or set TRACKLAKE_PYTHON.",
                python.display()
            ));
        }
        Ok(python)
    }
}

/// The median of the rounds' speed ratios (DuckDB's time over ours), with their range.
fn ratio_text(mut ratios: Vec<f64>) -> String {
    if ratios.is_empty() {
        return "-".into();
    }
    ratios.sort_by(f64::total_cmp);
    format!(
        "{:.2}x ({:.2}-{:.2}x)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    )
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[derive(Debug, Default)]
struct Written {
    files: usize,
    bytes: u64,
    /// Plays the import keeps: music plays outside private sessions.
    kept: usize,
}

/// Writes `n` plays of one listener, three years back from 2026-01-01 and about 95 s apart, as
/// Spotify's extended history files of [`PLAYS_PER_FILE`] plays: pretty-printed JSON arrays with
/// every field a real file has (the IP address, user agent and user name too, which the import
/// skips). About 1 in 100 plays is a podcast episode and 1 in 200 a private session; skips,
/// shuffle, offline plays and short plays are mixed in. A fixed seed: same `n`, same files.
fn write_history(dir: &Path, n: usize) -> Written {
    std::fs::create_dir_all(dir).expect("create the export folder");
    let mut rng = Rng(0x5EED_2026);
    let end_ms = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("a date")
        .timestamp_millis();
    let step_ms = 95_000;
    let mut at = end_ms - n as i64 * step_ms;
    let mut written = Written::default();
    let mut file = Vec::with_capacity(PLAYS_PER_FILE);
    for i in 0..n {
        at += step_ms / 2 + rng.below(step_ms as u64) as i64;
        let ts = DateTime::<Utc>::from_timestamp_millis(at)
            .expect("a time")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let podcast = rng.below(100) == 0;
        let incognito = rng.below(200) == 0;
        let skipped = rng.below(8) == 0;
        let track = rng.below(CATALOG_TRACKS);
        let ms_played = if skipped {
            rng.below(30_000)
        } else {
            120_000 + rng.below(180_000)
        };
        let platform =
            ["android", "ios", "windows", "osx", "web_player", "cast_to_device"][rng.below(6) as usize];
        let mut play = json!({
            "ts": ts,
            "platform": platform,
            "ms_played": ms_played,
            "conn_country": "SE",
            "ip_addr": format!("192.0.2.{}", rng.below(250)),
            "master_metadata_track_name": null,
            "master_metadata_album_artist_name": null,
            "master_metadata_album_album_name": null,
            "spotify_track_uri": null,
            "episode_name": null,
            "episode_show_name": null,
            "spotify_episode_uri": null,
            "audiobook_title": null,
            "audiobook_uri": null,
            "audiobook_chapter_uri": null,
            "audiobook_chapter_title": null,
            "reason_start": if skipped { "fwdbtn" } else { "trackdone" },
            "reason_end": if skipped { "fwdbtn" } else { "trackdone" },
            "shuffle": rng.below(3) == 0,
            "skipped": skipped,
            "offline": rng.below(20) == 0,
            "offline_timestamp": 0,
            "incognito_mode": incognito,
            "user_agent_decrypted": "unknown",
            "username": "bench-listener",
        });
        if podcast {
            play["episode_name"] = json!(format!("Episode {}", track % 500));
            play["episode_show_name"] = json!(format!("Show {}", track % 20));
            play["spotify_episode_uri"] = json!(format!("spotify:episode:{}", base62_id(track)));
        } else {
            play["master_metadata_track_name"] = json!(format!("Track {track} – Live"));
            play["master_metadata_album_artist_name"] = json!(format!("Artist {}", track % 3_000));
            play["master_metadata_album_album_name"] = json!(format!("Album {}", track / 12));
            play["spotify_track_uri"] = json!(format!("spotify:track:{}", base62_id(track)));
            written.kept += usize::from(!incognito);
        }
        file.push(play);
        if file.len() == PLAYS_PER_FILE || i + 1 == n {
            let path = dir.join(format!(
                "Streaming_History_Audio_2023-2025_{}.json",
                written.files
            ));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create a file"));
            serde_json::to_writer_pretty(&mut out, &file).expect("write a file");
            out.flush().expect("write a file");
            written.bytes += std::fs::metadata(&path).expect("the file").len();
            written.files += 1;
            file.clear();
        }
    }
    written
}

/// A Spotify id (22 base-62 characters) for a number.
fn base62_id(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = [b'0'; 22];
    n = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for slot in id.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
        if n == 0 {
            n = 0x2545_F491_4F6C_DD1D;
        }
    }
    String::from_utf8(id.to_vec()).expect("ASCII")
}

/// xorshift64: a fixed, dependency-free sequence for the synthetic history.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
