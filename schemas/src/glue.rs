//! The Glue table, typed once: its columns with their Hive types, the partition keys, the
//! partition projection and the Arrow type of each Hive type.
//!
//! The definition has the shape of Glue's `TableInput` (what `aws glue create-table
//! --table-input` takes). [`generate`] derives it from the Avro schema and the delivery settings;
//! it is checked in as `schemas/glue/track_observations.json`, which `infra/` deploys and every
//! Rust reader takes through [`table`] (parsed once, with serde). `glue-table` rewrites the file,
//! and a test fails while it is stale.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use apache_avro::Schema;
use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use serde::{Deserialize, Serialize};

/// Path of the checked-in definition, relative to the repository root.
pub const GLUE_TABLE_PATH: &str = "schemas/glue/track_observations.json";
/// The command that rewrites the checked-in definition.
pub const REGENERATE_COMMAND: &str = "cargo run -p schemas --bin glue-table";
/// Stands for the lake bucket in every S3 location; `infra/` substitutes the real name.
pub const BUCKET_PLACEHOLDER: &str = "{bucket}";
/// The checked-in definition, exactly as the file holds it.
pub const TABLE_JSON: &str = include_str!("../glue/track_observations.json");
/// Glue limits a column comment to 255 characters (Glue API: Column.Comment).
const GLUE_COMMENT_MAX: usize = 255;
/// Table parameter that switches partition projection on (Athena: partition projection).
const PROJECTION_ENABLED: &str = "projection.enabled";
/// Table parameter with the S3 folder of a partition, keys written `${key}`.
const LOCATION_TEMPLATE: &str = "storage.location.template";

/// A Hive type of a Glue column, as Glue and Athena name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HiveType {
    String,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Boolean,
    Timestamp,
    Date,
    Array(Box<HiveType>),
}

impl HiveType {
    /// Parses a Glue/Hive type name such as `int` or `array<string>`: case and spaces are free,
    /// as in Glue (`ARRAY< STRING >`); `varchar`/`char` read as `string`, `integer` as `int`.
    /// `None` for a type tracklake does not know (`map<...>`, `struct<...>`, `decimal(...)`).
    pub fn parse(text: &str) -> Option<HiveType> {
        let t: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match t.as_str() {
            "string" | "varchar" | "char" => HiveType::String,
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => HiveType::Double,
            "boolean" => HiveType::Boolean,
            "timestamp" => HiveType::Timestamp,
            "date" => HiveType::Date,
            _ => {
                let inner = t.strip_prefix("array<")?.strip_suffix('>')?;
                HiveType::Array(Box::new(HiveType::parse(inner)?))
            }
        })
    }

    /// The Arrow type of this Hive type in the lake's Parquet files, the one mapping every reader
    /// uses. `timestamp` is UTC milliseconds: Firehose writes the OpenX SerDe's UTC instants, and
    /// Athena reads them as such. List items are nullable, as every Hive value is.
    pub fn arrow_type(&self) -> DataType {
        match self {
            HiveType::String => DataType::Utf8,
            HiveType::TinyInt => DataType::Int8,
            HiveType::SmallInt => DataType::Int16,
            HiveType::Int => DataType::Int32,
            HiveType::BigInt => DataType::Int64,
            HiveType::Float => DataType::Float32,
            HiveType::Double => DataType::Float64,
            HiveType::Boolean => DataType::Boolean,
            HiveType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            HiveType::Date => DataType::Date32,
            HiveType::Array(item) => DataType::List(Arc::new(Field::new("item", item.arrow_type(), true))),
        }
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            HiveType::String => "string",
            HiveType::TinyInt => "tinyint",
            HiveType::SmallInt => "smallint",
            HiveType::Int => "int",
            HiveType::BigInt => "bigint",
            HiveType::Float => "float",
            HiveType::Double => "double",
            HiveType::Boolean => "boolean",
            HiveType::Timestamp => "timestamp",
            HiveType::Date => "date",
            HiveType::Array(item) => return write!(f, "array<{item}>"),
        };
        f.write_str(name)
    }
}

impl Serialize for HiveType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why the Glue definition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlueError {
    #[error("Glue column {column} has type {hive_type}, which tracklake does not know; use string, tinyint, smallint, int, bigint, float, double, boolean, timestamp, date or array<...> of them, or extend schemas/src/glue.rs")]
    UnknownHiveType { column: String, hive_type: String },
    #[error("partition key {key}: {reason}; regenerate the definition with `cargo run -p schemas --bin glue-table`")]
    Projection { key: String, reason: String },
}

/// A Glue column or partition key: name, Hive type and comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawColumn", rename_all = "PascalCase")]
pub struct Column {
    pub name: String,
    #[serde(rename = "Type")]
    pub hive_type: HiveType,
    pub comment: String,
}

/// A column as the JSON holds it, before its type is known to be one tracklake reads.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RawColumn {
    name: String,
    r#type: String,
    #[serde(default)]
    comment: String,
}

impl TryFrom<RawColumn> for Column {
    type Error = GlueError;

    fn try_from(raw: RawColumn) -> Result<Self, GlueError> {
        let hive_type = HiveType::parse(&raw.r#type).ok_or_else(|| GlueError::UnknownHiveType {
            column: raw.name.clone(),
            hive_type: raw.r#type.clone(),
        })?;
        Ok(Column {
            name: raw.name,
            hive_type,
            comment: raw.comment,
        })
    }
}

/// The checked-in file: a `TableInput` and the placeholder that stands for the bucket in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TableDefinition {
    /// The command that wrote the file.
    pub generated_by: String,
    /// Stands for the lake bucket in `Location` and `storage.location.template`.
    pub bucket_placeholder: String,
    pub table_input: TableInput,
}

/// Glue's `TableInput`, the part tracklake sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TableInput {
    /// Table name, e.g. `track_observations`.
    pub name: String,
    pub description: String,
    pub table_type: String,
    /// Table parameters: partition projection (see [`TableInput::projection`]), classification,
    /// compression, the schema fingerprint.
    pub parameters: BTreeMap<String, String>,
    /// The partition keys, in S3 path order: part of the path, never of the Parquet files.
    pub partition_keys: Vec<Column>,
    pub storage_descriptor: StorageDescriptor,
}

/// Where the files are and how they are read: the columns stored in the Parquet files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct StorageDescriptor {
    pub columns: Vec<Column>,
    pub location: String,
    pub input_format: String,
    pub output_format: String,
    pub serde_info: SerdeInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SerdeInfo {
    pub serialization_library: String,
    pub parameters: BTreeMap<String, String>,
}

/// Partition projection: how Athena finds the partitions without a crawler or
/// `MSCK REPAIR TABLE`, stored as `projection.*` table parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// One per partition key, in path order.
    pub keys: Vec<KeyProjection>,
    /// The S3 folder of a partition, keys written `${key}` (`storage.location.template`).
    pub location_template: String,
}

/// The values Athena projects for one partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProjection {
    pub name: String,
    pub values: ProjectedValues,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectedValues {
    /// `projection.<key>.type = enum`: every allowed value.
    Enum(Vec<String>),
    /// `projection.<key>.type = date`: days from `first` to `NOW`, in `format` (Java's
    /// `DateTimeFormatter` syntax, e.g. `yyyy-MM-dd`).
    Date { format: String, first: String },
}

impl Projection {
    /// The table parameters that express this projection.
    pub fn to_parameters(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert(PROJECTION_ENABLED.into(), "true".into());
        for key in &self.keys {
            let k = &key.name;
            match &key.values {
                ProjectedValues::Enum(values) => {
                    p.insert(format!("projection.{k}.type"), "enum".into());
                    p.insert(format!("projection.{k}.values"), values.join(","));
                }
                ProjectedValues::Date { format, first } => {
                    p.insert(format!("projection.{k}.type"), "date".into());
                    p.insert(format!("projection.{k}.format"), format.clone());
                    p.insert(format!("projection.{k}.range"), format!("{first},NOW"));
                    p.insert(format!("projection.{k}.interval"), "1".into());
                    p.insert(format!("projection.{k}.interval.unit"), "DAYS".into());
                }
            }
        }
        p.insert(LOCATION_TEMPLATE.into(), self.location_template.clone());
        p
    }
}

impl TableDefinition {
    /// The definition with the bucket placeholder replaced by `bucket` in every location.
    pub fn for_bucket(&self, bucket: &str) -> TableDefinition {
        let mut d = self.clone();
        let fill = |s: &mut String| *s = s.replace(&self.bucket_placeholder, bucket);
        fill(&mut d.table_input.storage_descriptor.location);
        d.table_input.parameters.values_mut().for_each(fill);
        d
    }

    /// The definition as text, exactly as the checked-in file holds it (keys sorted).
    pub fn to_text(&self) -> String {
        let value = serde_json::to_value(self).expect("a table definition is JSON");
        let mut text = serde_json::to_string_pretty(&value).expect("JSON");
        text.push('\n');
        text
    }
}

impl TableInput {
    /// The columns stored in the Parquet files.
    pub fn columns(&self) -> &[Column] {
        &self.storage_descriptor.columns
    }

    /// The Arrow schema the table reads the Parquet files with: one field per column, in table
    /// order, all nullable (Hive has no NOT NULL). Partition keys are not in the files.
    pub fn arrow_schema(&self) -> ArrowSchema {
        ArrowSchema::new(
            self.columns()
                .iter()
                .map(|c| Field::new(&c.name, c.hive_type.arrow_type(), true))
                .collect::<Vec<_>>(),
        )
    }

    /// The partition projection, read from the `projection.*` parameters.
    pub fn projection(&self) -> Result<Projection, GlueError> {
        let param = |key: &str, name: &str| {
            self.parameters
                .get(name)
                .cloned()
                .ok_or_else(|| GlueError::Projection {
                    key: key.to_owned(),
                    reason: format!("table parameter {name} is missing"),
                })
        };
        if param("*", PROJECTION_ENABLED)? != "true" {
            return Err(GlueError::Projection {
                key: "*".into(),
                reason: format!("{PROJECTION_ENABLED} is not true"),
            });
        }
        let mut keys = Vec::with_capacity(self.partition_keys.len());
        for key in &self.partition_keys {
            let k = key.name.as_str();
            let p = |suffix: &str| param(k, &format!("projection.{k}.{suffix}"));
            let values = match p("type")?.as_str() {
                "enum" => ProjectedValues::Enum(p("values")?.split(',').map(str::to_owned).collect()),
                "date" => {
                    let range = p("range")?;
                    let (first, last) = range.split_once(',').ok_or_else(|| GlueError::Projection {
                        key: k.into(),
                        reason: format!("range {range} is not `first,last`"),
                    })?;
                    if last != "NOW" || p("interval")? != "1" || p("interval.unit")? != "DAYS" {
                        return Err(GlueError::Projection {
                            key: k.into(),
                            reason: "a date projection must run daily up to NOW".into(),
                        });
                    }
                    ProjectedValues::Date {
                        format: p("format")?,
                        first: first.to_owned(),
                    }
                }
                other => {
                    return Err(GlueError::Projection {
                        key: k.into(),
                        reason: format!("projection type {other} is neither enum nor date"),
                    })
                }
            };
            keys.push(KeyProjection {
                name: k.to_owned(),
                values,
            });
        }
        Ok(Projection {
            keys,
            location_template: param("*", LOCATION_TEMPLATE)?,
        })
    }
}

/// The checked-in definition, parsed once per process.
pub fn table() -> &'static TableDefinition {
    static TABLE: std::sync::OnceLock<TableDefinition> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        parse(TABLE_JSON).expect("schemas/glue/track_observations.json is a table definition")
    })
}

/// Parses a definition in the shape of the checked-in file.
pub fn parse(text: &str) -> Result<TableDefinition, serde_json::Error> {
    serde_json::from_str(text)
}

/// The record's columns with their Hive types, in schema order, derived from the Avro schema.
pub fn columns() -> Vec<Column> {
    crate::fields()
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            hive_type: hive_type(&f.schema),
            comment: crate::validate::clip(f.doc.as_deref().unwrap_or(""), GLUE_COMMENT_MAX - 3).into_owned(),
        })
        .collect()
}

/// The Hive type Glue and Athena use for an Avro type. Nullability is not a Hive notion: every
/// Hive column may hold NULL.
pub fn hive_type(schema: &Schema) -> HiveType {
    match schema {
        Schema::Boolean => HiveType::Boolean,
        Schema::Int => HiveType::Int,
        Schema::Long => HiveType::BigInt,
        Schema::Double => HiveType::Double,
        Schema::String => HiveType::String,
        Schema::TimestampMillis => HiveType::Timestamp,
        Schema::Date => HiveType::Date,
        Schema::Array(a) => HiveType::Array(Box::new(hive_type(&a.items))),
        Schema::Union(u) => hive_type(crate::non_null_branch(u)),
        other => unreachable!("track_observation.avsc uses no {other:?}; extend glue.rs with it"),
    }
}

/// The partition projection derived from the schema's partition keys and the delivery settings.
pub fn projection(bucket: &str) -> Projection {
    let delivery = crate::delivery::settings();
    let keys = crate::partition_keys()
        .into_iter()
        .map(|key| {
            let values = if !key.values.is_empty() {
                ProjectedValues::Enum(key.values)
            } else if let Some(format) = key.format {
                let first = key.first.expect("a date partition key has `first`");
                ProjectedValues::Date { format, first }
            } else {
                panic!(
                    "partition key {} needs `values` or `format` in track_observation.avsc",
                    key.name
                );
            };
            KeyProjection {
                name: key.name,
                values,
            }
        })
        .collect();
    Projection {
        keys,
        location_template: format!("s3://{bucket}/{}", delivery.location_template()),
    }
}

/// The definition derived from the Avro schema and the delivery settings: what the checked-in
/// file must hold.
pub fn generate() -> TableDefinition {
    let delivery = crate::delivery::settings();
    let bucket = BUCKET_PLACEHOLDER;
    let mut parameters = projection(bucket).to_parameters();
    parameters.insert("classification".into(), "parquet".into());
    parameters.insert("parquet.compression".into(), "SNAPPY".into());
    parameters.insert("EXTERNAL".into(), "TRUE".into());
    parameters.insert("tracklake.schema_fingerprint".into(), schema_fingerprint());
    let partition_keys = crate::partition_keys()
        .into_iter()
        .map(|k| Column {
            name: k.name,
            hive_type: HiveType::String,
            comment: k.doc,
        })
        .collect();
    TableDefinition {
        generated_by: REGENERATE_COMMAND.into(),
        bucket_placeholder: BUCKET_PLACEHOLDER.into(),
        table_input: TableInput {
            name: delivery.glue_table.clone(),
            description:
                "Track observations from Spotify, one row per observation (schemas/track_observation.avsc)."
                    .into(),
            table_type: "EXTERNAL_TABLE".into(),
            parameters,
            partition_keys,
            storage_descriptor: StorageDescriptor {
                columns: columns(),
                location: format!("s3://{bucket}/{}", delivery.processed_root()),
                input_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat".into(),
                output_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat".into(),
                serde_info: SerdeInfo {
                    serialization_library: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                        .into(),
                    parameters: BTreeMap::from([("serialization.format".into(), "1".into())]),
                },
            },
        },
    }
}

/// The generated definition as text, as the checked-in file must hold it.
pub fn table_definition_text() -> String {
    generate().to_text()
}

/// Rabin fingerprint (Avro's 64-bit CRC) of the schema's Parsing Canonical Form, in hex: a
/// deployed table whose fingerprint differs was built from another version of the schema.
pub fn schema_fingerprint() -> String {
    crate::avro_schema()
        .fingerprint::<apache_avro::rabin::Rabin>()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_types_parse() {
        assert_eq!(
            HiveType::parse("ARRAY<INT>"),
            Some(HiveType::Array(Box::new(HiveType::Int)))
        );
        assert_eq!(HiveType::parse("map<string,int>"), None);
    }

    #[test]
    fn hive_type_names_round_trip_and_ignore_case_and_spaces() {
        for name in [
            "string",
            "tinyint",
            "smallint",
            "int",
            "bigint",
            "float",
            "double",
            "boolean",
            "timestamp",
            "date",
            "array<array<date>>",
        ] {
            let ty = HiveType::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(ty.to_string(), name);
        }
        assert_eq!(
            HiveType::parse(" Array< String > "),
            Some(HiveType::Array(Box::new(HiveType::String)))
        );
        assert_eq!(HiveType::parse("varchar"), Some(HiveType::String));
        assert_eq!(HiveType::parse("struct<a:int>"), None);
        assert_eq!(HiveType::parse("array<int"), None);
    }

    #[test]
    fn hive_types_map_to_the_arrow_types_of_the_lake() {
        assert_eq!(
            HiveType::Timestamp.arrow_type(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(HiveType::Date.arrow_type(), DataType::Date32);
        assert_eq!(HiveType::Int.arrow_type(), DataType::Int32);
        assert_eq!(HiveType::BigInt.arrow_type(), DataType::Int64);
        let DataType::List(item) = HiveType::parse("array<string>").unwrap().arrow_type() else {
            panic!("array is a list")
        };
        assert_eq!(item.data_type(), &DataType::Utf8);
        assert!(item.is_nullable());
    }

    #[test]
    fn the_checked_in_table_parses_into_the_generated_one() {
        let t = table();
        assert_eq!(t, &generate());
        assert_eq!(t.table_input.name, "track_observations");
        assert_eq!(t.table_input.columns().len(), crate::FIELD_NAMES.len());
        assert_eq!(t.to_text(), TABLE_JSON, "serializing gives the file back");
        let schema = t.table_input.arrow_schema();
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
        assert_eq!(
            schema.field_with_name("artist_ids").unwrap().data_type(),
            &HiveType::Array(Box::new(HiveType::String)).arrow_type()
        );
    }

    #[test]
    fn an_unknown_hive_type_is_an_error_naming_the_column() {
        let text = TABLE_JSON.replacen(r#""Type": "timestamp""#, r#""Type": "map<string,int>""#, 1);
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("column event_at") && err.contains("map<string,int>"),
            "{err}"
        );
    }

    #[test]
    fn projection_reads_back_from_the_parameters() {
        let input = &table().table_input;
        let p = input.projection().unwrap();
        assert_eq!(p, projection(BUCKET_PLACEHOLDER));
        let names: Vec<&str> = p.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["source", "dt"]);
        assert_eq!(
            p.keys[0].values,
            ProjectedValues::Enum(
                [
                    "recently_played",
                    "top_tracks",
                    "saved_tracks",
                    "playlist",
                    "search",
                    "streaming_history"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(
            p.keys[1].values,
            ProjectedValues::Date {
                format: "yyyy-MM-dd".into(),
                first: "2006-01-01".into()
            }
        );
        assert_eq!(
            p.location_template,
            "s3://{bucket}/processed/source=${source}/dt=${dt}/"
        );
        let mut broken = input.clone();
        broken
            .parameters
            .insert("projection.dt.type".into(), "integer".into());
        let err = broken.projection().unwrap_err();
        assert!(
            matches!(&err, GlueError::Projection { key, .. } if key == "dt"),
            "{err}"
        );
    }

    #[test]
    fn for_bucket_fills_every_location() {
        let t = table().for_bucket("lake");
        assert_eq!(t.table_input.storage_descriptor.location, "s3://lake/processed/");
        assert_eq!(
            t.table_input.parameters["storage.location.template"],
            "s3://lake/processed/source=${source}/dt=${dt}/"
        );
    }
}
