//! The deterministic key of an observation (`record_key`), defined once for the transform and for
//! `tracklake import`, so that the same observation always gets the same key and the named
//! queries can drop copies (retries, resent batches, an export imported twice).

use sha2::{Digest, Sha256};

use crate::{Source, Timestamp};

/// What identifies an observation, by kind of source.
#[derive(Debug, Clone, Copy)]
pub enum Identity<'a> {
    /// An event seen through the Web API (a play, a save): the track and when it happened, so the
    /// same play seen in two runs gets the same key.
    Event { track_uri: &'a str, event_at: Timestamp },
    /// A place in a snapshot (a top list, a playlist, search results): the snapshot (its
    /// `observed_at`, which a resent envelope keeps), its context and the place in it.
    Snapshot {
        track_uri: &'a str,
        context_id: Option<&'a str>,
        position: Option<i32>,
        observed_at: Timestamp,
    },
    /// A play from a privacy export: the track (its URI, or its artist and track names where the
    /// export has no URI), when it ended and how long it played. Overlapping exports carry the
    /// same play with the same three values, so it is imported once whatever the file.
    ExportPlay {
        track: &'a str,
        ended_at: Timestamp,
        ms_played: i32,
    },
}

/// The key: 128 bits of SHA-256 over the source, the user and the identity, as 32 hex digits.
pub fn record_key(source: Source, user_id: Option<&str>, identity: Identity<'_>) -> String {
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update(bytes);
        h.update([0x1f]); // unit separator: no field can run into the next
    };
    part(source.as_str().as_bytes());
    part(user_id.unwrap_or("").as_bytes());
    match identity {
        Identity::Event { track_uri, event_at } => {
            part(track_uri.as_bytes());
            part(&event_at.millis().to_be_bytes());
        }
        Identity::Snapshot {
            track_uri,
            context_id,
            position,
            observed_at,
        } => {
            part(track_uri.as_bytes());
            part(context_id.unwrap_or("").as_bytes());
            part(&position.unwrap_or(-1).to_be_bytes());
            part(&observed_at.millis().to_be_bytes());
        }
        Identity::ExportPlay {
            track,
            ended_at,
            ms_played,
        } => {
            part(track.as_bytes());
            part(&ended_at.millis().to_be_bytes());
            part(&ms_played.to_be_bytes());
        }
    }
    let digest = h.finalize();
    // 128 bits is plenty against collisions and keeps the column short.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(32);
    for byte in &digest[..16] {
        key.push(HEX[usize::from(byte >> 4)] as char);
        key.push(HEX[usize::from(byte & 0xf)] as char);
    }
    key
}
