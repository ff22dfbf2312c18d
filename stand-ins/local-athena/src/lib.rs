//! The local Athena: DataFusion over the lake the local Firehose writes.
//!
//! - The table `track_observations` comes from the Glue definition the cloud uses
//!   (`schemas::glue::table()`): its columns, and its partition keys `source` and `dt`
//!   read from the `source=…/dt=…/` folders, so a filter on them skips the other folders.
//! - The named queries of `sql/` (Trino SQL, as Athena runs them) run unchanged: the Trino
//!   functions they use that DataFusion lacks are UDFs in [`trino`] (and `min_by`/`max_by` in
//!   `min_by`).
//! - Views (`sql/dedupe.sql`: `track_observations_dedup`, one row per `record_key`) are created
//!   when the lake is opened, as `infra/` creates them once in Athena.
//!
//! - It is read-only: the SQL of a user (ad-hoc or a named query that is not a view) runs under
//!   [`read_only`], so a statement that would write (INSERT, COPY ... TO, CREATE [EXTERNAL]
//!   TABLE or VIEW, DROP, SET) is refused ([`AthenaError::ReadOnly`]) before it runs. Only the
//!   engine's own set-up (the views) runs with DataFusion's defaults.
//! - Expressions nested deeper than [`MAX_EXPRESSION_DEPTH`] are refused
//!   ([`AthenaError::TooDeep`]) before planning, whose recursion would otherwise overflow the
//!   stack; threads that plan and run queries need [`QUERY_STACK_BYTES`] of stack.
//!
//! A lake root without `processed/` is an error ([`AthenaError::LakeNotFound`]); a `processed/`
//! folder with no Parquet files yet is an empty table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};
use std::ops::ControlFlow;

mod format;
mod min_by;
mod named;
mod table;
pub mod trino;

pub use format::{format_batches, OutputFormat};
pub use named::{built_in_queries, named_queries, parse_query, NamedQuery};
pub use table::{GlueTable, PARQUET_EXTENSION, PROCESSED_DIR};

/// Memory for the Parquet metadata of the lake's files, kept between the queries of one session
/// (DataFusion's file metadata cache, least recently used out first). A file the local Firehose
/// writes takes about 55 KB there with schema v3's 42 columns (39 KB with v2's 32: 1,670 files of
/// the 1 M-row bench lake took 65 MB); DataFusion's default of 50 MiB holds about 900, and past
/// that every query decodes every footer again, since queries read the files in the same order.
/// 768 MiB holds about 14,000 files.
pub const PARQUET_METADATA_CACHE_BYTES: usize = 768 * 1024 * 1024;

/// How deeply the SQL of a query may nest expressions (`1 + 1 + ...` with 1,000 additions, a
/// WHERE of 1,000 ORs, 1,000 nested function calls). DataFusion plans and runs expressions
/// recursively, a stack frame set per level; past this depth a query is refused with
/// [`AthenaError::TooDeep`] instead of overflowing the stack (which aborts the process). Our
/// own limit, measured with the debug build: on a thread with [`QUERY_STACK_BYTES`] of stack,
/// queries of this depth run.
pub const MAX_EXPRESSION_DEPTH: usize = 1_000;

/// The stack a thread needs to plan and run queries up to [`MAX_EXPRESSION_DEPTH`] (a Rust
/// thread gets 2 MiB by default, the main thread usually 8 MiB). Address space, not memory: the
/// pages are only used as deep as a query goes.
pub const QUERY_STACK_BYTES: usize = 256 * 1024 * 1024;

/// The options of the user's SQL: queries only. DDL (CREATE [EXTERNAL] TABLE, CREATE VIEW, DROP),
/// DML (INSERT, COPY ... TO) and statements (SET, transactions) are refused by DataFusion's own
/// check of the logical plan, EXPLAIN ANALYZE of them included.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// What went wrong, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    #[error("no lake at {}: the local Firehose writes its Parquet files there; run the pipeline first or point at the lake folder (the one that holds processed/)", path.display())]
    LakeNotFound { path: PathBuf },
    #[error("the Glue table definition cannot be read: {reason}")]
    GlueDefinition { reason: String },
    #[error("{}: {reason}", file.display())]
    QueryFile { file: PathBuf, reason: String },
    #[error("no named query `{name}`; the named queries are: {}", available.join(", "))]
    UnknownQuery { name: String, available: Vec<String> },
    #[error("{context} failed")]
    Engine {
        context: String,
        #[source]
        source: DataFusionError,
    },
    #[error("the local query engine is read-only: it runs queries (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) and refused this statement ({reason}). The lake is written only by the pipeline (`tracklake run`); to keep a result, write it with --format csv or json and redirect the output; instead of a view or table of your own, use a WITH clause")]
    ReadOnly { reason: String },
    #[error("the query nests expressions more than {max} levels deep (e.g. more than {max} additions or ORs in a row); the local query engine refuses it rather than overflow its stack: split it, or use IN (...) instead of a chain of ORs")]
    TooDeep { max: usize },
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot format the result")]
    Format(#[from] ArrowError),
}

/// The local Athena: one DataFusion session with the lake table, the Trino functions and the
/// views of the named queries.
pub struct LocalAthena {
    ctx: SessionContext,
    queries: Vec<NamedQuery>,
}

impl LocalAthena {
    /// Opens the lake at `lake_root` (the folder holding `processed/`) with the built-in copy of
    /// the named queries.
    pub async fn open(lake_root: &Path) -> Result<Self, AthenaError> {
        Self::open_with_queries(lake_root, built_in_queries()).await
    }

    /// Opens the lake with the given named queries (e.g. [`named_queries`] of a `sql/` folder
    /// being edited). Views among them are created now, in order.
    pub async fn open_with_queries(lake_root: &Path, queries: Vec<NamedQuery>) -> Result<Self, AthenaError> {
        // Identifiers are case-insensitive in Trino as they are (lower-cased) in DataFusion's
        // default; the Generic dialect parses the Trino syntax the queries use.
        let config = SessionConfig::new().with_information_schema(true);
        let runtime = RuntimeEnvBuilder::new()
            .with_metadata_cache_limit(PARQUET_METADATA_CACHE_BYTES)
            .build_arc()
            .map_err(|source| AthenaError::Engine {
                context: "starting the query engine".into(),
                source,
            })?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        trino::register(&ctx);
        let table = GlueTable::track_observations()?;
        // Every scan of the table plans its files from their statistics; without the session's
        // cache each scan derives them again from every file's footer (DataFusion's own
        // `register_listing_table` attaches it too). A query about plays scans the table several
        // times, so on a lake of years of daily files this was most of its time.
        let listing = table
            .listing_table(lake_root)
            .await?
            .with_cache(ctx.runtime_env().cache_manager.get_file_statistic_cache());
        ctx.register_table(table.name.as_str(), Arc::new(listing))
            .map_err(|source| AthenaError::Engine {
                context: format!("registering table {}", table.name),
                source,
            })?;
        let athena = LocalAthena { ctx, queries };
        for view in athena.queries.iter().filter(|q| q.is_view()) {
            athena
                .run(
                    &view.sql,
                    &format!("creating the view of {}", view.file.display()),
                    SQLOptions::new(),
                )
                .await?;
        }
        Ok(athena)
    }

    /// Runs one SQL query (Trino syntax) and collects its result. Read-only ([`read_only`]): a
    /// statement that writes is [`AthenaError::ReadOnly`].
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, AthenaError> {
        self.run(sql, "the query", read_only()).await
    }

    /// Runs the named query `name`; an unknown name is an error listing the known ones. A view's
    /// query (re)creates the view, as the engine did when it opened, and returns no rows; any
    /// other named query is read-only, as [`LocalAthena::query`].
    pub async fn run_named(&self, name: &str) -> Result<Vec<RecordBatch>, AthenaError> {
        let query = self.named(name)?;
        // A view's text is a CREATE VIEW (`is_view`): the one DDL the engine itself runs.
        let options = if query.is_view() {
            read_only().with_allow_ddl(true)
        } else {
            read_only()
        };
        self.run(
            &query.sql,
            &format!("named query {name} ({})", query.file.display()),
            options,
        )
        .await
    }

    /// The named query `name`, or an error listing the known names.
    pub fn named(&self, name: &str) -> Result<&NamedQuery, AthenaError> {
        self.queries
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| AthenaError::UnknownQuery {
                name: name.to_owned(),
                available: self.queries.iter().map(|q| q.name.clone()).collect(),
            })
    }

    /// The named queries this engine knows, views first.
    pub fn queries(&self) -> &[NamedQuery] {
        &self.queries
    }

    /// The DataFusion session, for callers that need more than SQL (e.g. `EXPLAIN` plans).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// Parses, checks (depth, then `options`), plans and runs `sql`: what
    /// `SessionContext::sql_with_options` does, with the depth check before planning and the
    /// refusals as errors of their own.
    async fn run(
        &self,
        sql: &str,
        context: &str,
        options: SQLOptions,
    ) -> Result<Vec<RecordBatch>, AthenaError> {
        let engine = |source| AthenaError::Engine {
            context: context.to_owned(),
            source,
        };
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect).map_err(engine)?;
        if expression_depth_exceeds(&statement, MAX_EXPRESSION_DEPTH) {
            return Err(AthenaError::TooDeep {
                max: MAX_EXPRESSION_DEPTH,
            });
        }
        let plan = state.statement_to_plan(statement).await.map_err(engine)?;
        options.verify_plan(&plan).map_err(|e| AthenaError::ReadOnly {
            reason: e
                .strip_backtrace()
                .trim_start_matches("Error during planning: ")
                .to_owned(),
        })?;
        let frame = self.ctx.execute_logical_plan(plan).await.map_err(engine)?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(engine)?;
        // An empty result still has columns: keep them, so a table or CSV shows its header.
        if batches.is_empty() && !schema.fields().is_empty() {
            return Ok(vec![RecordBatch::new_empty(schema)]);
        }
        Ok(batches)
    }
}

/// Whether `statement` nests expressions more than `max` deep. The walk stops at `max + 1`, so
/// it never recurses deeper than the planner is allowed to.
fn expression_depth_exceeds(statement: &Statement, max: usize) -> bool {
    struct Depth {
        now: usize,
        max: usize,
    }
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.now += 1;
            if self.now > self.max {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.now -= 1;
            ControlFlow::Continue(())
        }
    }
    let mut depth = Depth { now: 0, max };
    match statement {
        Statement::Statement(s) => s.visit(&mut depth).is_break(),
        Statement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(query) => query.visit(&mut depth).is_break(),
            CopyToSource::Relation(_) => false,
        },
        Statement::Explain(explain) => expression_depth_exceeds(&explain.statement, max),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => false,
    }
}
