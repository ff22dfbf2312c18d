//! Record format conversion as Firehose does it: JSON records in, Parquet (snappy) out, with the
//! columns of the Glue table and the reading rules of the OpenX JSON SerDe.
//!
//! OpenX JSON SerDe rules applied here [Firehose developer guide, "Convert input data format";
//! Hive OpenX JSON SerDe defaults]:
//! - each record is one JSON object (an array or a scalar is malformed);
//! - keys are matched case-insensitively (lower-cased), keys not in the table are dropped, a
//!   column the record lacks is NULL, JSON `null` is NULL;
//! - `timestamp` accepts `yyyy-MM-dd'T'HH:mm:ss[.fff]Z`, `yyyy-MM-dd HH:mm:ss[.fff]`, epoch
//!   seconds and epoch milliseconds (a number of 11 digits or more is taken as milliseconds:
//!   10^10 seconds is the year 2286), as a JSON number or a numeric string;
//! - numbers and booleans are also read from strings (`"42"`, `"true"`), and a number or boolean
//!   given for a `string` column is kept as its JSON text;
//! - a value that cannot be read as its column's type fails the whole record, which Firehose
//!   writes to the `format-conversion-failed` error output.
//!
//! Each record is read straight into the column builders (`Converter::append_record`); a record
//! that path cannot simply append (a value that does not convert, a repeated key, bad JSON) is
//! read again into a row of cells (`Converter::read_record`), which gives the reason.
//!
//! The Arrow schema is derived from the Glue definition (Hive types), not from the Avro schema,
//! because that is what Firehose reads; a test checks both agree. Every column is nullable, as
//! every Hive column is.
//!
//! | module      | what                                                                  |
//! |-------------|-----------------------------------------------------------------------|
//! | this one    | [`Converter`]: a chunk of records to a batch, on the converter's threads |
//! | `json`      | the two readers: straight into the builders, or into a row of cells   |
//! | `dates`     | timestamps and dates as the SerDe reads them (a fast path for ISO)    |
//! | `columns`   | the Arrow builder of each column, sized from a sample                 |
//! | `writer`    | Parquet as Firehose writes it, and when a string column gets a dictionary |
//! | `pool`      | the scoped threads                                                    |

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayBuilder, ArrayRef, BooleanArray};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
pub use schemas::glue::HiveType;
use schemas::glue::TableDefinition;
use serde::de::Deserializer;

use columns::{ColumnBuilder, Room, SIZING_SAMPLE};
use json::{AppendVisitor, Cell, RecordVisitor};
use pool::on_threads;
pub use writer::write_parquet;
use writer::write_parquet_threads;

mod columns;
mod dates;
mod json;
mod pool;
#[cfg(test)]
mod tests;
mod writer;

/// The error code Firehose writes as `lastErrorCode` for a record it cannot deserialize with the
/// table's schema (seen in real `format-conversion-failed` objects).
pub const MALFORMED_DATA: &str = "DataFormatConversion.MalformedData";

/// A Glue column the converter writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueColumn {
    pub name: String,
    pub hive_type: HiveType,
}

/// The table's columns from a Glue definition (`TableInput.StorageDescriptor.Columns`), names
/// lower-cased as the OpenX SerDe matches keys. Partition keys are not columns of the files.
pub fn glue_columns(definition: &TableDefinition) -> Vec<GlueColumn> {
    definition
        .table_input
        .columns()
        .iter()
        .map(|c| GlueColumn {
            name: c.name.to_ascii_lowercase(),
            hive_type: c.hive_type.clone(),
        })
        .collect()
}

/// The Arrow schema of the Parquet files: one nullable field per Glue column, in table order.
pub fn arrow_schema(columns: &[GlueColumn]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, c.hive_type.arrow_type(), true))
            .collect::<Vec<_>>(),
    )
}

/// Why a record could not be converted: Firehose's `lastErrorCode` and `lastErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError {
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn malformed(message: String) -> ConversionError {
    ConversionError {
        code: MALFORMED_DATA,
        message,
    }
}

/// Below this many records per thread, more threads cost more than they save.
const MIN_RECORDS_PER_THREAD: usize = 2_000;

/// Converts JSON records to Arrow and Parquet with the table's columns.
#[derive(Debug, Clone)]
pub struct Converter {
    columns: Vec<GlueColumn>,
    schema: SchemaRef,
    index: HashMap<String, usize>,
    threads: usize,
}

/// The result of converting a batch: the rows that converted, in input order, and the index of
/// every record that did not, with the reason.
#[derive(Debug)]
pub struct Converted {
    pub batch: RecordBatch,
    pub failed: Vec<(usize, ConversionError)>,
}

impl Converter {
    /// A converter for the Glue definition `definition` (see [`glue_columns`]).
    pub fn from_glue(definition: &TableDefinition) -> Self {
        Self::new(glue_columns(definition))
    }

    pub fn new(columns: Vec<GlueColumn>) -> Self {
        let schema = Arc::new(arrow_schema(&columns));
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Self {
            columns,
            schema,
            index,
            threads: 1,
        }
    }

    /// Converts (and writes Parquet, see [`Converter::write_parquet`]) on up to `threads`
    /// threads; the output is the same as on one.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn columns(&self) -> &[GlueColumn] {
        &self.columns
    }

    /// Reads one record into `cells` (one per column), or says why it cannot be read: the general
    /// path, which settles every record that [`Converter::append_record`] stops at (it gives the
    /// same cells for the records both read; tested). `slots` and `cells` are reused from record
    /// to record.
    fn read_record<'a>(
        &self,
        record: &'a [u8],
        slots: &mut Vec<Option<Result<Cell<'a>, String>>>,
        cells: &mut Vec<Cell<'a>>,
        follows: &mut Vec<usize>,
    ) -> Result<(), ConversionError> {
        let text = std::str::from_utf8(record)
            .map_err(|e| malformed(format!("the record is not UTF-8 text: {e}")))?;
        if text.trim().is_empty() {
            return Err(malformed(
                "The record was empty or contained only whitespace.".into(),
            ));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        slots.clear();
        slots.resize_with(self.columns.len(), || None);
        de.deserialize_any(RecordVisitor {
            columns: &self.columns,
            index: &self.index,
            slots,
            follows,
        })
        .map_err(|e| malformed(format!("the record is not a JSON object the SerDe can read: {e}")))?;
        de.end()
            .map_err(|e| malformed(format!("more than one JSON value in the record: {e}")))?;
        cells.clear();
        for (column, slot) in self.columns.iter().zip(slots.drain(..)) {
            cells.push(match slot {
                None => Cell::Null,
                Some(cell) => cell.map_err(|why| {
                    malformed(format!("column {} ({}): {why}", column.name, column.hive_type))
                })?,
            });
        }
        Ok(())
    }

    /// Converts `records` (each one JSON object, trailing whitespace allowed) into one batch, in
    /// input order, splitting large inputs over the converter's threads.
    pub fn convert<R: AsRef<[u8]> + Sync>(&self, records: &[R]) -> Converted {
        let threads = self.threads.min(records.len() / MIN_RECORDS_PER_THREAD).max(1);
        if threads == 1 {
            return self.convert_chunk(records);
        }
        let chunk = records.len().div_ceil(threads);
        let parts: Vec<Converted> = on_threads(records.len().div_ceil(chunk), threads, |k| {
            self.convert_chunk(&records[k * chunk..records.len().min((k + 1) * chunk)])
        });
        let mut failed = Vec::new();
        for (n, part) in parts.iter().enumerate() {
            failed.extend(part.failed.iter().map(|(i, e)| (n * chunk + i, e.clone())));
        }
        // Concatenate column by column on the same threads: it copies every value once.
        let arrays = on_threads(self.schema.fields().len(), threads, |c| {
            let arrays: Vec<&dyn Array> = parts.iter().map(|p| p.batch.column(c).as_ref()).collect();
            arrow::compute::concat(&arrays).expect("parts share the schema")
        });
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("the parts share the converter's schema");
        Converted { batch, failed }
    }

    /// Writes `batch` as one Parquet file with snappy compression (Firehose's default serializer
    /// settings), encoding its columns on the converter's threads.
    pub fn write_parquet(&self, batch: &RecordBatch) -> Result<Vec<u8>, parquet::errors::ParquetError> {
        write_parquet_threads(batch, self.threads)
    }

    fn convert_chunk<R: AsRef<[u8]>>(&self, records: &[R]) -> Converted {
        let (mut slots, mut cells) = (Vec::new(), Vec::new());
        let mut follows = vec![usize::MAX; self.columns.len() + 1];
        // Size every buffer from a sample first: a buffer that grows copies what it holds and
        // touches fresh memory each time (together ~10% of the conversion's time).
        let mut rooms = vec![Room::default(); self.columns.len()];
        let sample = &records[..records.len().min(SIZING_SAMPLE)];
        let mut sampled = 0;
        for record in sample {
            if self
                .read_record(record.as_ref(), &mut slots, &mut cells, &mut follows)
                .is_ok()
            {
                sampled += 1;
                for (room, cell) in rooms.iter_mut().zip(cells.drain(..)) {
                    room.measure(&cell);
                }
            }
        }
        let scale = records.len() as f64 / sampled.max(1) as f64;
        let mut builders: Vec<ColumnBuilder> = self
            .columns
            .iter()
            .zip(&rooms)
            .map(|(c, room)| ColumnBuilder::new(&c.hive_type, &room.scaled(scale, records.len())))
            .collect();
        let mut failed = Vec::new();
        // Rows begun by the direct path for a record it could not finish, removed at the end.
        let mut begun = Vec::new();
        let mut rows = 0;
        for (i, record) in records.iter().enumerate() {
            if self.append_record(record.as_ref(), &mut builders, &mut follows, rows) {
                rows += 1;
                continue;
            }
            // The direct path stops at anything unusual (a bad value, a duplicate key, bad
            // JSON), perhaps with some columns of the row appended: fill the row up with NULLs,
            // to remove it later, and let `read_record` settle the record, with its reason.
            if builders.iter().any(|b| b.len() > rows) {
                fill_row(&mut builders, rows);
                begun.push(rows);
                rows += 1;
            }
            match self.read_record(record.as_ref(), &mut slots, &mut cells, &mut follows) {
                Ok(()) => {
                    for (builder, cell) in builders.iter_mut().zip(cells.drain(..)) {
                        builder.append(cell);
                    }
                    rows += 1;
                }
                Err(e) => failed.push((i, e)),
            }
        }
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
        let mut batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("builders are made from the schema's own types");
        if !begun.is_empty() {
            let mut keep = vec![true; rows];
            begun.iter().for_each(|&row| keep[row] = false);
            batch = arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep))
                .expect("the mask has one entry per row");
        }
        Converted { batch, failed }
    }

    /// Appends `record` to `builders` as row `row`, straight from the JSON, when every value in it
    /// converts and no key repeats: the common case, without the per-record cells of
    /// [`Converter::read_record`]. Returns false otherwise, with the row perhaps begun (some
    /// builders one value longer than `row`).
    fn append_record(
        &self,
        record: &[u8],
        builders: &mut [ColumnBuilder],
        follows: &mut [usize],
        row: usize,
    ) -> bool {
        let Ok(text) = std::str::from_utf8(record) else {
            return false;
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let visitor = AppendVisitor {
            columns: &self.columns,
            index: &self.index,
            follows,
            builders: &mut *builders,
            row,
        };
        let Ok(filled) = de.deserialize_any(visitor) else {
            return false;
        };
        if de.end().is_err() {
            return false;
        }
        if filled < builders.len() {
            // Columns the record lacks are NULL.
            fill_row(builders, row);
        }
        true
    }
}

/// Appends NULL to every builder that has no value yet for row `row`.
fn fill_row(builders: &mut [ColumnBuilder], row: usize) {
    builders
        .iter_mut()
        .filter(|b| b.len() == row)
        .for_each(ColumnBuilder::append_null);
}
