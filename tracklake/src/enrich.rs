//! `tracklake enrich`: fills in what imported plays lack (duration, album, artist ids; for
//! account-data plays also the track id) from Spotify's catalog, within a request budget per run
//! (docs/privacy-exports.md#filling-in-what-an-export-lacks). The lookups, the cache and the fill
//! are `history_import::enrich`; this module makes the requests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

pub use crate::import::Target;
use history_import::enrich::{self, best_match, CatalogTrack, Filled, ImportedPlays, Lookup, TrackCache};
use schemas::Timestamp;
use spotify_client::{SpotifyClient, SpotifyError, SEARCH_PAGES};

/// Requests one run may make when `--budget` is not given. Development-mode apps have reported
/// daily quotas of about 1,400 to 2,300 requests (docs/privacy-exports.md#filling-in-what-an-export-lacks):
/// a run of 500 leaves the producer its share of the day.
pub const DEFAULT_BUDGET: u32 = 500;

#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// Config file, as for `run`: the Spotify app (or none: the local Spotify sandbox) and the
    /// lake folder.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The lake folder (the one holding processed/). Default: the configured lake, ./lake. With
    /// --target aws, the track cache is still kept in its state/ folder, on this machine.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Whose imported plays to fill in: the local lake's, or those `tracklake import --target
    /// aws` wrote into the deployed stack's bucket.
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,
    /// With --target aws: the deployed stack's bucket, reached with the AWS SDK configuration
    /// (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3).
    #[arg(long, value_name = "BUCKET", required_if_eq("target", "aws"))]
    pub bucket: Option<String>,
    /// Endpoint of an S3-compatible store holding --bucket (addressed path-style).
    #[arg(long, value_name = "URL", requires = "bucket")]
    pub s3_endpoint: Option<String>,
    /// Spotify requests this run may make, token requests included. The tracks left wait for
    /// the next run; the answers so far are kept.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BUDGET, value_parser = clap::value_parser!(u32).range(1..))]
    pub budget: u32,
}

/// Why enrichment stopped before its end with an error (the plays filled so far are kept).
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("cannot read or write the imported plays: nothing was lost; fix the cause and run again")]
    Plays(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Cache(#[from] enrich::CacheError),
    #[error(
        "Spotify refused a lookup: the answers before it are kept and filled in; fix the cause and run again"
    )]
    Spotify(#[source] SpotifyError),
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Enriched {
    /// Lookups answered by this run, and how many of them found the track.
    pub asked: usize,
    pub found: usize,
    /// Lookups still unanswered, and the plays they would fill.
    pub remaining: usize,
    pub remaining_plays: usize,
    pub filled: Filled,
    /// What ended the lookups early without an error: the budget, or Spotify's limits.
    pub stopped: Option<SpotifyError>,
}

/// Looks up what the lake's imported plays need, most played first, until the client's budget
/// or Spotify's limits stop it, then fills the plays from every answer known (this run's and
/// earlier runs'). A Spotify error that is not a limit stops the lookups too: the answers before
/// it are still filled in, then the error is returned.
pub async fn enrich<P: ImportedPlays>(
    client: &SpotifyClient,
    plays: &mut P,
    state: &Path,
    market: Option<&str>,
) -> Result<Enriched, EnrichError> {
    let plays_error = |e: P::Error| EnrichError::Plays(Box::new(e));
    let mut cache = TrackCache::open(state)?;
    // Reading and rewriting the files is blocking work (the bucket's own requests run on the
    // runtime's other threads).
    let needed = tokio::task::block_in_place(|| enrich::lookups_needed(plays)).map_err(plays_error)?;
    let todo: Vec<(Lookup, usize)> = needed
        .into_iter()
        .filter(|(lookup, _)| !cache.knows(lookup))
        .collect();
    let mut done = Enriched::default();
    let mut failed = None;
    for (i, (lookup, _)) in todo.iter().enumerate() {
        match look_up(client, lookup, market).await {
            Ok(track) => {
                done.asked += 1;
                done.found += usize::from(track.is_some());
                cache.record(lookup, track)?;
            }
            Err(e) => {
                done.remaining = todo.len() - i;
                done.remaining_plays = todo[i..].iter().map(|(_, plays)| plays).sum();
                if e.ends_run_cleanly() {
                    done.stopped = Some(e);
                } else {
                    failed = Some(e);
                }
                break;
            }
        }
    }
    done.filled = tokio::task::block_in_place(|| enrich::fill_plays(plays, &cache)).map_err(plays_error)?;
    match failed {
        Some(e) => Err(EnrichError::Spotify(e)),
        None => Ok(done),
    }
}

/// The catalog's answer to one lookup: the track, or `None` when the catalog has no such track.
async fn look_up(
    client: &SpotifyClient,
    lookup: &Lookup,
    market: Option<&str>,
) -> Result<Option<CatalogTrack>, SpotifyError> {
    let mut query: Vec<(&str, &str)> = market.map(|m| ("market", m)).into_iter().collect();
    match lookup {
        // Spotify ids are base62; anything else (a file edited by hand) would change the path.
        Lookup::Id(id) if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(None),
        Lookup::Id(id) => match client.get_json(&format!("/tracks/{id}"), &query).await {
            Ok(track) => Ok(catalog_track(&track)),
            // Removed from the catalog (404), or not an id Spotify knows (400 "Invalid base62 id").
            Err(SpotifyError::Api {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        },
        Lookup::Names { artist, track } => {
            let text = lookup.search_query().expect("a lookup by names has a query");
            let limit = SEARCH_PAGES.max_limit.to_string();
            query.extend([("q", text.as_str()), ("type", "track"), ("limit", limit.as_str())]);
            let page = client.get_json("/search", &query).await?;
            let results: Vec<CatalogTrack> = page["tracks"]["items"]
                .as_array()
                .map(|items| items.iter().filter_map(catalog_track).collect())
                .unwrap_or_default();
            Ok(best_match(&results, artist, track).cloned())
        }
    }
}

/// A Spotify track object as the catalog columns of the record: made by the transform itself
/// (as a `search` observation), so an enriched play's columns mean what a streamed one's do.
/// `None` for what the transform would not keep (an episode, a track without its required fields).
fn catalog_track(spotify: &serde_json::Value) -> Option<CatalogTrack> {
    let envelope = serde_json::json!({
        "v": schemas::ENVELOPE_VERSION,
        "source": "search",
        "observed_at": Timestamp::now().to_string(),
        "context": {"query": "tracklake enrich", "rank": 1},
        "spotify": spotify,
    });
    let bytes = serde_json::to_vec(&envelope).ok()?;
    match firehose_transform::normalize::normalize_bytes(&bytes) {
        Ok(firehose_transform::normalize::Verdict::Keep(record, _)) => Some(CatalogTrack::from(*record)),
        _ => None,
    }
}

/// What the run did, for the terminal.
pub fn render(done: &Enriched, state: &Path, requests: u32) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "looked up {} tracks in Spotify's catalog ({} found, {} not found) with {requests} requests",
        done.asked,
        done.found,
        done.asked - done.found
    )
    .unwrap();
    writeln!(
        out,
        "filled in {} imported plays in {} partition files",
        done.filled.plays, done.filled.files
    )
    .unwrap();
    let cache = state.join(enrich::CACHE_FILE);
    if done.remaining > 0 {
        let when = done
            .stopped
            .as_ref()
            .and_then(SpotifyError::not_before)
            .map(|t| format!(" after {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        writeln!(
            out,
            "still to look up: {} tracks ({} plays); run `tracklake enrich` again{when} to go on \
             (the answers so far are kept in {})",
            done.remaining,
            done.remaining_plays,
            cache.display()
        )
        .unwrap();
    } else {
        writeln!(
            out,
            "every imported track has been looked up (answers kept in {})",
            cache.display()
        )
        .unwrap();
    }
    match &done.stopped {
        Some(SpotifyError::BudgetExhausted { budget }) => writeln!(
            out,
            "stopped: this run's budget of {budget} requests (--budget) is spent"
        )
        .unwrap(),
        Some(why) => writeln!(out, "stopped: {why}").unwrap(),
        None => {}
    }
    out
}
