//! `top_tracks`: the user's top tracks over each of Spotify's three time ranges, with their rank.

use chrono::{DateTime, Utc};
use schemas::{Context, Source};

use super::{is_null, line, observed_at, observed_dates, parse, Items, Pull, StateChanges, LIST_PAGE_SIZE};
use spotify_client::{Pager, SpotifyClient, SpotifyError, LIST_PAGES};

const ENDPOINT: &str = "/me/top/tracks";

/// The `time_range` values Spotify computes top lists for: about 4 weeks, 6 months and years.
pub const TIME_RANGES: [&str; 3] = ["short_term", "medium_term", "long_term"];

/// Every top track of every time range, following `next` to the end; `rank` is 1-based and
/// continues across pages (a null entry keeps its rank but sends nothing).
pub async fn top_tracks(
    client: &SpotifyClient,
    now: DateTime<Utc>,
    user_id: Option<&str>,
) -> Result<Pull, SpotifyError> {
    let observed_at = observed_at(now);
    let mut lines = Vec::new();
    for time_range in TIME_RANGES {
        let query = [
            ("time_range", time_range),
            ("limit", LIST_PAGE_SIZE),
            ("offset", "0"),
        ];
        let mut pager = Pager::new(client, ENDPOINT, &query, LIST_PAGES)?;
        let mut rank = 0u32;
        while let Some(page) = pager.next_page().await? {
            let items: Items = parse(ENDPOINT, &page.body)?;
            for track in items.items {
                rank += 1;
                if is_null(track) {
                    continue;
                }
                let context = Context {
                    time_range: Some(time_range.into()),
                    rank: Some(rank),
                    ..Context::default()
                };
                lines.push(line(Source::TopTracks, observed_at, user_id, context, track));
            }
        }
    }
    Ok(Pull {
        source: Source::TopTracks,
        observed_at,
        dates: observed_dates(observed_at, &lines),
        lines,
        changes: StateChanges::default(),
        truncated: false,
    })
}
