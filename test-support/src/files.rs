//! The files of a folder, and of a lake, as tests read them back.

use std::path::{Path, PathBuf};

/// Every file under `dir`, sorted (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The Parquet objects of the lake (under `processed/`).
pub fn parquet_files(lake: &Path) -> Vec<PathBuf> {
    files_under(&lake.join("processed"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

/// Every row group of a Parquet file, read with its own schema.
#[cfg(feature = "lake")]
pub fn parquet_batches(file: &Path) -> Vec<arrow::array::RecordBatch> {
    let reader = std::fs::File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The distinct `record_key`s of every Parquet object of the lake.
#[cfg(feature = "lake")]
pub fn record_keys(lake: &Path) -> std::collections::BTreeSet<String> {
    use arrow::array::AsArray;
    let mut keys = std::collections::BTreeSet::new();
    for batch in parquet_files(lake).iter().flat_map(|p| parquet_batches(p)) {
        let column = batch.column_by_name("record_key").unwrap().as_string::<i32>();
        keys.extend(column.iter().flatten().map(str::to_owned));
    }
    keys
}
