//! The five sources: each pulls one kind of Spotify list and returns the raw envelope lines plus
//! the state changes to apply once Firehose has accepted every line (so a crash causes duplicates,
//! never gaps).
//!
//! Only endpoints that Development Mode apps keep are called, and never a batch lookup
//! (docs/spotify-web-api.md#endpoints-a-new-app-can-use): `/me/player/recently-played`,
//! `/me/top/tracks`, `/me/tracks`, `/me/playlists`, `/playlists/{id}/items` and `/search`. Each
//! line's `spotify` is the object exactly as Spotify sent it, borrowed from the response body as a
//! `RawValue`.

mod playlist;
mod recently_played;
mod saved_tracks;
mod search;
mod top_tracks;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use schemas::{Context, RawEnvelope, Source, Timestamp, ENVELOPE_VERSION};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::pacing::PacingConfig;
use crate::state::State;
use spotify_client::{SpotifyClient, SpotifyError};

pub use playlist::playlist;
pub use recently_played::recently_played;
pub use saved_tracks::{backfill_note, saved_tracks, saved_tracks_within, SAVED_TRACKS_DATES_PER_RUN};
pub use search::search;
pub use top_tracks::{top_tracks, TIME_RANGES};

/// Page size of every `/me/*` list and of playlist items: the maximum Spotify accepts there
/// (docs/spotify-web-api.md#paging), so a pull takes as few requests as possible.
pub const LIST_PAGE_SIZE: &str = "50";

/// Search page size: the maximum, 10 (11 gives 400 "Invalid limit", docs/spotify-web-api.md#paging).
pub const SEARCH_PAGE_SIZE: &str = "10";

/// Search results readable per query: Spotify refuses offsets past 1000 (docs/spotify-web-api.md#paging).
pub const SEARCH_RESULT_CAP: u32 = 1000;

/// Plays come and go fast: Spotify keeps only the last 50 (docs/spotify-web-api.md#recently-played),
/// so every run polls.
pub const DEFAULT_RECENTLY_PLAYED_INTERVAL: Duration = Duration::ZERO;
/// Saved tracks change when the user saves one; hourly keeps the lag small at one request a run.
pub const DEFAULT_SAVED_TRACKS_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Playlists cost one request per page of the list, and items only when a snapshot changed.
pub const DEFAULT_PLAYLIST_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Top lists are computed by Spotify about daily; more often stores the same snapshot again.
pub const DEFAULT_TOP_TRACKS_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// Search rankings drift slowly, and a query can cost up to 100 requests (1000 results / 10).
pub const DEFAULT_SEARCH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Which sources run, and how often. Deserializable from the config file; unknown keys are refused
/// so that a misspelt setting is not silently ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// Sources to pull; the others are never called.
    pub enabled: Vec<Source>,
    /// `search`: the queries, each sent as `q` (Spotify's query syntax, e.g. `genre:jazz year:2026`).
    pub search_queries: Vec<String>,
    /// `search`: results read per query, at most [`SEARCH_RESULT_CAP`].
    pub search_max_results: u32,
    /// `search`: the market to search in. With a user's token Spotify uses the user's country
    /// instead; with app-only client credentials and no market, Spotify counts every result as
    /// unavailable (docs/spotify-web-api.md#markets), so search is then skipped.
    pub market: Option<Market>,
    /// Minimum time between two successful pulls of a source, in seconds; a source missing here
    /// uses its `DEFAULT_*_INTERVAL`.
    pub min_interval_secs: BTreeMap<Source, u64>,
    /// How many `dt` partitions the producer keeps active in Firehose, and for how long a
    /// partition counts as active ([`crate::pacing`]).
    pub pacing: PacingConfig,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            enabled: vec![
                Source::RecentlyPlayed,
                Source::TopTracks,
                Source::SavedTracks,
                Source::Playlist,
            ],
            search_queries: Vec::new(),
            search_max_results: SEARCH_RESULT_CAP,
            market: None,
            min_interval_secs: BTreeMap::new(),
            pacing: PacingConfig::default(),
        }
    }
}

/// A Spotify market: an ISO 3166-1 alpha-2 country code, kept upper-case (`US`, `DE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Market(String);

impl Market {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Market {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let code = text.trim();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Market(code.to_ascii_uppercase()))
        } else {
            Err(format!(
                "`{text}` is not a market: use an ISO 3166-1 alpha-2 country code such as US or DE"
            ))
        }
    }
}

impl From<Market> for String {
    fn from(market: Market) -> String {
        market.0
    }
}

impl SourcesConfig {
    /// The minimum interval of `source`.
    pub fn min_interval(&self, source: Source) -> Duration {
        if let Some(secs) = self.min_interval_secs.get(&source) {
            return Duration::from_secs(*secs);
        }
        match source {
            Source::RecentlyPlayed => DEFAULT_RECENTLY_PLAYED_INTERVAL,
            Source::SavedTracks => DEFAULT_SAVED_TRACKS_INTERVAL,
            Source::Playlist => DEFAULT_PLAYLIST_INTERVAL,
            Source::TopTracks => DEFAULT_TOP_TRACKS_INTERVAL,
            Source::Search => DEFAULT_SEARCH_INTERVAL,
            // Never pulled: `pull` refuses it with what to do instead.
            Source::StreamingHistory => Duration::ZERO,
        }
    }

    /// Whether `source` is enabled and its minimum interval has passed since its last success.
    pub fn is_due(&self, source: Source, state: &State, now: DateTime<Utc>) -> bool {
        if !self.enabled.contains(&source) {
            return false;
        }
        let Some(last) = state.last_success.get(&source) else {
            return true;
        };
        // A library backfill in progress continues on every run: each step is already bounded
        // by SAVED_TRACKS_DATES_PER_RUN, and waiting the interval would stretch a first import
        // over many hours.
        if source == Source::SavedTracks && state.saved_tracks_backfill_before.is_some() {
            return true;
        }
        let interval =
            chrono::TimeDelta::from_std(self.min_interval(source)).unwrap_or(chrono::TimeDelta::MAX);
        // A clock that went backwards (last in the future) makes the source due rather than stuck.
        *last > now || now.signed_duration_since(*last) >= interval
    }
}

/// What one source pulled.
#[derive(Debug)]
pub struct Pull {
    pub source: Source,
    /// Shared by every line of this pull (one value per run and source).
    pub observed_at: Timestamp,
    /// Raw envelopes, each ending in `\n`, ready for the sink.
    pub lines: Vec<Vec<u8>>,
    /// The UTC dates of the lines' event times (the transform's `dt`): with `source`, the
    /// Firehose partitions the lines open ([`crate::pacing`]). Lines without a readable event
    /// time open none (the transform rejects them).
    pub dates: BTreeSet<NaiveDate>,
    /// To apply to the state once every line is delivered.
    pub changes: StateChanges,
    /// `search`: some query stopped at the offset cap, so its results are incomplete.
    pub truncated: bool,
}

/// State changes a pull earns once delivered.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StateChanges {
    pub recently_played_after: Option<i64>,
    pub saved_tracks_watermark: Option<Timestamp>,
    /// `Some(value)`: the new `saved_tracks_backfill_before` (`Some(None)` clears it, the backfill
    /// is complete); `None`: unchanged.
    pub saved_tracks_backfill_before: Option<Option<Timestamp>>,
    /// `Some(value)`: the new `saved_tracks_backfill_skip`; `None`: unchanged.
    pub saved_tracks_backfill_skip: Option<Option<u64>>,
    /// The user's playlists now, with their snapshots: replaces the stored map, so deleted
    /// playlists drop out.
    pub playlist_snapshots: Option<BTreeMap<String, String>>,
}

impl StateChanges {
    pub fn apply(self, state: &mut State) {
        if let Some(after) = self.recently_played_after {
            state.recently_played_after = Some(after);
        }
        if let Some(watermark) = self.saved_tracks_watermark {
            state.saved_tracks_watermark = Some(watermark);
        }
        if let Some(before) = self.saved_tracks_backfill_before {
            state.saved_tracks_backfill_before = before;
        }
        if let Some(skip) = self.saved_tracks_backfill_skip {
            state.saved_tracks_backfill_skip = skip;
        }
        if let Some(snapshots) = self.playlist_snapshots {
            state.playlist_snapshots = snapshots;
        }
    }
}

/// Pulls `source`. `user_id` is the authorizing user's Spotify id (see [`current_user_id`]); the
/// playlist source needs it to tell the user's own playlists from followed ones.
/// `saved_tracks_dates` bounds the dates `saved_tracks` sends (see [`saved_tracks_within`]).
pub async fn pull(
    source: Source,
    client: &SpotifyClient,
    config: &SourcesConfig,
    state: &State,
    now: DateTime<Utc>,
    user_id: Option<&str>,
    saved_tracks_dates: usize,
) -> Result<Pull, SpotifyError> {
    match source {
        Source::RecentlyPlayed => recently_played(client, state, now, user_id).await,
        Source::TopTracks => top_tracks(client, now, user_id).await,
        Source::SavedTracks => saved_tracks_within(client, state, now, user_id, saved_tracks_dates).await,
        Source::Playlist => match user_id {
            Some(user) => playlist(client, state, now, user).await,
            None => Err(SpotifyError::InvalidResponse {
                endpoint: "/me".to_string(),
                detail: "the playlist source needs the user's id to find the user's own playlists".into(),
            }),
        },
        Source::Search => search(client, config, now, user_id).await,
        Source::StreamingHistory => Err(SpotifyError::InvalidResponse {
            endpoint: "sources.enabled".to_string(),
            detail: "streaming_history is not read from the Web API: remove it from the enabled sources \
                     and import Spotify's privacy export with `tracklake import`"
                .into(),
        }),
    }
}

/// The authorizing user's Spotify id, from `GET /me`.
pub async fn current_user_id(client: &SpotifyClient) -> Result<String, SpotifyError> {
    let me = client.get_json("/me", &[]).await?;
    me.get("id")
        .and_then(|id| id.as_str())
        .map(str::to_string)
        .ok_or_else(|| SpotifyError::InvalidResponse {
            endpoint: "/me".to_string(),
            detail: "no string `id`".to_string(),
        })
}

/// The list in a page body, each entry borrowed verbatim.
#[derive(Deserialize)]
struct Items<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

/// Search nests its paging object under the type (`{"tracks": {…}}`).
#[derive(Deserialize)]
struct NestedTracks<'a> {
    #[serde(borrow)]
    tracks: Items<'a>,
}

/// The times an entry carries: `played_at` (a play-history entry) or `added_at` (a saved track).
/// Unreadable or missing times are `None`: the line is still sent (the transform rejects it
/// visibly), but it cannot move a cursor or a watermark.
#[derive(Deserialize)]
struct EntryTimes<'a> {
    #[serde(borrow, default)]
    played_at: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    added_at: Option<std::borrow::Cow<'a, str>>,
}

impl EntryTimes<'_> {
    fn read(
        endpoint: &str,
        entry: &RawValue,
    ) -> Result<(Option<Timestamp>, Option<Timestamp>), SpotifyError> {
        let times: EntryTimes = parse(endpoint, entry.get().as_bytes())?;
        let at = |t: Option<std::borrow::Cow<'_, str>>| t.and_then(|t| Timestamp::parse(&t));
        Ok((at(times.played_at), at(times.added_at)))
    }
}

fn parse<'a, T: Deserialize<'a>>(endpoint: &str, body: &'a [u8]) -> Result<T, SpotifyError> {
    serde_json::from_slice(body).map_err(|e| SpotifyError::InvalidResponse {
        endpoint: endpoint.to_string(),
        detail: e.to_string(),
    })
}

fn observed_at(now: DateTime<Utc>) -> Timestamp {
    Timestamp::from_datetime(now).expect("the run's clock reads a year between 1 and 9999")
}

/// The dates of a pull whose event time is the observation time (top tracks, playlists, search):
/// the run's date, if it sends anything.
fn observed_dates(observed_at: Timestamp, lines: &[Vec<u8>]) -> BTreeSet<NaiveDate> {
    if lines.is_empty() {
        BTreeSet::new()
    } else {
        BTreeSet::from([observed_at.datetime().date_naive()])
    }
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// One raw envelope line.
fn line(
    source: Source,
    observed_at: Timestamp,
    user_id: Option<&str>,
    context: Context<'_>,
    spotify: &RawValue,
) -> Vec<u8> {
    RawEnvelope {
        v: ENVELOPE_VERSION,
        source,
        observed_at,
        user_id: user_id.map(Cow::Borrowed),
        context,
        spotify,
    }
    .to_line()
}
