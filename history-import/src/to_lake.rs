//! Plays into the lake: one Parquet file per `(streaming_history, dt)` partition, merged by
//! `record_key`, one export file at a time (docs/privacy-exports.md#importing-into-the-lake). The
//! lake is a [`PartitionStore`]: the local lake folder ([`LocalLake`]) or, in the command line,
//! the deployed stack's S3 bucket; both merge with `lake_layout::merge_bytes`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lake_layout::Merged;
use schemas::{Source, Timestamp, TrackObservation};

use crate::observation::observation;
use crate::{Export, ExportEntry, FileReport, ImportError, LeftOut, Options};

/// The name of the file holding a partition's imported plays. One fixed name, so that every
/// import of the same day merges into the same file.
pub const IMPORT_FILE_NAME: &str = "streaming-history.parquet";

/// What the import did with one export file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileImport {
    /// The file as shown to the user.
    pub name: String,
    /// Plays in the file (up to the error, if the file has one).
    pub read: usize,
    /// Plays added to the lake.
    pub imported: usize,
    /// Plays the lake already held (an earlier import, an overlapping export, or the same play
    /// twice in the export).
    pub already: usize,
    /// Plays left out, by reason.
    pub left_out: BTreeMap<LeftOut, usize>,
}

/// The files imported, in order, and the error that stopped the import, if any. What the files
/// before the error gave, and the plays of its file read before it, are in the lake.
#[derive(Debug, Default)]
pub struct ImportRun {
    pub files: Vec<FileImport>,
    pub error: Option<ImportError>,
}

/// The file of the `dt` partition of imported plays in the lake folder `lake`.
pub fn partition_file(lake: &Path, dt: &str) -> PathBuf {
    lake_layout::partition_dir(lake, Source::StreamingHistory, dt).join(IMPORT_FILE_NAME)
}

/// The plays of one partition: its date (`YYYY-MM-DD`, UTC) and its rows.
pub type Partition = (String, Vec<TrackObservation>);

/// A lake of partition files that takes plays without storing one twice.
pub trait PartitionStore {
    /// Merges each partition's rows into its file (`lake_layout::merge_bytes`). Returns what the
    /// merges that completed did, and the first error, if any: a partition whose merge failed is
    /// left as it was.
    fn merge_partitions(&mut self, partitions: Vec<Partition>) -> (Merged, Option<ImportError>);
}

/// The local lake folder (the one holding `processed/`), one partition after the other.
pub struct LocalLake<'a>(pub &'a Path);

impl PartitionStore for LocalLake<'_> {
    fn merge_partitions(&mut self, partitions: Vec<Partition>) -> (Merged, Option<ImportError>) {
        let mut total = Merged::default();
        for (dt, rows) in partitions {
            match lake_layout::merge(&partition_file(self.0, &dt), &rows) {
                Ok(merged) => {
                    total.added += merged.added;
                    total.present += merged.present;
                }
                Err(e) => return (total, Some(e.into())),
            }
        }
        (total, None)
    }
}

/// How far an import is, given to the caller after each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Export files finished.
    pub files_done: usize,
    pub files_total: usize,
    /// Plays read so far, in every file.
    pub plays: usize,
    /// Bytes of the export's files (their uncompressed size) whose plays are in the lake, of
    /// `bytes_total`. A file counts once its plays are merged: merging takes most of a file's
    /// time (against S3 all the more), so the bytes parsed so far would promise too early an end.
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// Imports the export's files into the lake folder `lake`, in order, stopping at the first error.
/// `observed_at` is the time of the run, the same for every play.
pub fn import_into_lake(
    export: &Export,
    lake: &Path,
    options: &Options,
    observed_at: Timestamp,
) -> ImportRun {
    import_into(export, &mut LocalLake(lake), options, observed_at, &mut |_| {})
}

/// Imports the export's files into `store`, in order, stopping at the first error, and tells
/// `progress` while a file is read, after it is read, and after its plays are in the lake.
pub fn import_into(
    export: &Export,
    store: &mut impl PartitionStore,
    options: &Options,
    observed_at: Timestamp,
    progress: &mut dyn FnMut(Progress),
) -> ImportRun {
    let mut run = ImportRun::default();
    let sizes: Vec<u64> = export.entries.iter().map(ExportEntry::size).collect();
    let mut at = Progress {
        files_done: 0,
        files_total: export.entries.len(),
        plays: 0,
        bytes_done: 0,
        bytes_total: sizes.iter().sum(),
    };
    progress(at);
    for (entry, size) in export.entries.iter().zip(sizes) {
        let mut report = FileReport::default();
        let read = entry.read_with_progress(options, &mut report, &mut |plays| {
            progress(Progress {
                plays: at.plays + plays,
                ..at
            })
        });
        let mut file = FileImport {
            name: entry.name.clone(),
            read: report.read,
            left_out: report.left_out,
            ..FileImport::default()
        };
        at.plays += report.read;
        progress(at);
        // Memory: one file's plays, then its partitions.
        let mut partitions: BTreeMap<String, Vec<TrackObservation>> = BTreeMap::new();
        for play in report.plays.drain(..) {
            match observation(&play, entry.file_name(), observed_at) {
                Ok(row) => partitions.entry(row.event_at.utc_date()).or_default().push(row),
                Err(why) => *file.left_out.entry(why).or_default() += 1,
            }
        }
        let (merged, error) = store.merge_partitions(partitions.into_iter().collect());
        file.imported += merged.added;
        file.already += merged.present;
        run.files.push(file);
        if let Some(e) = error {
            run.error = Some(e);
            return run;
        }
        at.files_done += 1;
        at.bytes_done += size;
        progress(at);
        if let Err(e) = read {
            run.error = Some(e);
            return run;
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_plays_are_part_of_the_table() {
        assert!(IMPORT_FILE_NAME.ends_with(lake_layout::PARQUET_EXTENSION));
        assert_eq!(
            partition_file(Path::new("lake"), "2024-03-01"),
            Path::new("lake/processed/source=streaming_history/dt=2024-03-01/streaming-history.parquet")
        );
    }
}
