//! The hand-checked history the named queries run on (all times UTC):
//!
//! plays (recently_played), with T1, T2 by Band of Horses, T3 by MGMT, T4 by Bob Dylan:
//!   Thu 2026-10-01 12:00 T4   (outside the 28-day window of the top lists)
//!   Mon 2026-11-16 10:00 T2
//!   Mon 2026-11-23 08:15 T1   (read twice: a duplicate record_key)
//!   Mon 2026-11-23 08:40 T2
//!   Mon 2026-11-23 21:05 T1
//!   Tue 2026-11-24 08:10 T1
//!   Tue 2026-11-24 09:00 a local file
//!   Sun 2026-11-29 23:59 T3   (the latest play: the window is after 2026-11-01 23:59)
//! top_tracks short_term snapshots: 11-13 (T1), 11-20 (T1 1, T2 2, T3 3), 11-27 (T3 1, T1 2, T5 3,
//!   with the T3 entry read twice); medium_term: 11-27 (T1 1). Popularity: T1 60 on 11-20, 64 on
//!   11-27 short_term and 66 medium_term; T3 NULL on 11-20 and 40 on 11-27; the rest NULL.
//! playlist PL1: snapshot S1 read 11-20 (T1, T2, T3), S2 read 11-27 and again 11-28 (T2, T3 moved,
//!   T5, a local file): T5 and the local file added, T1 removed.
//! saved_tracks: T1 saved 11-24, popularity NULL.

use crate::lake::*;

pub const PLAYLIST: &str = "3cEYpjA9oz9GiPac4AsH4n";

pub fn observations() -> Vec<Obs> {
    let dup = play(T1, "2026-11-23T08:15:00.000Z");
    let top_t3 = top(T3, "short_term", 1, "2026-11-27T06:00:00.000Z", Some(40));
    let mut o = vec![
        play(T4, "2026-10-01T12:00:00.000Z"),
        play(T2, "2026-11-16T10:00:00.000Z"),
        dup.clone(),
        dup.copy_observed_at("2026-11-23T09:30:00.000Z"),
        play(T2, "2026-11-23T08:40:00.000Z"),
        play(T1, "2026-11-23T21:05:00.000Z"),
        play(T1, "2026-11-24T08:10:00.000Z"),
        local_play("Demo tape", "2026-11-24T09:00:00.000Z"),
        play(T3, "2026-11-29T23:59:00.000Z"),
        top(T1, "short_term", 1, "2026-11-13T06:00:00.000Z", None),
        top(T1, "short_term", 1, "2026-11-20T06:00:00.000Z", Some(60)),
        top(T2, "short_term", 2, "2026-11-20T06:00:00.000Z", None),
        top(T3, "short_term", 3, "2026-11-20T06:00:00.000Z", None),
        top_t3.clone(),
        top_t3,
        top(T1, "short_term", 2, "2026-11-27T06:00:00.000Z", Some(64)),
        top(T5, "short_term", 3, "2026-11-27T06:00:00.000Z", None),
        top(T1, "medium_term", 1, "2026-11-27T06:00:00.000Z", Some(66)),
        saved(T1, "2026-11-24T12:00:00.000Z", "2026-11-24T12:05:00.000Z"),
    ];
    let s1 = "AAAAA2kxNjMzNjE0ODAw";
    let s2 = "AAAAB5kxNjMzNjk5OTAw";
    for (i, t) in [T1, T2, T3].into_iter().enumerate() {
        o.push(entry(
            t,
            PLAYLIST,
            s1,
            i as i32,
            "2025-03-01T12:00:00.000Z",
            "2026-11-20T07:00:00.000Z",
        ));
    }
    for observed_at in ["2026-11-27T07:00:00.000Z", "2026-11-28T07:00:00.000Z"] {
        o.push(entry(
            T3,
            PLAYLIST,
            s2,
            0,
            "2025-03-01T12:00:00.000Z",
            observed_at,
        ));
        o.push(entry(
            T2,
            PLAYLIST,
            s2,
            1,
            "2025-03-01T12:00:00.000Z",
            observed_at,
        ));
        o.push(entry(
            T5,
            PLAYLIST,
            s2,
            2,
            "2026-11-25T18:30:00.000Z",
            observed_at,
        ));
        o.push(local_entry(
            "Demo tape",
            PLAYLIST,
            s2,
            3,
            "2026-11-26T18:30:00.000Z",
            observed_at,
        ));
    }
    o
}

/// The scenario written as a lake in a fresh temporary folder.
pub fn lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_lake(dir.path(), &observations());
    dir
}
