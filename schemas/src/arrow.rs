//! The Arrow schema of the Parquet files, derived from the Avro schema. Partition keys are not in
//! it: Firehose puts them in the S3 path, not in the files.

use apache_avro::Schema;
use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use std::sync::Arc;

/// The Arrow schema of the Parquet files, one field per Avro field, in schema order.
pub fn arrow_schema() -> ArrowSchema {
    let fields: Vec<Field> = crate::fields()
        .iter()
        .map(|f| {
            let (data_type, nullable) = arrow_type(&f.schema);
            Field::new(&f.name, data_type, nullable)
        })
        .collect();
    ArrowSchema::new(fields)
}

/// The Arrow type of an Avro type, and whether it is nullable.
fn arrow_type(schema: &Schema) -> (DataType, bool) {
    match schema {
        Schema::Boolean => (DataType::Boolean, false),
        Schema::Int => (DataType::Int32, false),
        Schema::Long => (DataType::Int64, false),
        Schema::Double => (DataType::Float64, false),
        Schema::String => (DataType::Utf8, false),
        Schema::TimestampMillis => (
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Schema::Date => (DataType::Date32, false),
        Schema::Array(a) => {
            let (item, item_nullable) = arrow_type(&a.items);
            (
                DataType::List(Arc::new(Field::new("item", item, item_nullable))),
                false,
            )
        }
        Schema::Union(u) => {
            let inner = crate::non_null_branch(u);
            (arrow_type(inner).0, true)
        }
        other => unreachable!("track_observation.avsc uses no {other:?}; extend arrow.rs with it"),
    }
}
