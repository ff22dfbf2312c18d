//! Printing a result: an aligned table, CSV with a header (as Athena writes results), or JSON.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::AthenaError;

/// How [`format_batches`] prints a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned text table (Arrow's pretty printer), NULL shown as `NULL`.
    Table,
    /// CSV with a header line; NULL is an empty field; arrays as `[a, b]`.
    Csv,
    /// One JSON array of row objects; NULL is `null`.
    Json,
}

/// Prints `batches` in `format`. No batches print as nothing (a DDL statement's result).
pub fn format_batches(batches: &[RecordBatch], format: OutputFormat) -> Result<String, AthenaError> {
    if batches.is_empty() {
        return Ok(String::new());
    }
    match format {
        OutputFormat::Table => {
            let options = FormatOptions::default().with_null("NULL");
            Ok(arrow::util::pretty::pretty_format_batches_with_options(batches, &options)?.to_string())
        }
        OutputFormat::Csv => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
                for batch in batches {
                    writer.write(&flatten_nested(batch)?)?;
                }
            }
            Ok(String::from_utf8(out).expect("the CSV writer writes UTF-8"))
        }
        OutputFormat::Json => {
            let mut out = Vec::new();
            {
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::JsonArray>(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            let mut text = String::from_utf8(out).expect("the JSON writer writes UTF-8");
            if text.is_empty() {
                // Arrow writes nothing for zero rows; an empty result is still a JSON array.
                text.push_str("[]");
            }
            text.push('\n');
            Ok(text)
        }
    }
}

/// CSV has no arrays: nested columns (e.g. `artist_names`) become their display text.
fn flatten_nested(batch: &RecordBatch) -> Result<RecordBatch, AthenaError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.data_type().is_nested() {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
        let text: StringArray = (0..column.len())
            .map(|i| column.is_valid(i).then(|| formatter.value(i).to_string()))
            .collect();
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(Arc::new(text));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
