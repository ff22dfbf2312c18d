//! Writing a batch as Parquet the way Firehose's ParquetSerDe does: snappy, row groups of the
//! writer's default size, and a dictionary for a string column only where it pays.

use std::collections::HashSet;
use std::sync::Mutex;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::pool::on_threads;

/// Writes `batch` as one Parquet file with snappy compression (Firehose's default serializer
/// settings), on one thread.
pub fn write_parquet(batch: &RecordBatch) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    write_parquet_threads(batch, 1)
}

/// The same file as `ArrowWriter` writes (row groups of at most its default row count, the Arrow
/// schema in the footer), with the column chunks of each row group encoded and compressed on up
/// to `threads` threads: columns are independent, so this is parquet's documented way to use
/// several cores (`ArrowColumnWriter`).
pub(super) fn write_parquet_threads(batch: &RecordBatch, threads: usize) -> Result<Vec<u8>, ParquetError> {
    let mut props = WriterProperties::builder().set_compression(Compression::SNAPPY);
    for column in plain_string_columns(batch)? {
        props = props.set_column_dictionary_enabled(column, false);
    }
    write_row_groups(batch, threads, props.build())
}

/// Firehose's Parquet page size (ParquetSerDe `PageSizeBytes`, default 1 MiB [Firehose API
/// reference, ParquetSerDe]): the first page of a column is what its writer judges a dictionary by.
pub(super) const FIRST_PAGE_BYTES: usize = 1024 * 1024;

/// The string columns of `batch` to write without a dictionary: those whose first page would be no
/// smaller dictionary-encoded than plain. That is the test parquet-java makes on a column's first
/// page (`FallbackValuesWriter.getBytes`: keep the dictionary only if ids + dictionary < plain
/// size); Firehose's ParquetSerDe settings are parquet-java's (block and page size, dictionary,
/// writer version, padding). parquet-rs gives a dictionary up only when it passes 1 MiB, so a
/// column of unique values such as `record_key` paid for a dictionary it then dropped (on the
/// conversion bench's data, a third or more of the Parquet writing time).
pub(super) fn plain_string_columns(batch: &RecordBatch) -> Result<Vec<ColumnPath>, ParquetError> {
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
pub(super) fn string_leaf(array: &dyn Array) -> Option<arrow::array::StringArray> {
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
pub(super) const GLANCE_BYTES: usize = 64 * 1024;

/// Whether a dictionary makes the first page of `strings` smaller than plain encoding. The clear
/// cases are settled after [`GLANCE_BYTES`]: no value repeated yet (a key or an id per record:
/// plain), or a dictionary already at most three quarters of the size (dictionary). Judging
/// hashes every value it reads: a full page of every column took ~85 ms per 100,000 records.
pub(super) fn dictionary_pays(strings: &arrow::array::StringArray) -> bool {
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

pub(super) fn write_row_groups(
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
