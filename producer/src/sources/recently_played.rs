//! `recently_played`: plays after the stored cursor, one request. Spotify keeps only the last 50
//! plays (docs/spotify-web-api.md#recently-played), so one page of 50 holds every play there is to
//! fetch; paging further back would find nothing newer than the cursor.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use schemas::{Context, Source};

use super::{is_null, line, observed_at, parse, EntryTimes, Items, Pull, StateChanges, LIST_PAGE_SIZE};
use crate::state::State;
use spotify_client::{SpotifyClient, SpotifyError};

const ENDPOINT: &str = "/me/player/recently-played";

/// Plays after `state.recently_played_after` (all 50 on a first run). The new cursor is the newest
/// `played_at` delivered, computed from the plays rather than taken from `cursors.after`, so it
/// always matches what was actually sent.
pub async fn recently_played(
    client: &SpotifyClient,
    state: &State,
    now: DateTime<Utc>,
    user_id: Option<&str>,
) -> Result<Pull, SpotifyError> {
    let observed_at = observed_at(now);
    let after = state.recently_played_after.map(|ms| ms.to_string());
    let mut query = vec![("limit", LIST_PAGE_SIZE)];
    if let Some(after) = &after {
        query.push(("after", after));
    }
    let body = client.get_bytes(ENDPOINT, &query).await?;
    let page: Items = parse(ENDPOINT, &body)?;
    let mut lines = Vec::with_capacity(page.items.len());
    let mut newest = state.recently_played_after;
    let mut dates = BTreeSet::new();
    for play in page.items.into_iter().filter(|p| !is_null(p)) {
        let played_at = EntryTimes::read(ENDPOINT, play)?.0;
        if let (Some(at), Some(cursor)) = (played_at, state.recently_played_after) {
            // Defensive: `after` should have excluded it; sending it again would be a duplicate.
            if at.millis() <= cursor {
                continue;
            }
        }
        // A play without a readable `played_at` is still sent (the transform rejects it visibly
        // into the error prefix) but cannot move the cursor.
        if let Some(at) = played_at {
            newest = Some(newest.map_or(at.millis(), |n| n.max(at.millis())));
            dates.insert(at.datetime().date_naive());
        }
        let context = Context {
            played_at,
            ..Context::default()
        };
        lines.push(line(Source::RecentlyPlayed, observed_at, user_id, context, play));
    }
    Ok(Pull {
        source: Source::RecentlyPlayed,
        observed_at,
        lines,
        dates,
        changes: StateChanges {
            recently_played_after: newest.filter(|n| Some(*n) != state.recently_played_after),
            ..StateChanges::default()
        },
        truncated: false,
    })
}
