//! What the sandbox served: one [`Observation`] per track-list entry it answered with, deduplicated,
//! so an end-to-end test can compare the lake with what Spotify "said".

use std::collections::BTreeMap;

use serde::Serialize;

/// The list an observation came from (the producer's five sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    RecentlyPlayed,
    SavedTracks,
    TopTracks,
    Playlist,
    Search,
}

/// What the entry held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    Track,
    Episode,
    /// `item`/`track` was null: the track was removed from Spotify.
    Removed,
}

/// Where in its list the entry was.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// Playlist position, 0-based, counting null entries (as the producer counts).
    Position(u32),
    /// Top list or search rank, 1-based.
    Rank(u32),
    /// A play's `played_at`, in Unix milliseconds.
    PlayedAt(i64),
    /// A save's `added_at`, in Unix milliseconds.
    AddedAt(i64),
}

/// One served entry, identified by what it is, not by when it was served: the same entry served
/// again (a retried page, a second run) is the same observation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Observation {
    pub source: SourceKind,
    /// Playlist id, time range or search query; empty for plays and saves.
    pub context: String,
    /// Playlist `snapshot_id`, or the top list's date (`2026-11-24`); empty otherwise.
    pub snapshot: String,
    pub place: Place,
    /// The item's URI; `None` when the entry was null.
    pub uri: Option<String>,
    pub item_type: ItemType,
    pub is_local: bool,
}

impl Observation {
    /// Why the transform drops this entry (`firehose_transform`'s drop reasons), if it does:
    /// `"episode"` or `"removed_track"`; `None` for a track, which becomes a record.
    pub fn drop_reason(&self) -> Option<&'static str> {
        match self.item_type {
            ItemType::Track => None,
            ItemType::Episode => Some("episode"),
            ItemType::Removed => Some("removed_track"),
        }
    }
}

/// The ledger: every distinct observation served, with how often it was served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServedLedger {
    pub entries: BTreeMap<Observation, u32>,
}

impl ServedLedger {
    pub(crate) fn record(&mut self, observation: Observation) {
        *self.entries.entry(observation).or_default() += 1;
    }

    /// Distinct observations served.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn observations(&self) -> impl Iterator<Item = &Observation> {
        self.entries.keys()
    }

    /// Observations of one source.
    pub fn of(&self, source: SourceKind) -> impl Iterator<Item = &Observation> {
        self.entries.keys().filter(move |o| o.source == source)
    }

    /// Observations that should become a record in the lake (tracks, local files included).
    pub fn tracks(&self) -> impl Iterator<Item = &Observation> {
        self.entries.keys().filter(|o| o.drop_reason().is_none())
    }

    /// Observations the transform should drop, counted per reason.
    pub fn dropped_by_reason(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for reason in self.entries.keys().filter_map(Observation::drop_reason) {
            *counts.entry(reason).or_default() += 1;
        }
        counts
    }
}
