//! `saved_tracks`: the user's library, newest first, read only down to the last delivered save.

use chrono::{DateTime, Utc};
use schemas::{Context, Source};

use super::{is_null, line, observed_at, parse, EntryTimes, Items, Pull, StateChanges, LIST_PAGE_SIZE};
use crate::spotify::{Pager, SpotifyClient, SpotifyError, LIST_PAGES};
use crate::state::State;

const ENDPOINT: &str = "/me/tracks";

/// Saved tracks added after `state.saved_tracks_watermark`. `/me/tracks` lists newest first, so
/// the walk stops at the first `added_at` at or before the watermark: a routine run costs one
/// request however large the library. The new watermark is the newest `added_at` sent.
pub async fn saved_tracks(
    client: &SpotifyClient,
    state: &State,
    now: DateTime<Utc>,
    user_id: Option<&str>,
) -> Result<Pull, SpotifyError> {
    let observed_at = observed_at(now);
    let watermark = state.saved_tracks_watermark;
    let query = [("limit", LIST_PAGE_SIZE), ("offset", "0")];
    let mut pager = Pager::new(client, ENDPOINT, &query, LIST_PAGES)?;
    let mut lines = Vec::new();
    let mut newest = watermark;
    'pages: while let Some(page) = pager.next_page().await? {
        let items: Items = parse(ENDPOINT, &page.body)?;
        for saved in items.items.into_iter().filter(|s| !is_null(s)) {
            let added_at = EntryTimes::read(ENDPOINT, saved)?.1;
            if let (Some(at), Some(mark)) = (added_at, watermark) {
                if at <= mark {
                    break 'pages;
                }
            }
            if let Some(at) = added_at {
                newest = Some(newest.map_or(at, |n| n.max(at)));
            }
            lines.push(line(
                Source::SavedTracks,
                observed_at,
                user_id,
                Context::default(),
                saved,
            ));
        }
    }
    Ok(Pull {
        source: Source::SavedTracks,
        observed_at,
        lines,
        changes: StateChanges {
            saved_tracks_watermark: newest.filter(|n| Some(*n) != watermark),
            ..StateChanges::default()
        },
        truncated: false,
    })
}
