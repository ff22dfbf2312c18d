//! The Arrow schema of the Parquet files, derived from the Avro schema. Partition keys are not in
//! it: Firehose puts them in the S3 path, not in the files. Types come from the Hive type of each
//! field ([`crate::glue::HiveType::arrow_type`], the one Hive-to-Arrow mapping); what Avro adds is
//! nullability, which Hive does not have.

use apache_avro::Schema;
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use std::sync::Arc;

/// The Arrow schema of the Parquet files, one field per Avro field, in schema order.
pub fn arrow_schema() -> ArrowSchema {
    let fields: Vec<Field> = crate::fields()
        .iter()
        .map(|f| field(&f.name, &f.schema))
        .collect();
    ArrowSchema::new(fields)
}

/// The field of an Avro type: nullable when it is a `["null", T]` union, list items likewise.
fn field(name: &str, schema: &Schema) -> Field {
    let (inner, nullable) = match schema {
        Schema::Union(u) => (crate::non_null_branch(u), true),
        other => (other, false),
    };
    let data_type = match inner {
        Schema::Array(a) => DataType::List(Arc::new(field("item", &a.items))),
        other => crate::glue::hive_type(other).arrow_type(),
    };
    Field::new(name, data_type, nullable)
}
