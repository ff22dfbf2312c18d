//! Reads Spotify's privacy exports into plays (docs/privacy-exports.md).
//!
//! Input is what the user has: the zip as downloaded, the folder it unpacks to, or single
//! files. [`Export::open`] finds the files that hold plays by their names (current and older
//! names of both packages) and lists the others with the reason they are not read;
//! [`ExportEntry::read`] reads one file into the plays the lake keeps and counts the rest by
//! reason ([`LeftOut`]), so that every play read is accounted for. [`import_into_lake`] writes
//! the kept plays into the local lake as rows of the record contract ([`observation`]);
//! [`enrich`] fills in, from Spotify's catalog, what the export does not say about a track.
//!
//! Personal data (IP addresses, user agents, user names, device models) is never held: the
//! parser declares only the fields the lake keeps.

mod elements;
pub mod enrich;
mod files;
pub mod observation;
mod plays;
mod to_lake;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

pub use files::{classify, ExportFile, Ignored, Package, ACCOUNT_DATA_FILE_PREFIX};
pub use plays::{platform_family, LeftOut, Options, Play};
pub use to_lake::{
    import_into, import_into_lake, partition_file, FileImport, ImportRun, LocalLake, Partition,
    PartitionStore, Progress, IMPORT_FILE_NAME,
};

/// How often reading a file reports its progress: often enough for a redraw several times a
/// second (an extended history file of some 15,000 plays is read in well under a second), rarely
/// enough to cost nothing.
pub const PLAYS_PER_PROGRESS: usize = 1000;

/// Why an export cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: check that it exists and is readable")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a readable zip file: download the export again, or unpack it and give the folder"
    )]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error(
        "{path} holds no streaming history ({files} files, none named like \
         Streaming_History_Audio_*.json, endsong_*.json or StreamingHistory*.json): give the \
         export's zip, the folder it unpacks to, or its streaming history files"
    )]
    NoExports { path: PathBuf, files: usize },
    #[error(
        "{file} ends early (line {line}, column {column}): the file was cut short; download or \
         unpack the export again. The files before it, and its plays before that point, were read"
    )]
    CutShort {
        file: String,
        line: usize,
        column: usize,
    },
    #[error(
        "{file} is not a streaming history file (line {line}, column {column}); its name says it \
         is one, its content does not: give the file Spotify sent, unchanged"
    )]
    NotPlays {
        file: String,
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },
    /// The lake could not take the plays (its messages name the file and what to do).
    #[error(transparent)]
    Lake(#[from] lake_layout::LakeError),
    /// A remote lake (the deployed stack's bucket) could not take the plays; its message says
    /// which object and what to do.
    #[error(transparent)]
    Store(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Where a file's bytes are.
#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Zip { archive: PathBuf, index: usize },
}

/// One file of an export that holds plays.
#[derive(Debug, Clone)]
pub struct ExportEntry {
    /// The name shown to the user: the path, or `<zip>:<path inside>`.
    pub name: String,
    pub kind: ExportFile,
    origin: Origin,
}

/// The files the input holds, sorted by name, and those it does not read.
#[derive(Debug, Default)]
pub struct Export {
    pub entries: Vec<ExportEntry>,
    /// Files not read, with the reason.
    pub ignored: Vec<(String, Ignored)>,
}

/// What one file gave.
#[derive(Debug, Default)]
pub struct FileReport {
    /// Plays in the file.
    pub read: usize,
    /// The plays kept, in the file's order.
    pub plays: Vec<Play>,
    /// The plays left out, by reason.
    pub left_out: BTreeMap<LeftOut, usize>,
}

impl Export {
    /// Finds the streaming history files in each path (a zip, a folder, or a file).
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<Export, ImportError> {
        let mut export = Export::default();
        for path in paths {
            let path = path.as_ref();
            let before = export.entries.len();
            let seen = export.entries.len() + export.ignored.len();
            let meta = std::fs::metadata(path).map_err(|source| ImportError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            if meta.is_dir() {
                export.add_folder(path)?;
            } else if is_zip(path) {
                export.add_zip(path)?;
            } else {
                let name = path.display().to_string();
                export.add_file(name.clone(), &name, Origin::File(path.to_path_buf()));
            }
            if export.entries.len() == before {
                return Err(ImportError::NoExports {
                    path: path.to_path_buf(),
                    files: export.entries.len() + export.ignored.len() - seen,
                });
            }
        }
        export.entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(export)
    }

    /// Adds a file shown as `name`, classified by `inner` (its path, or its path inside a zip).
    fn add_file(&mut self, name: String, inner: &str, origin: Origin) {
        match classify(inner) {
            Ok(kind) => self.entries.push(ExportEntry { name, kind, origin }),
            Err(why) => self.ignored.push((name, why)),
        }
    }

    fn add_folder(&mut self, dir: &Path) -> Result<(), ImportError> {
        let io = |source| ImportError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        children.sort();
        for child in children {
            if child.is_dir() {
                self.add_folder(&child)?;
            } else if is_zip(&child) {
                self.add_zip(&child)?;
            } else {
                let name = child.display().to_string();
                self.add_file(name.clone(), &name, Origin::File(child));
            }
        }
        Ok(())
    }

    fn add_zip(&mut self, archive: &Path) -> Result<(), ImportError> {
        let zip = open_zip(archive)?;
        for index in 0..zip.len() {
            let Some(name) = zip.name_for_index(index) else {
                continue;
            };
            let name = name.map_err(|source| ImportError::Zip {
                path: archive.to_path_buf(),
                source,
            })?;
            if name.ends_with('/') {
                continue; // a folder entry
            }
            let shown = format!("{}:{name}", archive.display());
            self.add_file(
                shown,
                &name,
                Origin::Zip {
                    archive: archive.to_path_buf(),
                    index,
                },
            );
        }
        Ok(())
    }
}

impl ExportEntry {
    /// Reads the file's plays: those the lake keeps, and the others counted by reason.
    pub fn read(&self, options: &Options) -> Result<FileReport, ImportError> {
        let mut report = FileReport::default();
        self.read_into(options, &mut report)?;
        Ok(report)
    }

    /// Reads the file's plays into `report`, one play at a time: the file is never held whole
    /// (an extended history file is 10 to 15 MB). On an error, `report` holds the plays read
    /// before it.
    pub fn read_into(&self, options: &Options, report: &mut FileReport) -> Result<(), ImportError> {
        self.read_with_progress(options, report, &mut |_| {})
    }

    /// [`ExportEntry::read_into`], telling `read_so_far` every [`PLAYS_PER_PROGRESS`] plays how
    /// many plays of the file were read so far.
    pub fn read_with_progress(
        &self,
        options: &Options,
        report: &mut FileReport,
        read_so_far: &mut dyn FnMut(usize),
    ) -> Result<(), ImportError> {
        let mut count = |result: Result<Play, LeftOut>| {
            report.read += 1;
            if report.read.is_multiple_of(PLAYS_PER_PROGRESS) {
                read_so_far(report.read);
            }
            match result {
                Ok(play) => report.plays.push(play),
                Err(why) => *report.left_out.entry(why).or_default() += 1,
            }
        };
        let kind = self.kind;
        match kind.package() {
            Package::ExtendedHistory => {
                self.each(|play: plays::ExtendedPlay| count(play.into_play(kind, options)))
            }
            Package::AccountData => self.each(|play: plays::AccountPlay| count(play.into_play(kind))),
        }
    }

    /// The file's size in bytes (uncompressed, in a zip), for progress only: 0 if it cannot be
    /// told (reading the file then reports why).
    pub fn size(&self) -> u64 {
        match &self.origin {
            Origin::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Origin::Zip { archive, index } => open_zip(archive)
                .ok()
                .and_then(|mut zip| zip.by_index(*index).ok().map(|f| f.size()))
                .unwrap_or(0),
        }
    }

    /// The file name alone, without the folders or the zip it is in (what a play records as its
    /// `export_file`).
    pub fn file_name(&self) -> &str {
        self.name.rsplit(['/', '\\', ':']).next().unwrap_or(&self.name)
    }

    /// Calls `f` with each element of the file's top-level array, as it is parsed: by the
    /// scanner and serde_json over slices, and, from where the scanner is unsure (an error, or
    /// what it does not expect), by serde_json's reader, which reports errors with their position.
    fn each<T: serde::de::DeserializeOwned>(&self, mut f: impl FnMut(T)) -> Result<(), ImportError> {
        let scan = self.with_reader(|reader| {
            elements::each_element(reader, |bytes| match serde_json::from_slice(bytes) {
                Ok(element) => {
                    f(element);
                    true
                }
                Err(_) => false,
            })
            .map_err(serde_json::Error::io)
        })?;
        match scan {
            elements::Scan::Done => Ok(()),
            elements::Scan::Unsure { elements } => {
                self.with_reader(|reader| Self::parse(reader, elements, &mut f))
            }
        }
    }

    /// Calls `read` with the file's bytes (a zip entry's uncompressed), and names the file in
    /// its error.
    fn with_reader<X>(
        &self,
        read: impl FnOnce(&mut dyn Read) -> Result<X, serde_json::Error>,
    ) -> Result<X, ImportError> {
        match &self.origin {
            Origin::File(path) => {
                let mut file = File::open(path).map_err(|source| ImportError::Io {
                    path: path.clone(),
                    source,
                })?;
                read(&mut file).map_err(|e| {
                    self.json_error(e, |source| ImportError::Io {
                        path: path.clone(),
                        source,
                    })
                })
            }
            Origin::Zip { archive, index } => {
                let mut zip = open_zip(archive)?;
                let mut file = zip.by_index(*index).map_err(|source| ImportError::Zip {
                    path: archive.clone(),
                    source,
                })?;
                read(&mut file).map_err(|e| {
                    self.json_error(e, |source| ImportError::Zip {
                        path: archive.clone(),
                        source: source.into(),
                    })
                })
            }
        }
    }

    /// Parses the array from `reader`, skipping its first `skip` elements (already handed over).
    fn parse<T: serde::de::DeserializeOwned>(
        reader: &mut dyn Read,
        skip: usize,
        f: &mut impl FnMut(T),
    ) -> Result<(), serde_json::Error> {
        use serde::Deserializer as _;
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(reader));
        de.deserialize_seq(Each(f, skip, PhantomData))?;
        de.end()
    }

    /// The error of a parse: the file cut short, not plays, or the bytes unreadable.
    fn json_error(
        &self,
        e: serde_json::Error,
        io: impl FnOnce(std::io::Error) -> ImportError,
    ) -> ImportError {
        let (line, column) = (e.line(), e.column());
        if e.is_io() {
            io(e.into())
        } else if e.is_eof() {
            ImportError::CutShort {
                file: self.name.clone(),
                line,
                column,
            }
        } else {
            ImportError::NotPlays {
                file: self.name.clone(),
                line,
                column,
                source: e,
            }
        }
    }
}

/// A visitor of a JSON array that hands each element after the first `.1` to a function instead
/// of collecting them.
struct Each<'f, T, F>(&'f mut F, usize, PhantomData<fn() -> T>);

impl<'de, T: serde::Deserialize<'de>, F: FnMut(T)> serde::de::Visitor<'de> for Each<'_, T, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of plays")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.1 {
            if seq.next_element::<serde::de::IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        while let Some(play) = seq.next_element::<T>()? {
            (self.0)(play);
        }
        Ok(())
    }
}

fn is_zip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

fn open_zip(archive: &Path) -> Result<zip::ZipArchive<File>, ImportError> {
    let file = File::open(archive).map_err(|source| ImportError::Io {
        path: archive.to_path_buf(),
        source,
    })?;
    zip::ZipArchive::new(file).map_err(|source| ImportError::Zip {
        path: archive.to_path_buf(),
        source,
    })
}
