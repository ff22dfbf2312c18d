//! The parts of a Glue table that decide how Firehose converts and Athena reads the lake, in one
//! comparable shape, built either from the checked-in definition or from a deployed table.

use std::collections::BTreeMap;

use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, Table, TableInput};
use schemas::glue::TableDefinition;

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
    /// The expected table, from a definition in the shape of `schemas/glue/track_observations.json`,
    /// with its bucket placeholder replaced by `bucket` everywhere.
    pub fn from_definition(definition: &TableDefinition, bucket: &str) -> Self {
        let input = definition.for_bucket(bucket).table_input;
        let fields = |columns: &[schemas::glue::Column]| -> Vec<Field> {
            columns
                .iter()
                .map(|c| Field {
                    name: c.name.clone(),
                    hive_type: c.hive_type.to_string(),
                })
                .collect()
        };
        let sd = input.storage_descriptor;
        TableShape {
            name: input.name,
            table_type: Some(input.table_type),
            columns: fields(&sd.columns),
            partition_keys: fields(&input.partition_keys),
            location: Some(sd.location),
            input_format: Some(sd.input_format),
            output_format: Some(sd.output_format),
            serde_library: Some(sd.serde_info.serialization_library),
            serde_parameters: sd.serde_info.parameters,
            parameters: input.parameters,
        }
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
