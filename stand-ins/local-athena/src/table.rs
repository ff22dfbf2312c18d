//! The table `track_observations`, registered from the Glue definition the cloud uses
//! (`schemas::glue::table()`), over the lake directory the local Firehose writes.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use schemas::glue::{HiveType, TableDefinition};

use crate::AthenaError;

/// The lake's layout, as its writers (the local Firehose, `tracklake import`) use it: the folder
/// holding the Parquet files, and the extension that makes a file part of the table (anything
/// else in a partition folder, such as a half-written file, is not).
pub use lake_layout::{PARQUET_EXTENSION, PROCESSED_DIR};

/// The table as the Glue definition describes it: name, columns (in Parquet) and partition keys
/// (in the path only).
#[derive(Debug, Clone)]
pub struct GlueTable {
    /// Glue table name, e.g. `track_observations`.
    pub name: String,
    /// The columns stored in the Parquet files, Hive types mapped to Arrow
    /// (`TableInput::arrow_schema`); all nullable, as every Hive column may hold NULL.
    pub columns: SchemaRef,
    /// The partition keys, in path order (`source`, `dt`), read as strings (Glue type `string`).
    pub partition_keys: Vec<String>,
}

impl GlueTable {
    /// The table a Glue definition describes (the shape of `schemas/glue/track_observations.json`).
    pub fn from_definition(definition: &TableDefinition) -> Result<Self, AthenaError> {
        let input = &definition.table_input;
        let mut partition_keys = Vec::new();
        for key in &input.partition_keys {
            if key.hive_type != HiveType::String {
                return Err(AthenaError::GlueDefinition {
                    reason: format!(
                        "partition key {} has type {}; the local table reads partition keys as strings only",
                        key.name, key.hive_type
                    ),
                });
            }
            partition_keys.push(key.name.clone());
        }
        Ok(GlueTable {
            name: input.name.clone(),
            columns: Arc::new(input.arrow_schema()),
            partition_keys,
        })
    }

    /// The table of this project: `schemas::glue::table()`.
    pub fn track_observations() -> Result<Self, AthenaError> {
        Self::from_definition(schemas::glue::table())
    }

    /// A DataFusion listing table over `<lake_root>/processed/` with hive-style partition folders
    /// (`source=…/dt=…/`), so that a filter on a partition key skips the other folders unread.
    pub async fn listing_table(&self, lake_root: &Path) -> Result<ListingTable, AthenaError> {
        let processed = lake_root.join(PROCESSED_DIR);
        if !processed.is_dir() {
            return Err(AthenaError::LakeNotFound { path: processed });
        }
        let processed = processed.canonicalize().map_err(|source| AthenaError::Io {
            path: processed.clone(),
            source,
        })?;
        // A trailing slash marks a folder for ListingTableUrl; without it a lone file is meant.
        let url = ListingTableUrl::parse(format!("{}/", processed.display())).map_err(|source| {
            AthenaError::Engine {
                context: "opening the lake".into(),
                source,
            }
        })?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(PARQUET_EXTENSION)
            .with_table_partition_cols(
                self.partition_keys
                    .iter()
                    .map(|k| (k.clone(), DataType::Utf8))
                    .collect(),
            );
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(self.columns.clone());
        ListingTable::try_new(config).map_err(|source| AthenaError::Engine {
            context: "registering the lake table".into(),
            source,
        })
    }
}
