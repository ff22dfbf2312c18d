//! The raw envelope: what the producer sends to Firehose and what the raw backup keeps.
//!
//! One JSON object per record, followed by `\n` (Firehose adds no delimiter between records):
//!
//! ```json
//! {"v":1,"source":"playlist","observed_at":"2026-11-24T08:00:00.000Z","user_id":"alice",
//!  "context":{"playlist_id":"37i9…","snapshot_id":"MTY4…","position":3},
//!  "spotify":{"added_at":"2024-01-05T10:00:00Z","item":{"type":"track","id":"…"}}}
//! ```
//!
//! `spotify` holds the Spotify object exactly as received, byte for byte: the track for
//! `top_tracks` and `search`, the saved-track object for `saved_tracks`, the play-history object
//! for `recently_played`, the playlist-item object for `playlist`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

use crate::{Source, Timestamp};

/// The envelope version written by this code. Readers reject versions they do not know.
pub const ENVELOPE_VERSION: u32 = 1;

/// One raw record. Borrows from the buffer it was read from.
///
/// `S` is how the Spotify object is held: by default its exact bytes (what the producer writes);
/// a reader may instead parse it in the same pass (`firehose-transform` does).
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct RawEnvelope<'a, S = &'a RawValue> {
    /// Envelope version, [`ENVELOPE_VERSION`].
    pub v: u32,
    /// The producer source that read the object.
    pub source: Source,
    /// When the producer read it (one value per run and source, so a resent record keeps it).
    pub observed_at: Timestamp,
    /// Spotify id of the authorizing user; absent for client-credentials reads.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Cow<'a, str>>,
    /// Where the object was found.
    #[serde(default, borrow)]
    pub context: Context<'a>,
    /// The Spotify object exactly as received.
    pub spotify: S,
}

/// Where an object was found. Which fields are set depends on the source.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context<'a> {
    /// `playlist`: the playlist's id.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub playlist_id: Option<Cow<'a, str>>,
    /// `playlist`: the snapshot the items were read from.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<Cow<'a, str>>,
    /// `playlist`: zero-based position of the item in the playlist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// `recently_played`: when the track was played (also in the play-history object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub played_at: Option<Timestamp>,
    /// `top_tracks`: short_term, medium_term or long_term.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<Cow<'a, str>>,
    /// `top_tracks` and `search`: one-based rank in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// `search`: the query that found the track.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub query: Option<Cow<'a, str>>,
}

impl<S: Serialize> RawEnvelope<'_, S> {
    /// The record as Firehose should receive it: the JSON object and a trailing `\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("an envelope always serializes");
        line.push(b'\n');
        line
    }
}
