//! The lake as the pipeline writes it, defined once for every writer: where a partition's files
//! go ([`partition_dir`], from the Firehose prefix of `schemas/delivery.json`), how a Parquet file
//! is written ([`writer_properties`], Firehose's ParquetSerDe settings), and how a partition file
//! takes new records without storing a record twice ([`merge`], for `tracklake import`), and how
//! its rows are filled in place ([`rewrite`], for `tracklake enrich`).
//!
//! The local Firehose's converter and `tracklake import` both read these, so an imported play
//! lies where Firehose would have put it, in a file Firehose could have written.

mod merge;
mod writer;

use std::path::{Path, PathBuf};

pub use merge::{merge, merge_bytes, rewrite, rewrite_bytes, LakeError, Merged, PARTIAL_SUFFIX};
pub use writer::{dictionary_pays, writer_properties, FIRST_PAGE_BYTES, GLANCE_BYTES};

use schemas::Source;

/// The folder under the lake folder that holds the Parquet files: the fixed part of the
/// processed prefix of `schemas/delivery.json`, the Glue table's `Location`
/// (`s3://{bucket}/processed/`).
pub const PROCESSED_DIR: &str = "processed";

/// Firehose names converted objects `<stream>-<version>-<time>-<uuid>.parquet`; a file without
/// this extension (a half-written one, a stray note) is not part of the table.
pub const PARQUET_EXTENSION: &str = ".parquet";

/// The folder of one `(source, dt)` partition under the lake folder: the processed prefix of
/// `schemas/delivery.json` with its partition keys filled in
/// (`processed/source=<source>/dt=<YYYY-MM-DD>/`), as Firehose's dynamic partitioning makes it.
pub fn partition_dir(lake: &Path, source: Source, dt: &str) -> PathBuf {
    let prefix = schemas::delivery::settings()
        .location_template()
        .replace("${source}", source.as_str())
        .replace("${dt}", dt);
    lake.join(prefix.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_lie_where_firehose_puts_them() {
        assert_eq!(
            partition_dir(Path::new("/lake"), Source::StreamingHistory, "2024-03-01"),
            Path::new("/lake/processed/source=streaming_history/dt=2024-03-01")
        );
        assert_eq!(
            schemas::delivery::settings().processed_root(),
            format!("{PROCESSED_DIR}/")
        );
    }

    #[test]
    fn a_file_being_written_is_not_part_of_the_table() {
        assert!(!format!("x{PARQUET_EXTENSION}{PARTIAL_SUFFIX}").ends_with(PARQUET_EXTENSION));
    }
}
