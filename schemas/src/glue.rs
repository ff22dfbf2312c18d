//! The Glue table definition, derived from the Avro schema and the delivery settings, in the
//! shape of Glue's `TableInput` (what `aws glue create-table --table-input` takes). It is checked
//! in as `schemas/glue/track_observations.json` for `infra/` to read; `glue-table` regenerates it.

use apache_avro::Schema;
use serde_json::{json, Map, Value};

/// Path of the checked-in definition, relative to the repository root.
pub const GLUE_TABLE_PATH: &str = "schemas/glue/track_observations.json";
/// The command that rewrites the checked-in definition.
pub const REGENERATE_COMMAND: &str = "cargo run -p schemas --bin glue-table";
/// Stands for the lake bucket in every S3 location; `infra/` substitutes the real name.
pub const BUCKET_PLACEHOLDER: &str = "{bucket}";
/// Glue limits a column comment to 255 characters (Glue API: Column.Comment).
const GLUE_COMMENT_MAX: usize = 255;

/// A Glue column: name, Hive type and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub hive_type: String,
    pub comment: String,
}

/// The record's columns with their Hive types, in schema order.
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
pub fn hive_type(schema: &Schema) -> String {
    match schema {
        Schema::Boolean => "boolean".into(),
        Schema::Int => "int".into(),
        Schema::Long => "bigint".into(),
        Schema::Double => "double".into(),
        Schema::String => "string".into(),
        Schema::TimestampMillis => "timestamp".into(),
        Schema::Date => "date".into(),
        Schema::Array(a) => format!("array<{}>", hive_type(&a.items)),
        Schema::Union(u) => {
            let inner = crate::non_null_branch(u);
            hive_type(inner)
        }
        other => unreachable!("track_observation.avsc uses no {other:?}; extend glue.rs with it"),
    }
}

/// The partition-projection table parameters, so Athena finds new Firehose partitions without a
/// crawler or `MSCK REPAIR TABLE`.
pub fn projection_parameters(bucket: &str) -> Map<String, Value> {
    let delivery = crate::delivery::settings();
    let mut p = Map::new();
    p.insert("projection.enabled".into(), "true".into());
    for key in crate::partition_keys() {
        let k = &key.name;
        if !key.values.is_empty() {
            p.insert(format!("projection.{k}.type"), "enum".into());
            p.insert(format!("projection.{k}.values"), key.values.join(",").into());
        } else if let Some(format) = &key.format {
            let first = key.first.as_deref().expect("a date partition key has `first`");
            p.insert(format!("projection.{k}.type"), "date".into());
            p.insert(format!("projection.{k}.format"), format.as_str().into());
            p.insert(format!("projection.{k}.range"), format!("{first},NOW").into());
            p.insert(format!("projection.{k}.interval"), "1".into());
            p.insert(format!("projection.{k}.interval.unit"), "DAYS".into());
        } else {
            panic!("partition key {k} needs `values` or `format` in track_observation.avsc");
        }
    }
    p.insert(
        "storage.location.template".into(),
        format!("s3://{bucket}/{}", delivery.location_template()).into(),
    );
    p
}

/// The whole definition as checked in: the `TableInput` plus how to fill the bucket placeholder.
pub fn table_definition() -> Value {
    let delivery = crate::delivery::settings();
    let bucket = BUCKET_PLACEHOLDER;
    let mut parameters = projection_parameters(bucket);
    parameters.insert("classification".into(), "parquet".into());
    parameters.insert("parquet.compression".into(), "SNAPPY".into());
    parameters.insert("EXTERNAL".into(), "TRUE".into());
    parameters.insert("tracklake.schema_fingerprint".into(), schema_fingerprint().into());

    let columns: Vec<Value> = columns()
        .into_iter()
        .map(|c| json!({"Name": c.name, "Type": c.hive_type, "Comment": c.comment}))
        .collect();
    let partition_keys: Vec<Value> = crate::partition_keys()
        .into_iter()
        .map(|k| json!({"Name": k.name, "Type": "string", "Comment": k.doc}))
        .collect();
    json!({
        "GeneratedBy": REGENERATE_COMMAND,
        "BucketPlaceholder": BUCKET_PLACEHOLDER,
        "TableInput": {
            "Name": delivery.glue_table,
            "Description": "Track observations from Spotify, one row per observation (schemas/track_observation.avsc).",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "PartitionKeys": partition_keys,
            "StorageDescriptor": {
                "Columns": columns,
                "Location": format!("s3://{bucket}/{}", delivery.processed_root()),
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    "Parameters": {"serialization.format": "1"}
                }
            }
        }
    })
}

/// The definition as text, exactly as the checked-in file holds it.
pub fn table_definition_text() -> String {
    let mut text = serde_json::to_string_pretty(&table_definition()).expect("JSON");
    text.push('\n');
    text
}

/// Rabin fingerprint (Avro's 64-bit CRC) of the schema's Parsing Canonical Form, in hex: a
/// deployed table whose fingerprint differs was built from another version of the schema.
pub fn schema_fingerprint() -> String {
    crate::avro_schema()
        .fingerprint::<apache_avro::rabin::Rabin>()
        .to_string()
}
