//! `tracklake schema check`: reads the deployed Glue table (`GetTable`) and compares it with the
//! definition generated from `schemas/` (columns, types, partition keys, storage formats, SerDe,
//! partition projection). A table edited in the console, or a `schemas/` change not yet deployed,
//! would make Firehose drop fields or Athena read the wrong partitions without any error; this
//! check names each difference and exits non-zero.
//!
//! The AWS settings follow the SDK's standard configuration (`AWS_REGION`, `AWS_PROFILE` or
//! credentials, and `AWS_ENDPOINT_URL_GLUE` for a local endpoint such as moto).

mod diff;
mod shape;

use std::fmt;
use std::process::ExitCode;

use aws_sdk_glue::error::SdkError;
use aws_sdk_glue::operation::get_table::GetTableError;

pub use diff::{compare, Difference, FieldKind, ParameterScope};
pub use shape::{Field, TableShape};

/// Exit status when the check ran and found drift.
pub const EXIT_DRIFT: u8 = 1;
/// Exit status when the check could not run (no table, no credentials).
pub const EXIT_ERROR: u8 = 2;
/// The Glue database of the local lake. A deployed stack's is `tracklake_<stack>`
/// (`pulumi stack output glueDatabase`).
pub const DEFAULT_DATABASE: &str = "tracklake";

/// Why the check could not run. Drift is not an error: it is the [`Report`].
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "Glue table {database}.{table} does not exist. Deploy it with `pulumi up`, or pass the \
         names of your stack with --database/--table"
    )]
    TableNotFound { database: String, table: String },
    #[error(
        "cannot read Glue table {database}.{table}. Check AWS_REGION and your AWS \
         credentials (they need glue:GetTable)"
    )]
    GetTable {
        database: String,
        table: String,
        #[source]
        source: Box<SdkError<GetTableError>>,
    },
    #[error(
        "the deployed table has no s3:// location to take the lake bucket from; pass --bucket \
         with the bucket of your stack (`pulumi stack output lakeBucket`)"
    )]
    NoBucket,
}

/// The command line of `tracklake schema check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Glue database of the deployed table.
    #[arg(long, default_value = DEFAULT_DATABASE)]
    pub database: String,
    /// Table name. Default: the name in schemas/delivery.json.
    #[arg(long)]
    pub table: Option<String>,
    /// Lake bucket that replaces the definition's placeholder. Default: the bucket of the
    /// deployed table's location (so a moved location shows up as drift only with --bucket).
    #[arg(long)]
    pub bucket: Option<String>,
    /// Glue catalog id (AWS account id). Default: the caller's account.
    #[arg(long)]
    pub catalog_id: Option<String>,
}

impl CheckArgs {
    /// The arguments for `database`, every other one at its default.
    pub fn new(database: impl Into<String>) -> Self {
        CheckArgs {
            database: database.into(),
            table: None,
            bucket: None,
            catalog_id: None,
        }
    }

    fn table_name(&self) -> String {
        self.table
            .clone()
            .unwrap_or_else(|| schemas::delivery::settings().glue_table)
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub database: String,
    pub table: String,
    pub bucket: String,
    pub expected: TableShape,
    pub differences: Vec<Difference>,
}

impl Report {
    /// True when the deployed table matches `schemas/`.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (db, t) = (&self.database, &self.table);
        if self.is_clean() {
            return writeln!(
                f,
                "Glue table {db}.{t} matches schemas/ ({} columns, {} partition keys, {} parameters checked)",
                self.expected.columns.len(),
                self.expected.partition_keys.len(),
                self.expected.parameters.len() + self.expected.serde_parameters.len()
            );
        }
        writeln!(
            f,
            "Glue table {db}.{t} differs from schemas/ in {} place(s):",
            self.differences.len()
        )?;
        for d in &self.differences {
            writeln!(f, "  - {d}")?;
        }
        writeln!(
            f,
            "Run `pulumi up` to restore the table from schemas/ (Firehose converts with the table's \
             LATEST version, so fix it before more data arrives)."
        )
    }
}

/// The table `schemas/` defines, for the lake bucket `bucket`.
pub fn expected_table(bucket: &str) -> TableShape {
    TableShape::from_definition(schemas::glue::table(), bucket)
}

/// Reads the deployed table and compares it with `schemas/`.
pub async fn check(client: &aws_sdk_glue::Client, args: &CheckArgs) -> Result<Report, CheckError> {
    let table = args.table_name();
    let answer = client
        .get_table()
        .database_name(&args.database)
        .name(&table)
        .set_catalog_id(args.catalog_id.clone())
        .send()
        .await;
    let not_found = || CheckError::TableNotFound {
        database: args.database.clone(),
        table: table.clone(),
    };
    let deployed = match answer {
        Ok(out) => out.table.ok_or_else(not_found)?,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_not_found_exception()) =>
        {
            return Err(not_found())
        }
        Err(e) => {
            return Err(CheckError::GetTable {
                database: args.database.clone(),
                table,
                source: Box::new(e),
            })
        }
    };
    let actual = TableShape::from_glue(&deployed);
    let bucket = match &args.bucket {
        Some(b) => b.clone(),
        None => actual.bucket().ok_or(CheckError::NoBucket)?.to_string(),
    };
    let expected = expected_table(&bucket);
    let differences = compare(&expected, &actual);
    Ok(Report {
        database: args.database.clone(),
        table,
        bucket,
        expected,
        differences,
    })
}

/// `tracklake schema check`: the AWS settings from the environment, the report to stdout and
/// errors to stderr; exit 0 when clean, [`EXIT_DRIFT`] on drift, [`EXIT_ERROR`] when it could
/// not check.
pub async fn run(args: &CheckArgs) -> ExitCode {
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_glue::Client::new(&config);
    let status = check_and_print(&client, args, &mut std::io::stdout(), &mut std::io::stderr()).await;
    ExitCode::from(status)
}

/// What [`run`] does once it has a client: prints the report to `out` (or the error to `err`)
/// and returns the exit status.
pub async fn check_and_print(
    client: &aws_sdk_glue::Client,
    args: &CheckArgs,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> u8 {
    // A closed stdout/stderr (e.g. a pipe to `head`) must not hide the verdict: the status
    // still says it, so write errors are ignored.
    match check(client, args).await {
        Ok(report) => {
            let _ = write!(out, "{report}");
            if report.is_clean() {
                0
            } else {
                EXIT_DRIFT
            }
        }
        Err(e) => {
            // The error, then each cause once (the SDK's error says what AWS answered).
            let _ = writeln!(err, "error: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let _ = writeln!(err, "  caused by: {c}");
                cause = c.source();
            }
            EXIT_ERROR
        }
    }
}
