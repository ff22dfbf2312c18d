//! The parts of a Glue table that decide how Firehose converts and Athena reads the lake, in one
//! comparable shape, built either from the checked-in definition or from a deployed table.

use std::collections::BTreeMap;

use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, Table, TableInput};
use serde_json::Value;

use crate::CheckError;

/// A column or partition key: its name and Hive type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub hive_type: String,
}

/// What the check compares. Comments and descriptions are left out on purpose: they change
/// neither the conversion nor the queries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableShape {
    pub name: String,
    pub table_type: Option<String>,
    pub columns: Vec<Field>,
    pub partition_keys: Vec<Field>,
    pub location: Option<String>,
    pub input_format: Option<String>,
    pub output_format: Option<String>,
    pub serde_library: Option<String>,
    pub serde_parameters: BTreeMap<String, String>,
    /// Table parameters: partition projection, `storage.location.template`, classification,
    /// the schema fingerprint.
    pub parameters: BTreeMap<String, String>,
}

impl TableShape {
    /// The expected table, from a definition in the shape of `schemas/glue/track_observations.json`
    /// (`{"BucketPlaceholder": "{bucket}", "TableInput": {...}}`), with the placeholder replaced by
    /// `bucket` everywhere.
    pub fn from_definition(definition: &Value, bucket: &str) -> Result<Self, CheckError> {
        let placeholder = definition
            .get("BucketPlaceholder")
            .and_then(Value::as_str)
            .unwrap_or(schemas::glue::BUCKET_PLACEHOLDER);
        let input = definition
            .get("TableInput")
            .ok_or_else(|| CheckError::Definition("no `TableInput` object".into()))?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| s.replace(placeholder, bucket));
        let map = |v: Option<&Value>| -> BTreeMap<String, String> {
            v.and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().unwrap_or_default().replace(placeholder, bucket),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let fields = |v: Option<&Value>, what: &str| -> Result<Vec<Field>, CheckError> {
            v.and_then(Value::as_array)
                .ok_or_else(|| CheckError::Definition(format!("no `{what}` array")))?
                .iter()
                .map(|c| {
                    match (
                        c.get("Name").and_then(Value::as_str),
                        c.get("Type").and_then(Value::as_str),
                    ) {
                        (Some(name), Some(hive_type)) => Ok(Field {
                            name: name.to_string(),
                            hive_type: hive_type.to_string(),
                        }),
                        _ => Err(CheckError::Definition(format!(
                            "an entry of `{what}` lacks Name or Type: {c}"
                        ))),
                    }
                })
                .collect()
        };
        let sd = input.get("StorageDescriptor");
        let serde = sd.and_then(|s| s.get("SerdeInfo"));
        Ok(TableShape {
            name: text(input.get("Name")).ok_or_else(|| CheckError::Definition("no table `Name`".into()))?,
            table_type: text(input.get("TableType")),
            columns: fields(sd.and_then(|s| s.get("Columns")), "StorageDescriptor.Columns")?,
            partition_keys: fields(input.get("PartitionKeys"), "PartitionKeys")?,
            location: text(sd.and_then(|s| s.get("Location"))),
            input_format: text(sd.and_then(|s| s.get("InputFormat"))),
            output_format: text(sd.and_then(|s| s.get("OutputFormat"))),
            serde_library: text(serde.and_then(|s| s.get("SerializationLibrary"))),
            serde_parameters: map(serde.and_then(|s| s.get("Parameters"))),
            parameters: map(input.get("Parameters")),
        })
    }

    /// The shape of a table as `GetTable` returns it.
    pub fn from_glue(table: &Table) -> Self {
        let sd = table.storage_descriptor();
        let serde = sd.and_then(StorageDescriptor::serde_info);
        TableShape {
            name: table.name().to_string(),
            table_type: table.table_type().map(str::to_string),
            columns: sd.map(|s| fields_of(s.columns())).unwrap_or_default(),
            partition_keys: fields_of(table.partition_keys()),
            location: sd.and_then(StorageDescriptor::location).map(str::to_string),
            input_format: sd.and_then(StorageDescriptor::input_format).map(str::to_string),
            output_format: sd.and_then(StorageDescriptor::output_format).map(str::to_string),
            serde_library: serde
                .and_then(SerDeInfo::serialization_library)
                .map(str::to_string),
            serde_parameters: serde
                .and_then(SerDeInfo::parameters)
                .map(sorted)
                .unwrap_or_default(),
            parameters: table.parameters().map(sorted).unwrap_or_default(),
        }
    }

    /// The `TableInput` that creates (or restores) this table with `CreateTable`/`UpdateTable`.
    pub fn to_table_input(&self) -> TableInput {
        let columns = |fields: &[Field]| -> Vec<Column> {
            fields
                .iter()
                .map(|f| {
                    Column::builder()
                        .name(&f.name)
                        .r#type(&f.hive_type)
                        .build()
                        .expect("a column has a name")
                })
                .collect()
        };
        let serde = SerDeInfo::builder()
            .set_serialization_library(self.serde_library.clone())
            .set_parameters(Some(self.serde_parameters.clone().into_iter().collect()))
            .build();
        let sd = StorageDescriptor::builder()
            .set_columns(Some(columns(&self.columns)))
            .set_location(self.location.clone())
            .set_input_format(self.input_format.clone())
            .set_output_format(self.output_format.clone())
            .serde_info(serde)
            .build();
        TableInput::builder()
            .name(&self.name)
            .set_table_type(self.table_type.clone())
            .storage_descriptor(sd)
            .set_partition_keys(Some(columns(&self.partition_keys)))
            .set_parameters(Some(self.parameters.clone().into_iter().collect()))
            .build()
            .expect("a table input has a name")
    }

    /// The bucket of an `s3://bucket/...` location.
    pub fn bucket(&self) -> Option<&str> {
        let rest = self.location.as_deref()?.strip_prefix("s3://")?;
        let bucket = rest.split('/').next()?;
        (!bucket.is_empty()).then_some(bucket)
    }
}

fn fields_of(columns: &[Column]) -> Vec<Field> {
    columns
        .iter()
        .map(|c| Field {
            name: c.name().to_string(),
            hive_type: c.r#type().unwrap_or_default().to_string(),
        })
        .collect()
}

fn sorted(map: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
