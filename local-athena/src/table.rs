//! The table `track_observations`, registered from the Glue definition the cloud uses
//! (`schemas::glue::table_definition()`), over the lake directory the local Firehose writes.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use serde_json::Value;

use crate::AthenaError;

/// The folder under the lake root that holds the Parquet files, as in the Glue table's
/// `Location` (`s3://{bucket}/processed/`).
pub const PROCESSED_DIR: &str = "processed";

/// Firehose names converted objects `<stream>-<version>-<time>-<uuid>.parquet`; anything else in
/// a partition folder (a half-written temporary file, a stray note) is not part of the table.
pub const PARQUET_EXTENSION: &str = ".parquet";

/// The table as the Glue definition describes it: name, columns (in Parquet) and partition keys
/// (in the path only).
#[derive(Debug, Clone)]
pub struct GlueTable {
    /// Glue table name, e.g. `track_observations`.
    pub name: String,
    /// The columns stored in the Parquet files, Hive types mapped to Arrow; all nullable, as
    /// every Hive column may hold NULL.
    pub columns: SchemaRef,
    /// The partition keys, in path order (`source`, `dt`), read as strings (Glue type `string`).
    pub partition_keys: Vec<String>,
}

impl GlueTable {
    /// Reads the `TableInput` of a Glue definition (the shape of `schemas/glue/track_observations.json`).
    pub fn from_definition(definition: &Value) -> Result<Self, AthenaError> {
        let bad = |reason: String| AthenaError::GlueDefinition { reason };
        let input = &definition["TableInput"];
        let name = input["Name"]
            .as_str()
            .ok_or_else(|| bad("TableInput.Name is missing".into()))?
            .to_owned();
        let columns = input["StorageDescriptor"]["Columns"]
            .as_array()
            .ok_or_else(|| bad("TableInput.StorageDescriptor.Columns is missing".into()))?;
        let mut fields = Vec::with_capacity(columns.len());
        for column in columns {
            let (name, hive) = name_and_type(column).map_err(bad)?;
            let data_type = arrow_type(hive).map_err(|reason| bad(format!("column {name}: {reason}")))?;
            fields.push(Field::new(name, data_type, true));
        }
        let mut partition_keys = Vec::new();
        for key in input["PartitionKeys"].as_array().into_iter().flatten() {
            let (name, hive) = name_and_type(key).map_err(bad)?;
            if hive != "string" {
                return Err(bad(format!(
                    "partition key {name} has type {hive}; the local table reads partition keys as strings only"
                )));
            }
            partition_keys.push(name.to_owned());
        }
        Ok(GlueTable {
            name,
            columns: Arc::new(Schema::new(fields)),
            partition_keys,
        })
    }

    /// The table of this project: `schemas::glue::table_definition()`.
    pub fn track_observations() -> Result<Self, AthenaError> {
        Self::from_definition(&schemas::glue::table_definition())
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

fn name_and_type(column: &Value) -> Result<(&str, &str), String> {
    let name = column["Name"]
        .as_str()
        .ok_or_else(|| format!("a column has no Name: {column}"))?;
    let hive = column["Type"]
        .as_str()
        .ok_or_else(|| format!("column {name} has no Type"))?;
    Ok((name, hive))
}

/// The Arrow type for a Hive type, as Athena reads Parquet. `timestamp` is UTC milliseconds:
/// Firehose writes the OpenX SerDe's UTC instants, and the lake's Parquet files carry
/// `Timestamp(Millisecond, "UTC")` (`schemas::arrow::arrow_schema()`).
pub fn arrow_type(hive: &str) -> Result<DataType, String> {
    let hive = hive.trim();
    if let Some(inner) = hive.strip_prefix("array<").and_then(|s| s.strip_suffix('>')) {
        let item = arrow_type(inner)?;
        return Ok(DataType::List(Arc::new(Field::new("item", item, true))));
    }
    Ok(match hive {
        "string" => DataType::Utf8,
        "boolean" => DataType::Boolean,
        "tinyint" => DataType::Int8,
        "smallint" => DataType::Int16,
        "int" => DataType::Int32,
        "bigint" => DataType::Int64,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        other => {
            return Err(format!(
                "Hive type {other} is not mapped to Arrow; extend local-athena/src/table.rs"
            ))
        }
    })
}
