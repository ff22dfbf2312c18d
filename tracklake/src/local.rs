//! The embedded local pipeline: the stand-ins that `tracklake run` starts in-process when no
//! Spotify credentials are configured (the Spotify sandbox) and when the Firehose target is
//! `local` (the local Firehose writing into the lake folder), and the summary and analytics it
//! prints afterwards from the local Athena.
//!
//! Every part talks to the others over real HTTP on loopback ports, through the same clients a
//! deployment uses (reqwest for Spotify, `aws-sdk-firehose` for Firehose), so what works here
//! exercises the code that runs in the cloud.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use arrow::record_batch::RecordBatch;
use local_athena::{format_batches, LocalAthena, OutputFormat};
use local_firehose::{DeliveryStats, FirehoseConfig, LocalFirehose, Output};
use spotify_client::SpotifyConfig;
use spotify_sandbox::{Sandbox, SandboxConfig};

/// The named queries the main command prints after a run, with the rows shown of each.
pub const SUMMARY_QUERIES: &[(&str, usize)] = &[
    ("top_tracks", 10),
    ("top_artists", 10),
    ("listening_by_hour", 24),
    ("top_list_movement", 10),
];

/// Starts the Spotify sandbox and returns it with the producer settings that read from it: the
/// sandbox user's refresh token, so every source (user data included) works with no `auth`.
pub async fn start_sandbox(
    config: SandboxConfig,
    request_budget: u32,
) -> anyhow::Result<(Sandbox, SpotifyConfig)> {
    let sandbox = spotify_sandbox::start(config)
        .await
        .context("cannot start the Spotify sandbox")?;
    let mut spotify = SpotifyConfig::refresh_token(sandbox.client_id(), sandbox.refresh_token());
    spotify.api_base = sandbox.api_base();
    spotify.accounts_base = sandbox.accounts_base();
    spotify.request_budget = request_budget;
    Ok((sandbox, spotify))
}

/// Starts the local Firehose delivering into `lake`, with the cloud stream's settings.
pub async fn start_firehose(lake: &Path) -> anyhow::Result<LocalFirehose> {
    let config = FirehoseConfig {
        output: Output::LocalDir(lake.to_path_buf()),
        ..FirehoseConfig::default()
    };
    local_firehose::start(config)
        .await
        .context("cannot start the local Firehose")
}

/// The lake's folder for what is not the table: the sandbox's producer state and export, the
/// track cache of `tracklake enrich`.
pub fn state_dir(lake: &Path) -> PathBuf {
    lake.join("state")
}

/// Where the producer keeps its state when it reads the sandbox: inside the lake, so removing
/// the lake folder starts the demo over, and a later run against the real Spotify never reads
/// the sandbox's watermarks.
pub fn sandbox_state_path(lake: &Path) -> PathBuf {
    state_dir(lake).join("sandbox-producer.json")
}

/// Where the sandbox listener's privacy export is written, beside the sandbox's producer state.
pub fn sandbox_export_dir(lake: &Path) -> PathBuf {
    state_dir(lake).join("sandbox-export")
}

/// On a lake that holds no imported plays yet, writes the sandbox listener's privacy export (as
/// of the sandbox's clock) and imports it, as a user imports theirs with `tracklake import`.
/// Returns what it did, for the terminal; `None` when the lake already has imported plays.
pub fn import_sandbox_history(sandbox: &Sandbox, lake: &Path) -> anyhow::Result<Option<String>> {
    let imported_root = history_import::partition_file(lake, "x")
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("a partition file lies two folders under its source");
    if imported_root.exists() {
        return Ok(None);
    }
    let dir = sandbox_export_dir(lake);
    let written = spotify_sandbox::write_export(sandbox.config(), sandbox.now(), &dir)
        .with_context(|| format!("cannot write the sandbox's export into {}", dir.display()))?;
    let export = history_import::Export::open(&[&dir])?;
    let run = history_import::import_into_lake(
        &export,
        lake,
        &history_import::Options::default(),
        schemas::Timestamp::now(),
    );
    if let Some(e) = run.error {
        return Err(anyhow::Error::new(e).context(format!(
            "cannot import the sandbox's export from {}; run `tracklake import {}` to see the \
             files it read, or set TRACKLAKE_SANDBOX_HISTORY=false",
            dir.display(),
            dir.display()
        )));
    }
    let read: usize = run.files.iter().map(|f| f.read).sum();
    let imported: usize = run.files.iter().map(|f| f.imported).sum();
    Ok(Some(format!(
        "new lake: imported the sandbox listener's privacy export first ({} files in {}): {read} \
         plays read, {imported} imported, the rest left out (podcasts, videos, private sessions); \
         import your own with `tracklake import`",
        written.files.len(),
        dir.display()
    )))
}

/// What the local Firehose did with the records, as the lines after the run report.
pub fn render_delivery(stats: &DeliveryStats, lake: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "local Firehose -> {}", lake.display());
    let _ = writeln!(
        out,
        "  received {}, to Parquet {}, dropped by the transform {}, to the error output {}, in flight {}",
        stats.records_received,
        stats.delivered,
        stats.dropped,
        stats.errored_total(),
        stats.in_flight
    );
    if stats.records_recovered > 0 {
        let _ = writeln!(
            out,
            "  recovered from the journal {} (acknowledged by a local Firehose that stopped before delivering them)",
            stats.records_recovered
        );
    }
    if stats.records_refused > 0 {
        let _ = writeln!(
            out,
            "  refused with ServiceUnavailableException (resent by the producer): {}",
            stats.records_refused
        );
    }
    for (kind, n) in &stats.errored {
        let _ = writeln!(out, "  error output {kind}: {n} (under errors/{kind}/)");
    }
    let _ = writeln!(
        out,
        "  objects written: {} Parquet, {} raw backup, {} error output",
        stats.objects.parquet, stats.objects.raw_backup, stats.objects.error_output
    );
    if !stats.is_accounted() {
        let _ = writeln!(
            out,
            "  WARNING: the counts do not add up; please report this as a bug"
        );
    }
    out
}

/// Records that reached the error output in one cycle, per error output type
/// (`processing-failed`, `format-conversion-failed`, `activePartitionExceeded`, ...).
pub type ErrorOutput = BTreeMap<String, u64>;

/// The error output of the in-process local Firehose since `seen` (its counts at the previous
/// cycle), which becomes the counts now.
pub fn new_error_output(stats: &DeliveryStats, seen: &mut ErrorOutput) -> ErrorOutput {
    let new = stats
        .errored
        .iter()
        .filter_map(|(kind, n)| {
            let before = seen.get(kind).copied().unwrap_or(0);
            (*n > before).then(|| (kind.clone(), n - before))
        })
        .collect();
    seen.clone_from(&stats.errored);
    new
}

/// The error output a Firehose writing into `lake` (`tracklake firehose`, the standalone local
/// Firehose) wrote since `since`: the records (one JSON document a line) of the objects under
/// `<lake>/errors/<type>/` modified at or after it. No `errors/` folder: none.
pub fn error_output_since(lake: &Path, since: SystemTime) -> std::io::Result<ErrorOutput> {
    let root = errors_root(lake);
    let mut out = ErrorOutput::new();
    let kinds = match std::fs::read_dir(&root) {
        Ok(kinds) => kinds,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for kind in kinds {
        let kind = kind?;
        if !kind.file_type()?.is_dir() {
            continue;
        }
        let mut records = 0;
        let mut folders = vec![kind.path()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let entry = entry?;
                let file_type = entry.file_type()?;
                if file_type.is_dir() {
                    folders.push(entry.path());
                } else if file_type.is_file() && entry.metadata()?.modified()? >= since {
                    let bytes = std::fs::read(entry.path())?;
                    records += bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
                }
            }
        }
        if records > 0 {
            out.insert(kind.file_name().to_string_lossy().into_owned(), records);
        }
    }
    Ok(out)
}

/// The lake folder of the error output: the fixed start of `error_output_prefix` in
/// `schemas/delivery.json` (`errors/`), whose next level is the error output type.
fn errors_root(lake: &Path) -> PathBuf {
    let prefix = schemas::delivery::settings().error_output_prefix;
    let fixed = prefix
        .split("!{")
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    lake.join(fixed)
}

/// What the report says when records reached the error output: how many of each type, where,
/// and what to do.
pub fn render_error_output(errors: &ErrorOutput, lake: &Path) -> String {
    let mut out = String::new();
    let total: u64 = errors.values().sum();
    if total == 0 {
        return out;
    }
    let _ = writeln!(out, "error output this run: {total} records");
    for (kind, n) in errors {
        let _ = writeln!(
            out,
            "  {kind}: {n} (under {})",
            errors_root(lake).join(kind).display()
        );
    }
    let _ = writeln!(
        out,
        "  these records are not in the lake: read a document's errorCode and errorMessage, fix the \
         cause, then send them again with `tracklake redrive`"
    );
    out
}

/// Runs the summary queries over the lake and renders them as tables.
pub async fn render_analytics(lake: &Path) -> anyhow::Result<String> {
    let athena = LocalAthena::open(lake)
        .await
        .context("cannot open the lake for queries")?;
    let mut out = String::new();
    for (name, rows) in SUMMARY_QUERIES {
        let query = athena.named(name)?;
        // The query as written, cut here: wrapped in `SELECT * FROM (...) LIMIT n`, its ORDER BY
        // would be dropped (SQL keeps no order through a subquery, and DataFusion removes it).
        let batches = athena
            .run_named(name)
            .await
            .with_context(|| format!("named query {name}"))?;
        let batches = first_rows(batches, *rows);
        let table = format_batches(&batches, OutputFormat::Table)?;
        let _ = writeln!(out, "\n{name}: {}", query.question);
        let _ = writeln!(out, "{table}");
    }
    let _ = writeln!(
        out,
        "More: `tracklake query --list`, `tracklake query <name>` or `tracklake query \"SELECT ...\"`."
    );
    Ok(out)
}

/// The first `n` rows of a result, in order (an empty result keeps its columns).
fn first_rows(batches: Vec<RecordBatch>, n: usize) -> Vec<RecordBatch> {
    let mut left = n;
    let mut out = Vec::new();
    for batch in batches {
        if left == 0 && !out.is_empty() {
            break;
        }
        let take = batch.num_rows().min(left);
        out.push(batch.slice(0, take));
        left -= take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use std::sync::Arc;

    fn batch(values: &[i32]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(values.to_vec()))]).unwrap()
    }

    #[test]
    fn first_rows_keeps_order_across_batches_and_the_columns_of_an_empty_cut() {
        let cut = first_rows(vec![batch(&[1, 2]), batch(&[3, 4]), batch(&[5])], 3);
        let values: Vec<i32> = cut
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec())
            .collect();
        assert_eq!(values, vec![1, 2, 3]);
        let none = first_rows(vec![batch(&[1])], 0);
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].num_rows(), 0);
        assert_eq!(none[0].num_columns(), 1);
    }
}
