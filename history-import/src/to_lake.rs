//! Plays into the local lake: one Parquet file per `(streaming_history, dt)` partition, merged by
//! `record_key`, one export file at a time (docs/privacy-exports.md#importing-into-the-lake).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemas::{Source, Timestamp, TrackObservation};

use crate::observation::observation;
use crate::{Export, FileReport, ImportError, LeftOut, Options};

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

/// Imports the export's files into the lake folder `lake`, in order, stopping at the first error.
/// `observed_at` is the time of the run, the same for every play.
pub fn import_into_lake(
    export: &Export,
    lake: &Path,
    options: &Options,
    observed_at: Timestamp,
) -> ImportRun {
    let mut run = ImportRun::default();
    for entry in &export.entries {
        let mut report = FileReport::default();
        let read = entry.read_into(options, &mut report);
        let mut file = FileImport {
            name: entry.name.clone(),
            read: report.read,
            left_out: report.left_out,
            ..FileImport::default()
        };
        // Memory: one file's plays, then one partition at a time.
        let mut partitions: BTreeMap<String, Vec<TrackObservation>> = BTreeMap::new();
        for play in report.plays.drain(..) {
            match observation(&play, entry.file_name(), observed_at) {
                Ok(row) => partitions.entry(row.event_at.utc_date()).or_default().push(row),
                Err(why) => *file.left_out.entry(why).or_default() += 1,
            }
        }
        for (dt, rows) in partitions {
            match lake_layout::merge(&partition_file(lake, &dt), &rows) {
                Ok(merged) => {
                    file.imported += merged.added;
                    file.already += merged.present;
                }
                Err(e) => {
                    run.files.push(file);
                    run.error = Some(e.into());
                    return run;
                }
            }
        }
        run.files.push(file);
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
