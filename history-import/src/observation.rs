//! A kept play as a row of the lake: a `TrackObservation` of the `streaming_history` source
//! (docs/privacy-exports.md#importing-into-the-lake).

use schemas::record_key::{record_key, Identity};
use schemas::{Source, Timestamp, TrackObservation};

use crate::{LeftOut, Play};

/// Between the artist and the track name in the identity of a play the export names without a
/// URI (account data): the ASCII unit separator, which no name contains, so `"a b" + "c"` and
/// `"a" + "b c"` stay apart.
pub const NAME_SEPARATOR: char = '\u{1f}';

/// What identifies the play's track in its `record_key`: the track's URI, or for a play without
/// one (account data) `<artist>` [`NAME_SEPARATOR`] `<track>`.
pub fn track_identity(play: &Play) -> String {
    match &play.track_id {
        Some(id) => track_uri(id),
        None => format!(
            "{}{NAME_SEPARATOR}{}",
            play.artist_name.as_deref().unwrap_or(""),
            play.track_name
        ),
    }
}

fn track_uri(id: &str) -> String {
    format!("spotify:track:{id}")
}

/// The row of `play`, read from the file named `export_file` by an import that started at
/// `observed_at`. The export's user name is never read, so `user_id` is null. A play whose end
/// lies outside the years a timestamp holds is [`LeftOut::BadTime`].
pub fn observation(
    play: &Play,
    export_file: &str,
    observed_at: Timestamp,
) -> Result<TrackObservation, LeftOut> {
    into_observation(play.clone(), export_file, observed_at)
}

/// [`observation`], taking the play: its strings move into the row instead of being copied.
pub fn into_observation(
    play: Play,
    export_file: &str,
    observed_at: Timestamp,
) -> Result<TrackObservation, LeftOut> {
    let event_at = Timestamp::from_datetime(play.ended_at).ok_or(LeftOut::BadTime)?;
    // The schema's int; a play of more than 24 days does not exist, so saturating loses nothing.
    let ms_played = i32::try_from(play.ms_played).unwrap_or(i32::MAX);
    let key = record_key(
        Source::StreamingHistory,
        None,
        Identity::ExportPlay {
            track: &track_identity(&play),
            ended_at: event_at,
            ms_played,
        },
    );
    let artist = play.artist_name;
    Ok(TrackObservation {
        record_key: key,
        event_at,
        observed_at,
        added_at: None,
        user_id: None,
        context_id: None,
        position: None,
        snapshot_id: None,
        added_by: None,
        play_context_type: None,
        play_context_uri: None,
        track_uri: play.track_id.as_deref().map(track_uri),
        // A spotify:track URI is never a local file; without a URI the export does not say.
        is_local: play.track_id.as_ref().map(|_| false),
        track_id: play.track_id,
        track_name: play.track_name,
        duration_ms: None,
        explicit: None,
        popularity: None,
        isrc: None,
        disc_number: None,
        track_number: None,
        album_id: None,
        album_name: play.album_name,
        album_type: None,
        album_release_date: None,
        album_release_date_precision: None,
        album_total_tracks: None,
        album_image_url: None,
        // The export names one artist (the album artist) and no ids.
        artist_ids: artist.iter().map(|_| None).collect(),
        artist_names: artist.iter().cloned().collect(),
        primary_artist_id: None,
        primary_artist_name: artist,
        ms_played: Some(ms_played),
        skipped: play.skipped,
        reason_start: play.reason_start,
        reason_end: play.reason_end,
        shuffle: play.shuffle,
        offline: play.offline,
        incognito_mode: play.incognito_mode,
        platform: play.platform,
        conn_country: play.country,
        export_file: Some(export_file.to_owned()),
    })
}
