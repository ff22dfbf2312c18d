//! `tracklake import`: Spotify's privacy exports into the local lake or the deployed stack's bucket (docs/privacy-exports.md#importing-into-the-lake). Prints the
//! files it read and those it ignored, then a table per file: plays read, imported, already in
//! the lake, left out by reason. Names of files and counts only: no field of a play is printed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use history_import::{import_into, Export, ExportFile, FileImport, LocalLake, Options};
use schemas::Timestamp;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export as downloaded (the zip), the folder it unpacks to, or single streaming history
    /// files; several may be given (an older and a newer export, or both packages: see
    /// docs/privacy-exports.md#the-key on plays that are in both).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Also import the plays of private sessions (left out by default).
    #[arg(long)]
    pub include_incognito: bool,
    /// Where the plays go: the local lake folder, or the deployed stack's S3 bucket (straight
    /// to S3 in Firehose's layout, not through the stream: docs/privacy-exports.md#into-aws).
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,
    /// The lake folder (the one holding processed/). Default: the configured lake, ./lake.
    #[arg(long, value_name = "DIR", conflicts_with = "bucket")]
    pub lake: Option<PathBuf>,
    /// With --target aws: the deployed stack's bucket (the one holding processed/ and raw/),
    /// reached with the AWS SDK configuration (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3).
    #[arg(long, value_name = "BUCKET", required_if_eq("target", "aws"))]
    pub bucket: Option<String>,
    /// Endpoint of an S3-compatible store holding --bucket (addressed path-style).
    #[arg(long, value_name = "URL", requires = "bucket")]
    pub s3_endpoint: Option<String>,
}

/// Where `tracklake import` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The local lake folder.
    Local,
    /// The deployed stack's S3 bucket.
    Aws,
}

/// Runs the import. An error that stops it comes after the table of what was done before it.
pub fn run(
    args: ImportArgs,
    default_lake: PathBuf,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    if args.target == Target::Local && args.bucket.is_some() {
        anyhow::bail!("--bucket is for --target aws: add --target aws to import into the bucket");
    }
    let export = Export::open(&args.paths)?;
    let options = Options {
        include_incognito: args.include_incognito,
    };
    // On stderr while the import works, erased before the table is printed.
    let mut line = crate::progress::ProgressLine::stderr();
    let mut progress = |at| line.update(at);
    let (run, into) = match (&args.target, &args.bucket) {
        (Target::Aws, Some(bucket)) => {
            let mut s3 = runtime.block_on(async {
                let client = crate::redrive::s3_client(args.s3_endpoint.as_deref()).await;
                crate::import_s3::S3Lake::open(client, bucket, runtime.handle().clone()).await
            })?;
            print!("{}", render_files(&export));
            let run = import_into(&export, &mut s3, &options, Timestamp::now(), &mut progress);
            (
                run,
                format!("s3://{bucket}/{}", crate::import_s3::S3Lake::key("YYYY-MM-DD")),
            )
        }
        _ => {
            let lake = args.lake.unwrap_or(default_lake);
            print!("{}", render_files(&export));
            let run = import_into(
                &export,
                &mut LocalLake(&lake),
                &options,
                Timestamp::now(),
                &mut progress,
            );
            let into = history_import::partition_file(&lake, "YYYY-MM-DD");
            (run, into.display().to_string())
        }
    };
    line.finish();
    print!("{}", render_table(&run.files));
    println!("into {into}");
    match run.error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(anyhow::Error::new(e).context(
            "the import stopped: the plays listed above as imported are in the lake; once the \
             cause is fixed, run the same command again (no play is imported twice)",
        )),
    }
}

fn describe(kind: ExportFile) -> &'static str {
    match kind {
        ExportFile::ExtendedAudio => "extended streaming history, audio",
        ExportFile::ExtendedVideo => "extended streaming history, video",
        ExportFile::ExtendedLegacy => "extended streaming history (older name)",
        ExportFile::AccountMusic => "account data, music",
        ExportFile::AccountPodcast => "account data, podcasts",
        ExportFile::AccountLegacy => "account data (older name)",
    }
}

/// The files used, and those ignored with the reason.
fn render_files(export: &Export) -> String {
    let mut out = String::new();
    let plural = |n: usize| if n == 1 { "file" } else { "files" };
    let n = export.entries.len();
    writeln!(out, "using {n} {}:", plural(n)).unwrap();
    for entry in &export.entries {
        writeln!(out, "  {} ({})", entry.name, describe(entry.kind)).unwrap();
    }
    if !export.ignored.is_empty() {
        let n = export.ignored.len();
        writeln!(out, "ignored {n} {}:", plural(n)).unwrap();
        for (name, why) in &export.ignored {
            writeln!(out, "  {name}: {why}").unwrap();
        }
    }
    out
}

/// One row per file and a total: read = imported + already in the lake + left out.
fn render_table(files: &[FileImport]) -> String {
    let header = ["file", "read", "imported", "already in the lake", "left out"];
    let left_out = |f: &FileImport| {
        let total: usize = f.left_out.values().sum();
        let reasons: Vec<String> = f.left_out.iter().map(|(why, n)| format!("{why} {n}")).collect();
        if reasons.is_empty() {
            "0".to_owned()
        } else {
            format!("{total} ({})", reasons.join(", "))
        }
    };
    let mut total = FileImport {
        name: "total".into(),
        ..FileImport::default()
    };
    for f in files {
        total.read += f.read;
        total.imported += f.imported;
        total.already += f.already;
        for (why, n) in &f.left_out {
            *total.left_out.entry(*why).or_default() += n;
        }
    }
    let rows: Vec<[String; 5]> = files
        .iter()
        .chain(std::iter::once(&total))
        .map(|f| {
            [
                f.name.clone(),
                f.read.to_string(),
                f.imported.to_string(),
                f.already.to_string(),
                left_out(f),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    let mut out = String::new();
    let mut line = |cells: [&str; 5]| {
        writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )
        .unwrap();
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use history_import::LeftOut;

    #[test]
    fn the_table_adds_up_per_file_and_in_total() {
        let files = [
            FileImport {
                name: "a.json".into(),
                read: 5,
                imported: 2,
                already: 1,
                left_out: [(LeftOut::Incognito, 1), (LeftOut::Episode, 1)].into(),
            },
            FileImport {
                name: "b.json".into(),
                read: 1,
                imported: 1,
                ..FileImport::default()
            },
        ];
        let table = render_table(&files);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[1].ends_with("5         2                    1  2 (incognito 1, podcast episode 1)"),
            "{table}"
        );
        assert!(lines[2].ends_with("  0"), "{table}");
        assert!(lines[3].starts_with("total"), "{table}");
        assert!(lines[3].contains("  6  "), "{table}");
    }
}
