//! `tracklake query`: the local Athena over the lake. A named query of `sql/` by its name, or
//! ad-hoc SQL (Trino syntax, as in Athena), printed as a table, CSV or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use local_athena::{format_batches, named_queries, LocalAthena, OutputFormat, QUERY_STACK_BYTES};

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A named query (`tracklake query --list` shows them) or SQL such as
    /// "SELECT track_name, count(*) FROM track_observations GROUP BY 1 ORDER BY 2 DESC LIMIT 5".
    /// SQL may start with a `--` comment, as the files of sql/ do.
    #[arg(
        value_name = "NAME_OR_SQL",
        required_unless_present = "list",
        allow_hyphen_values = true
    )]
    pub query: Option<String>,
    /// The lake folder (the one holding processed/). Default: the configured lake, ./lake.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Read the named queries from this folder instead of the copy built into the binary (to
    /// try an edited sql/ file without rebuilding).
    #[arg(long, value_name = "DIR")]
    pub sql_dir: Option<PathBuf>,
    /// List the named queries and the question each answers.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => OutputFormat::Table,
            Format::Csv => OutputFormat::Csv,
            Format::Json => OutputFormat::Json,
        }
    }
}

/// Whether the argument is SQL rather than a query name: names are single words.
fn is_sql(text: &str) -> bool {
    text.trim().contains(char::is_whitespace)
}

/// Runs the query on threads with the stack the local Athena needs for deeply nested SQL
/// ([`QUERY_STACK_BYTES`]): the one that parses and plans, and the runtime's workers that execute
/// (DataFusion evaluates expressions recursively there).
pub fn run_on_query_stack(args: QueryArgs, default_lake: PathBuf) -> anyhow::Result<ExitCode> {
    let handle = std::thread::Builder::new()
        .name("query".into())
        .stack_size(QUERY_STACK_BYTES)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_stack_size(QUERY_STACK_BYTES)
                .build()
                .context("cannot start the async runtime of the query")?
                .block_on(run(args, default_lake))
        })
        .with_context(|| format!("cannot start the query thread ({QUERY_STACK_BYTES} bytes of stack)"))?;
    // A panic has printed its message already.
    handle.join().unwrap_or(Ok(ExitCode::FAILURE))
}

pub async fn run(args: QueryArgs, default_lake: PathBuf) -> anyhow::Result<ExitCode> {
    let queries = match &args.sql_dir {
        Some(dir) => named_queries(dir)?,
        None => local_athena::built_in_queries(),
    };
    if args.list {
        let list: String = queries
            .iter()
            .map(|q| format!("{:<20} {}\n", q.name, q.question))
            .collect();
        return print_out(&list);
    }
    let lake = args.lake.unwrap_or(default_lake);
    let athena = LocalAthena::open_with_queries(&lake, queries).await?;
    let text = args.query.unwrap_or_default();
    let result = if is_sql(&text) {
        athena.query(&text).await
    } else {
        athena.run_named(text.trim()).await
    };
    let mut out = format_batches(&result?, args.format.into())?;
    // CSV and JSON end with a newline already; another would be an empty CSV row.
    if !out.ends_with('\n') {
        out.push('\n');
    }
    print_out(&out)
}

/// Writes the result to stdout. A reader that stops early (`tracklake query ... | head`) closes
/// the pipe: that ends the output, it is not an error (`print!` would panic on it).
fn print_out(text: &str) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write the result to stdout")),
    }
}

#[cfg(test)]
mod tests {
    use super::is_sql;

    #[test]
    fn a_single_word_is_a_name_anything_longer_is_sql() {
        assert!(!is_sql("top_tracks"));
        assert!(!is_sql(" top_tracks\n"));
        assert!(is_sql("SELECT 1"));
        assert!(is_sql("select count(*) from track_observations"));
    }
}
