//! From one raw envelope to one `track_observation`, or a reason not to make one.
//!
//! Spotify's shapes, as of 2026 (docs/spotify-web-api.md#removed-and-renamed-fields and
//! docs/spotify-web-api.md#edge-cases-in-real-data): playlist entries carry the track under
//! `item` (new) or `track` (old), sometimes both; an entry's track is null when it was removed;
//! podcast episodes sit in playlists beside tracks; local files have no id; `popularity` is gone
//! for new apps; release dates have year, month or day precision. The Spotify structs below read
//! only what the record needs and accept every field as missing, so that a missing field becomes
//! a precise reason instead of a parse failure.

use chrono::{NaiveDate, TimeDelta, Utc};
use schemas::record_key::{record_key, Identity};
use schemas::{RawEnvelope, Source, Timestamp, TrackObservation};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// Why a record was not kept, when we chose not to keep it (Firehose result `Dropped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// A podcast episode in a playlist or the play history: not a track observation.
    Episode,
    /// The entry's track is null: Spotify removed it from the catalog.
    RemovedTrack,
}

/// Why a record could not be transformed (Firehose result `ProcessingFailed`; the record lands in
/// the `processing-failed` error output with its original bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailReason {
    /// `data` is not base64.
    InvalidBase64,
    /// The bytes are not one JSON document.
    InvalidJson,
    /// The envelope lacks a required field, has one of the wrong type, or an unknown version.
    InvalidEnvelope,
    /// The Spotify object cannot make a record that satisfies the schema.
    SchemaViolation,
    /// Kept out of the response so that it stays within Lambda's 6 MB limit.
    ResponseTooLarge,
}

impl DropReason {
    pub const ALL: [DropReason; 2] = [DropReason::Episode, DropReason::RemovedTrack];
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Episode => "episode",
            DropReason::RemovedTrack => "removed_track",
        }
    }
}

impl FailReason {
    pub const ALL: [FailReason; 5] = [
        FailReason::InvalidBase64,
        FailReason::InvalidJson,
        FailReason::InvalidEnvelope,
        FailReason::SchemaViolation,
        FailReason::ResponseTooLarge,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::InvalidBase64 => "invalid_base64",
            FailReason::InvalidJson => "invalid_json",
            FailReason::InvalidEnvelope => "invalid_envelope",
            FailReason::SchemaViolation => "schema_violation",
            FailReason::ResponseTooLarge => "response_too_large",
        }
    }
}

/// A failed record: the reason, and a detail for the log (short; never the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: FailReason,
    pub detail: String,
}

impl Failure {
    /// The detail is bounded here, once: it may quote a field value, and a value can be as large
    /// as the record.
    fn new(reason: FailReason, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let detail = match schemas::echo::bounded(&detail) {
            std::borrow::Cow::Borrowed(_) => detail,
            std::borrow::Cow::Owned(shown) => shown,
        };
        Failure { reason, detail }
    }
}

/// What became of one envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The record, and the source it came from (a partition key, not a column).
    Keep(Box<TrackObservation>, Source),
    Drop(DropReason),
}

/// The envelope with its Spotify object parsed in the same pass: the hot path reads each byte once.
pub type Envelope<'a> = RawEnvelope<'a, Slot<'a>>;

/// Reads one record's bytes (an envelope, optionally followed by `\n`) into a verdict.
pub fn normalize_bytes(bytes: &[u8]) -> Result<Verdict, Failure> {
    // JSON text is UTF-8 (RFC 8259, section 8.1). One check of the whole record is cheaper than
    // serde_json checking every string it borrows, which it skips for a `&str` input.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            FailReason::InvalidJson,
            format!("the record is not UTF-8 text ({e}); JSON must be UTF-8"),
        )
    })?;
    match serde_json::from_str::<Envelope>(text) {
        Ok(envelope) => normalize(envelope),
        Err(e) => Err(explain_parse_error(bytes, e)),
    }
}

/// Says why the bytes are not an envelope. Runs on the error path only, so it may parse again.
fn explain_parse_error(bytes: &[u8], e: serde_json::Error) -> Failure {
    // serde's error category alone cannot tell: a JSON array read into a struct reports a syntax
    // error. Ask whether the bytes are JSON at all.
    if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Failure::new(FailReason::InvalidJson, syntax.to_string());
    }
    // They are: name the field that failed. Inside `spotify` that is Spotify's shape, not ours.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, Envelope>(&mut de) {
        Err(at) if at.path().to_string().starts_with("spotify") => Failure::new(
            FailReason::SchemaViolation,
            format!("{}: {}", at.path(), at.inner()),
        ),
        Err(at) => Failure::new(
            FailReason::InvalidEnvelope,
            format!("envelope {}: {}", at.path(), at.inner()),
        ),
        Ok(_) => Failure::new(FailReason::InvalidEnvelope, format!("not a valid envelope: {e}")),
    }
}

/// Turns one envelope into a record, following the rules of its source.
pub fn normalize(env: Envelope<'_>) -> Result<Verdict, Failure> {
    if env.v != schemas::ENVELOPE_VERSION {
        return Err(Failure::new(
            FailReason::InvalidEnvelope,
            format!(
                "envelope version {} is not supported (this transform reads v{})",
                env.v,
                schemas::ENVELOPE_VERSION
            ),
        ));
    }
    if env.source == Source::StreamingHistory {
        return Err(Failure::new(
            FailReason::InvalidEnvelope,
            "streaming_history plays are written to the lake by `tracklake import`, never sent through \
             the stream; send plays seen through the Web API as recently_played",
        ));
    }
    let ctx = &env.context;
    let need = |value: Option<&str>, what: &str| {
        value.map(str::to_owned).ok_or_else(|| {
            Failure::new(
                FailReason::InvalidEnvelope,
                format!("a {} envelope needs context.{what}", env.source),
            )
        })
    };
    // `rank` and `position` become the int column `position`.
    let place = |value: Option<u32>, what: &str| {
        let value = value.ok_or_else(|| {
            Failure::new(
                FailReason::InvalidEnvelope,
                format!("a {} envelope needs context.{what}", env.source),
            )
        })?;
        i32::try_from(value).map_err(|_| {
            Failure::new(
                FailReason::InvalidEnvelope,
                format!("context.{what} {value} does not fit an int"),
            )
        })
    };
    let rank = || place(ctx.rank, "rank");

    // Where the track is, and what the source adds around it.
    let spotify = match env.spotify {
        Slot::Object(object) => *object,
        Slot::Null => return Ok(Verdict::Drop(DropReason::RemovedTrack)),
        Slot::Other => {
            return Err(Failure::new(
                FailReason::SchemaViolation,
                "spotify is not an object",
            ))
        }
    };
    let (track, entry) = match env.source {
        Source::TopTracks | Source::Search => (spotify, SpotifyObject::default()),
        Source::StreamingHistory => unreachable!("rejected at the top of normalize"),
        Source::RecentlyPlayed | Source::SavedTracks | Source::Playlist => {
            let mut entry = spotify;
            match entry.take_track() {
                Ok(track) => (track, entry),
                Err(None) => return Ok(Verdict::Drop(DropReason::RemovedTrack)),
                Err(Some(failure)) => return Err(failure),
            }
        }
    };
    match track.kind.as_deref() {
        _ if track.episode == Some(true) => return Ok(Verdict::Drop(DropReason::Episode)),
        Some("episode") => return Ok(Verdict::Drop(DropReason::Episode)),
        None | Some("track") => {}
        Some(other) => {
            return Err(Failure::new(
                FailReason::SchemaViolation,
                format!("unsupported item type `{other}`"),
            ))
        }
    }

    // When the track entered the playlist or the library. A playlist entry is an observation of
    // the playlist's snapshot, so its event time is the observation time (one `dt` partition per
    // snapshot, not one per day an entry was added) and the added time is kept apart.
    let added_at = match env.source {
        Source::SavedTracks | Source::Playlist => entry.added_at,
        Source::RecentlyPlayed | Source::TopTracks | Source::Search | Source::StreamingHistory => None,
    };
    let (event_at, context_id, position) = match env.source {
        Source::RecentlyPlayed => {
            let at = ctx.played_at.or(entry.played_at).ok_or_else(|| {
                Failure::new(
                    FailReason::InvalidEnvelope,
                    "a recently_played envelope needs context.played_at",
                )
            })?;
            (at, None, None)
        }
        Source::SavedTracks => {
            let at = entry
                .added_at
                .ok_or_else(|| Failure::new(FailReason::SchemaViolation, "saved track has no `added_at`"))?;
            (at, None, None)
        }
        Source::Playlist => {
            let position = place(ctx.position, "position")?;
            (
                env.observed_at,
                Some(need(ctx.playlist_id.as_deref(), "playlist_id")?),
                Some(position),
            )
        }
        Source::TopTracks => (
            env.observed_at,
            Some(need(ctx.time_range.as_deref(), "time_range")?),
            Some(rank()?),
        ),
        Source::Search => (
            env.observed_at,
            Some(need(ctx.query.as_deref(), "query")?),
            Some(rank()?),
        ),
        Source::StreamingHistory => unreachable!("rejected at the top of normalize"),
    };

    check_partition_date(event_at)?;

    let track_uri = required(track.uri.map(Cow::into_owned), "uri")?;
    let is_local =
        track.is_local.or(entry.is_local).unwrap_or(false) || track_uri.starts_with("spotify:local:");
    let album = track.album.unwrap_or_default();
    let (album_release_date, album_release_date_precision) = release_date(album.release_date.as_deref());
    let artists = track.artists.unwrap_or_default();
    let mut artist_ids = Vec::with_capacity(artists.len());
    let mut artist_names = Vec::with_capacity(artists.len());
    for (i, artist) in artists.into_iter().enumerate() {
        artist_ids.push(non_empty(artist.id));
        artist_names.push(required(
            artist.name.map(Cow::into_owned),
            &format!("artists[{i}].name"),
        )?);
    }
    let user_id = env.user_id.as_deref().map(str::to_owned);
    // Events are keyed by what happened, snapshots by the snapshot and the place in it.
    let identity = match env.source {
        Source::RecentlyPlayed | Source::SavedTracks => Identity::Event {
            track_uri: &track_uri,
            event_at,
        },
        Source::TopTracks | Source::Playlist | Source::Search => Identity::Snapshot {
            track_uri: &track_uri,
            context_id: context_id.as_deref(),
            position,
            observed_at: env.observed_at,
        },
        Source::StreamingHistory => unreachable!("rejected at the top of normalize"),
    };
    let record_key = record_key(env.source, user_id.as_deref(), identity);

    let record = TrackObservation {
        record_key,
        event_at,
        observed_at: env.observed_at,
        added_at,
        user_id,
        context_id,
        position,
        snapshot_id: ctx.snapshot_id.as_deref().map(str::to_owned),
        added_by: entry.added_by.and_then(|u| non_empty(u.id)),
        play_context_type: entry
            .context
            .as_ref()
            .and_then(|c| c.kind.clone().map(Cow::into_owned)),
        play_context_uri: entry.context.and_then(|c| c.uri.map(Cow::into_owned)),
        track_id: non_empty(track.id),
        track_uri: Some(track_uri),
        track_name: required(track.name.map(Cow::into_owned), "name")?,
        duration_ms: Some(duration_ms(required(track.duration_ms, "duration_ms")?)?),
        explicit: Some(required(track.explicit, "explicit")?),
        // Local files report popularity 0, which is no measurement: NULL, like a missing value.
        popularity: if is_local {
            None
        } else {
            track.popularity.map(popularity).transpose()?
        },
        isrc: track.external_ids.and_then(|e| non_empty(e.isrc)),
        is_local: Some(is_local),
        disc_number: track.disc_number.map(|n| int32(n, "disc_number")).transpose()?,
        track_number: track.track_number.map(|n| int32(n, "track_number")).transpose()?,
        album_id: non_empty(album.id),
        album_name: album.name.map(Cow::into_owned),
        album_type: non_empty(album.album_type),
        album_release_date,
        album_release_date_precision,
        album_total_tracks: album
            .total_tracks
            .map(|n| int32(n, "album.total_tracks"))
            .transpose()?,
        album_image_url: widest_image(album.images.unwrap_or_default()),
        primary_artist_id: artist_ids.first().cloned().flatten(),
        primary_artist_name: artist_names.first().cloned(),
        artist_ids,
        artist_names,
        // What only a privacy export says (streaming_history, written by `tracklake import`).
        ms_played: None,
        skipped: None,
        reason_start: None,
        reason_end: None,
        shuffle: None,
        offline: None,
        incognito_mode: None,
        platform: None,
        conn_country: None,
        export_file: None,
    };
    Ok(Verdict::Keep(Box::new(record), env.source))
}

/// Parses a Spotify release date of year, month or day precision into its first day.
/// Spotify writes an unknown year as `0000`: that is no date.
pub fn release_date(text: Option<&str>) -> (Option<NaiveDate>, Option<String>) {
    let Some(text) = text else { return (None, None) };
    let parts: Vec<&str> = text.split('-').collect();
    let num = |i: usize, len: usize| {
        parts
            .get(i)
            .filter(|p| p.len() == len)
            .and_then(|p| p.parse::<u32>().ok())
    };
    let (precision, year, month, day) = match parts.len() {
        1 => ("year", num(0, 4), Some(1), Some(1)),
        2 => ("month", num(0, 4), num(1, 2), Some(1)),
        3 => ("day", num(0, 4), num(1, 2), num(2, 2)),
        _ => return (None, None),
    };
    match (year, month, day) {
        (Some(y), Some(m), Some(d)) if y > 0 => match NaiveDate::from_ymd_opt(y as i32, m, d) {
            Some(date) => (Some(date), Some(precision.to_string())),
            None => (None, None),
        },
        _ => (None, None),
    }
}

fn widest_image(images: Vec<Image>) -> Option<String> {
    let widest = images
        .iter()
        .filter(|i| i.url.is_some())
        .max_by_key(|i| i.width.unwrap_or(0))?;
    // With no sizes given, max_by_key returns the last; Spotify lists the largest first.
    let chosen = if widest.width.is_some() {
        widest
    } else {
        images.iter().find(|i| i.url.is_some())?
    };
    chosen.url.as_deref().map(str::to_owned)
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Failure> {
    value.ok_or_else(|| Failure::new(FailReason::SchemaViolation, format!("track has no `{field}`")))
}

fn int32(n: i64, field: &str) -> Result<i32, Failure> {
    i32::try_from(n).map_err(|_| {
        Failure::new(
            FailReason::SchemaViolation,
            format!("`{field}` {n} does not fit an int"),
        )
    })
}

/// A track's length: never negative.
fn duration_ms(n: i64) -> Result<i32, Failure> {
    if n < 0 {
        return Err(Failure::new(
            FailReason::SchemaViolation,
            format!("`duration_ms` {n} is negative; a track lasts 0 ms or more"),
        ));
    }
    int32(n, "duration_ms")
}

/// Spotify's popularity scale, 0 to 100
/// (https://developer.spotify.com/documentation/web-api/reference/get-track).
pub const POPULARITY: std::ops::RangeInclusive<i64> = 0..=100;

/// A value outside [`POPULARITY`] is no measurement on that scale. It is refused rather than made
/// NULL, so that the record, kept whole in the error output, can be looked at and replayed.
fn popularity(n: i64) -> Result<i32, Failure> {
    if !POPULARITY.contains(&n) {
        return Err(Failure::new(
            FailReason::SchemaViolation,
            format!("`popularity` {n} is outside Spotify's 0..=100"),
        ));
    }
    int32(n, "popularity")
}

/// How far past today's UTC date an event may be, for clock skew between the producer and here.
/// Such a record is written to a `dt` partition the projection shows from that day on.
pub const FUTURE_DAYS_ALLOWED: i64 = 1;

/// The first `dt` the Glue table's partition projection shows (`projection.dt.range` is
/// `first,NOW`, see schemas/glue/track_observations.json), read from the schema's partition keys.
pub fn first_partition_date() -> NaiveDate {
    static FIRST: std::sync::OnceLock<NaiveDate> = std::sync::OnceLock::new();
    *FIRST.get_or_init(|| {
        let dt = schemas::partition_keys()
            .into_iter()
            .find(|k| k.name == "dt")
            .expect("track_observation.avsc has a dt partition key");
        let first = dt.first.expect("the dt partition key has `first`");
        NaiveDate::parse_from_str(&first, "%Y-%m-%d").expect("`first` of dt is a YYYY-MM-DD date")
    })
}

/// Refuses an event whose `dt` partition Athena's projection would never list: before its first
/// date, or later than today (plus [`FUTURE_DAYS_ALLOWED`]). Such a record would be delivered yet
/// invisible to every query.
fn check_partition_date(event_at: Timestamp) -> Result<(), Failure> {
    let date = event_at.datetime().date_naive();
    let first = first_partition_date();
    let last = Utc::now().date_naive() + TimeDelta::days(FUTURE_DAYS_ALLOWED);
    if date < first || date > last {
        return Err(Failure::new(
            FailReason::SchemaViolation,
            format!(
                "event date {date} is outside the dt partitions Athena shows ({first} to {last}); \
                 the record would be invisible to queries"
            ),
        ));
    }
    Ok(())
}

fn non_empty(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(Cow::into_owned)
}

// ---- Spotify shapes: only what the record reads, every field optional. ----

/// Where a Spotify object may be: the envelope's `spotify`, or an entry's `item` or `track`.
/// Null is kept apart from absent (a null track is a removed one); anything that is neither an
/// object nor null is `Other` (old playlist items carry `"track": true` inside the track itself).
#[derive(Debug)]
pub enum Slot<'a> {
    Null,
    Object(Box<SpotifyObject<'a>>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Slot<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{value::MapAccessDeserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct SlotVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for SlotVisitor<'a> {
            type Value = Slot<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Spotify object or null")
            }
            fn visit_unit<E>(self) -> Result<Slot<'a>, E> {
                Ok(Slot::Null)
            }
            fn visit_none<E>(self) -> Result<Slot<'a>, E> {
                Ok(Slot::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Slot<'a>, A::Error> {
                SpotifyObject::deserialize(MapAccessDeserializer::new(map)).map(|o| Slot::Object(Box::new(o)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Slot<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Slot::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Slot<'a>, E> {
                Ok(Slot::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Slot<'a>, E> {
                Ok(Slot::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Slot<'a>, E> {
                Ok(Slot::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Slot<'a>, E> {
                Ok(Slot::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Slot<'a>, E> {
                Ok(Slot::Other)
            }
        }
        // deserialize_any, not deserialize_option: a missing `spotify` stays an error.
        d.deserialize_any(SlotVisitor(std::marker::PhantomData))
    }
}

/// For an `item` or `track` field: absent is `None`, null is `Some(Slot::Null)`.
fn slot<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Slot<'a>>, D::Error> {
    Slot::deserialize(d).map(Some)
}

/// Any Spotify object the producer sends: a track (top_tracks, search, or inside an entry) or an
/// entry around one (a playlist item, a saved track, a play-history object). One type for both
/// lets the envelope be read in a single pass, before its `source` says which it is.
#[derive(Debug, Default, Deserialize)]
pub struct SpotifyObject<'a> {
    // -- an entry around a track --
    /// New name of the entry's track field (2026).
    #[serde(default, deserialize_with = "slot")]
    item: Option<Slot<'a>>,
    /// Old name of the entry's track field.
    #[serde(default, deserialize_with = "slot")]
    track: Option<Slot<'a>>,
    #[serde(default)]
    played_at: Option<Timestamp>,
    #[serde(default)]
    added_at: Option<Timestamp>,
    #[serde(default, borrow)]
    added_by: Option<UserRef<'a>>,
    #[serde(default, borrow)]
    context: Option<PlayContext<'a>>,
    /// On a playlist item, and on the track itself.
    #[serde(default)]
    is_local: Option<bool>,
    // -- a track --
    #[serde(default, rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    /// Old playlist entries flag episodes this way.
    #[serde(default)]
    episode: Option<bool>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    uri: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    duration_ms: Option<i64>,
    #[serde(default)]
    explicit: Option<bool>,
    #[serde(default)]
    popularity: Option<i64>,
    #[serde(default)]
    disc_number: Option<i64>,
    #[serde(default)]
    track_number: Option<i64>,
    #[serde(default, borrow)]
    external_ids: Option<ExternalIds<'a>>,
    #[serde(default, borrow)]
    album: Option<Album<'a>>,
    #[serde(default, borrow)]
    artists: Option<Vec<Artist<'a>>>,
}

impl<'a> SpotifyObject<'a> {
    /// The entry's track: `item` first, then `track`. `Err(None)` when it is null (removed).
    fn take_track(&mut self) -> Result<SpotifyObject<'a>, Option<Failure>> {
        match (self.item.take(), self.track.take()) {
            (Some(Slot::Object(t)), _) | (_, Some(Slot::Object(t))) => Ok(*t),
            (Some(Slot::Null), _) | (_, Some(Slot::Null)) => Err(None),
            _ => Err(Some(Failure::new(
                FailReason::SchemaViolation,
                "the spotify object has neither `item` nor `track`",
            ))),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ExternalIds<'a> {
    #[serde(default, borrow)]
    isrc: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
struct Album<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    album_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    release_date: Option<Cow<'a, str>>,
    #[serde(default)]
    total_tracks: Option<i64>,
    #[serde(default, borrow)]
    images: Option<Vec<Image<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
struct Image<'a> {
    #[serde(default, borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(default)]
    width: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct Artist<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
struct UserRef<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
struct PlayContext<'a> {
    #[serde(default, rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    uri: Option<Cow<'a, str>>,
}
