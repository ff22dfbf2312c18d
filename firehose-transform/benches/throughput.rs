//! Throughput and cold start of the transform, in one run side by side with a plain Python Lambda
//! handler that does the same normalization (`bench/python_transform.py`, driven by
//! `bench/python_bench.py`):
//!
//! ```text
//! cargo bench -p firehose-transform
//! ```
//!
//! - throughput: `process(&event)` in-process on a ~1 MiB and a ~6 MiB event (the Lambda request
//!   limit), against the Python handler plus `json.dumps` of its response (`process` returns the
//!   response already serialized); and the same with the request JSON parsed first on both sides,
//!   which is what one invocation costs. The two sides take turns over several rounds, and the
//!   ratio reported is the median of the rounds' ratios, with their range: on a shared machine a
//!   slow spell then falls on both sides rather than on one;
//! - a floor, "read only": Rust doing no more than reading each record (base64 decoded, JSON
//!   checked by serde_json, nothing kept or written), against the same Python timings. Its ratio
//!   is the most any transform that reads its records with serde_json could reach; and "write
//!   only": only writing the already built records (JSON line, then base64). Together they show
//!   how much of what the goal allows per record is left to build the record;
//! - cold start: process start to response (the process's exit) on the 1 MiB event, the release
//!   binary with `--event FILE` against `python3 bench/python_bench.py --cold FILE` (`python3`
//!   resolved to the interpreter it runs, so that a wrapper such as a pyenv shim adds nothing).
//!
//! Timings are printed, never asserted. What is asserted is that both sides produced the same
//! records (the count of `Ok` records and a hash of their sorted `record_key`s): if not, the Python
//! comparator has drifted from `normalize.rs` and its figures mean nothing.
//!
//! Run without `--bench` (`cargo test --benches`, `--all-targets`), it only checks that agreement,
//! on a small event, and times nothing.

use base64::Engine as _;
use firehose_transform::normalize::{normalize_bytes, Verdict};
use firehose_transform::{process, sample, FirehoseEvent, FirehoseResponse, RecordResult};
use schemas::json_line::WriteJson as _;
use schemas::TrackObservation;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Lambda binary's allocator (src/main.rs), so the in-process figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The events of the throughput comparison: (label, target JSON bytes, Python iterations per round).
const SIZES: [(&str, usize, usize); 2] = [("1 MiB", 1 << 20, 4), ("6 MiB", 6 << 20, 2)];
/// Rounds per event; each round times Rust, then Python.
const ROUNDS: usize = 5;
/// In each round Rust runs at least this many timed iterations, and goes on until
/// `RUST_MIN_TIME` has passed.
const RUST_MIN_ITERATIONS: usize = 10;
const RUST_MIN_TIME: Duration = Duration::from_millis(500);
const RUST_WARM_UP: usize = 3;
/// The measure of the read-only floor ([`read_only`]), set against Python's transform timings.
const READ_ONLY: &str = "read only";
/// The measure of the write-only floor ([`write_only`]), set against the same Python timings.
const WRITE_ONLY: &str = "write only";
/// The two floors together, round by round: what is left of a transform without building records.
const FLOOR: &str = "floor";
/// Cold-start runs of each side, interleaved, after one untimed run of each.
const COLD_RUNS: usize = 15;
/// Event of the check-only mode.
const SMOKE_BYTES: usize = 64 << 10;
/// The goal: Rust throughput at least this many times Python's.
const GOAL_RATIO: f64 = 20.0;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf();
    let python = find_python();
    match &python {
        Some(p) => println!("python3 is {} ({})", p.path.display(), p.version),
        None => println!("python3 not found on PATH: only the Rust figures are printed, with no comparison."),
    }
    let dir = TempDir::new();
    if benching {
        bench(&root, &dir.0, python.as_ref());
    } else {
        smoke(&root, &dir.0, python.as_ref());
    }
}

/// The directory of the event files, removed at the end, also when a check fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("firehose-transform-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Check-only mode: both sides agree on a small event.
fn smoke(root: &Path, dir: &Path, python: Option<&Interpreter>) {
    let Some(python) = python else { return };
    let (file, event, _) = write_event(dir, "smoke", SMOKE_BYTES);
    let rust = produced(&process(&event).response);
    assert_eq!(
        read_only(&event),
        event.records.len(),
        "the read-only floor reads every sample record"
    );
    let built = built_records(&event);
    assert_eq!(
        built.len(),
        rust.ok,
        "the write-only floor writes every Ok record"
    );
    assert!(write_only(&built) > 0, "the write-only floor writes");
    let py = run_python(python, root, &file, 1);
    check_agreement("smoke", &rust, &py);
    // The golden fixtures hold the edge cases (local files, episodes, null items, odd dates).
    for case in ["playlist_shapes", "sources", "invalid"] {
        let file = root.join(format!("firehose-transform/tests/fixtures/{case}.event.json"));
        let text = std::fs::read_to_string(&file).expect("the golden fixtures exist");
        let event: FirehoseEvent = serde_json::from_str(&text).expect("a fixture is an event");
        check_agreement(
            case,
            &produced(&process(&event).response),
            &run_python(python, root, &file, 1),
        );
    }
    println!(
        "throughput bench (check only): Rust and Python agree on {} sample Ok records and the golden fixtures; run `cargo bench -p \
         firehose-transform` for the figures",
        rust.ok
    );
}

/// One row of the throughput table: the timings of every round (Python's empty without Python).
struct Row {
    event: &'static str,
    bytes: usize,
    records: usize,
    measure: &'static str,
    rust_s: Vec<f64>,
    python_s: Vec<f64>,
}

impl Row {
    /// Python's time over Rust's in each round: the ratio of two timings taken side by side.
    fn ratios(&self) -> Vec<f64> {
        self.python_s
            .iter()
            .zip(&self.rust_s)
            .map(|(p, r)| p / r)
            .collect()
    }
}

fn bench(root: &Path, dir: &Path, python: Option<&Interpreter>) {
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut cold_file = None;
    for (label, target, python_iterations) in SIZES {
        let (file, event, text) = write_event(dir, label, target);
        let records = event.records.len();
        println!(
            "{label} event: {} bytes of JSON, {records} records, {ROUNDS} rounds",
            text.len()
        );
        let rust = produced(&process(&event).response);

        // Rust and Python take turns, round after round, so that a slow spell of the machine
        // falls on both sides instead of on one.
        let (mut rust_transform, mut rust_invocation) = (Vec::new(), Vec::new());
        let (mut py_transform, mut py_invocation) = (Vec::new(), Vec::new());
        let mut rust_read_only = Vec::new();
        let mut rust_write_only = Vec::new();
        let built = built_records(&event);
        assert_eq!(
            read_only(&event),
            records,
            "every sample record is base64 of JSON text, so the read-only floor reads them all"
        );
        for round in 1..=ROUNDS {
            rust_transform.push(time_rust(|| {
                std::hint::black_box(process(std::hint::black_box(&event)));
            }));
            rust_read_only.push(time_rust(|| {
                std::hint::black_box(read_only(std::hint::black_box(&event)));
            }));
            rust_write_only.push(time_rust(|| {
                std::hint::black_box(write_only(std::hint::black_box(&built)));
            }));
            rust_invocation.push(time_rust(|| {
                let event: FirehoseEvent =
                    serde_json::from_slice(std::hint::black_box(&text)).expect("the event parses");
                std::hint::black_box(process(&event));
            }));
            print!(
                "  round {round}: rust process {:.2} ms, parse + process {:.2} ms",
                rust_transform[round - 1] * 1e3,
                rust_invocation[round - 1] * 1e3
            );
            if let Some(python) = python {
                let py = run_python(python, root, &file, python_iterations);
                check_agreement(label, &rust, &py);
                print!(
                    "; python handler + dumps {:.2} ms, loads + handler + dumps {:.2} ms (same {} Ok records)",
                    py.transform_s * 1e3,
                    py.invocation_s * 1e3,
                    py.produced.ok
                );
                py_transform.push(py.transform_s);
                py_invocation.push(py.invocation_s);
            }
            println!();
        }
        // The floor of each round: its read-only and write-only times together.
        let floor: Vec<f64> = rust_read_only
            .iter()
            .zip(&rust_write_only)
            .map(|(r, w)| r + w)
            .collect();
        for (measure, rust_s, python_s) in [
            ("transform", rust_transform, py_transform.clone()),
            ("invocation", rust_invocation, py_invocation),
            (FLOOR, floor, py_transform.clone()),
            (READ_ONLY, rust_read_only, py_transform.clone()),
            (WRITE_ONLY, rust_write_only, py_transform),
        ] {
            rows.push(Row {
                event: label,
                bytes: text.len(),
                records,
                measure,
                rust_s,
                python_s,
            });
        }
        if cold_file.is_none() {
            cold_file = Some(file);
        }
    }

    let cold_file = cold_file.expect("the first event is the cold-start event");
    println!(
        "cold start on the {} event, {COLD_RUNS} runs of each side...",
        SIZES[0].0
    );
    let (rust_cold, python_cold) = cold_start(root, &cold_file, python);

    print_table(&rows, python.map(|p| p.version.as_str()), rust_cold, python_cold);
    println!("(the whole bench took {:.0} s)", started.elapsed().as_secs_f64());
}

/// The floor under any transform that reads its records with serde_json: each record's base64
/// decoded and its JSON checked as the transform checks it (UTF-8 once, then the JSON), with
/// nothing kept and nothing written. Returns how many records were JSON.
fn read_only(event: &FirehoseEvent) -> usize {
    let mut decoded = Vec::new();
    let mut json = 0;
    for record in &event.records {
        decoded.clear();
        if base64_simd::STANDARD
            .decode_append(record.data.as_bytes(), &mut decoded)
            .is_ok()
        {
            let is_json = std::str::from_utf8(&decoded)
                .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
            json += usize::from(is_json);
        }
    }
    json
}

/// The records of `event` already normalized, for [`write_only`] (set-up, not timed).
fn built_records(event: &FirehoseEvent) -> Vec<TrackObservation> {
    event
        .records
        .iter()
        .filter_map(|record| base64_simd::STANDARD.decode_to_vec(record.data.as_bytes()).ok())
        .filter_map(|bytes| match normalize_bytes(&bytes) {
            Ok(Verdict::Keep(observation, _)) => Some(*observation),
            _ => None,
        })
        .collect()
}

/// The other floor: only writing records that are already built, each as its JSON line and then
/// base64, as the transform does. Returns the bytes of base64 written.
fn write_only(built: &[TrackObservation]) -> usize {
    let mut line = Vec::new();
    let mut encoded = String::new();
    let mut written = 0;
    for observation in built {
        line.clear();
        observation.write_json(&mut line);
        line.push(b'\n');
        encoded.clear();
        base64_simd::STANDARD.encode_append(&line, &mut encoded);
        written += encoded.len();
    }
    written
}

/// Builds an event of about `bytes` of JSON and writes it to `dir`.
fn write_event(dir: &Path, label: &str, bytes: usize) -> (PathBuf, FirehoseEvent, Vec<u8>) {
    let event = sample::event_of_size(bytes);
    let text = serde_json::to_vec(&event).expect("an event serializes");
    let file = dir.join(format!("event-{}.json", label.replace(' ', "")));
    std::fs::write(&file, &text).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    (file, event, text)
}

/// Median seconds of `f`, after a warm-up.
fn time_rust(mut f: impl FnMut()) -> f64 {
    for _ in 0..RUST_WARM_UP {
        f();
    }
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < RUST_MIN_ITERATIONS || start.elapsed() < RUST_MIN_TIME {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    median(times)
}

fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "no timings");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// What one side produced: the Ok records, as hashes that both sides compute the same way.
#[derive(Debug, PartialEq)]
struct Produced {
    ok: usize,
    /// sha256 of the sorted record_keys joined by "\n".
    key_hash: String,
    /// sha256 of the sorted output lines (each with its "\n"), concatenated.
    lines_hash: String,
}

fn produced(response: &serde_json::value::RawValue) -> Produced {
    let response: FirehoseResponse = serde_json::from_str(response.get()).expect("the response parses");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut keys = Vec::new();
    let mut lines = Vec::new();
    for record in response.records.iter().filter(|r| r.result == RecordResult::Ok) {
        let line = b64.decode(&record.data).expect("Ok data is base64");
        let value: Value = serde_json::from_slice(&line).expect("an Ok record is JSON");
        let key = value["record_key"]
            .as_str()
            .expect("an Ok record has a record_key");
        keys.push(key.to_string());
        lines.push(line);
    }
    keys.sort();
    lines.sort();
    Produced {
        ok: keys.len(),
        key_hash: hex(&Sha256::digest(keys.join("\n").as_bytes())),
        lines_hash: hex(&Sha256::digest(lines.concat())),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Python driver's figures on one event.
struct Python {
    transform_s: f64,
    invocation_s: f64,
    produced: Produced,
}

/// The interpreter `python3` resolves to, and its version. The bench runs the interpreter itself,
/// not `python3`, which may be a wrapper script (pyenv's shims) that would add to the cold start.
struct Interpreter {
    path: PathBuf,
    version: String,
}

fn find_python() -> Option<Interpreter> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.version.split()[0])",
        ])
        .output()
        .ok()?;
    let stdout = String::from_utf8(out.stdout).ok()?;
    let mut lines = stdout.lines();
    match (out.status.success(), lines.next(), lines.next()) {
        (true, Some(path), Some(version)) if !path.is_empty() => Some(Interpreter {
            path: PathBuf::from(path),
            version: format!("Python {version}"),
        }),
        _ => None,
    }
}

fn python_command(python: &Interpreter, root: &Path) -> Command {
    let mut command = Command::new(&python.path);
    command.arg(root.join("bench/python_bench.py")).current_dir(root);
    command
}

fn run_python(python: &Interpreter, root: &Path, file: &Path, iterations: usize) -> Python {
    let out = python_command(python, root)
        .arg(file)
        .arg(iterations.to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench/python_bench.py failed ({}):\n{}{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("bench/python_bench.py printed no JSON line ({e}): {stdout}"));
    let text = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("no `{k}` in {line}"))
            .to_string()
    };
    let secs = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("no `{k}` in {line}"));
    Python {
        transform_s: secs("median_s"),
        invocation_s: secs("median_full_s"),
        produced: Produced {
            ok: v["ok"].as_u64().unwrap_or_else(|| panic!("no `ok` in {line}")) as usize,
            key_hash: text("key_hash"),
            lines_hash: text("lines_hash"),
        },
    }
}

/// Fails loudly when the two sides did not produce the same records.
fn check_agreement(label: &str, rust: &Produced, python: &Python) {
    let py = &python.produced;
    if rust.ok != py.ok || rust.key_hash != py.key_hash {
        panic!(
            "\nCOMPARATOR DRIFT on the {label} event: Rust and Python did not produce the same records.\n  \
             Rust:   {} Ok, record_key hash {}\n  Python: {} Ok, record_key hash {}\n\
             bench/python_transform.py no longer does what firehose-transform/src/normalize.rs does \
             (the reference): fix the Python side before reading any figure.\n",
            rust.ok, rust.key_hash, py.ok, py.key_hash
        );
    }
    if rust.lines_hash != py.lines_hash {
        println!(
            "WARNING ({label} event): same record_keys, but the output lines differ byte for byte: \
             some field of bench/python_transform.py drifted from normalize.rs."
        );
    }
}

/// Median seconds from process start to exit, Rust and (if there) Python, interleaved.
fn cold_start(root: &Path, file: &Path, python: Option<&Interpreter>) -> (f64, Option<f64>) {
    let rust = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_firehose-transform"));
        command.arg("--event").arg(file);
        command
    };
    let py = |python| {
        let mut command = python_command(python, root);
        command.arg("--cold").arg(file);
        command
    };
    // One untimed run each: the files and the executables are in the page cache, as on a warm host.
    time_process(rust());
    if let Some(python) = python {
        time_process(py(python));
    }
    let mut rust_times = Vec::new();
    let mut python_times = Vec::new();
    for _ in 0..COLD_RUNS {
        rust_times.push(time_process(rust()));
        if let Some(python) = python {
            python_times.push(time_process(py(python)));
        }
    }
    (median(rust_times), python.map(|_| median(python_times)))
}

fn time_process(mut command: Command) -> f64 {
    let start = Instant::now();
    let out = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn print_table(rows: &[Row], python: Option<&str>, rust_cold: f64, python_cold: Option<f64>) {
    let mb_s = |bytes: usize, s: f64| bytes as f64 / 1e6 / s;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "Firehose transform: Rust (in-process, release) vs {} (bench/python_transform.py); {cpus} CPUs",
        python.unwrap_or("no Python")
    );
    println!(
        "MB = 10^6 bytes of request JSON; times are per invocation, the median of {ROUNDS} rounds in which \
         Rust and Python took turns."
    );
    println!("  transform  = Rust process(&event)  | Python lambda_handler + json.dumps(response)");
    println!("  invocation = the above, after parsing the request JSON (serde_json | json.loads)");
    println!(
        "  read only  = a floor, not a transform: Rust only base64-decoding each record and checking its JSON \
         (serde_json), nothing kept, nothing written | the same Python transform timings"
    );
    println!(
        "  write only = the other floor: Rust only writing the already built records as JSON lines and base64, \
         nothing read | the same Python transform timings"
    );
    println!("  floor      = read only + write only, round by round: a transform that builds no record");
    println!("  Rust/Python = the median of the rounds' ratios, and their range");
    println!();
    println!(
        "{:<6} {:>9} {:>7}  {:<10} {:>9} {:>10} {:>10} {:>11} {:>11} {:>12} {:>11} {:>13}",
        "event",
        "bytes",
        "records",
        "measure",
        "Rust ms",
        "Python ms",
        "Rust MB/s",
        "Python MB/s",
        "Rust rec/s",
        "Python rec/s",
        "Rust/Python",
        "range"
    );
    let mut lowest_transform_ratio: Option<f64> = None;
    // Per event: what the goal allows per record and what the floor takes (µs), the floor's ratio.
    let mut floors: Vec<(&str, f64, f64, f64)> = Vec::new();
    for r in rows {
        let rust_s = median(r.rust_s.clone());
        let (py_ms, py_mb_s, py_rec_s, ratio, range) = if r.python_s.is_empty() {
            ("-".into(), "-".into(), "-".into(), "-".into(), "-".into())
        } else {
            let p = median(r.python_s.clone());
            let ratios = r.ratios();
            let (lo, hi) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let ratio = median(ratios);
            if r.measure == "transform" {
                lowest_transform_ratio = Some(lowest_transform_ratio.map_or(ratio, |l| l.min(ratio)));
            }
            if r.measure == FLOOR {
                let per_record_us = |s: f64| s / r.records as f64 * 1e6;
                floors.push((
                    r.event,
                    per_record_us(p / GOAL_RATIO),
                    per_record_us(rust_s),
                    ratio,
                ));
            }
            (
                format!("{:.2}", p * 1e3),
                format!("{:.1}", mb_s(r.bytes, p)),
                format!("{:.0}", r.records as f64 / p),
                format!("{ratio:.1}x"),
                format!("{lo:.1}-{hi:.1}x"),
            )
        };
        println!(
            "{:<6} {:>9} {:>7}  {:<10} {:>9.2} {:>10} {:>10.1} {:>11} {:>11.0} {:>12} {:>11} {:>13}",
            r.event,
            r.bytes,
            r.records,
            r.measure,
            rust_s * 1e3,
            py_ms,
            mb_s(r.bytes, rust_s),
            py_mb_s,
            r.records as f64 / rust_s,
            py_rec_s,
            ratio,
            range
        );
    }
    println!();
    match python_cold {
        Some(p) => println!(
            "cold start, {} event, process start to response (median of {COLD_RUNS}): Rust {:.1} ms, \
             Python {:.1} ms, Python/Rust {:.1}x",
            SIZES[0].0,
            rust_cold * 1e3,
            p * 1e3,
            p / rust_cold
        ),
        None => println!(
            "cold start, {} event, process start to response (median of {COLD_RUNS}): Rust {:.1} ms",
            SIZES[0].0,
            rust_cold * 1e3
        ),
    }
    match lowest_transform_ratio {
        Some(ratio) if ratio >= GOAL_RATIO => println!(
            "Goal (Rust throughput >= {GOAL_RATIO:.0}x Python, transform, every event size): MET \
             (lowest median ratio {ratio:.1}x)"
        ),
        Some(ratio) => println!(
            "Goal (Rust throughput >= {GOAL_RATIO:.0}x Python, transform, every event size): NOT MET \
             (lowest median ratio {ratio:.1}x)"
        ),
        None => println!("Goal (Rust throughput >= {GOAL_RATIO:.0}x Python): not checked, no Python"),
    }
    for (event, allowed_us, floor_us, ratio) in floors {
        println!(
            "Floor, {event} event: reading and writing alone take {floor_us:.2} us per record ({ratio:.1}x Python); \
             {GOAL_RATIO:.0}x allows {allowed_us:.2} us for the whole transform, so {:.2} us are left to build the record",
            allowed_us - floor_us
        );
    }
}
