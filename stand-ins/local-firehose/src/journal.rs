//! The stream's journal: every record the API acknowledges is first appended here and synced to
//! disk, and stays until it is delivered. Firehose answers PutRecordBatch only once it holds the
//! records durably (docs/firehose.md#durability), so a local Firehose killed before its buffers
//! flushed must not forget them either: on the next start, [`Journal::open`] hands back what the
//! last process acknowledged and did not finish, and the pipeline delivers it again.
//!
//! Layout, under the stream's state folder (`<lake>/.firehose/<stream>/` by default):
//!
//! - `lock`: held (an OS file lock) while a local Firehose delivers this stream; a second one
//!   is refused rather than replaying records the first is still delivering;
//! - `journal/seg-<first seq>.log`: segments of records in arrival order, each a
//!   length-and-CRC-framed entry, so that a write cut short by a kill is recognized and ignored
//!   (its batch was never acknowledged);
//! - `tmp/`: the output folder's half-written objects (see [`crate::store::LocalDir`]); anything
//!   there when the lock is taken was left by a killed process and is removed.
//!
//! A record is finished when both its raw backup and its outcome (Parquet, error output or
//! dropped) are written. A segment is removed once it is sealed (at a flush, after
//! [`SEGMENT_AGE`], or when it reaches [`SEGMENT_BYTES`]) and all of its records are finished, so
//! a restart replays only what is still in flight, not everything since the last flush. Delivery is at least once, as
//! Firehose's: a record whose Parquet was written but whose segment was not yet removed when the
//! process died is delivered again, with the same `record_key`, which the queries' dedupe rule
//! counts once.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::pipeline::Incoming;
use crate::FirehoseError;

/// A segment is sealed, and a new one begun, past this size...
pub const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// ...or this long after its first record (checked at the pipeline's ticks).
pub const SEGMENT_AGE: std::time::Duration = std::time::Duration::from_secs(1);
/// First bytes of every segment: the format, so an unknown file is never read as records.
const MAGIC: &[u8; 8] = b"TLFJRNL1";
/// Entry frame: payload length (u32 LE), CRC-32 of the payload (u32 LE).
const FRAME: usize = 8;
/// Payload: seq (u64), arrival ms (i64), id length (u32), id, data.
const FIXED: usize = 8 + 8 + 4;
/// A record is finished after two writes: its raw backup and its outcome.
const STEPS_PER_RECORD: u64 = 2;

struct Segment {
    path: PathBuf,
    /// One past the last seq written to it.
    end: u64,
    /// Steps (see [`STEPS_PER_RECORD`]) not yet done.
    outstanding: u64,
    sealed: bool,
}

struct Inner {
    /// The open segment: its first seq, file, size and when it was begun.
    writer: Option<(u64, File, u64, std::time::Instant)>,
    next_seq: u64,
    segments: BTreeMap<u64, Segment>,
    closed: bool,
}

/// The journal of one stream; see the module documentation.
pub struct Journal {
    dir: PathBuf,
    lock: File,
    inner: Mutex<Inner>,
}

fn io<'a>(path: &'a Path, what: &str) -> impl Fn(std::io::Error) -> FirehoseError + 'a {
    let what = what.to_owned();
    move |source| FirehoseError::Journal {
        path: path.to_path_buf(),
        message: format!("{what}: {source}"),
    }
}

impl Journal {
    /// Takes the stream's lock, removes the temporary files a killed process left, and reads
    /// back every record acknowledged and not finished, oldest first.
    pub fn open(state_dir: &Path) -> Result<(Self, Vec<Incoming>), FirehoseError> {
        let dir = state_dir.join("journal");
        std::fs::create_dir_all(&dir).map_err(io(&dir, "cannot create the journal folder"))?;
        let lock_path = state_dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path, "cannot open the lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(FirehoseError::Busy {
                    path: state_dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io(&lock_path, "cannot lock")(e));
            }
        }
        sweep(&tmp_dir(state_dir))?;

        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io(&dir, "cannot list the journal"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".log"))
            })
            .collect();
        names.sort();
        let mut recovered = Vec::new();
        let mut segments = BTreeMap::new();
        let mut next_seq = 0;
        for path in names {
            let records = read_segment(&path)?;
            match (records.first().map(|r| r.seq), records.last().map(|r| r.seq)) {
                (Some(first), Some(last)) => {
                    next_seq = next_seq.max(last + 1);
                    segments.insert(
                        first,
                        Segment {
                            path,
                            end: last + 1,
                            outstanding: records.len() as u64 * STEPS_PER_RECORD,
                            sealed: true,
                        },
                    );
                    recovered.extend(records);
                }
                _ => std::fs::remove_file(&path).map_err(io(&path, "cannot remove an empty segment"))?,
            }
        }
        if !recovered.is_empty() {
            tracing::warn!(
                records = recovered.len(),
                segments = segments.len(),
                "delivering records a previous local Firehose acknowledged and did not deliver"
            );
        }
        Ok((
            Self {
                dir,
                lock,
                inner: Mutex::new(Inner {
                    writer: None,
                    next_seq,
                    segments,
                    closed: false,
                }),
            },
            recovered,
        ))
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("journal lock")
    }

    /// Numbers the records and writes them to disk; they may be acknowledged once this returns.
    pub fn append(&self, records: &mut [Incoming]) -> Result<(), FirehoseError> {
        let mut inner = self.inner();
        if inner.closed {
            return Err(FirehoseError::Stopped);
        }
        if inner.writer.is_none() {
            let first = inner.next_seq;
            let path = self.dir.join(format!("seg-{first:020}.log"));
            let mut file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(io(&path, "cannot create a segment"))?;
            if let Err(e) = file.write_all(MAGIC) {
                // Leave no headless file behind: the next batch creates this name again.
                let _ = std::fs::remove_file(&path);
                return Err(io(&path, "cannot write a segment")(e));
            }
            inner.writer = Some((first, file, MAGIC.len() as u64, std::time::Instant::now()));
            inner.segments.insert(
                first,
                Segment {
                    path,
                    end: first,
                    outstanding: 0,
                    sealed: false,
                },
            );
        }
        let mut buf = Vec::with_capacity(
            records
                .iter()
                .map(|r| FRAME + FIXED + r.id.len() + r.data.len())
                .sum(),
        );
        let mut seq = inner.next_seq;
        for r in records.iter_mut() {
            r.seq = seq;
            seq += 1;
            let start = buf.len();
            buf.extend_from_slice(&[0; FRAME]);
            buf.extend_from_slice(&r.seq.to_le_bytes());
            buf.extend_from_slice(&r.arrival_ms.to_le_bytes());
            buf.extend_from_slice(&(r.id.len() as u32).to_le_bytes());
            buf.extend_from_slice(r.id.as_bytes());
            buf.extend_from_slice(&r.data);
            let payload = &buf[start + FRAME..];
            let mut crc = flate2::Crc::new();
            crc.update(payload);
            let (len, sum) = (payload.len() as u32, crc.sum());
            buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
            buf[start + 4..start + FRAME].copy_from_slice(&sum.to_le_bytes());
        }
        let (first, file, size, _) = inner.writer.as_mut().expect("a segment is open");
        let first = *first;
        let written = file
            .write_all(&buf)
            .map_err(|e| ("cannot append", e))
            .and_then(|()| file.sync_data().map_err(|e| ("cannot sync", e)));
        if let Err((what, e)) = written {
            // The segment may now end in a partial entry, where recovery stops reading: seal it so
            // that no later batch is appended behind it. This batch is refused, so not lost.
            let path = inner.segments[&first].path.clone();
            Self::seal_open(&mut inner);
            return Err(io(&path, what)(e));
        }
        *size += buf.len() as u64;
        let full = *size >= SEGMENT_BYTES;
        inner.next_seq = seq;
        let segment = inner
            .segments
            .get_mut(&first)
            .expect("the open segment is listed");
        segment.end = seq;
        segment.outstanding += records.len() as u64 * STEPS_PER_RECORD;
        if full {
            Self::seal_open(&mut inner);
        }
        Ok(())
    }

    /// Marks one step (backup or outcome) of each record done; removes finished segments.
    pub fn done(&self, seqs: impl IntoIterator<Item = u64>) {
        let mut inner = self.inner();
        let mut finished = Vec::new();
        for seq in seqs {
            let Some((&first, segment)) = inner.segments.range_mut(..=seq).next_back() else {
                continue;
            };
            if seq >= segment.end || segment.outstanding == 0 {
                continue;
            }
            segment.outstanding -= 1;
            if segment.sealed && segment.outstanding == 0 {
                finished.push(first);
            }
        }
        for first in finished {
            remove(&mut inner, first);
        }
    }

    /// Ends the open segment, so that it goes once its records are finished (at each flush).
    pub fn seal(&self) {
        Self::seal_open(&mut self.inner());
    }

    /// Seals the open segment if it is older than [`SEGMENT_AGE`].
    pub fn seal_if_old(&self) {
        let mut inner = self.inner();
        if inner
            .writer
            .as_ref()
            .is_some_and(|(_, _, _, begun)| begun.elapsed() >= SEGMENT_AGE)
        {
            Self::seal_open(&mut inner);
        }
    }

    fn seal_open(inner: &mut Inner) {
        if let Some((first, _, _, _)) = inner.writer.take() {
            if let Some(segment) = inner.segments.get_mut(&first) {
                segment.sealed = true;
                if segment.outstanding == 0 {
                    remove(inner, first);
                }
            }
        }
    }

    /// Refuses further appends and releases the stream's lock (after the last flush).
    pub fn close(&self) {
        let mut inner = self.inner();
        inner.closed = true;
        Self::seal_open(&mut inner);
        let _ = self.lock.unlock();
    }

    /// Records acknowledged and not yet finished (for tests and messages).
    pub fn unfinished_segments(&self) -> usize {
        self.inner().segments.len()
    }
}

fn remove(inner: &mut Inner, first: u64) {
    if let Some(segment) = inner.segments.remove(&first) {
        if let Err(e) = std::fs::remove_file(&segment.path) {
            // Harmless: the next start delivers its records once more.
            tracing::warn!(path = %segment.path.display(), error = %e, "cannot remove a finished journal segment");
        }
    }
}

/// The folder of the output folder's temporary files.
pub fn tmp_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("tmp")
}

fn sweep(tmp: &Path) -> Result<(), FirehoseError> {
    std::fs::create_dir_all(tmp).map_err(io(tmp, "cannot create the temporary folder"))?;
    for entry in std::fs::read_dir(tmp).map_err(io(tmp, "cannot list the temporary folder"))? {
        let path = entry.map_err(io(tmp, "cannot list the temporary folder"))?.path();
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path, "cannot remove a leftover temporary file"))?;
        }
    }
    Ok(())
}

/// Every whole entry of a segment; stops at the first one cut short or damaged (a write the
/// process did not finish, so never acknowledged).
fn read_segment(path: &Path) -> Result<Vec<Incoming>, FirehoseError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io(path, "cannot read a segment"))?;
    if !bytes.starts_with(MAGIC) {
        return Err(FirehoseError::Journal {
            path: path.to_path_buf(),
            message: "not a journal segment of this version; move it away to start without it".into(),
        });
    }
    let mut records = Vec::new();
    let mut at = MAGIC.len();
    while at + FRAME <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let sum = u32::from_le_bytes(bytes[at + 4..at + FRAME].try_into().expect("4 bytes"));
        let Some(payload) = bytes.get(at + FRAME..at + FRAME + len) else {
            break;
        };
        let mut crc = flate2::Crc::new();
        crc.update(payload);
        if crc.sum() != sum || len < FIXED {
            break;
        }
        let seq = u64::from_le_bytes(payload[0..8].try_into().expect("8 bytes"));
        let arrival_ms = i64::from_le_bytes(payload[8..16].try_into().expect("8 bytes"));
        let id_len = u32::from_le_bytes(payload[16..20].try_into().expect("4 bytes")) as usize;
        let Some(id) = payload.get(FIXED..FIXED + id_len) else {
            break;
        };
        records.push(Incoming {
            seq,
            id: String::from_utf8_lossy(id).into_owned(),
            arrival_ms,
            data: payload[FIXED + id_len..].to_vec(),
        });
        at += FRAME + len;
    }
    if at < bytes.len() {
        tracing::warn!(path = %path.display(), bytes = bytes.len() - at, "ignoring the unfinished end of a journal segment");
    }
    Ok(records)
}
