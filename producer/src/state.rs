//! The producer's state between runs: watermarks, playlist snapshots, per-source run times, the
//! not-before time and the last run's summary.
//!
//! State advances only after Firehose accepted every record it covers: a crash between
//! delivery and [`StateStore::save`] causes duplicates (same `record_key`), never gaps.
//!
//! Storage sits behind [`StateStore`], so that the local JSON file ([`LocalFileStore`], the default)
//! and an S3 object ([`S3StateStore`], the deployed Lambda's: a conditional put with `If-Match` /
//! `If-None-Match: *`) share one contract: `save` takes the [`StateVersion`] that `load` returned
//! and fails with [`StateError::Conflict`] when someone else wrote in between, so two overlapping
//! runs cannot silently overwrite each other.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemas::{Source, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod lock;
mod s3;
pub use s3::S3StateStore;

/// The run lock's key is the state object's key with this suffix (`state/producer.json.lock`):
/// the Lambda's role is granted exactly that object beside the state ([`lock`]).
pub const RUN_LOCK_SUFFIX: &str = ".lock";

/// The run lock's key for the state object `state_key`.
pub fn run_lock_key(state_key: &str) -> String {
    format!("{state_key}{RUN_LOCK_SUFFIX}")
}

/// The state layout written by this code. A file of another version is refused rather than
/// guessed at: a misread watermark would skip plays or re-send a whole library.
pub const STATE_VERSION: u32 = 1;

/// Everything the producer remembers between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Layout version, [`STATE_VERSION`].
    pub version: u32,
    /// `recently_played`: Unix ms of the newest play delivered; the next request asks for plays
    /// `after` it. Spotify keeps only the last 50 plays
    /// (docs/spotify-web-api.md#recently-played), so it is polled often.
    #[serde(default)]
    pub recently_played_after: Option<i64>,
    /// `saved_tracks`: the newest `added_at` delivered; the next run stops at the first saved track
    /// at or before it.
    #[serde(default)]
    pub saved_tracks_watermark: Option<Timestamp>,
    /// `saved_tracks`: while the first import of the library is spread over runs (at most
    /// [`crate::sources::SAVED_TRACKS_DATES_PER_RUN`] UTC dates a run, for Firehose's active
    /// partition limit), the midnight of the oldest date delivered so far: saves strictly older
    /// than it are not delivered yet. `None` once the whole library was delivered. Absent from
    /// state files written before it existed, which read as `None`.
    #[serde(default)]
    pub saved_tracks_backfill_before: Option<Timestamp>,
    /// `saved_tracks`: while a backfill is pending, how many entries of `/me/tracks` the delivered
    /// range (`saved_tracks_backfill_before` to the watermark) held at the end of the last run, so
    /// that the next run can jump over them: the list offers no way to start at a date, and
    /// walking a large delivered range page by page would spend the run's request budget before
    /// reaching the saves still to send. `None`: not known (walk the range). Absent from state
    /// files written before it existed, which read as `None`.
    #[serde(default)]
    pub saved_tracks_backfill_skip: Option<u64>,
    /// `playlist`: playlist id -> the `snapshot_id` whose items were last delivered. A playlist
    /// whose snapshot is unchanged is not read again.
    #[serde(default)]
    pub playlist_snapshots: BTreeMap<String, String>,
    /// When each source last completed a delivered pull, for its minimum interval.
    #[serde(default)]
    pub last_success: BTreeMap<Source, DateTime<Utc>>,
    /// No request to Spotify before this time: set on `QUOTA_EXCEEDED` or a `Retry-After` longer
    /// than a run waits (docs/spotify-web-api.md#daily-quotas).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    /// What the last run did, for operators reading the file.
    #[serde(default)]
    pub last_run: Option<RunSummary>,
    /// The `dt` partitions (`source=<source>/dt=<date>`) this producer sent records to within the
    /// last pacing window, with the time of the last send: what Firehose may still hold active
    /// ([`crate::pacing`]). Older entries are dropped on the next run. Absent from state files
    /// written before it existed, which read as empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub opened_partitions: BTreeMap<String, DateTime<Utc>>,
}

impl Default for State {
    /// The state of a producer that never ran: no watermark, so every source starts from the top.
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            recently_played_after: None,
            saved_tracks_watermark: None,
            saved_tracks_backfill_before: None,
            saved_tracks_backfill_skip: None,
            playlist_snapshots: BTreeMap::new(),
            last_success: BTreeMap::new(),
            not_before: None,
            last_run: None,
            opened_partitions: BTreeMap::new(),
        }
    }
}

/// A short account of one run, kept in the state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSummary {
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Records pulled per source.
    #[serde(default)]
    pub records: BTreeMap<Source, usize>,
    /// Records Firehose accepted.
    #[serde(default)]
    pub delivered: usize,
    /// Records that were never delivered (rejected as too large, or failed every attempt).
    #[serde(default)]
    pub undelivered: usize,
    /// Why the run stopped early, if it did (no secret: an error's message).
    #[serde(default)]
    pub stopped_early: Option<String>,
    /// Why the library backfill waited for a later run (the partition pacing), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill_paused: Option<String>,
}

/// Which stored state a `load` saw: the value a `save` must find unchanged. `None` means there
/// was none (a first run); S3 maps it to `If-None-Match: *` and an ETag to `If-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVersion(Option<String>);

impl StateVersion {
    /// The state did not exist.
    pub const ABSENT: StateVersion = StateVersion(None);

    pub fn new(tag: impl Into<String>) -> Self {
        StateVersion(Some(tag.into()))
    }

    pub fn tag(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Where the state lives.
pub trait StateStore {
    /// The stored state (a fresh [`State::default`] when there is none) and its version.
    fn load(&self) -> impl Future<Output = Result<(State, StateVersion), StateError>> + Send;

    /// Replaces the stored state, provided it is still at `loaded`; returns the new version.
    fn save(
        &self,
        state: &State,
        loaded: &StateVersion,
    ) -> impl Future<Output = Result<StateVersion, StateError>> + Send;
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("could not read the producer state {location}; check the path and its permissions")]
    Read {
        location: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the producer state {location} is not valid: {detail}; fix the file, or delete it to start over \
         (every source is then read from the top, which re-sends records as duplicates)"
    )]
    Invalid { location: String, detail: String },

    #[error(
        "the producer state {location} has version {found}, but this build reads version {supported}; \
         run the producer release that wrote it, or delete the file to start over"
    )]
    UnsupportedVersion {
        location: String,
        found: u32,
        supported: u32,
    },

    #[error(
        "the producer state {location} changed since this run loaded it: another run overlapped this one. \
         This run's state was not saved (its delivered records will come again as duplicates, nothing is \
         lost); make sure only one schedule or CLI loop runs the producer"
    )]
    Conflict { location: String },

    #[error("could not write the producer state {location}; check free space and permissions")]
    Write {
        location: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "could not {operation} the producer state {location}: {detail}; check the bucket name \
         (TRACKLAKE_STATE_BUCKET), the region, and that the role may s3:GetObject and s3:PutObject on it"
    )]
    Storage {
        location: String,
        operation: &'static str,
        detail: String,
    },
}

/// Reads a state document, naming the field at fault.
pub fn parse_state(bytes: &[u8], location: &str) -> Result<State, StateError> {
    // Check the version first: a future layout's new fields would otherwise be reported as
    // "unknown field", hiding the real cause.
    #[derive(Deserialize)]
    struct VersionOnly {
        version: Option<u32>,
    }
    let invalid = |e: serde_json::Error| StateError::Invalid {
        location: location.to_string(),
        detail: e.to_string(),
    };
    let probe: VersionOnly = serde_json::from_slice(bytes).map_err(invalid)?;
    match probe.version {
        Some(STATE_VERSION) => serde_json::from_slice(bytes).map_err(invalid),
        Some(found) => Err(StateError::UnsupportedVersion {
            location: location.to_string(),
            found,
            supported: STATE_VERSION,
        }),
        None => Err(StateError::Invalid {
            location: location.to_string(),
            detail: "missing field `version`".to_string(),
        }),
    }
}

/// The state as a local JSON file (the default store).
///
/// `save` writes a temporary file in the same folder, syncs it and renames it over the old one, so
/// a crash leaves either the old or the new state, never half of one. The file is readable by its
/// owner only (0600 on unix): it reveals the user's listening times and playlists.
///
/// Overlap detection compares the file's SHA-256 with the one seen by `load`. Between that check
/// and the rename lies a window of a few milliseconds in which a second writer is not seen; runs
/// are minutes apart, and the S3 store's conditional put closes the window where it matters.
#[derive(Debug, Clone)]
pub struct LocalFileStore {
    path: PathBuf,
}

impl LocalFileStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalFileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// The file's bytes, or `None` if it does not exist.
    fn read(&self) -> Result<Option<Vec<u8>>, StateError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read {
                location: self.location(),
                source,
            }),
        }
    }

    fn load_sync(&self) -> Result<(State, StateVersion), StateError> {
        match self.read()? {
            None => Ok((State::default(), StateVersion::ABSENT)),
            Some(bytes) => Ok((parse_state(&bytes, &self.location())?, version_of(&bytes))),
        }
    }

    fn save_sync(&self, state: &State, loaded: &StateVersion) -> Result<StateVersion, StateError> {
        let current = self
            .read()?
            .map_or(StateVersion::ABSENT, |bytes| version_of(&bytes));
        if &current != loaded {
            return Err(StateError::Conflict {
                location: self.location(),
            });
        }
        let mut bytes = serde_json::to_vec_pretty(state).expect("the state always serializes");
        bytes.push(b'\n');
        replace_private(&self.path, &bytes).map_err(|source| StateError::Write {
            location: self.location(),
            source,
        })?;
        Ok(version_of(&bytes))
    }
}

impl StateStore for LocalFileStore {
    // Local file I/O on a small file: blocking for well under a millisecond, so no spawn_blocking.
    fn load(&self) -> impl Future<Output = Result<(State, StateVersion), StateError>> + Send {
        std::future::ready(self.load_sync())
    }

    fn save(
        &self,
        state: &State,
        loaded: &StateVersion,
    ) -> impl Future<Output = Result<StateVersion, StateError>> + Send {
        std::future::ready(self.save_sync(state, loaded))
    }
}

fn version_of(bytes: &[u8]) -> StateVersion {
    let digest = Sha256::digest(bytes);
    StateVersion::new(digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Replaces `path` with `bytes` atomically and durably, readable by its owner only: a temp file in
/// the same folder (a rename across file systems is not atomic), then a rename, then a sync of the
/// folder (the rename itself is durable only then). Readers see the old file or the new, never half.
/// Also used by [`crate::auth::LocalFileSecretStore`] for the refresh-token file.
pub(crate) fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(
        ".{file_name}.{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    if let Err(e) = write_private(&temp, bytes).and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

/// Creates `path` (which must not exist), owner-only on unix, writes `bytes` and syncs them.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Set at creation, so the file is never readable by others, not even for a moment.
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
