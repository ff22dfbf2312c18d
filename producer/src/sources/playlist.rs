//! `playlist`: items of the user's own and collaborative playlists, read again only when the
//! playlist's `snapshot_id` changed. Other users' playlists answer 403 to new apps
//! (docs/spotify-web-api.md#endpoints-gone-for-new-apps), so followed playlists are skipped before
//! any request.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemas::{Context, Source};
use serde::Deserialize;

use super::{is_null, line, observed_at, observed_dates, parse, Items, Pull, StateChanges, LIST_PAGE_SIZE};
use crate::state::State;
use spotify_client::{Pager, SpotifyClient, SpotifyError, LIST_PAGES};

const LIST_ENDPOINT: &str = "/me/playlists";

#[derive(Deserialize)]
struct Playlist {
    id: String,
    snapshot_id: String,
    #[serde(default)]
    collaborative: bool,
    owner: Option<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    id: Option<String>,
}

/// Reads `/me/playlists` to the end and, for each playlist the user owns or collaborates on whose
/// snapshot differs from the state, `/playlists/{id}/items` to the end. Entries are sent as
/// received, whether they carry the track under `item` or `track`; `position` is 0-based across
/// pages and counts null entries too, so it matches the playlist.
pub async fn playlist(
    client: &SpotifyClient,
    state: &State,
    now: DateTime<Utc>,
    user_id: &str,
) -> Result<Pull, SpotifyError> {
    let observed_at = observed_at(now);
    let mut pager = Pager::new(
        client,
        LIST_ENDPOINT,
        &[("limit", LIST_PAGE_SIZE), ("offset", "0")],
        LIST_PAGES,
    )?;
    let mut playlists = Vec::new();
    while let Some(page) = pager.next_page().await? {
        let items: Items = parse(LIST_ENDPOINT, &page.body)?;
        for raw in items.items.into_iter().filter(|p| !is_null(p)) {
            let playlist: Playlist = parse(LIST_ENDPOINT, raw.get().as_bytes())?;
            let owned = playlist.owner.and_then(|o| o.id).is_some_and(|id| id == user_id);
            if owned || playlist.collaborative {
                playlists.push((playlist.id, playlist.snapshot_id));
            }
        }
    }

    let mut lines = Vec::new();
    let mut snapshots = BTreeMap::new();
    for (id, snapshot_id) in playlists {
        if !is_spotify_id(&id) {
            // The id goes into a URL path: refuse anything that could change the path.
            return Err(SpotifyError::InvalidResponse {
                endpoint: LIST_ENDPOINT.to_string(),
                detail: format!("playlist id `{id}` is not a base-62 Spotify id"),
            });
        }
        if state.playlist_snapshots.get(&id) != Some(&snapshot_id) {
            let path = format!("/playlists/{id}/items");
            let mut pager = Pager::new(
                client,
                &path,
                &[("limit", LIST_PAGE_SIZE), ("offset", "0")],
                LIST_PAGES,
            )?;
            let mut position = 0u32;
            while let Some(page) = pager.next_page().await? {
                let items: Items = parse(&path, &page.body)?;
                for entry in items.items {
                    let at = position;
                    position += 1;
                    if is_null(entry) {
                        continue;
                    }
                    let context = Context {
                        playlist_id: Some(id.as_str().into()),
                        snapshot_id: Some(snapshot_id.as_str().into()),
                        position: Some(at),
                        ..Context::default()
                    };
                    lines.push(line(Source::Playlist, observed_at, Some(user_id), context, entry));
                }
            }
        }
        snapshots.insert(id, snapshot_id);
    }
    Ok(Pull {
        source: Source::Playlist,
        observed_at,
        dates: observed_dates(observed_at, &lines),
        lines,
        changes: StateChanges {
            playlist_snapshots: Some(snapshots),
            ..StateChanges::default()
        },
        truncated: false,
    })
}

fn is_spotify_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
