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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Date32Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, Int8Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, NaiveDateTime};
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
pub use schemas::glue::HiveType;
use schemas::glue::TableDefinition;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// The error code Firehose writes as `lastErrorCode` for a record it cannot deserialize with the
/// table's schema (seen in real `format-conversion-failed` objects).
pub const MALFORMED_DATA: &str = "DataFormatConversion.MalformedData";

/// Numbers with at least this many digits are epoch milliseconds, shorter ones epoch seconds.
const EPOCH_MILLIS_MIN: i64 = 10_000_000_000;

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

/// Writes `batch` as one Parquet file with snappy compression (Firehose's default serializer
/// settings), on one thread.
pub fn write_parquet(batch: &RecordBatch) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    write_parquet_threads(batch, 1)
}

/// The same file as `ArrowWriter` writes (row groups of at most its default row count, the Arrow
/// schema in the footer), with the column chunks of each row group encoded and compressed on up
/// to `threads` threads: columns are independent, so this is parquet's documented way to use
/// several cores (`ArrowColumnWriter`).
fn write_parquet_threads(batch: &RecordBatch, threads: usize) -> Result<Vec<u8>, ParquetError> {
    let mut props = WriterProperties::builder().set_compression(Compression::SNAPPY);
    for column in plain_string_columns(batch)? {
        props = props.set_column_dictionary_enabled(column, false);
    }
    write_row_groups(batch, threads, props.build())
}

/// Firehose's Parquet page size (ParquetSerDe `PageSizeBytes`, default 1 MiB [Firehose API
/// reference, ParquetSerDe]): the first page of a column is what its writer judges a dictionary by.
const FIRST_PAGE_BYTES: usize = 1024 * 1024;

/// The string columns of `batch` to write without a dictionary: those whose first page would be no
/// smaller dictionary-encoded than plain. That is the test parquet-java makes on a column's first
/// page (`FallbackValuesWriter.getBytes`: keep the dictionary only if ids + dictionary < plain
/// size); Firehose's ParquetSerDe settings are parquet-java's (block and page size, dictionary,
/// writer version, padding). parquet-rs gives a dictionary up only when it passes 1 MiB, so a
/// column of unique values such as `record_key` paid for a dictionary it then dropped (on the
/// conversion bench's data, a third or more of the Parquet writing time).
fn plain_string_columns(batch: &RecordBatch) -> Result<Vec<ColumnPath>, ParquetError> {
    let parquet_schema = ArrowSchemaConverter::new().convert(batch.schema_ref())?;
    // Hive columns here are scalars or arrays, one Parquet leaf each; judge nothing otherwise.
    if parquet_schema.num_columns() != batch.num_columns() {
        return Ok(Vec::new());
    }
    Ok(parquet_schema
        .columns()
        .iter()
        .zip(batch.columns())
        .filter(|(_, array)| string_leaf(array.as_ref()).is_some_and(|s| !dictionary_pays(&s)))
        .map(|(leaf, _)| leaf.path().clone())
        .collect())
}

/// The strings of a string column, or the innermost values of an array-of-strings column (a cheap
/// copy: Arrow arrays share their buffers).
fn string_leaf(array: &dyn Array) -> Option<arrow::array::StringArray> {
    match array.data_type() {
        DataType::Utf8 => array.as_string_opt::<i32>().cloned(),
        DataType::List(_) => {
            let list = array.as_list_opt::<i32>()?;
            let offsets = list.value_offsets();
            let (start, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
            string_leaf(list.values().slice(start, end - start).as_ref())
        }
        _ => None,
    }
}

/// The smallest page Firehose allows (ParquetSerDe `PageSizeBytes` minimum, 64 KiB): far enough
/// into a column to settle the clear cases without reading a whole first page.
const GLANCE_BYTES: usize = 64 * 1024;

/// Whether a dictionary makes the first page of `strings` smaller than plain encoding. The clear
/// cases are settled after [`GLANCE_BYTES`]: no value repeated yet (a key or an id per record:
/// plain), or a dictionary already at most three quarters of the size (dictionary). Judging
/// hashes every value it reads: a full page of every column took ~85 ms per 100,000 records.
fn dictionary_pays(strings: &arrow::array::StringArray) -> bool {
    let (mut plain, mut dictionary, mut count) = (0, 0, 0);
    let mut seen = HashSet::new();
    // The ids are bit-packed at the width of the largest id, after one byte giving that width.
    let ids = |count: usize, distinct: usize| {
        1 + (count * (usize::BITS - distinct.saturating_sub(1).leading_zeros()) as usize).div_ceil(8)
    };
    let mut glanced = false;
    for value in strings.iter().flatten() {
        // PLAIN stores a 4-byte length before each value, as the dictionary page does.
        let size = value.len() + 4;
        plain += size;
        count += 1;
        if seen.insert(value) {
            dictionary += size;
        }
        if !glanced && plain >= GLANCE_BYTES {
            glanced = true;
            if seen.len() == count {
                return false;
            }
            if 4 * (ids(count, seen.len()) + dictionary) <= 3 * plain {
                return true;
            }
        }
        if plain >= FIRST_PAGE_BYTES {
            break;
        }
    }
    ids(count, seen.len()) + dictionary < plain
}

fn write_row_groups(
    batch: &RecordBatch,
    threads: usize,
    props: WriterProperties,
) -> Result<Vec<u8>, ParquetError> {
    let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let schema = batch.schema();
    let (mut file, factory) =
        ArrowWriter::try_new(&mut out, schema.clone(), Some(props))?.into_serialized_writer()?;
    let mut start = 0;
    while start < batch.num_rows() {
        let rows = batch.slice(start, max_rows.min(batch.num_rows() - start));
        let mut writers = factory
            .create_column_writers(file.flushed_row_groups().len())?
            .into_iter();
        // One job per leaf column, in schema order (a list column has one leaf).
        let mut jobs = Vec::new();
        for (field, array) in schema.fields().iter().zip(rows.columns()) {
            for leaf in compute_leaves(field, array)? {
                let writer = writers.next().expect("one writer per leaf column");
                jobs.push(Mutex::new(Some((writer, leaf))));
            }
        }
        let chunks = on_threads(jobs.len(), threads, |i| {
            let (mut writer, leaf) = jobs[i].lock().expect("unpoisoned").take().expect("taken once");
            writer.write(&leaf)?;
            writer.close()
        });
        let mut row_group = file.next_row_group()?;
        for chunk in chunks {
            chunk?.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        start += rows.num_rows();
    }
    file.close()?;
    Ok(out)
}

/// Runs `job(i)` for every `i` in `0..jobs` on up to `threads` threads (the caller's included),
/// each thread taking the next index when it is free, and returns the results in index order.
fn on_threads<T: Send>(jobs: usize, threads: usize, job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= jobs {
                return done;
            }
            done.push((i, job(i)));
        }
    };
    let mut all = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(jobs)).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            all.extend(helper.join().expect("a worker thread panicked"));
        }
        all
    });
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, result)| result).collect()
}

/// A JSON value as read, strings borrowed where the input allows; of an array or an object only
/// the kind, which is all a column of another type needs to say why it cannot hold it.
#[derive(Debug, Clone)]
enum Loose<'a> {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

/// A value converted to its column's type.
#[derive(Debug)]
enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    TimestampMillis(i64),
    Date(i32),
    List(Vec<Cell<'a>>),
}

struct RecordVisitor<'i, 's, 'a> {
    columns: &'i [GlueColumn],
    index: &'i HashMap<String, usize>,
    slots: &'s mut Vec<Option<Result<Cell<'a>, String>>>,
    /// Records of one stream list their keys in the same order: `follows[c]` is the column whose
    /// key came after column `c`'s in the last record (`follows[columns.len()]`: the first key).
    follows: &'s mut Vec<usize>,
}

impl<'de, 'i, 's> Visitor<'de> for RecordVisitor<'i, 's, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut previous = self.columns.len();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match column_of(self.columns, self.index, self.follows, &mut previous, &key) {
                Some(i) => self.slots[i] = Some(map.next_value_seed(CellSeed(&self.columns[i].hive_type))?),
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a record's values straight into the builders (see [`Converter::append_record`]); its
/// value is the number of columns filled. Anything [`RecordVisitor`] would not simply append is
/// an error here, so that `read_record` settles it.
struct AppendVisitor<'i, 'b> {
    columns: &'i [GlueColumn],
    index: &'i HashMap<String, usize>,
    follows: &'b mut [usize],
    builders: &'b mut [ColumnBuilder],
    row: usize,
}

impl<'de> Visitor<'de> for AppendVisitor<'_, '_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut previous = self.columns.len();
        let mut filled = 0;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match column_of(self.columns, self.index, self.follows, &mut previous, &key) {
                Some(i) => {
                    let builder = &mut self.builders[i];
                    if builder.len() > self.row {
                        return Err(de::Error::custom("a key repeats"));
                    }
                    map.next_value_seed(AppendSeed {
                        ty: &self.columns[i].hive_type,
                        builder,
                    })?;
                    filled += 1;
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(filled)
    }
}

/// Appends one JSON value to its column's builder, converted as `to_cell` converts it, or fails
/// when it cannot be converted (a list whose item fails is appended all the same, to be removed
/// with the row).
struct AppendSeed<'t, 'b> {
    ty: &'t HiveType,
    builder: &'b mut ColumnBuilder,
}

impl AppendSeed<'_, '_> {
    fn put<E: de::Error>(self, value: Loose) -> Result<(), E> {
        let cell = to_cell(self.ty, value).map_err(E::custom)?;
        self.builder.append(cell);
        Ok(())
    }
}

impl<'de> de::DeserializeSeed<'de> for AppendSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AppendSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.builder.append_null();
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.builder.append_null();
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        if let ColumnBuilder::Bool(b) = self.builder {
            b.append_value(v);
            return Ok(());
        }
        self.put(Loose::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.put(Loose::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        // The usual integer columns, in range; anything else takes `to_cell`.
        match self.builder {
            ColumnBuilder::Int32(b) if v <= i32::MAX as u64 => b.append_value(v as i32),
            ColumnBuilder::Int64(b) if v <= i64::MAX as u64 => b.append_value(v as i64),
            _ => return self.put(Loose::UInt(v)),
        }
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.put(Loose::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        // Most values are strings of string columns, which need no conversion.
        match self.builder {
            ColumnBuilder::Str(b) => {
                b.append_value(v);
                return Ok(());
            }
            // The usual timestamp shapes (see `timestamp_millis`).
            ColumnBuilder::Timestamp(b) => {
                if let Some(millis) = iso_millis(v) {
                    b.append_value(millis);
                    return Ok(());
                }
            }
            _ => {}
        }
        // Appended before `v` goes, so an unescaped (not borrowed) string is not copied twice.
        self.put(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (HiveType::Array(item), ColumnBuilder::List(list)) = (self.ty, self.builder) else {
            return Err(de::Error::custom("an array for a column of another type"));
        };
        let read = loop {
            match seq.next_element_seed(AppendSeed {
                ty: item,
                builder: list.values(),
            }) {
                Ok(Some(())) => {}
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // The entry is closed even when an item failed, so that the items it has so far belong
        // to this record's row (which is then removed), not to the next record's list.
        list.append(true);
        read
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
        Err(de::Error::custom("an object for a column"))
    }
}

/// The column of the record key `key`, if the table has one: OpenX lower-cases keys. The key is
/// first predicted from the last record's key order (`follows`, updated here; `previous` is the
/// column of the key before, `columns.len()` at the first key) before it is hashed.
fn column_of(
    columns: &[GlueColumn],
    index: &HashMap<String, usize>,
    follows: &mut [usize],
    previous: &mut usize,
    key: &str,
) -> Option<usize> {
    let predicted = follows[*previous];
    let found = if columns.get(predicted).is_some_and(|c| c.name == key) {
        Some(predicted)
    } else if key.bytes().any(|b| b.is_ascii_uppercase()) {
        // Most keys already are lower case, so avoid the allocation then.
        index.get(&key.to_lowercase()).copied()
    } else {
        index.get(key).copied()
    };
    if let Some(i) = found {
        follows[*previous] = i;
        *previous = i;
    }
    found
}

/// A JSON object key, borrowed from the input unless it holds escapes (serde's own `Cow<str>`
/// always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads one JSON value straight into a cell of its column's type: `Ok(Err(why))` when the value
/// cannot be read as that type (the record fails, but the JSON is still read to its end, so a
/// later duplicate key can still replace it, as with any value).
struct CellSeed<'t>(&'t HiveType);

impl<'de> de::DeserializeSeed<'de> for CellSeed<'_> {
    type Value = Result<Cell<'de>, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = Result<Cell<'de>, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(Cell::Null))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(Cell::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::UInt(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Float(v)))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Str(Cow::Owned(v))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let HiveType::Array(item) = self.0 else {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            return Ok(to_cell(self.0, Loose::Array));
        };
        let mut items = Vec::new();
        while let Some(cell) = seq.next_element_seed(CellSeed(item))? {
            match cell {
                Ok(cell) => items.push(cell),
                Err(why) => {
                    while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                    return Ok(Err(why));
                }
            }
        }
        Ok(Ok(Cell::List(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(to_cell(self.0, Loose::Object))
    }
}

fn kind(value: &Loose) -> &'static str {
    match value {
        Loose::Bool(_) => "a boolean",
        Loose::Int(_) | Loose::UInt(_) | Loose::Float(_) => "a number",
        Loose::Str(_) => "a string",
        Loose::Array => "an array",
        Loose::Object => "an object",
    }
}

/// Converts one JSON value that is neither null nor an array (see `CellSeed`) to `ty`, or says why it cannot.
fn to_cell<'a>(ty: &HiveType, value: Loose<'a>) -> Result<Cell<'a>, String> {
    let wrong = |value: &Loose| format!("cannot read {} as {}", kind(value), ty);
    match ty {
        HiveType::String => match value {
            Loose::Str(s) => Ok(Cell::Str(s)),
            Loose::Bool(b) => Ok(Cell::Str(Cow::Owned(b.to_string()))),
            Loose::Int(n) => Ok(Cell::Str(Cow::Owned(n.to_string()))),
            Loose::UInt(n) => Ok(Cell::Str(Cow::Owned(n.to_string()))),
            Loose::Float(n) => Ok(Cell::Str(Cow::Owned(n.to_string()))),
            other => Err(wrong(&other)),
        },
        HiveType::TinyInt | HiveType::SmallInt | HiveType::Int | HiveType::BigInt => {
            let n = integer(&value).ok_or_else(|| wrong(&value))?;
            let (min, max) = match ty {
                HiveType::TinyInt => (i8::MIN as i64, i8::MAX as i64),
                HiveType::SmallInt => (i16::MIN as i64, i16::MAX as i64),
                HiveType::Int => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            if n < min || n > max {
                return Err(format!("{n} is out of range for {}", ty));
            }
            Ok(Cell::Int(n))
        }
        HiveType::Float | HiveType::Double => match &value {
            Loose::Int(n) => Ok(Cell::Float(*n as f64)),
            Loose::UInt(n) => Ok(Cell::Float(*n as f64)),
            Loose::Float(n) => Ok(Cell::Float(*n)),
            Loose::Str(s) => s
                .trim()
                .parse::<f64>()
                .map(Cell::Float)
                .map_err(|_| format!("`{}` is not a number", clip(s))),
            other => Err(wrong(other)),
        },
        HiveType::Boolean => match &value {
            Loose::Bool(b) => Ok(Cell::Bool(*b)),
            Loose::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Cell::Bool(true)),
            Loose::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Cell::Bool(false)),
            other => Err(wrong(other)),
        },
        HiveType::Timestamp => timestamp_millis(&value)
            .map(Cell::TimestampMillis)
            .ok_or_else(|| match &value {
                Loose::Str(s) => format!(
                    "`{}` is not a timestamp (yyyy-MM-dd'T'HH:mm:ss[.fff]Z, yyyy-MM-dd HH:mm:ss[.fff], epoch seconds or millis)",
                    clip(s)
                ),
                other => wrong(other),
            }),
        HiveType::Date => match &value {
            Loose::Str(s) => date_days(s)
                .map(Cell::Date)
                .ok_or_else(|| format!("`{}` is not a date (yyyy-MM-dd)", clip(s))),
            other => Err(wrong(other)),
        },
        // Arrays are read item by item by `CellSeed`; anything else is the wrong kind.
        HiveType::Array(_) => Err(wrong(&value)),
    }
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

fn integer(value: &Loose) -> Option<i64> {
    match value {
        Loose::Int(n) => Some(*n),
        Loose::UInt(n) => i64::try_from(*n).ok(),
        Loose::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
        Loose::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn epoch_to_millis(n: i64) -> Option<i64> {
    if n.abs() >= EPOCH_MILLIS_MIN {
        Some(n)
    } else {
        n.checked_mul(1000)
    }
}

fn timestamp_millis(value: &Loose) -> Option<i64> {
    match value {
        Loose::Int(_) | Loose::UInt(_) => epoch_to_millis(integer(value)?),
        Loose::Float(f) if f.fract() == 0.0 => epoch_to_millis(*f as i64),
        // Fractional numbers are epoch seconds with a fraction.
        Loose::Float(f) => Some((f * 1000.0).floor() as i64),
        Loose::Str(s) => {
            let s = s.trim();
            if let Some(millis) = iso_millis(s) {
                return Some(millis);
            }
            if let Ok(n) = s.parse::<i64>() {
                return epoch_to_millis(n);
            }
            let parsed = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()?;
            Some(parsed.and_utc().timestamp_millis())
        }
        _ => None,
    }
}

/// The usual shapes, `yyyy-MM-ddTHH:mm:ss[.fff]Z` and `yyyy-MM-dd HH:mm:ss[.fff]`, read without
/// chrono's format-string interpreter (the conversion's hottest path); anything else, or an
/// impossible date, returns None and takes the general path.
fn iso_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let rest = match b[10] {
        b'T' => b[19..].strip_suffix(b"Z")?,
        b' ' => &b[19..],
        _ => return None,
    };
    let millis = match rest {
        [] => 0,
        [b'.', fraction @ ..] if !fraction.is_empty() && fraction.len() <= 9 => {
            // Milliseconds: the first three digits, padded; finer digits are truncated.
            let mut ms = 0;
            for i in 0..3 {
                ms = ms * 10 + fraction.get(i).map_or(Some(0), |&d| digit(d))?;
            }
            if !fraction.iter().all(u8::is_ascii_digit) {
                return None;
            }
            ms
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(&b[0..4])? as i32, number(&b[5..7])?, number(&b[8..10])?)?;
    let time = date.and_hms_milli_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        millis,
    )?;
    Some(time.and_utc().timestamp_millis())
}

fn digit(d: u8) -> Option<u32> {
    d.is_ascii_digit().then(|| u32::from(d - b'0'))
}

fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |n, &d| Some(n * 10 + digit(d)?))
}

fn date_days(s: &str) -> Option<i32> {
    let s = s.trim();
    let b = s.as_bytes();
    // `yyyy-MM-dd` without the format interpreter; other shapes take chrono's general path.
    let fast = || {
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        NaiveDate::from_ymd_opt(number(&b[0..4])? as i32, number(&b[5..7])?, number(&b[8..10])?)
    };
    let date = match fast() {
        Some(date) => date,
        None => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?,
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// One column's Arrow builder, by type, so that appending a cell is one match. (Appending through
/// `Box<dyn ArrayBuilder>` and a downcast per cell took ~10% of the conversion's time.)
#[derive(Debug)]
enum ColumnBuilder {
    Str(StringBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Date(Date32Builder),
    List(Box<ListBuilder<ColumnBuilder>>),
}

/// `$scalar` with the builder of any variant but `List` bound to `$b`, or `$list` with a list
/// column's builder bound to `$l`: one match for what every variant does alike.
macro_rules! each_builder {
    ($builder:expr, $b:ident => $scalar:expr, $l:ident => $list:expr) => {
        match $builder {
            ColumnBuilder::Str($b) => $scalar,
            ColumnBuilder::Int8($b) => $scalar,
            ColumnBuilder::Int16($b) => $scalar,
            ColumnBuilder::Int32($b) => $scalar,
            ColumnBuilder::Int64($b) => $scalar,
            ColumnBuilder::Float32($b) => $scalar,
            ColumnBuilder::Float64($b) => $scalar,
            ColumnBuilder::Bool($b) => $scalar,
            ColumnBuilder::Timestamp($b) => $scalar,
            ColumnBuilder::Date($b) => $scalar,
            ColumnBuilder::List($l) => $list,
        }
    };
}

/// Records of a chunk read first to size its column buffers.
const SIZING_SAMPLE: usize = 64;

/// What a column's builder should make room for: its values, their string bytes, and for a list
/// column the room of its items.
#[derive(Debug, Default, Clone)]
struct Room {
    values: usize,
    bytes: usize,
    items: Option<Box<Room>>,
}

impl Room {
    fn measure(&mut self, cell: &Cell) {
        self.values += 1;
        match cell {
            Cell::Str(s) => self.bytes += s.len(),
            Cell::List(items) => {
                let room = self.items.get_or_insert_default();
                items.iter().for_each(|item| room.measure(item));
            }
            _ => {}
        }
    }

    /// The room for `scale` times the measured values, with an eighth more for variation (a
    /// reservation is only address space until it is written), and at least `rows` values.
    fn scaled(&self, scale: f64, rows: usize) -> Room {
        let more = |n: usize| (n as f64 * scale * 1.125) as usize;
        Room {
            values: more(self.values).max(rows),
            bytes: more(self.bytes),
            items: self.items.as_ref().map(|items| Box::new(items.scaled(scale, 0))),
        }
    }
}

impl ColumnBuilder {
    /// A builder of `ty`'s Arrow type (see [`HiveType::arrow_type`]) with `room` reserved.
    fn new(ty: &HiveType, room: &Room) -> Self {
        let rows = room.values;
        match ty {
            HiveType::String => Self::Str(StringBuilder::with_capacity(rows, room.bytes)),
            HiveType::TinyInt => Self::Int8(Int8Builder::with_capacity(rows)),
            HiveType::SmallInt => Self::Int16(Int16Builder::with_capacity(rows)),
            HiveType::Int => Self::Int32(Int32Builder::with_capacity(rows)),
            HiveType::BigInt => Self::Int64(Int64Builder::with_capacity(rows)),
            HiveType::Float => Self::Float32(Float32Builder::with_capacity(rows)),
            HiveType::Double => Self::Float64(Float64Builder::with_capacity(rows)),
            HiveType::Boolean => Self::Bool(BooleanBuilder::with_capacity(rows)),
            HiveType::Timestamp => Self::Timestamp(
                TimestampMillisecondBuilder::with_capacity(rows).with_data_type(ty.arrow_type()),
            ),
            HiveType::Date => Self::Date(Date32Builder::with_capacity(rows)),
            HiveType::Array(item) => {
                let items = room.items.as_deref().cloned().unwrap_or_default();
                Self::List(Box::new(ListBuilder::with_capacity(
                    ColumnBuilder::new(item, &items),
                    rows,
                )))
            }
        }
    }

    /// Appends one cell, converted for this column by `to_cell` (so of this builder's type, or
    /// `Null`).
    fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Self::Str(b), Cell::Str(s)) => b.append_value(s),
            // The integer ranges were checked in to_cell.
            (Self::Int8(b), Cell::Int(n)) => b.append_value(n as i8),
            (Self::Int16(b), Cell::Int(n)) => b.append_value(n as i16),
            (Self::Int32(b), Cell::Int(n)) => b.append_value(n as i32),
            (Self::Int64(b), Cell::Int(n)) => b.append_value(n),
            (Self::Float32(b), Cell::Float(n)) => b.append_value(n as f32),
            (Self::Float64(b), Cell::Float(n)) => b.append_value(n),
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Self::Timestamp(b), Cell::TimestampMillis(v)) => b.append_value(v),
            (Self::Date(b), Cell::Date(v)) => b.append_value(v),
            (Self::List(b), Cell::List(items)) => {
                for item in items {
                    b.values().append(item);
                }
                b.append(true);
            }
            (this, _) => this.append_null(),
        }
    }

    fn append_null(&mut self) {
        each_builder!(self, b => b.append_null(), list => list.append(false))
    }

    fn inner(&self) -> &dyn ArrayBuilder {
        each_builder!(self, b => b as &dyn ArrayBuilder, list => list.as_ref() as &dyn ArrayBuilder)
    }

    fn inner_mut(&mut self) -> &mut dyn ArrayBuilder {
        each_builder!(self, b => b as &mut dyn ArrayBuilder, list => list.as_mut() as &mut dyn ArrayBuilder)
    }
}

/// So that a list column's values can be a `ColumnBuilder` (`ListBuilder` takes any builder).
impl ArrayBuilder for ColumnBuilder {
    // Matched here rather than through `inner()`: the converter asks it per key and per missing
    // column, and a match costs less than a dynamic call.
    fn len(&self) -> usize {
        each_builder!(self, b => b.len(), list => list.len())
    }

    fn finish(&mut self) -> ArrayRef {
        self.inner_mut().finish()
    }

    fn finish_cloned(&self) -> ArrayRef {
        self.inner().finish_cloned()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn into_box_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, TimestampMillisecondType};

    fn converter() -> Converter {
        Converter::new(vec![
            GlueColumn {
                name: "id".into(),
                hive_type: HiveType::String,
            },
            GlueColumn {
                name: "n".into(),
                hive_type: HiveType::Int,
            },
            GlueColumn {
                name: "at".into(),
                hive_type: HiveType::Timestamp,
            },
            GlueColumn {
                name: "tags".into(),
                hive_type: HiveType::parse("array<string>").unwrap(),
            },
        ])
    }

    #[test]
    fn openx_rules_keys_lowercased_unknown_dropped_missing_null() {
        let c = converter();
        let out = c.convert(&[
            br#"{"ID":"a","N":"7","extra":{"x":1},"at":"2026-11-24T08:15:30.123Z"}"#.as_slice(),
            br#"{"id":"b","at":1795507200}"#.as_slice(),
            br#"{"id":"c","at":1795507200123,"tags":["x",null]}"#.as_slice(),
            br#"{"id":"d","at":"2026-11-24 08:15:30"}"#.as_slice(),
        ]);
        assert!(out.failed.is_empty(), "{:?}", out.failed);
        let b = &out.batch;
        assert_eq!(b.num_rows(), 4);
        let ids = b.column(0).as_string::<i32>();
        assert_eq!(ids.value(0), "a");
        let n = b.column(1).as_primitive::<Int32Type>();
        assert_eq!(n.value(0), 7);
        assert!(n.is_null(1));
        let at = b.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(at.value(0), 1_795_508_130_123);
        assert_eq!(at.value(1), 1_795_507_200_000);
        assert_eq!(at.value(2), 1_795_507_200_123);
        assert_eq!(at.value(3), 1_795_508_130_000);
        let tags = b.column(3).as_list::<i32>();
        assert!(tags.is_null(0));
        assert_eq!(tags.value(2).len(), 2);
    }

    #[test]
    fn unconvertible_values_fail_only_their_record() {
        let c = converter();
        let out = c.convert(&[
            br#"{"id":"ok"}"#.as_slice(),
            br#"{"n":"seven"}"#.as_slice(),
            br#"{"n":3000000000}"#.as_slice(),
            br#"{"at":"yesterday"}"#.as_slice(),
            br#"[1,2]"#.as_slice(),
            b"not json".as_slice(),
            br#"{"id":{"nested":true}}"#.as_slice(),
            br#"{"tags":"x"}"#.as_slice(),
            b"  \n".as_slice(),
            // Two bad columns, the later one first in the record: the error names the first in
            // table order.
            br#"{"at":"never","n":"seven"}"#.as_slice(),
            // A good record after failed ones gets nothing of theirs.
            br#"{"id":"last"}"#.as_slice(),
        ]);
        assert_eq!(out.batch.num_rows(), 2);
        let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(out.failed.iter().all(|(_, e)| e.code == MALFORMED_DATA));
        assert!(
            out.failed[0].1.message.contains("column n (int)"),
            "{}",
            out.failed[0].1
        );
        assert!(
            out.failed[8].1.message.contains("column n (int)"),
            "{}",
            out.failed[8].1
        );
        let id = out.batch.column(0).as_string::<i32>();
        assert_eq!((id.value(0), id.value(1)), ("ok", "last"));
        for column in 1..4 {
            assert!(
                out.batch.column(column).is_null(1),
                "column {column} of the last record"
            );
        }
    }

    #[test]
    fn fast_timestamp_and_date_paths_agree_with_chrono() {
        let chrono_millis = |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        };
        for s in [
            "2026-11-24T08:15:30Z",
            "2026-11-24T08:15:30.1Z",
            "2026-11-24T08:15:30.123Z",
            "2026-11-24T08:15:30.123456789Z",
            "2026-11-24 08:15:30",
            "2026-11-24 08:15:30.5",
            "1969-12-31T23:59:59.999Z",
            "2024-02-29T00:00:00Z",
        ] {
            assert_eq!(iso_millis(s), chrono_millis(s), "{s}");
            assert!(iso_millis(s).is_some(), "{s} takes the fast path");
        }
        // Shapes the fast path leaves to chrono, or that neither accepts.
        for s in [
            "2026-11-24T08:15:30",
            "2026-11-24 08:15:30Z",
            "2025-02-29T00:00:00Z",
            "2026-11-24T25:00:00Z",
            "2026-11-24T08:15:30.Z",
            "2026-11-24T08:15:30.1234567891Z",
            "2026-1x-24T08:15:30Z",
        ] {
            assert_eq!(iso_millis(s), None, "{s}");
            assert_eq!(timestamp_millis(&Loose::Str(s.into())), chrono_millis(s), "{s}");
        }
        for s in ["2026-11-24", "1970-01-01", "1969-12-31", "2024-02-29"] {
            let chrono_days = (NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
                - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days() as i32;
            assert_eq!(date_days(s), Some(chrono_days), "{s}");
        }
        assert_eq!(date_days("2025-02-29"), None);
        assert_eq!(date_days("2026-11-xx"), None);
    }

    #[test]
    fn keys_out_of_column_order_still_land_in_their_columns() {
        let c = converter();
        let out = c.convert(&[br#"{"tags":["t"],"at":0,"n":2,"id":"z"}"#.as_slice()]);
        assert!(out.failed.is_empty(), "{:?}", out.failed);
        let b = &out.batch;
        assert_eq!(b.column(0).as_string::<i32>().value(0), "z");
        assert_eq!(b.column(1).as_primitive::<Int32Type>().value(0), 2);
        assert_eq!(b.column(3).as_list::<i32>().value(0).len(), 1);
    }

    /// Records of every kind (good, failing, arrays, NULLs) so that threads split a mixed input.
    fn mixed_records(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| match i % 7 {
                0 => format!(r#"{{"id":"r{i}","n":{i},"tags":["a{i}","b"]}}"#),
                1 => format!(r#"{{"id":"r{i}","n":"not a number"}}"#),
                2 => format!(r#"{{"at":"2026-11-24T08:15:{:02}.5Z","tags":[]}}"#, i % 60),
                3 => "not json".to_owned(),
                _ => format!(r#"{{"ID":"r{i}","at":{}}}"#, 1_795_507_200 + i),
            })
            .map(String::into_bytes)
            .collect()
    }

    #[test]
    fn threads_give_the_same_batch_and_failures_as_one() {
        let records = mixed_records(3 * MIN_RECORDS_PER_THREAD + 17);
        let one = converter().convert(&records);
        let three = converter().with_threads(3).convert(&records);
        assert_eq!(one.batch, three.batch);
        assert_eq!(one.failed, three.failed);
        assert_eq!(one.batch.num_rows() + one.failed.len(), records.len());
        // Failure indices point at the input records, across the threads' chunks.
        let last = one.failed.last().expect("some records fail").0;
        assert!(last > 2 * MIN_RECORDS_PER_THREAD, "{last}");
        assert_eq!(records[last], b"not json".to_vec());
    }

    /// The batch and failures of reading every record into cells with `read_record`, the path
    /// that settles the records the direct path stops at.
    fn convert_by_cells(c: &Converter, records: &[Vec<u8>]) -> Converted {
        let (mut slots, mut cells) = (Vec::new(), Vec::new());
        let mut follows = vec![usize::MAX; c.columns.len() + 1];
        let mut builders: Vec<ColumnBuilder> = c
            .columns
            .iter()
            .map(|col| ColumnBuilder::new(&col.hive_type, &Room::default()))
            .collect();
        let mut failed = Vec::new();
        for (i, record) in records.iter().enumerate() {
            match c.read_record(record, &mut slots, &mut cells, &mut follows) {
                Ok(()) => builders
                    .iter_mut()
                    .zip(cells.drain(..))
                    .for_each(|(b, cell)| b.append(cell)),
                Err(e) => failed.push((i, e)),
            }
        }
        let arrays = builders.iter_mut().map(|b| b.finish()).collect();
        let batch = RecordBatch::try_new(c.schema(), arrays).unwrap();
        Converted { batch, failed }
    }

    /// Records the direct path appends, and records it stops in, most after appending part of
    /// the row (a bad value after good ones, a bad item after good ones or first, a repeated key,
    /// text after the object), with records that convert among them.
    fn unusual_records() -> Vec<Vec<u8>> {
        [
            r#"{"id":"a","n":1,"at":"2026-11-24T08:15:30Z","tags":["x","y"]}"#,
            r#"{"tags":["x"],"at":1795507200,"N":"2","Id":"b\u00e9"}"#,
            r#"{"id":"c","n":2,"at":"tomorrow"}"#,
            r#"{"id":"d"}"#,
            r#"{"id":"e","tags":["x","y",{"o":1}],"n":3}"#,
            r#"{"id":"f","tags":["z"]}"#,
            r#"{"id":"g","id":"h","n":4}"#,
            r#"{"id":"i","n":5,"n":6}"#,
            r#"{"id":"j","n":7,"at":0,"tags":null} {"id":"k"}"#,
            r#"{"id":"l","tags":[null,"w"],"n":"8","extra":[1,{"a":2}]}"#,
            r#"{"id":"m","n":"seven","n":9}"#,
            r#"{"id":"n","tags":["x"],"tags":["y","z"]}"#,
            r#"[1,2]"#,
            "  ",
            r#"{"id":"o","n":10"#,
            r#"{"id":"p","n":11}"#,
            r#"{"tags":["x",{"o":1}],"id":"q"}"#,
            r#"{"id":"r","tags":["w"]}"#,
        ]
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect()
    }

    #[test]
    fn the_direct_path_gives_what_reading_cells_gives() {
        let mut records = unusual_records();
        records.extend(mixed_records(50));
        let c = converter();
        let direct = c.convert(&records);
        let by_cells = convert_by_cells(&c, &records);
        assert_eq!(direct.batch, by_cells.batch);
        assert_eq!(direct.failed, by_cells.failed);
        let ids = direct.batch.column(0).as_string::<i32>();
        let first: Vec<&str> = (0..10).map(|r| ids.value(r)).collect();
        assert_eq!(first, ["a", "bé", "d", "f", "h", "i", "l", "m", "n", "p"]);
        let tags = direct.batch.column(3).as_list::<i32>();
        assert_eq!(tags.value(3).len(), 1, "f's tags, after e's began items");
        assert_eq!(tags.value(8).len(), 2, "n's later tags win");
        let r = tags.value(10);
        assert_eq!(
            (ids.value(10), r.as_string::<i32>().value(0), r.len()),
            ("r", "w", 1),
            "r's tags hold nothing of q's, whose list failed first in its row"
        );
    }

    /// `n` copies of `originals` cut short, with a byte replaced or a piece repeated, each
    /// followed by the first original, which converts.
    fn mangled(originals: &[Vec<u8>], n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut records = Vec::new();
        for _ in 0..n {
            let mut r = originals[rng.usize(..originals.len())].clone();
            let at = rng.usize(..r.len());
            match rng.u8(..3) {
                0 => r.truncate(at),
                1 => {
                    let bytes = b"\"{}[],:0-.tfn \\x9eE";
                    r[at] = bytes[rng.usize(..bytes.len())];
                }
                _ => {
                    let piece = r[at..rng.usize(at..=r.len())].to_vec();
                    r.splice(at..at, piece);
                }
            }
            records.push(r);
            records.push(originals[0].clone());
        }
        records
    }

    #[test]
    fn the_direct_path_agrees_on_mangled_records() {
        // The direct path stops at any point of a row in these; each time, the row it began must
        // vanish and the general path must settle the record as it would alone. Over the test
        // table, and over one with a column of each other type the direct path appends itself.
        let originals: Vec<Vec<u8>> = unusual_records()
            .into_iter()
            .chain(mixed_records(14))
            .filter(|r| r.len() > 2)
            .collect();
        let wide = Converter::new(
            [
                ("id", "string"),
                ("b", "boolean"),
                ("big", "bigint"),
                ("d", "date"),
                ("x", "double"),
                ("t", "tinyint"),
                ("at", "timestamp"),
                ("arr", "array<bigint>"),
            ]
            .iter()
            .map(|(name, ty)| GlueColumn {
                name: (*name).into(),
                hive_type: HiveType::parse(ty).unwrap(),
            })
            .collect(),
        );
        let wide_originals: Vec<Vec<u8>> = [
            r#"{"id":"a","b":true,"big":12345678901,"d":"2021-11-12","x":1.5,"t":7,"at":"2026-11-24 08:15:30.5","arr":[1,2]}"#,
            r#"{"ID":5,"B":"false","big":"77","d":"1998-01-01","x":"2.5","t":"-8","at":1795507200,"arr":[]}"#,
            r#"{"id":null,"b":null,"big":-1,"d":null,"x":3,"t":300,"at":"2026-11-24T08:15:30Z","arr":[null,5]}"#,
            r#"{"arr":[1,"x",{"a":1}],"b":1,"id":"q","at":"bad"}"#,
        ]
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
        for (c, originals) in [(converter(), &originals), (wide, &wide_originals)] {
            let records = mangled(originals, 3_000, 7);
            let direct = c.convert(&records);
            let by_cells = convert_by_cells(&c, &records);
            assert_eq!(direct.failed, by_cells.failed);
            assert_eq!(direct.batch, by_cells.batch);
            let failed = direct.failed.len();
            assert!(failed > 1_000 && failed < 3_000, "{failed} of 6,000 failed");
        }
    }

    fn read_back(body: Vec<u8>) -> (Vec<RecordBatch>, usize) {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&body).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let groups = reader.metadata().num_row_groups();
        (reader.build().unwrap().collect::<Result<_, _>>().unwrap(), groups)
    }

    #[test]
    fn parallel_parquet_holds_the_batch_in_row_groups_of_the_limit() {
        let c = converter().with_threads(3);
        let batch = c.convert(&mixed_records(5_000)).batch;
        let (single, groups) = read_back(write_parquet(&batch).unwrap());
        assert_eq!(groups, 1);
        assert_eq!(
            arrow::compute::concat_batches(&c.schema(), &single).unwrap(),
            batch
        );

        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(1_000))
            .build();
        let (batches, groups) = read_back(write_row_groups(&batch, 3, props).unwrap());
        assert_eq!(groups, batch.num_rows().div_ceil(1_000));
        let back = arrow::compute::concat_batches(&c.schema(), &batches).unwrap();
        assert_eq!(back, batch);
        // The footer carries the Arrow schema, as ArrowWriter's does (UTC timestamps stay UTC).
        assert_eq!(back.schema(), c.schema());

        let (empty, groups) = read_back(c.write_parquet(&batch.slice(0, 0)).unwrap());
        assert_eq!(
            (empty.iter().map(RecordBatch::num_rows).sum::<usize>(), groups),
            (0, 0)
        );
    }

    #[test]
    fn columns_of_unique_strings_are_written_plain_and_repeated_ones_with_a_dictionary() {
        // id: unique per record; tags: one unique and one repeated value per record; n and at:
        // not strings, left to parquet-rs's own choice.
        let records: Vec<Vec<u8>> = (0..20_000)
            .map(|i| {
                format!(
                    r#"{{"id":"record-{i:08}","n":{},"tags":["t{i}","common"]}}"#,
                    i % 7
                )
                .into_bytes()
            })
            .collect();
        let c = converter();
        let batch = c.convert(&records).batch;
        let body = c.write_parquet(&batch).unwrap();
        let (back, _) = read_back(body.clone());
        assert_eq!(arrow::compute::concat_batches(&c.schema(), &back).unwrap(), batch);

        use parquet::file::reader::FileReader;
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&body).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let group = reader.metadata().row_group(0).clone();
        let dictionary = |name: &str| {
            let chunk = group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            chunk.dictionary_page_offset().is_some()
        };
        assert!(!dictionary("id"), "a column of unique values needs no dictionary");
        assert!(
            dictionary("tags.list.item"),
            "half the tags repeat: a dictionary pays"
        );
        assert!(
            dictionary("n"),
            "parquet-rs keeps its dictionary for non-string columns"
        );

        // The judgment itself, as parquet-java makes it: ids + dictionary < plain.
        let strings = |values: Vec<String>| arrow::array::StringArray::from(values);
        assert!(!dictionary_pays(&strings(
            (0..5_000).map(|i| format!("{i:032}")).collect()
        )));
        assert!(dictionary_pays(&strings(
            (0..5_000).map(|i| format!("{:032}", i % 50)).collect()
        )));
        // A value in 1,500 distinct ones (36 bytes each with the length): after 64 KiB (1,820
        // values) a dictionary would be 86% of plain, so the full first page decides, one way
        // or the other.
        assert!(dictionary_pays(&strings(
            (0..50_000).map(|i| format!("{:032}", i % 1_500)).collect()
        )));
        assert!(!dictionary_pays(&strings(
            (0..50_000)
                .map(|i| format!("{:032}", if i < 2_000 { i % 1_500 } else { i }))
                .collect()
        )));
        assert!(!dictionary_pays(&strings(Vec::new())), "nothing to encode");
    }

    #[test]
    fn buffers_sized_from_a_sample_still_hold_longer_records_after_it() {
        // The sample sees short values; the records after it are a hundred times longer.
        let records: Vec<Vec<u8>> = (0..2 * SIZING_SAMPLE)
            .map(|i| {
                let id = if i < SIZING_SAMPLE {
                    "x".repeat(3)
                } else {
                    "y".repeat(300)
                };
                format!(r#"{{"id":"{id}","tags":["{id}","{id}","{id}"]}}"#).into_bytes()
            })
            .collect();
        let out = converter().convert(&records);
        assert!(out.failed.is_empty());
        let ids = out.batch.column(0).as_string::<i32>();
        assert_eq!(ids.value(0).len(), 3);
        assert_eq!(ids.value(2 * SIZING_SAMPLE - 1).len(), 300);
        let tags = out.batch.column(3).as_list::<i32>();
        assert_eq!(tags.value(2 * SIZING_SAMPLE - 1).len(), 3);
    }

    #[test]
    fn arrays_are_read_item_by_item_and_a_later_duplicate_key_wins() {
        let c = converter();
        let out = c.convert(&[
            br#"{"id":"a","tags":["x",null,"y"],"n":"seven","n":7}"#.as_slice(),
            br#"{"id":"b","tags":["x",{"o":1},"z"],"n":1}"#.as_slice(),
            br#"{"id":["not","a","string"]}"#.as_slice(),
            br#"{"id":"c","tags":[[1],"z"]}"#.as_slice(),
            br#"{"id":"d","tags":[]}"#.as_slice(),
        ]);
        let failed: Vec<(usize, &str)> = out.failed.iter().map(|(i, e)| (*i, e.message.as_str())).collect();
        assert_eq!(
            failed,
            vec![
                (1, "column tags (array<string>): cannot read an object as string"),
                (2, "column id (string): cannot read an array as string"),
                (3, "column tags (array<string>): cannot read an array as string"),
            ]
        );
        let b = &out.batch;
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(1).as_primitive::<Int32Type>().value(0), 7);
        let tags = b.column(3).as_list::<i32>();
        let first = tags.value(0);
        let first = first.as_string::<i32>();
        assert_eq!(
            (first.len(), first.value(0), first.is_null(1), first.value(2)),
            (3, "x", true, "y")
        );
        assert!(
            tags.is_valid(1) && tags.value(1).is_empty(),
            "[] is an empty list, not NULL"
        );
    }
}
