//! JSON -> Parquet conversion throughput: the local Firehose's converter (OpenX JSON SerDe rules,
//! Glue columns, snappy) against DuckDB's Python package converting the same JSONL file with the
//! same column types, side by side in one run. It only prints figures.
//!
//! `cargo bench -p local-firehose` (records: `LOCAL_FIREHOSE_BENCH_RECORDS`, default 100,000).
//! Python: `TRACKLAKE_PYTHON`, else `.venv/bin/python` at the workspace root, else `python3`;
//! DuckDB is skipped, with a message, when `import duckdb` fails there.

use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// The `tracklake` binary's allocator (tracklake/src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use base64::Engine;
use local_firehose::convert::{glue_columns, Converter, GlueColumn, HiveType};
use test_support::duckdb::DuckDbProcess;

const DEFAULT_RECORDS: usize = 100_000;
/// Records under `cargo test` (no `--bench` argument).
const TEST_RECORDS: usize = 2_000;
/// Runs of each engine at each thread count, taking turns.
const RUNS: usize = 5;
/// Records per transformation event while preparing the input (within Lambda's 6 MB).
const EVENT_RECORDS: usize = 500;

fn main() {
    // `cargo test --all-targets` runs this too, without `--bench`: then a few records, so the
    // test suite checks that the bench still works without spending minutes on it.
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("LOCAL_FIREHOSE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { DEFAULT_RECORDS } else { TEST_RECORDS });
    let dir = tempfile::tempdir().expect("a temporary folder");
    let input = dir.path().join("records.jsonl");
    let lines = normalized_records(n);
    let bytes: usize = lines.iter().map(Vec::len).sum();
    std::fs::write(&input, lines.concat()).expect("write the input");
    drop(lines);
    let mb = bytes as f64 / 1e6;
    println!(
        "JSON -> Parquet (snappy), {n} normalized track_observation records, {mb:.1} MB of JSONL (MB = 10^6 bytes); the engines take turns for {RUNS} runs: median times, and the median of the runs' speed ratios with their range"
    );

    let columns = glue_columns(schemas::glue::table());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let thread_counts = if cores > 1 { vec![1, cores] } else { vec![1] };
    let rust_out = dir.path().join("rust.parquet");
    let duck_out = dir.path().join("duck.parquet");
    let mut duck = match DuckDb::start(&columns) {
        Ok(duck) => Some(duck),
        Err(e) => {
            println!("DuckDB skipped: {e}");
            None
        }
    };

    // The engines take turns, run by run, so that a slow spell of this shared machine hits both.
    let mut sides: Vec<Side> = thread_counts.iter().map(|&t| Side::new(t)).collect();
    let mut text = Vec::new();
    for _ in 0..RUNS {
        for side in &mut sides {
            let converter = Converter::new(columns.clone()).with_threads(side.threads);
            let start = Instant::now();
            // Read into one buffer kept across runs, as a converter reading files would keep it:
            // filling fresh memory (page faults) cost ~70 ms more per 100 MB on this machine.
            text.clear();
            std::fs::File::open(&input)
                .and_then(|mut f| f.read_to_end(&mut text))
                .expect("read the input");
            // `str::split` with a char searches with memchr; the converter checks UTF-8 anyway.
            let lines = std::str::from_utf8(&text).expect("UTF-8 input");
            let records: Vec<&str> = lines.split('\n').filter(|l| !l.is_empty()).collect();
            let read = Instant::now();
            let converted = converter.convert(&records);
            assert!(converted.failed.is_empty(), "{:?}", converted.failed.first());
            let parsed = Instant::now();
            let body = converter.write_parquet(&converted.batch).expect("Parquet");
            std::fs::write(&rust_out, body).expect("write Parquet");
            side.to_parquet.push(parsed.elapsed());
            side.reading.push(read - start);
            side.to_arrow.push(parsed - read);
            side.rust.push(start.elapsed());
            assert_eq!(converted.batch.num_rows(), n);

            if let Some(engine) = duck.as_mut() {
                match engine.convert(&input, &duck_out, side.threads, n) {
                    Ok(t) => side.duck.push(t),
                    Err(e) => {
                        println!("DuckDB failed, so it is left out: {e}");
                        duck = None;
                    }
                }
            }
        }
    }

    let mut table = Vec::new();
    for side in &mut sides {
        println!(
            "local-firehose, {} thread(s), medians: read and split lines {:.3} s, JSON -> Arrow {:.3} s, Arrow -> Parquet file {:.3} s",
            side.threads,
            median(&mut side.reading).as_secs_f64(),
            median(&mut side.to_arrow).as_secs_f64(),
            median(&mut side.to_parquet).as_secs_f64()
        );
        let ratios: Vec<f64> = side
            .rust
            .iter()
            .zip(&side.duck)
            .map(|(rust, duck)| duck.as_secs_f64() / rust.as_secs_f64())
            .collect();
        let speed = ratio_text(ratios);
        table.push(row(
            &format!("local-firehose ({} thread(s))", side.threads),
            n,
            mb,
            median(&mut side.rust.clone()),
            &speed,
        ));
        if side.duck.len() == RUNS {
            table.push(row(
                &format!("DuckDB ({} thread(s))", side.threads),
                n,
                mb,
                median(&mut side.duck.clone()),
                "",
            ));
        }
    }
    println!();
    println!("| converter | seconds | records/s | MB/s | local / DuckDB speed (range) |");
    println!("|---|---|---|---|---|");
    for line in &table {
        println!("{line}");
    }
}

/// One thread count's times, run by run.
struct Side {
    threads: usize,
    rust: Vec<Duration>,
    duck: Vec<Duration>,
    reading: Vec<Duration>,
    to_arrow: Vec<Duration>,
    to_parquet: Vec<Duration>,
}

impl Side {
    fn new(threads: usize) -> Self {
        Side {
            threads,
            rust: Vec::new(),
            duck: Vec::new(),
            reading: Vec::new(),
            to_arrow: Vec::new(),
            to_parquet: Vec::new(),
        }
    }
}

/// The median of the runs' speed ratios (DuckDB's time over ours), with their range.
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

fn row(name: &str, n: usize, mb: f64, t: Duration, speed: &str) -> String {
    let s = t.as_secs_f64();
    format!(
        "| {name} | {s:.3} | {:.0} | {:.1} | {speed} |",
        n as f64 / s,
        mb / s
    )
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Records as the transform writes them: the real firehose-transform over sample envelopes.
fn normalized_records(n: usize) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(n);
    let mut next = 0;
    while out.len() < n {
        let event = firehose_transform::FirehoseEvent {
            invocation_id: "bench".into(),
            delivery_stream_arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/bench".into(),
            region: "us-east-1".into(),
            records: (next..next + EVENT_RECORDS)
                .map(|i| firehose_transform::FirehoseRecord {
                    record_id: i.to_string(),
                    approximate_arrival_timestamp: 0,
                    data: b64.encode(firehose_transform::sample::envelope_line(i)),
                })
                .collect(),
        };
        next += EVENT_RECORDS;
        let response: firehose_transform::FirehoseResponse =
            serde_json::from_str(firehose_transform::process(&event).response.get()).expect("a response");
        for r in response.records {
            if r.result == firehose_transform::RecordResult::Ok && out.len() < n {
                out.push(b64.decode(r.data).expect("base64"));
            }
        }
    }
    out
}

fn duckdb_type(t: &HiveType) -> String {
    match t {
        HiveType::String => "VARCHAR".into(),
        HiveType::TinyInt => "TINYINT".into(),
        HiveType::SmallInt => "SMALLINT".into(),
        HiveType::Int => "INTEGER".into(),
        HiveType::BigInt => "BIGINT".into(),
        HiveType::Float => "FLOAT".into(),
        HiveType::Double => "DOUBLE".into(),
        HiveType::Boolean => "BOOLEAN".into(),
        // The records' timestamps end in Z: UTC instants.
        HiveType::Timestamp => "TIMESTAMPTZ".into(),
        HiveType::Date => "DATE".into(),
        HiveType::Array(item) => format!("{}[]", duckdb_type(item)),
    }
}

/// DuckDB's Python package in one process that stays up for the whole bench. Each request asks
/// for one `COPY (read_json(...)) TO ... (FORMAT parquet, COMPRESSION snappy)` on a number of
/// threads; the answer is the seconds the COPY took inside Python and the rows written.
struct DuckDb {
    process: DuckDbProcess,
    columns: String,
}

const DUCKDB_SCRIPT: &str = r#"
import json, sys, time
import duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for line in sys.stdin:
    try:
        ask = json.loads(line)
        con.execute(f"SET threads = {int(ask['threads'])}")
        t = time.perf_counter()
        con.execute(ask["sql"])
        seconds = time.perf_counter() - t
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{ask['output']}')").fetchone()[0]
        answer = {"s": seconds, "rows": rows}
    except Exception as e:
        answer = {"error": str(e)}
    print(json.dumps(answer), flush=True)
"#;

impl DuckDb {
    fn start(columns: &[GlueColumn]) -> Result<Self, String> {
        let process = DuckDbProcess::start(DUCKDB_SCRIPT, &[])?;
        let columns = columns
            .iter()
            .map(|c| format!("'{}': '{}'", c.name, duckdb_type(&c.hive_type)))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(DuckDb { process, columns })
    }

    /// Converts `input` to `output` once: the time the COPY took, after checking its row count.
    fn convert(&mut self, input: &Path, output: &Path, threads: usize, n: usize) -> Result<Duration, String> {
        let sql = format!(
            "COPY (SELECT * FROM read_json('{}', format = 'newline_delimited', columns = {{{}}})) TO '{}' (FORMAT parquet, COMPRESSION snappy)",
            input.display(),
            self.columns,
            output.display()
        );
        let ask =
            serde_json::json!({ "threads": threads, "sql": sql, "output": output.display().to_string() });
        match self.process.ask(&ask)? {
            (_, rows) if rows != n => Err(format!("DuckDB wrote {rows} rows, expected {n}")),
            (seconds, _) => Ok(seconds),
        }
    }
}
