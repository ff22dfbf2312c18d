//! Writing a batch as Parquet the way Firehose's ParquetSerDe does, with the lake's writer
//! properties (`lake_layout::writer_properties`: snappy, a dictionary for a string column only where it
//! pays), row groups of the writer's default size, on several threads.

use std::sync::Mutex;

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

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
    write_row_groups(batch, threads, lake_layout::writer_properties(batch)?)
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
