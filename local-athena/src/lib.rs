//! The local Athena: DataFusion over the lake the local Firehose writes.
//!
//! - The table `track_observations` comes from the Glue definition the cloud uses
//!   (`schemas::glue::table_definition()`): its columns, and its partition keys `source` and `dt`
//!   read from the `source=…/dt=…/` folders, so a filter on them skips the other folders.
//! - The named queries of `sql/` (Trino SQL, as Athena runs them) run unchanged: the Trino
//!   functions they use that DataFusion lacks are UDFs in [`trino`] (and `min_by`/`max_by` in
//!   `min_by`).
//! - Views (`sql/dedupe.sql`: `track_observations_dedup`, one row per `record_key`) are created
//!   when the lake is opened, as `infra/` creates them once in Athena.
//!
//! A lake root without `processed/` is an error ([`AthenaError::LakeNotFound`]); a `processed/`
//! folder with no Parquet files yet is an empty table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

mod format;
mod min_by;
mod named;
mod table;
pub mod trino;

pub use format::{format_batches, OutputFormat};
pub use named::{built_in_queries, named_queries, parse_query, NamedQuery};
pub use table::{arrow_type, GlueTable, PARQUET_EXTENSION, PROCESSED_DIR};

/// Memory for the Parquet metadata of the lake's files, kept between the queries of one session
/// (DataFusion's file metadata cache, least recently used out first). A file the local Firehose
/// writes takes about 39 KB there (1,670 files of the 1 M-row bench lake took 65 MB); DataFusion's
/// default of 50 MiB holds about 1,300, and past that every query decodes every footer again,
/// since queries read the files in the same order. 512 MiB holds about 13,000 files.
pub const PARQUET_METADATA_CACHE_BYTES: usize = 512 * 1024 * 1024;

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
    #[error("{context} failed: {source}")]
    Engine {
        context: String,
        #[source]
        source: DataFusionError,
    },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot format the result: {0}")]
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
        let listing = table.listing_table(lake_root).await?;
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
                )
                .await?;
        }
        Ok(athena)
    }

    /// Runs one SQL statement (Trino syntax) and collects its result.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, AthenaError> {
        self.run(sql, "the query").await
    }

    /// Runs the named query `name`; an unknown name is an error listing the known ones. A view's
    /// query (re)creates the view and returns no rows.
    pub async fn run_named(&self, name: &str) -> Result<Vec<RecordBatch>, AthenaError> {
        let query = self.named(name)?;
        self.run(
            &query.sql,
            &format!("named query {name} ({})", query.file.display()),
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

    async fn run(&self, sql: &str, context: &str) -> Result<Vec<RecordBatch>, AthenaError> {
        let engine = |source| AthenaError::Engine {
            context: context.to_owned(),
            source,
        };
        let frame = self.ctx.sql(sql).await.map_err(engine)?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(engine)?;
        // An empty result still has columns: keep them, so a table or CSV shows its header.
        if batches.is_empty() && !schema.fields().is_empty() {
            return Ok(vec![RecordBatch::new_empty(schema)]);
        }
        Ok(batches)
    }
}
