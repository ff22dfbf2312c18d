//! Parquet the way Firehose's ParquetSerDe writes it: snappy, row groups of the writer's default
//! size, and a dictionary for a string column only where it pays.

use std::collections::HashSet;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

/// The properties to write `batch` with: snappy compression (Firehose's default serializer
/// settings), and no dictionary for the string columns where one would not make the first page
/// smaller ([`dictionary_pays`]).
pub fn writer_properties(batch: &RecordBatch) -> Result<WriterProperties, ParquetError> {
    let mut props = WriterProperties::builder().set_compression(Compression::SNAPPY);
    for column in plain_string_columns(batch)? {
        props = props.set_column_dictionary_enabled(column, false);
    }
    Ok(props.build())
}

/// Firehose's Parquet page size (ParquetSerDe `PageSizeBytes`, default 1 MiB [Firehose API
/// reference, ParquetSerDe]): the first page of a column is what its writer judges a dictionary by.
pub const FIRST_PAGE_BYTES: usize = 1024 * 1024;

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
pub const GLANCE_BYTES: usize = 64 * 1024;

/// Whether a dictionary makes the first page of `strings` smaller than plain encoding. The clear
/// cases are settled after [`GLANCE_BYTES`]: no value repeated yet (a key or an id per record:
/// plain), or a dictionary already at most three quarters of the size (dictionary). Judging
/// hashes every value it reads: a full page of every column took ~85 ms per 100,000 records.
pub fn dictionary_pays(strings: &arrow::array::StringArray) -> bool {
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
