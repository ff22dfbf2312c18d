//! Pacing of `dt` partitions, so that the producer's own sending never pushes records into
//! Firehose's `activePartitionExceeded` error output, however close together runs come.
//!
//! Firehose partitions each record by `source` and `dt` (the UTC date of its event time) and keeps
//! at most 500 partitions active per delivery stream by default (docs/firehose.md#dynamic-partitioning).
//! A partition stays active until its buffer is delivered: up to the processor's buffering interval
//! (the record waits for the transformation batch) plus the output's buffering interval after
//! its first record, both from `schemas/delivery.json`. A bound per run alone cannot hold that
//! limit: runs in quick succession (manual runs, a loop, a standalone local Firehose that keeps its
//! buffers for the full interval) add up within one buffer window.
//!
//! So the producer remembers in its state ([`crate::state::State::opened_partitions`]) each
//! partition it sent records to and when, and a run only opens new partitions while the
//! partitions opened within the last [`PacingConfig::window`] stay under
//! [`PacingConfig::partition_budget`]. Only the library backfill of `saved_tracks` (hundreds of
//! dates) is held back; the other sources open a date or two per run (recently played: the dates
//! of plays newer than its cursor; top tracks, playlists, search: the run's date) and always run,
//! which is what the room between the budget and the quota is for. Their partitions count too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use schemas::Source;
use serde::{Deserialize, Serialize};

/// Firehose's default quota of active partitions per delivery stream (the "active partitions"
/// quota of Amazon Data Firehose dynamic partitioning, docs/firehose.md#dynamic-partitioning);
/// records that would open one more go to the error output as `activePartitionExceeded`.
pub const ACTIVE_PARTITION_QUOTA: usize = 500;

/// The partitions the producer lets itself keep active before it holds the backfill back: the
/// quota less 100, the room for the sources that always run. Recently played opens at most 50
/// dates (one page of plays, only on a first run spread over many days), top tracks, playlists
/// and search one each, so one run of them stays well within it.
pub const DEFAULT_PARTITION_BUDGET: usize = ACTIVE_PARTITION_QUOTA - 100;

/// Added to the buffering intervals: the time between the producer's clock reading and the
/// record's arrival, and a partition buffer's delivery after its interval ran out.
pub const PACING_MARGIN: Duration = Duration::from_secs(60);

/// How long a partition the producer sent records to may stay active in Firehose: the
/// processor's buffering interval plus the output's buffering interval from
/// `schemas/delivery.json`, plus [`PACING_MARGIN`]. 60 s + 300 s + 60 s = 7 minutes.
pub fn default_window() -> Duration {
    let settings = schemas::delivery::settings();
    Duration::from_secs(
        u64::from(settings.processor_buffering.interval_seconds)
            + u64::from(settings.buffering.interval_seconds),
    ) + PACING_MARGIN
}

/// How many `dt` partitions the producer may keep active, and for how long one counts as active.
/// Deserializable from the config file (`[sources.pacing]`); unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Partitions opened within the window above which the backfill waits for a later run.
    /// Default [`DEFAULT_PARTITION_BUDGET`]; with a raised Firehose quota it can be raised too,
    /// keeping 100 below the quota.
    pub partition_budget: usize,
    /// Seconds a partition counts as active after a record was sent to it. Default
    /// [`default_window`]; a stream with other buffering intervals needs its own.
    pub window_secs: u64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            partition_budget: DEFAULT_PARTITION_BUDGET,
            window_secs: default_window().as_secs(),
        }
    }
}

impl PacingConfig {
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    fn window_delta(&self) -> TimeDelta {
        TimeDelta::from_std(self.window()).unwrap_or(TimeDelta::MAX)
    }

    /// Whether a partition last sent to at `sent` may still be active at `now`. A time in the
    /// future (a clock that went backwards) counts as active: pausing is the safe side.
    fn is_active(&self, sent: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        sent > now || now.signed_duration_since(sent) < self.window_delta()
    }

    /// The partitions in `opened` that may still be active at `now`.
    pub fn active(&self, opened: &BTreeMap<String, DateTime<Utc>>, now: DateTime<Utc>) -> usize {
        opened.values().filter(|sent| self.is_active(**sent, now)).count()
    }

    /// New partitions the producer may still open at `now`.
    pub fn room(&self, opened: &BTreeMap<String, DateTime<Utc>>, now: DateTime<Utc>) -> usize {
        self.partition_budget.saturating_sub(self.active(opened, now))
    }

    /// Drops the partitions no longer active at `now`, so the state holds at most a window's worth.
    pub fn forget_inactive(&self, opened: &mut BTreeMap<String, DateTime<Utc>>, now: DateTime<Utc>) {
        opened.retain(|_, sent| self.is_active(*sent, now));
    }

    /// What a run says when the budget held the backfill back.
    pub fn paused_note(&self, active: usize) -> String {
        format!(
            "backfill paused: {active} dt partitions opened in the last {} s, the pacing budget is {} \
             (Firehose's default quota is {ACTIVE_PARTITION_QUOTA} active partitions; more would go \
             to the error output as activePartitionExceeded); a run after the window continues",
            self.window_secs, self.partition_budget
        )
    }
}

/// The partition of records of `source` dated `date`, as Firehose's processed prefix names it.
pub fn partition_key(source: Source, date: NaiveDate) -> String {
    format!("source={}/dt={date}", source.as_str())
}

/// Records that `source` sent records dated `dates` at `sent`.
pub fn record(
    opened: &mut BTreeMap<String, DateTime<Utc>>,
    source: Source,
    dates: &BTreeSet<NaiveDate>,
    sent: DateTime<Utc>,
) {
    for date in dates {
        opened.insert(partition_key(source, *date), sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn the_default_window_covers_both_buffering_intervals_and_the_margin() {
        assert_eq!(default_window(), Duration::from_secs(60 + 300 + 60));
    }

    #[test]
    fn partitions_count_while_within_the_window_and_are_forgotten_after() {
        let pacing = PacingConfig {
            partition_budget: 3,
            window_secs: 100,
        };
        let mut opened = BTreeMap::new();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        record(
            &mut opened,
            Source::SavedTracks,
            &BTreeSet::from([day(1), day(2)]),
            at(0),
        );
        record(
            &mut opened,
            Source::RecentlyPlayed,
            &BTreeSet::from([day(2)]),
            at(50),
        );
        assert_eq!(pacing.active(&opened, at(60)), 3);
        assert_eq!(pacing.room(&opened, at(60)), 0);
        // Sent again later: the later time counts.
        record(
            &mut opened,
            Source::SavedTracks,
            &BTreeSet::from([day(1)]),
            at(90),
        );
        assert_eq!(
            pacing.active(&opened, at(120)),
            2,
            "day 2 of saved tracks expired"
        );
        assert_eq!(pacing.room(&opened, at(120)), 1);
        // A clock that went backwards keeps everything active.
        assert_eq!(pacing.active(&opened, at(-10)), 3);
        pacing.forget_inactive(&mut opened, at(160));
        assert_eq!(
            opened.keys().collect::<Vec<_>>(),
            ["source=saved_tracks/dt=2026-01-01"]
        );
    }
}
