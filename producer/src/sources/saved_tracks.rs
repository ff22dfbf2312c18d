//! `saved_tracks`: the user's library, newest first, read only down to the last delivered save,
//! plus a first import ("backfill") spread over runs a bounded number of UTC dates at a time.
//!
//! Why spread it: Firehose partitions each record by `source` and `dt`, the UTC date of its event
//! time, which for a saved track is `added_at`. A library saved over years spans hundreds or
//! thousands of dates, while a Firehose stream holds at most 500 active partitions per buffer
//! window by default; records past that go to the error output as `activePartitionExceeded`
//! (docs/firehose.md#dynamic-partitioning). So one run sends at most [`SAVED_TRACKS_DATES_PER_RUN`]
//! distinct dates of saves, fewer when the partitions opened in the last buffer window leave less
//! room ([`crate::pacing`], which also holds the backfill back entirely when they leave none),
//! always every save of a date together, and remembers in
//! [`State::saved_tracks_backfill_before`] where the older, not yet delivered saves begin.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use schemas::{Context, Source, Timestamp};

use super::{is_null, line, observed_at, parse, EntryTimes, Items, Pull, StateChanges, LIST_PAGE_SIZE};
use crate::state::State;
use spotify_client::{Pager, SpotifyClient, SpotifyError, LIST_PAGES};

const ENDPOINT: &str = "/me/tracks";

/// The most distinct UTC dates (`dt` partitions) that one run's saved-tracks lines span.
///
/// A run's share of the active partition quota (500 per delivery stream by default,
/// docs/firehose.md#dynamic-partitioning): a fifth, so that a first import of a large library
/// goes at a steady pace and one run's partitions are a small part of the window's. What keeps
/// runs in quick succession within the quota is not this bound but the pacing over the buffer
/// window ([`crate::pacing`]): a run only opens as many dates as the partitions opened within the
/// last window leave room for under the budget, and none once it is spent. A first import of a
/// library saved on 668 dates takes 7 runs or more, and waits for a window to pass after every fourth run
/// when they come faster than that.
pub const SAVED_TRACKS_DATES_PER_RUN: usize = 100;

/// Where an entry of `/me/tracks` stands relative to what earlier runs delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// Newer than the watermark: saved since the last run.
    New,
    /// Between the backfill bound and the watermark: delivered by an earlier run.
    Delivered,
    /// Older than the backfill bound (or any save on a first run): not delivered yet.
    Backfill,
}

/// Saved tracks added after `state.saved_tracks_watermark`, plus, while a backfill is pending
/// (a first run, or `state.saved_tracks_backfill_before` set), older saves within the run's date
/// budget of [`SAVED_TRACKS_DATES_PER_RUN`].
///
/// `/me/tracks` lists newest first. Without a pending backfill the walk stops at the first
/// `added_at` at or before the watermark: a routine run costs one request however large the
/// library. With one it walks on past the range already delivered (`[backfill_before,
/// watermark]`, skipped) to the older saves, and stops at a UTC-date boundary once the lines span
/// the budget's dates. From the second backfill run on it does not walk the delivered range page
/// by page: it jumps from the range's first entry over the count of entries the last run left
/// in it (`saved_tracks_backfill_skip`), checks that it landed on a delivered entry, and steps
/// back if saves were removed since. So a run's requests stay near the pages it sends, however
/// large the library (walking the range used to spend a run's whole request budget once the
/// range passed about 24,000 saves, and the backfill never finished). The state changes it
/// returns:
/// - the watermark becomes the newest `added_at` sent;
/// - `saved_tracks_backfill_before` becomes the midnight of the oldest date sent when the walk
///   stopped early (or was cut by the page cap), and is cleared when it reached the end of the list;
/// - `saved_tracks_backfill_skip` becomes the count of entries from the newest delivered to the
///   first save left for later, and is cleared with the backfill.
///
/// New saves come before the backfill. Should they span more dates than the budget (the producer
/// was off for months), only their oldest budget's dates are sent and the watermark moves to the
/// newest of those, so that the delivered range stays one contiguous interval; the next runs take
/// the rest, then resume the backfill.
///
/// Saves whose `added_at` is missing or unreadable are sent with the entries around them (the
/// transform rejects them visibly) and count no date: they open no partition.
pub async fn saved_tracks(
    client: &SpotifyClient,
    state: &State,
    now: DateTime<Utc>,
    user_id: Option<&str>,
) -> Result<Pull, SpotifyError> {
    saved_tracks_within(client, state, now, user_id, SAVED_TRACKS_DATES_PER_RUN).await
}

/// [`saved_tracks`] within `date_budget` distinct dates (at least 1, at most
/// [`SAVED_TRACKS_DATES_PER_RUN`]): what the run passes when the partitions opened in the last
/// buffer window leave less room than a full run's dates ([`crate::pacing`]).
pub async fn saved_tracks_within(
    client: &SpotifyClient,
    state: &State,
    now: DateTime<Utc>,
    user_id: Option<&str>,
    date_budget: usize,
) -> Result<Pull, SpotifyError> {
    let date_budget = date_budget.clamp(1, SAVED_TRACKS_DATES_PER_RUN);
    let observed_at = observed_at(now);
    let watermark = state.saved_tracks_watermark;
    // A first run (no watermark) is a backfill of everything.
    let backfill_pending = watermark.is_none() || state.saved_tracks_backfill_before.is_some();
    let region = |at: Timestamp| match (watermark, state.saved_tracks_backfill_before) {
        (None, _) => Region::Backfill,
        (Some(mark), _) if at > mark => Region::New,
        (Some(_), Some(before)) if at < before => Region::Backfill,
        (Some(_), _) => Region::Delivered,
    };

    // The delivered range's entries, to jump over on the way to the backfill (see `Jump`).
    let skip = state
        .saved_tracks_backfill_skip
        .filter(|_| backfill_pending && watermark.is_some());
    let mut pager = pager_at(client, 0)?;
    // New saves, newest first.
    let mut new: Vec<NewSave> = Vec::new();
    let mut new_dates: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut backfill = Backfill::default();
    let mut current = Region::New;
    // Whether the walk saw the whole rest of the list (so nothing older is left undelivered).
    let mut reached_end = true;
    // The list position of the first delivered entry, and of the first save the backfill had
    // no room for.
    let (mut delivered_from, mut left_at) = (None::<u64>, None::<u64>);
    let mut jump = Jump::default();
    'pages: while let Some(page) = pager.next_page().await? {
        let items: Items = parse(ENDPOINT, &page.body)?;
        for (index, saved) in items.items.into_iter().enumerate() {
            let position = page.offset + index as u64;
            if is_null(saved) {
                continue;
            }
            let added_at = EntryTimes::read(ENDPOINT, saved)?.1;
            // An entry without a time belongs where the entries around it do.
            if let Some(at) = added_at {
                current = region(at);
            } else if watermark.is_none() {
                current = Region::Backfill;
            }
            if jump.checking && added_at.is_some() {
                jump.checking = false;
                if current == Region::Backfill && jump.to > delivered_from.unwrap_or(0) {
                    // Landed past the start of the backfill (saves were removed from the
                    // delivered range since): step back and look again.
                    pager = pager_at(client, jump.back(page.limit, delivered_from))?;
                    continue 'pages;
                }
            }
            let date = added_at.map(|at| at.datetime().date_naive());
            match current {
                Region::New => {
                    new_dates.extend(date);
                    new.push(NewSave {
                        position,
                        date,
                        at: added_at,
                        line: line_of(observed_at, user_id, saved),
                    });
                }
                Region::Delivered if !backfill_pending => break 'pages,
                Region::Delivered => {
                    let first = delivered_from.is_none();
                    delivered_from.get_or_insert(position);
                    // Nothing older fits once the new saves used the whole budget.
                    if new_dates.len() >= date_budget {
                        reached_end = false;
                        break 'pages;
                    }
                    // Jump to the entry before where the backfill should begin: it must still
                    // be a delivered one, which the check above makes sure of.
                    let to = skip.map(|skip| position + skip.saturating_sub(1));
                    if let Some(to) = to.filter(|&to| first && to > position + 1) {
                        jump = Jump {
                            to,
                            step: 0,
                            checking: true,
                        };
                        pager = pager_at(client, to)?;
                        continue 'pages;
                    }
                }
                Region::Backfill => {
                    let budget = date_budget.saturating_sub(new_dates.len());
                    if !backfill.take(date, added_at, budget) {
                        reached_end = false;
                        left_at = Some(position);
                        break 'pages;
                    }
                    backfill.first_position.get_or_insert(position);
                    backfill.lines.push(line_of(observed_at, user_id, saved));
                }
            }
        }
        if jump.checking && page.items == 0 && jump.to > delivered_from.unwrap_or(0) {
            // Landed past the end of the list: step back too.
            pager = pager_at(client, jump.back(page.limit, delivered_from))?;
        }
    }
    if pager.stopped_at_offset_cap() {
        reached_end = false;
    }

    let mut lines = Vec::with_capacity(new.len() + backfill.lines.len());
    if new_dates.len() > date_budget {
        // Keep the oldest budget's dates of the new saves (the end of the list, newest first),
        // and the undated entries listed among them.
        let cut = *new_dates
            .iter()
            .nth(date_budget - 1)
            .expect("more dates than the budget");
        let first_kept = new
            .iter()
            .position(|save| save.date.is_some_and(|d| d <= cut))
            .unwrap_or(new.len());
        let mut index = 0;
        new.retain(|save| {
            index += 1;
            save.date.map_or(index > first_kept, |d| d <= cut)
        });
    }
    // Where the delivered range will begin once this run's lines are delivered: at the newest
    // save sent, or where it began.
    let delivered_start = [
        new.first().map(|save| save.position),
        delivered_from,
        backfill.first_position,
    ]
    .into_iter()
    .flatten()
    .min();
    let mut dates: BTreeSet<NaiveDate> = new.iter().filter_map(|save| save.date).collect();
    dates.extend(backfill.dates.iter().copied());
    let mut newest = watermark;
    for save in new {
        if let Some(at) = save.at {
            newest = Some(newest.map_or(at, |n| n.max(at)));
        }
        lines.push(save.line);
    }
    if let Some(at) = backfill.newest {
        newest = Some(newest.map_or(at, |n| n.max(at)));
    }
    lines.append(&mut backfill.lines);

    let backfill_before = if !backfill_pending {
        state.saved_tracks_backfill_before
    } else if reached_end {
        None
    } else if let Some(oldest) = backfill.oldest_date {
        Some(midnight(oldest))
    } else {
        state.saved_tracks_backfill_before
    };
    // The delivered range's entries after this run: up to the first save left for later, or,
    // when the walk ended before the backfill, the range as it was plus what was added on top.
    let backfill_skip = match (backfill_before, delivered_start) {
        (None, _) | (_, None) => None,
        (Some(_), Some(start)) => match left_at {
            Some(left) => Some(left.saturating_sub(start)),
            None => delivered_from
                .zip(skip)
                .map(|(from, skip)| (from + skip).saturating_sub(start)),
        },
    };
    Ok(Pull {
        source: Source::SavedTracks,
        observed_at,
        lines,
        dates,
        changes: StateChanges {
            saved_tracks_watermark: newest.filter(|n| Some(*n) != watermark),
            saved_tracks_backfill_before: (backfill_before != state.saved_tracks_backfill_before)
                .then_some(backfill_before),
            saved_tracks_backfill_skip: (backfill_skip != state.saved_tracks_backfill_skip)
                .then_some(backfill_skip),
            ..StateChanges::default()
        },
        truncated: false,
    })
}

/// What a run says while a backfill is pending: why the library is not complete yet.
pub fn backfill_note(state: &State) -> Option<String> {
    state.saved_tracks_backfill_before.map(|before| {
        format!(
            "library backfill pending: saves added before {} are not delivered yet; each run sends \
             at most {SAVED_TRACKS_DATES_PER_RUN} dates of them, fewer when recent runs opened many \
             partitions (Firehose's default limit is 500 active partitions), so the next runs continue",
            before.utc_date()
        )
    })
}

/// A save newer than the watermark.
#[derive(Debug)]
struct NewSave {
    /// Where it sits in the list this run read.
    position: u64,
    /// Its UTC date (`None`: no readable `added_at`).
    date: Option<NaiveDate>,
    at: Option<Timestamp>,
    line: Vec<u8>,
}

/// The older saves a run takes, within its date budget.
#[derive(Debug, Default)]
struct Backfill {
    lines: Vec<Vec<u8>>,
    /// The list position of the first save taken.
    first_position: Option<u64>,
    /// The distinct dates taken.
    dates: BTreeSet<NaiveDate>,
    /// The date of the last dated entry taken: the oldest, as the list runs newest first.
    oldest_date: Option<NaiveDate>,
    newest: Option<Timestamp>,
}

impl Backfill {
    /// Whether the entry dated `date` fits in `budget` dates: the dates taken so far, or a new one
    /// while the budget lasts.
    fn take(&mut self, date: Option<NaiveDate>, at: Option<Timestamp>, budget: usize) -> bool {
        if let Some(date) = date {
            if self.oldest_date != Some(date) {
                if self.dates.len() >= budget {
                    return false;
                }
                self.dates.insert(date);
                self.oldest_date = Some(date);
            }
        }
        if let Some(at) = at {
            self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
        }
        true
    }
}

/// A jump over the delivered range (`State::saved_tracks_backfill_skip`): where to, and whether
/// the first dated entry there is still to be checked. It must be a delivered one; a save still
/// to send there means the jump went too far, and the walk steps back `step`, doubling, to look
/// again, down to the start of the delivered range at worst.
#[derive(Debug, Default)]
struct Jump {
    to: u64,
    step: u64,
    checking: bool,
}

impl Jump {
    /// The next place to look, `step` further back than the last (at least a page), but not
    /// before `delivered_from`; the first dated entry there is checked again.
    fn back(&mut self, page: u64, delivered_from: Option<u64>) -> u64 {
        self.step = (self.step * 2).max(page.max(1));
        self.to = self.to.saturating_sub(self.step).max(delivered_from.unwrap_or(0));
        self.checking = true;
        self.to
    }
}

/// A walk of `/me/tracks` from the page that starts at `offset`.
fn pager_at(client: &SpotifyClient, offset: u64) -> Result<Pager<'_>, SpotifyError> {
    let offset = offset.to_string();
    Pager::new(
        client,
        ENDPOINT,
        &[("limit", LIST_PAGE_SIZE), ("offset", &offset)],
        LIST_PAGES,
    )
}

fn midnight(date: NaiveDate) -> Timestamp {
    Timestamp::from_datetime(date.and_time(chrono::NaiveTime::MIN).and_utc())
        .expect("the date of a valid timestamp has a valid midnight")
}

fn line_of(observed_at: Timestamp, user_id: Option<&str>, saved: &serde_json::value::RawValue) -> Vec<u8> {
    line(
        Source::SavedTracks,
        observed_at,
        user_id,
        Context::default(),
        saved,
    )
}
