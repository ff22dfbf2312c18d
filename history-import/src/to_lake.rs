//! Plays into the lake: one Parquet file per `(streaming_history, dt)` partition, merged by
//! `record_key`, one export file at a time (docs/privacy-exports.md#importing-into-the-lake). The
//! lake is a [`PartitionStore`]: the local lake folder ([`LocalLake`]) or, in the command line,
//! the deployed stack's S3 bucket; both merge with `lake_layout::merge_bytes`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

use lake_layout::Merged;
use schemas::{Source, Timestamp, TrackObservation};

use crate::observation::into_observation;
use crate::{Export, ExportEntry, FileReport, ImportError, LeftOut, Options};

/// A UTC day: the partitions are by the play's UTC date.
const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

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

/// The local lake folder (the one holding `processed/`), its partitions merged on every core:
/// each partition is its own file, so merges of different partitions share nothing.
pub struct LocalLake<'a>(pub &'a Path);

impl PartitionStore for LocalLake<'_> {
    fn merge_partitions(&mut self, partitions: Vec<Partition>) -> (Merged, Option<ImportError>) {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(partitions.len());
        let queue = Mutex::new(partitions.into_iter());
        let done = Mutex::new((Merged::default(), None));
        let work = || loop {
            if done.lock().expect("no merge panics").1.is_some() {
                return; // the first error stops the merges not yet begun
            }
            let Some((dt, rows)) = queue.lock().expect("no merge panics").next() else {
                return;
            };
            let merged = lake_layout::merge(&partition_file(self.0, &dt), &rows);
            let mut done = done.lock().expect("no merge panics");
            match merged {
                Ok(merged) => {
                    done.0.added += merged.added;
                    done.0.present += merged.present;
                }
                Err(e) => {
                    done.1.get_or_insert(e.into());
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..workers {
                scope.spawn(work);
            }
            work();
        });
        done.into_inner().expect("no merge panics")
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

/// What the reading thread sends: plays read so far in the file being read, or the file read.
enum Read {
    Plays(usize),
    File(Box<FileRead>),
}

/// One export file read and turned into rows, ready to merge.
struct FileRead {
    file: FileImport,
    partitions: Vec<Partition>,
    /// The error that stopped the reading, after the plays before it.
    error: Option<ImportError>,
}

/// Imports the export's files into `store`, in order, stopping at the first error, and tells
/// `progress` while a file is read, after it is read, and after its plays are in the lake.
///
/// A thread reads the next file and turns its plays into rows while this one merges the file
/// before it into the lake: the two take about as long. Memory: at most two files' rows, the one
/// being merged and the one being read.
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
    std::thread::scope(|scope| {
        let (reads, read) = mpsc::channel();
        // One permit per file read after the first: the reader stays at most one file ahead.
        let (permits, permit) = mpsc::channel::<()>();
        scope.spawn(move || {
            for (i, entry) in export.entries.iter().enumerate() {
                if i > 0 && permit.recv().is_err() {
                    return; // the import stopped
                }
                let done = read_file(entry, options, observed_at, &mut |plays| {
                    let _ = reads.send(Read::Plays(plays));
                });
                let stop = done.error.is_some();
                if reads.send(Read::File(Box::new(done))).is_err() || stop {
                    return;
                }
            }
        });
        for size in sizes {
            let done = loop {
                match read.recv() {
                    Ok(Read::Plays(plays)) => progress(Progress {
                        plays: at.plays + plays,
                        ..at
                    }),
                    Ok(Read::File(done)) => break *done,
                    // The reader sends every file up to the first error, unless it panicked: the
                    // scope then passes its panic on.
                    Err(_) => return,
                }
            };
            let _ = permits.send(());
            let FileRead {
                mut file,
                partitions,
                error: read_error,
            } = done;
            at.plays += file.read;
            progress(at);
            let (merged, error) = store.merge_partitions(partitions);
            file.imported += merged.added;
            file.already += merged.present;
            run.files.push(file);
            if let Some(e) = error {
                run.error = Some(e);
                return;
            }
            at.files_done += 1;
            at.bytes_done += size;
            progress(at);
            if let Some(e) = read_error {
                run.error = Some(e);
                return;
            }
        }
    });
    run
}

/// Reads one export file and turns its plays into rows, by partition.
fn read_file(
    entry: &ExportEntry,
    options: &Options,
    observed_at: Timestamp,
    read_so_far: &mut dyn FnMut(usize),
) -> FileRead {
    let mut report = FileReport::default();
    let read = entry.read_with_progress(options, &mut report, read_so_far);
    let mut file = FileImport {
        name: entry.name.clone(),
        read: report.read,
        left_out: report.left_out,
        ..FileImport::default()
    };
    // By UTC day number, the date written once per partition rather than once per row.
    let mut partitions: BTreeMap<i64, Vec<TrackObservation>> = BTreeMap::new();
    for play in report.plays.drain(..) {
        match into_observation(play, entry.file_name(), observed_at) {
            Ok(row) => partitions
                .entry(row.event_at.millis().div_euclid(MILLIS_PER_DAY))
                .or_default()
                .push(row),
            Err(why) => *file.left_out.entry(why).or_default() += 1,
        }
    }
    FileRead {
        file,
        partitions: partitions
            .into_values()
            .map(|rows| (rows[0].event_at.utc_date(), rows))
            .collect(),
        error: read.err(),
    }
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

    /// A store that takes the partitions of the first `ok` files, then fails.
    struct Failing {
        ok: usize,
        calls: Vec<Vec<String>>,
    }

    impl PartitionStore for Failing {
        fn merge_partitions(&mut self, partitions: Vec<Partition>) -> (Merged, Option<ImportError>) {
            self.calls
                .push(partitions.iter().map(|(dt, _)| dt.clone()).collect());
            if self.calls.len() > self.ok {
                let e = std::io::Error::other("full");
                return (Merged::default(), Some(ImportError::Store(Box::new(e))));
            }
            let added = partitions.iter().map(|(_, rows)| rows.len()).sum();
            (Merged { added, present: 0 }, None)
        }
    }

    #[test]
    fn files_are_merged_in_order_with_their_partitions_by_date_and_a_failed_merge_stops_the_import() {
        let dir = tempfile::tempdir().unwrap();
        let play = |ts: &str| {
            format!(
                r#"{{"ts": "{ts}", "ms_played": 1000, "master_metadata_track_name": "T",
                "spotify_track_uri": "spotify:track:6rqhFgbbKwnb9MLmUQDhG6"}}"#
            )
        };
        let days = [
            "2024-03-02T00:00:01Z",
            "2024-03-01T23:59:59Z",
            "2024-03-02T10:00:00Z",
        ];
        for n in 0..4 {
            let plays: Vec<String> = days
                .iter()
                .map(|d| play(&d.replace("03-0", &format!("0{}-0", n + 3))))
                .collect();
            let file = dir.path().join(format!("Streaming_History_Audio_2024_{n}.json"));
            std::fs::write(file, format!("[{}]", plays.join(","))).unwrap();
        }
        let export = Export::open(&[dir.path()]).unwrap();
        let mut store = Failing {
            ok: 2,
            calls: Vec::new(),
        };
        let mut seen = Vec::new();
        let run = import_into(
            &export,
            &mut store,
            &Options::default(),
            Timestamp::now(),
            &mut |p| seen.push(p.files_done),
        );
        assert_eq!(
            store.calls,
            [
                vec!["2024-03-01", "2024-03-02"],
                vec!["2024-04-01", "2024-04-02"],
                vec!["2024-05-01", "2024-05-02"],
            ]
        );
        assert!(
            matches!(run.error, Some(ImportError::Store(_))),
            "{:?}",
            run.error
        );
        let imported: Vec<usize> = run.files.iter().map(|f| f.imported).collect();
        assert_eq!(
            imported,
            [3, 3, 0],
            "the failed file is reported, the one after it not"
        );
        assert_eq!(seen.last(), Some(&2));
    }
}
