//! `search`: tracks found by each configured query, with their rank.

use chrono::{DateTime, Utc};
use schemas::{Context, Source};

use super::{
    is_null, line, observed_at, observed_dates, parse, NestedTracks, Pull, SourcesConfig, StateChanges,
    SEARCH_PAGE_SIZE, SEARCH_RESULT_CAP,
};
use spotify_client::{Pager, SpotifyClient, SpotifyError, SEARCH_PAGES};

const ENDPOINT: &str = "/search";

/// For each query, `/search?type=track` pages of 10 (the maximum), following `next` up to
/// `config.search_max_results` results or the 1000 offset cap, in `config.market` when set. `rank`
/// is 1-based across pages.
pub async fn search(
    client: &SpotifyClient,
    config: &SourcesConfig,
    now: DateTime<Utc>,
    user_id: Option<&str>,
) -> Result<Pull, SpotifyError> {
    let observed_at = observed_at(now);
    let max_results = config.search_max_results.min(SEARCH_RESULT_CAP);
    let mut lines = Vec::new();
    let mut truncated = false;
    for q in &config.search_queries {
        let mut query = vec![
            ("q", q.as_str()),
            ("type", "track"),
            ("limit", SEARCH_PAGE_SIZE),
            ("offset", "0"),
        ];
        // Spotify's `next` URLs repeat the query, market included.
        if let Some(market) = &config.market {
            query.push(("market", market.as_str()));
        }
        let mut pager = Pager::new(client, ENDPOINT, &query, SEARCH_PAGES)?.nested("tracks");
        let mut rank = 0u32;
        'pages: while rank < max_results {
            let Some(page) = pager.next_page().await? else {
                break;
            };
            let body: NestedTracks = parse(ENDPOINT, &page.body)?;
            for track in body.tracks.items {
                if rank >= max_results {
                    break 'pages;
                }
                rank += 1;
                if is_null(track) {
                    continue;
                }
                let context = Context {
                    query: Some(q.as_str().into()),
                    rank: Some(rank),
                    ..Context::default()
                };
                lines.push(line(Source::Search, observed_at, user_id, context, track));
            }
        }
        truncated |= pager.stopped_at_offset_cap();
    }
    Ok(Pull {
        source: Source::Search,
        observed_at,
        dates: observed_dates(observed_at, &lines),
        lines,
        changes: StateChanges::default(),
        truncated,
    })
}
