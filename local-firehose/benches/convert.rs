//! JSON -> Parquet conversion throughput: the local Firehose's converter (OpenX JSON SerDe rules,
//! Glue columns, snappy) against DuckDB's Python package converting the same JSONL file with the
//! same column types, side by side in one run. It only prints figures.
//!
//! `cargo bench -p local-firehose` (records: `LOCAL_FIREHOSE_BENCH_RECORDS`, default 100,000).
//! Python: `TRACKLAKE_PYTHON`, else `.venv/bin/python` at the workspace root, else `python3`;
//! DuckDB is skipped, with a message, when `import duckdb` fails there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use local_firehose::convert::{glue_columns, Converter, GlueColumn, HiveType};

const DEFAULT_RECORDS: usize = 100_000;
/// Records under `cargo test` (no `--bench` argument).
const TEST_RECORDS: usize = 2_000;
const RUNS: usize = 3;
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
        "JSON -> Parquet (snappy), {n} normalized track_observation records, {mb:.1} MB of JSONL (MB = 10^6 bytes); median of {RUNS} runs"
    );

    let definition = schemas::glue::table_definition();
    let columns = glue_columns(&definition).expect("the Glue definition");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let thread_counts = if cores > 1 { vec![1, cores] } else { vec![1] };
    let rust_out = dir.path().join("rust.parquet");
    let mut table = Vec::new();
    for &threads in &thread_counts {
        let converter = Converter::new(columns.clone()).with_threads(threads);
        let mut times = Vec::new();
        // Where the time goes: JSON -> Arrow (the SerDe rules) and Arrow -> Parquet (encoding,
        // snappy).
        let (mut reading, mut to_arrow, mut to_parquet) = (Vec::new(), Vec::new(), Vec::new());
        let mut rows = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let text = std::fs::read(&input).expect("read the input");
            // `str::split` with a char searches with memchr; the converter checks UTF-8 anyway.
            let text = std::str::from_utf8(&text).expect("UTF-8 input");
            let records: Vec<&str> = text.split('\n').filter(|l| !l.is_empty()).collect();
            let read = Instant::now();
            let converted = converter.convert(&records);
            assert!(converted.failed.is_empty(), "{:?}", converted.failed.first());
            let parsed = Instant::now();
            let body = converter.write_parquet(&converted.batch).expect("Parquet");
            std::fs::write(&rust_out, body).expect("write Parquet");
            to_parquet.push(parsed.elapsed());
            reading.push(read - start);
            to_arrow.push(parsed - read);
            times.push(start.elapsed());
            rows = converted.batch.num_rows();
        }
        assert_eq!(rows, n);
        println!(
            "local-firehose, {threads} thread(s), medians: read and split lines {:.3} s, JSON -> Arrow {:.3} s, Arrow -> Parquet file {:.3} s",
            median(&mut reading).as_secs_f64(),
            median(&mut to_arrow).as_secs_f64(),
            median(&mut to_parquet).as_secs_f64()
        );
        table.push(row(
            &format!("local-firehose ({threads} thread(s))"),
            n,
            mb,
            median(&mut times),
        ));
    }

    let python = python();
    let check = Command::new(&python).args(["-c", "import duckdb"]).output();
    match check {
        Ok(out) if out.status.success() => {
            for &threads in &thread_counts {
                match duckdb(&python, &input, &dir.path().join("duck.parquet"), &columns, threads, n) {
                    Ok(t) => table.push(row(&format!("DuckDB ({threads} thread(s))"), n, mb, t)),
                    Err(e) => println!("DuckDB with {threads} thread(s) failed: {e}"),
                }
            }
        }
        _ => println!(
            "DuckDB skipped: `{} -c 'import duckdb'` failed. Install it (scripts/python-env.sh) or set TRACKLAKE_PYTHON.",
            python.display()
        ),
    }
    println!();
    println!("| converter | seconds | records/s | MB/s |");
    println!("|---|---|---|---|");
    for line in &table {
        println!("{line}");
    }
}

fn row(name: &str, n: usize, mb: f64, t: Duration) -> String {
    let s = t.as_secs_f64();
    format!("| {name} | {s:.3} | {:.0} | {:.1} |", n as f64 / s, mb / s)
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

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TRACKLAKE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
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

/// Times DuckDB's `COPY (read_json(...)) TO ... (FORMAT parquet, COMPRESSION snappy)` inside
/// Python (interpreter start-up excluded), the median of `RUNS`, and checks its row count.
fn duckdb(
    python: &Path,
    input: &Path,
    output: &Path,
    columns: &[GlueColumn],
    threads: usize,
    n: usize,
) -> Result<Duration, String> {
    let cols = columns
        .iter()
        .map(|c| format!("'{}': '{}'", c.name, duckdb_type(&c.hive_type)))
        .collect::<Vec<_>>()
        .join(", ");
    let script = format!(
        r#"
import duckdb, time, statistics
con = duckdb.connect()
con.execute("SET threads = {threads}")
times = []
for _ in range({RUNS}):
    start = time.perf_counter()
    con.execute("COPY (SELECT * FROM read_json('{input}', format = 'newline_delimited', columns = {{{cols}}})) TO '{output}' (FORMAT parquet, COMPRESSION snappy)")
    times.append(time.perf_counter() - start)
rows = con.execute("SELECT count(*) FROM read_parquet('{output}')").fetchone()[0]
print(statistics.median(times), rows)
"#,
        input = input.display(),
        output = output.display(),
    );
    let out = Command::new(python)
        .args(["-c", &script])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let seconds: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("no time printed")?;
    let rows: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("no row count printed")?;
    if rows != n {
        return Err(format!("DuckDB wrote {rows} rows, expected {n}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}
