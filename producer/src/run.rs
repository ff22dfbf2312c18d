//! One producer run: load the state, pull every due source, send its lines to Firehose, move the
//! state only past what Firehose accepted, save the state. Both entrypoints (the `tracklake` CLI
//! and the Lambda) call [`run_once`] and decide their exit status from [`RunReport::exit_ok`].
//!
//! Rules:
//! - before the persisted not-before time no request is made at all;
//! - a source's watermark and last-success time move only when every one of its lines was
//!   delivered: a failure means the next run pulls the same records again (duplicates, same
//!   `record_key`), never a gap;
//! - a rate limit, spent quota or spent request budget ends the run cleanly: what earlier sources
//!   pulled is already delivered, the not-before time is persisted, the run is not an error;
//! - the state is saved with the version loaded, so an overlapping run is detected, not
//!   overwritten;
//! - the library backfill opens `dt` partitions only while those opened within the last buffer
//!   window stay under the pacing budget ([`crate::pacing`]): otherwise `saved_tracks` waits for
//!   a later run ([`SourceOutcome::Paused`]), which is not an error;
//! - with client credentials (no refresh token) the user's sources are skipped with a reason
//!   ([`SourceOutcome::Skipped`]) and `/me` is never called; search still runs, given a market
//!   (without one it is skipped too, [`NEEDS_MARKET`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemas::Source;

use crate::logging::error_chain;
use crate::pacing;
use crate::sink::{FirehoseSink, SinkError};
use crate::sources::{self, SourcesConfig, SAVED_TRACKS_DATES_PER_RUN};
use crate::state::{RunSummary, StateError, StateStore};
use spotify_client::{Credentials, EndpointStats, SpotifyClient, SpotifyError};

/// The order sources run in. Recently played first: Spotify keeps only the last 50 plays
/// (docs/spotify-web-api.md#recently-played), so it is the one source whose records are lost for
/// good if a quota stops the run before it. Then the cheap ones (a page or two per run) before the
/// ones that can cost many requests (playlist items, search), so that a budget or quota hit costs
/// the least data.
pub const RUN_ORDER: [Source; 5] = [
    Source::RecentlyPlayed,
    Source::SavedTracks,
    Source::TopTracks,
    Source::Playlist,
    Source::Search,
];

/// What became of one enabled source in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceOutcome {
    /// Its minimum interval has not passed since its last success: not called.
    NotDue,
    /// Pulled, and every line delivered: its state moved on.
    Delivered,
    /// Pulled, but some lines were rejected or failed: its state stayed, the next run pulls again.
    Undelivered,
    /// The pull failed (see `error`): nothing sent, its state stayed.
    PullFailed,
    /// Due, but the run stopped (quota, rate limit, budget, a fatal sink error) before it.
    NotReached,
    /// Needs the user's authorization, but the client has client credentials only (no refresh
    /// token): not called, `error` says why. Not a failure: the catalog sources still run.
    Skipped,
    /// `saved_tracks` only: the `dt` partitions opened within the last buffer window leave no
    /// room under the pacing budget ([`crate::pacing`]), so it waits for a later run; `note`
    /// says how many. Not a failure: nothing was pulled, its state stayed.
    Paused,
}

/// One source's part of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub source: Source,
    pub outcome: SourceOutcome,
    /// Lines pulled from Spotify.
    pub pulled: usize,
    /// Lines Firehose accepted.
    pub delivered: usize,
    /// Re-sends after partial failures (a line sent three times counts two).
    pub resent: usize,
    /// Lines never sent (over Firehose's record size limit).
    pub rejected: usize,
    /// Lines not accepted within the sink's attempts.
    pub failed: usize,
    /// `search`: some query stopped at Spotify's offset cap.
    pub truncated: bool,
    /// Why the pull failed, why lines went undelivered, or why the source was skipped. Error
    /// messages only, never a secret.
    pub error: Option<String>,
    /// Not an error, but worth telling: `saved_tracks` says here that the first import of the
    /// library is still spread over the coming runs ([`sources::backfill_note`]), whatever the
    /// source's outcome in this run.
    pub note: Option<String>,
}

impl SourceReport {
    /// A source's report before anything is counted.
    pub fn new(source: Source, outcome: SourceOutcome) -> Self {
        SourceReport {
            source,
            outcome,
            pulled: 0,
            delivered: 0,
            resent: 0,
            rejected: 0,
            failed: 0,
            truncated: false,
            error: None,
            note: None,
        }
    }
}

/// Why a run did not complete as a run: the state could not be loaded or saved, or Firehose
/// refused in a way that no retry fixes.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    LoadState(StateError),

    #[error(
        "another producer run overlapped this one and saved the state {location} first, so this run's \
         state was not saved. Nothing is lost: the state only moves after Firehose accepted the records, \
         so the next run pulls this run's records again (duplicates with the same record_key, no gaps). \
         Make sure only one schedule or CLI loop runs the producer"
    )]
    Conflict { location: String },

    #[error(transparent)]
    SaveState(StateError),

    #[error("the delivery to Firehose stopped; the remaining sources were not pulled")]
    Sink(#[source] SinkError),
}

/// Why a user source is skipped under client credentials (shown in the report and logged once).
pub const NEEDS_USER_AUTHORIZATION: &str =
    "skipped: this source reads the user's own data (/me/...), which app-only client credentials \
     cannot see; run `tracklake auth` once to store a refresh token (the Lambda reads it from the \
     secret's `refresh_token`), or disable the source. Catalog sources (search) still run";

/// Why search is skipped under client credentials without a market (shown in the report).
pub const NEEDS_MARKET: &str =
    "skipped: with app-only client credentials Spotify counts every search result as unavailable \
     unless the request names a market; set `market` in [sources] of tracklake.toml (the Lambda: \
     TRACKLAKE_MARKET) to an ISO 3166-1 alpha-2 code such as US";

/// Totals over every source of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub pulled: usize,
    pub delivered: usize,
    pub resent: usize,
    pub rejected: usize,
    pub failed: usize,
    /// HTTP requests to Spotify, token requests and retries included.
    pub requests: u32,
    pub retries: u32,
    pub waits: u32,
}

/// What one run did.
#[derive(Debug)]
pub struct RunReport {
    pub started_at: DateTime<Utc>,
    /// Set when the run made no request because the persisted not-before time lies ahead: the
    /// next run may start at this time.
    pub deferred_until: Option<DateTime<Utc>>,
    /// Every enabled source, in [`RUN_ORDER`].
    pub sources: Vec<SourceReport>,
    /// Spotify requests per normalized endpoint, with their retries and waits.
    pub requests: BTreeMap<String, EndpointStats>,
    pub totals: RunTotals,
    /// The not-before time this run persisted (a long rate limit or a spent quota).
    pub not_before: Option<DateTime<Utc>>,
    /// Why the run stopped pulling early though it ended normally (rate limit, quota, budget).
    pub stopped_early: Option<String>,
    /// The run stopped because Spotify kept failing (5xx or timeouts past the retry limit).
    /// Unlike a rate limit or a spent quota, that is not a normal operating condition: the run
    /// is not ok, so a lasting outage shows as failing runs rather than quiet, empty ones.
    pub spotify_unavailable: bool,
    /// Spotify refused the refresh token: nothing that needs the user works until someone runs
    /// `tracklake auth` again.
    pub reauthorization_required: bool,
    /// The run's own failure, if it had one.
    pub error: Option<RunError>,
}

impl RunReport {
    fn new(started_at: DateTime<Utc>) -> Self {
        RunReport {
            started_at,
            deferred_until: None,
            sources: Vec::new(),
            requests: BTreeMap::new(),
            totals: RunTotals::default(),
            not_before: None,
            stopped_early: None,
            spotify_unavailable: false,
            reauthorization_required: false,
            error: None,
        }
    }

    /// Whether the run may count as a success: no record rejected or failed, no source broken and
    /// no run error. Stopping early for a quota or rate limit is normal operation and stays ok, and
    /// so does a user source skipped under client credentials (a configuration, warned about).
    /// A pull error (other than those) makes it false too: a source that fails on every run, for
    /// example after the refresh token expired, would otherwise pass unnoticed run after run.
    pub fn exit_ok(&self) -> bool {
        self.error.is_none()
            && self.totals.rejected == 0
            && self.totals.failed == 0
            && !self.reauthorization_required
            && !self.spotify_unavailable
            && !self
                .sources
                .iter()
                .any(|s| s.outcome == SourceOutcome::PullFailed)
    }

    /// Why the library backfill waited for a later run (the partition pacing), if it did.
    pub fn backfill_paused(&self) -> Option<String> {
        self.source(Source::SavedTracks)
            .filter(|s| s.outcome == SourceOutcome::Paused)
            .and_then(|s| s.note.clone())
    }

    /// Why the run could do nothing at all, for the CLI's report and the Lambda's summary: the
    /// persisted not-before lies ahead. Expected pacing, not a failure: the run is still ok.
    pub fn idle_reason(&self) -> Option<String> {
        self.deferred_until.map(|until| {
            format!(
                "nothing to do until {}: Spotify asked for a pause (a long rate limit or a spent \
                 quota, kept in the state as not-before), so this run made no request; runs after \
                 that time resume",
                until.to_rfc3339()
            )
        })
    }

    /// The report of one source, if it is enabled.
    pub fn source(&self, source: Source) -> Option<&SourceReport> {
        self.sources.iter().find(|s| s.source == source)
    }

    fn summary(&self, finished_at: DateTime<Utc>) -> RunSummary {
        RunSummary {
            started_at: Some(self.started_at),
            finished_at: Some(finished_at),
            records: self
                .sources
                .iter()
                .filter(|s| s.outcome != SourceOutcome::NotDue)
                .map(|s| (s.source, s.pulled))
                .collect(),
            delivered: self.totals.delivered,
            undelivered: self.totals.rejected + self.totals.failed,
            stopped_early: self.stopped_early.clone().or_else(|| {
                self.reauthorization_required
                    .then(|| "Spotify refused the refresh token; run `tracklake auth` again".to_string())
            }),
            backfill_paused: self.backfill_paused(),
        }
    }

    fn finish(&mut self, client: &SpotifyClient) {
        self.requests = client.stats();
        let mut totals = RunTotals {
            requests: client.requests_sent(),
            ..RunTotals::default()
        };
        for s in &self.sources {
            totals.pulled += s.pulled;
            totals.delivered += s.delivered;
            totals.resent += s.resent;
            totals.rejected += s.rejected;
            totals.failed += s.failed;
        }
        for stats in self.requests.values() {
            totals.retries += stats.retries;
            totals.waits += stats.waits;
        }
        self.totals = totals;
    }
}

/// Runs every due source once. `now` decides which sources are due and stamps the lines'
/// `observed_at`; pass `Utc::now()` outside tests.
///
/// The report's request counters are the client's counters since it was built, and the client's
/// request budget is spent across its lifetime: give each run a fresh [`SpotifyClient`].
pub async fn run_once<S: StateStore>(
    client: &SpotifyClient,
    sink: &FirehoseSink,
    store: &S,
    config: &SourcesConfig,
    now: DateTime<Utc>,
) -> RunReport {
    let mut report = RunReport::new(now);
    let (mut state, loaded) = match store.load().await {
        Ok(loaded) => loaded,
        Err(e) => {
            report.error = Some(RunError::LoadState(e));
            return report;
        }
    };
    if let Some(not_before) = state.not_before.filter(|nb| now < *nb) {
        tracing::info!(%not_before, "Spotify asked for a pause; this run makes no request");
        report.deferred_until = Some(not_before);
        return report;
    }
    // The pause is over; a new one is set below if Spotify asks again.
    state.not_before = None;
    // Pacing reads the real clock, not `now`: the time records reach Firehose, whatever time the
    // run observes at (the sandbox's clock may be pinned).
    let pacing_config = &config.pacing;
    pacing_config.forget_inactive(&mut state.opened_partitions, Utc::now());

    let due: Vec<Source> = RUN_ORDER
        .into_iter()
        .filter(|s| config.is_due(*s, &state, now))
        .collect();
    let mut stop: Option<SpotifyError> = None;
    let mut user_id = None;
    let mut user_error = None;
    // Client credentials see only the public catalog: `/me` and everything under it would answer
    // 401/403. Skip those sources with a reason instead of failing them on every run.
    let user_access = matches!(client.config().credentials, Credentials::RefreshToken { .. });
    if !user_access && due.iter().any(|s| *s != Source::Search) {
        tracing::warn!(
            sources = %due.iter().filter(|s| **s != Source::Search).map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            "{NEEDS_USER_AUTHORIZATION}"
        );
    }
    if user_access && due.iter().any(|s| *s != Source::Search) {
        match sources::current_user_id(client).await {
            Ok(id) => user_id = Some(id),
            Err(e) if e.ends_run_cleanly() => stop = Some(e),
            Err(e) => user_error = Some(e),
        }
    }

    for source in RUN_ORDER.into_iter().filter(|s| config.enabled.contains(s)) {
        if !due.contains(&source) {
            report
                .sources
                .push(SourceReport::new(source, SourceOutcome::NotDue));
            continue;
        }
        if stop.is_some() || report.error.is_some() {
            report
                .sources
                .push(SourceReport::new(source, SourceOutcome::NotReached));
            continue;
        }
        if !user_access && source != Source::Search {
            let mut entry = SourceReport::new(source, SourceOutcome::Skipped);
            entry.error = Some(NEEDS_USER_AUTHORIZATION.to_string());
            report.sources.push(entry);
            continue;
        }
        if !user_access && source == Source::Search && config.market.is_none() {
            let mut entry = SourceReport::new(source, SourceOutcome::Skipped);
            entry.error = Some(NEEDS_MARKET.to_string());
            report.sources.push(entry);
            continue;
        }
        let mut entry = SourceReport::new(source, SourceOutcome::PullFailed);
        if source != Source::Search {
            if let Some(e) = &user_error {
                // Without the user's id the user's sources fail the same way; say so on each.
                entry.error = Some(format!("could not read the user (GET /me): {e}"));
                report.reauthorization_required |= e.needs_reauthorization();
                report.sources.push(entry);
                continue;
            }
        }
        let mut saved_tracks_dates = SAVED_TRACKS_DATES_PER_RUN;
        if source == Source::SavedTracks {
            let clock = Utc::now();
            let room = pacing_config.room(&state.opened_partitions, clock);
            if room == 0 {
                let active = pacing_config.active(&state.opened_partitions, clock);
                let note = pacing_config.paused_note(active);
                tracing::info!(source = source.as_str(), "{note}");
                entry.outcome = SourceOutcome::Paused;
                entry.note = Some(note);
                report.sources.push(entry);
                continue;
            }
            saved_tracks_dates = room.min(SAVED_TRACKS_DATES_PER_RUN);
        }
        // Search reads the public catalog: its lines carry no user, whichever sources ran with it.
        let user = if source == Source::Search {
            None
        } else {
            user_id.as_deref()
        };
        let pull = match sources::pull(source, client, config, &state, now, user, saved_tracks_dates).await {
            Ok(pull) => pull,
            Err(e) if e.ends_run_cleanly() => {
                // Quota, long rate limit or spent budget: every further request would be refused
                // too. Earlier sources are already delivered; end normally.
                entry.outcome = SourceOutcome::NotReached;
                entry.error = Some(e.to_string());
                report.sources.push(entry);
                stop = Some(e);
                continue;
            }
            Err(e) => {
                // One broken source (a 403 on a playlist, a malformed page) must not starve the
                // others: each source has its own state, so the rest can still move on.
                tracing::warn!(source = source.as_str(), error = %e, "pull failed; continuing with the next source");
                report.reauthorization_required |= e.needs_reauthorization();
                entry.error = Some(e.to_string());
                report.sources.push(entry);
                continue;
            }
        };
        entry.pulled = pull.lines.len();
        entry.truncated = pull.truncated;
        let sent = if pull.lines.is_empty() {
            None
        } else {
            Some(sink.send_all(pull.lines).await)
        };
        let all_delivered = sent.as_ref().is_none_or(|r| r.all_delivered());
        if sent.is_some() {
            // Whether or not Firehose took every line, those it took opened their partitions.
            pacing::record(&mut state.opened_partitions, source, &pull.dates, Utc::now());
        }
        if let Some(sent) = sent {
            entry.delivered = sent.delivered;
            entry.resent = sent.resent;
            entry.rejected = sent.rejected.len();
            entry.failed = sent.failed.len();
            if let Some(first) = sent.failed.first() {
                entry.error = Some(format!(
                    "{} of {} records not delivered after retries (first: {} {}); the next run pulls them again",
                    sent.failed.len(),
                    sent.given,
                    first.error_code,
                    first.error_message
                ));
            } else if let Some(first) = sent.rejected.first() {
                entry.error = Some(format!(
                    "{} of {} records rejected (first: {})",
                    sent.rejected.len(),
                    sent.given,
                    first.reason
                ));
            }
            if let Some(fatal) = sent.fatal {
                // Stream missing, access denied: every further source would fail the same way,
                // after spending Spotify requests on it.
                report.error = Some(RunError::Sink(fatal));
            }
        }
        if all_delivered {
            entry.outcome = SourceOutcome::Delivered;
            pull.changes.apply(&mut state);
            state.last_success.insert(source, now);
        } else {
            entry.outcome = SourceOutcome::Undelivered;
        }
        report.sources.push(entry);
    }

    // Said after the pulls, from the state this run saves: it holds whether or not the source ran.
    if let Some(note) = sources::backfill_note(&state) {
        if let Some(entry) = report
            .sources
            .iter_mut()
            .find(|s| s.source == Source::SavedTracks)
        {
            tracing::info!(source = Source::SavedTracks.as_str(), "{note}");
            // A pause says why first; the pending backfill follows.
            entry.note = Some(match entry.note.take() {
                Some(paused) => format!("{paused}. {note}"),
                None => note,
            });
        }
    }

    if let Some(e) = stop {
        tracing::warn!(error = %e, "ending the run early");
        report.not_before = e.not_before();
        state.not_before = e.not_before();
        report.stopped_early = Some(e.to_string());
        report.spotify_unavailable = matches!(e, SpotifyError::RetriesExhausted { .. });
    }
    report.finish(client);
    state.last_run = Some(report.summary(Utc::now()));
    if let Err(e) = store.save(&state, &loaded).await {
        let e = match e {
            StateError::Conflict { location } => RunError::Conflict { location },
            e => RunError::SaveState(e),
        };
        // A sink error may already stand; keep it and log this one, so neither goes unseen.
        match &report.error {
            None => report.error = Some(e),
            Some(_) => tracing::error!(error = %error_chain(&e), "could not save the producer state"),
        }
    }
    report
}
