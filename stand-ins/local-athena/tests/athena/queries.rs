//! Every named query on the scenario lake, against hand-checked rows.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use local_athena::LocalAthena;

use crate::lake::{
    account_play, entry, export_play, local_play, play, top, write_lake, Obs, T1, T2, T3, T4, T5,
};
use crate::scenario;

/// The result as rows of display strings; NULL as "NULL".
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for i in 0..b.num_rows() {
            out.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    out
}

pub fn columns(batches: &[RecordBatch]) -> Vec<String> {
    batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn expect(actual: Vec<Vec<String>>, expected: &[&[&str]]) {
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(actual, expected);
}

async fn run(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    run_on(&scenario::observations(), name).await
}

/// Runs the named query on a fresh lake of `observations`: its columns and rows.
async fn run_on(observations: &[Obs], name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_lake(dir.path(), observations);
    let athena = LocalAthena::open(dir.path()).await.expect("open");
    let batches = athena
        .run_named(name)
        .await
        .unwrap_or_else(|e| panic!("{name}: {}", crate::chain(e)));
    (columns(&batches), rows(&batches))
}

#[tokio::test]
async fn dedupe_view_keeps_one_row_per_record_key_the_first_observed() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let raw = rows(
        &athena
            .query("SELECT count(*), count(DISTINCT record_key) FROM track_observations")
            .await
            .unwrap(),
    );
    // 19 + 3 + 8 observations; the play read twice and the top-list entry read twice repeat a key.
    assert_eq!(raw, vec![vec!["30".to_string(), "28".to_string()]]);
    let dedup = rows(
        &athena
            .query("SELECT count(*), count(DISTINCT record_key) FROM track_observations_dedup")
            .await
            .unwrap(),
    );
    assert_eq!(dedup, vec![vec!["28".to_string(), "28".to_string()]]);
    // Of the copies, the first observed is kept.
    let kept = rows(
        &athena
            .query("SELECT observed_at FROM track_observations_dedup WHERE source = 'recently_played' AND event_at = TIMESTAMP '2026-11-23 08:15:00'")
            .await
            .unwrap(),
    );
    assert_eq!(kept, vec![vec!["2026-11-23T08:20:00Z".to_string()]]);
    // Running the named query itself recreates the view and returns no rows.
    assert!(athena.run_named("dedupe").await.unwrap().is_empty());
}

#[tokio::test]
async fn dedupe_view_has_added_at_and_a_playlist_snapshot_is_one_dt() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    // Playlist entries: event_at (and dt) is the snapshot read, added_at when the entry was added.
    let playlist = rows(
        &athena
            .query(
                "SELECT snapshot_id, dt, count(*), min(added_at), max(added_at) \
                 FROM track_observations_dedup WHERE source = 'playlist' \
                 GROUP BY snapshot_id, dt ORDER BY dt",
            )
            .await
            .unwrap(),
    );
    let (s1, s2) = ("AAAAA2kxNjMzNjE0ODAw", "AAAAB5kxNjMzNjk5OTAw");
    let (first, last) = ("2025-03-01T12:00:00Z", "2026-11-26T18:30:00Z");
    expect(
        playlist,
        &[
            &[s1, "2026-11-20", "3", first, first],
            &[s2, "2026-11-27", "4", first, last],
            &[s2, "2026-11-28", "4", first, last],
        ],
    );
    // Saved tracks: added_at is the save time, as event_at; other sources leave it null.
    let by_source = rows(
        &athena
            .query(
                "SELECT source, count(added_at), count(*) FROM track_observations_dedup \
                 WHERE source <> 'playlist' GROUP BY source ORDER BY source",
            )
            .await
            .unwrap(),
    );
    expect(
        by_source,
        &[
            &["recently_played", "0", "8"],
            &["saved_tracks", "1", "1"],
            &["top_tracks", "0", "8"],
        ],
    );
}

#[tokio::test]
async fn listening_by_hour_buckets_plays_by_utc_weekday_and_hour() {
    let (cols, rows) = run("listening_by_hour").await;
    assert_eq!(
        cols,
        [
            "weekday_number",
            "weekday",
            "hour_of_day",
            "plays",
            "minutes_played"
        ]
    );
    expect(
        rows,
        &[
            &["1", "Monday", "8", "2", "7.0"], // T1 (once, after dedupe) and T2
            &["1", "Monday", "10", "1", "4.0"],
            &["1", "Monday", "21", "1", "3.0"],
            &["2", "Tuesday", "8", "1", "3.0"],
            &["2", "Tuesday", "9", "1", "3.0"], // the local file counts as listening
            &["4", "Thursday", "12", "1", "3.0"],
            &["7", "Sunday", "23", "1", "3.0"],
        ],
    );
}

#[tokio::test]
async fn listening_by_hour_counts_a_play_once_with_its_first_observed_copy() {
    // Two copies of one play that disagree on the duration (the track changed between the two
    // reads). The later copy is written first, so the first one read is not the first observed.
    let first = play(T1, "2026-11-23T08:15:00.000Z");
    let mut later = first.copy_observed_at("2026-11-23T09:30:00.000Z");
    later.record["duration_ms"] = serde_json::json!(600_000);
    let (_, rows) = run_on(&[later, first], "listening_by_hour").await;
    expect(rows, &[&["1", "Monday", "8", "1", "3.0"]]);
}

#[tokio::test]
async fn top_tracks_counts_plays_in_the_28_days_up_to_the_latest_play() {
    let (cols, rows) = run("top_tracks").await;
    assert_eq!(
        cols,
        [
            "rank",
            "track_id",
            "track_name",
            "artist_name",
            "plays",
            "minutes_played",
            "last_played_at"
        ]
    );
    // T4 (2026-10-01) is outside the window; the local file has no track id.
    expect(
        rows,
        &[
            &[
                "1",
                "4uLU6hMCjMI75M1A2tKUQC",
                "Hold On",
                "Band of Horses",
                "3",
                "9.0",
                "2026-11-24T08:10:00Z",
            ],
            &[
                "2",
                "7lQ8MOhq6IN2w8EYcFNSUk",
                "The Funeral",
                "Band of Horses",
                "2",
                "8.0",
                "2026-11-23T08:40:00Z",
            ],
            &[
                "3",
                "2takcwOaAZWiXQijPHIx7B",
                "Time to Pretend",
                "MGMT",
                "1",
                "3.0",
                "2026-11-29T23:59:00Z",
            ],
        ],
    );
}

#[tokio::test]
async fn top_artists_counts_plays_by_primary_artist_in_the_window() {
    let (cols, rows) = run("top_artists").await;
    assert_eq!(
        cols,
        [
            "rank",
            "artist_id",
            "artist_name",
            "plays",
            "distinct_tracks",
            "minutes_played"
        ]
    );
    expect(
        rows,
        &[
            &["1", "0OdUWJ0sBjDrqHygGUXeCF", "Band of Horses", "5", "2", "17.0"],
            &["2", "0SwO7SWeDHJijQ3XNS7xEE", "MGMT", "1", "1", "3.0"],
        ],
    );
}

/// The window ends at the latest play of any kind: a local file played last moves it too, though
/// neither query counts that play (no track id, no artist id).
#[tokio::test]
async fn top_tracks_and_artists_end_the_window_at_the_latest_play_even_of_a_local_file() {
    let observations = [
        play(T1, "2026-11-01T10:00:00.000Z"),
        play(T2, "2026-11-20T10:00:00.000Z"),
        local_play("Demo tape", "2026-12-10T10:00:00.000Z"),
    ];
    // Window (2026-11-12T10:00, 2026-12-10T10:00]: T2 in, T1 out.
    let (_, tracks) = run_on(&observations, "top_tracks").await;
    let tracks: Vec<&str> = tracks.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(tracks, [T2.id]);
    let (_, artists) = run_on(&observations, "top_artists").await;
    assert_eq!(artists.len(), 1, "{artists:?}");
    assert_eq!(artists[0][3], "1", "one play in the window: {artists:?}");
}

#[tokio::test]
async fn new_discoveries_counts_first_plays_per_iso_week() {
    let (cols, rows) = run("new_discoveries").await;
    assert_eq!(
        cols,
        [
            "week_start",
            "iso_year",
            "iso_week",
            "plays",
            "distinct_tracks",
            "new_tracks",
            "new_artists"
        ]
    );
    expect(
        rows,
        &[
            &["2026-09-28", "2026", "40", "1", "1", "1", "1"], // T4, Bob Dylan
            &["2026-11-16", "2026", "47", "1", "1", "1", "1"], // T2, Band of Horses
            // T1, T2, T3 played; T2 and Band of Horses were already known: T1, T3 and MGMT are new.
            &["2026-11-23", "2026", "48", "5", "3", "2", "1"],
        ],
    );
}

#[tokio::test]
async fn new_discoveries_counts_a_play_once_by_its_first_observed_copy() {
    // The copies of the T1 play disagree on its primary artist (changed between the two reads):
    // the first observed names Band of Horses, known since T2's play the week before; the later
    // copy, written first, names an artist never played. Counting the later copy would find a new
    // artist, and counting both two plays.
    let first = play(T1, "2026-11-23T08:15:00.000Z");
    let mut later = first.copy_observed_at("2026-11-23T09:30:00.000Z");
    later.record["primary_artist_id"] = serde_json::json!("1vCWHaC5f2uS3yhpwWbIA6");
    let observations = [play(T2, "2026-11-16T10:00:00.000Z"), later, first];
    let (_, rows) = run_on(&observations, "new_discoveries").await;
    expect(
        rows,
        &[
            &["2026-11-16", "2026", "47", "1", "1", "1", "1"],
            &["2026-11-23", "2026", "48", "1", "1", "1", "0"],
        ],
    );
}

#[tokio::test]
async fn top_list_movement_compares_the_two_latest_snapshots_per_time_range() {
    let (cols, rows) = run("top_list_movement").await;
    assert_eq!(
        cols,
        [
            "time_range",
            "track_uri",
            "track_name",
            "artist_name",
            "rank",
            "previous_rank",
            "rank_change",
            "movement"
        ]
    );
    expect(
        rows,
        &[
            &[
                "medium_term",
                "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
                "Hold On",
                "Band of Horses",
                "1",
                "NULL",
                "NULL",
                "new",
            ],
            &[
                "short_term",
                "spotify:track:2takcwOaAZWiXQijPHIx7B",
                "Time to Pretend",
                "MGMT",
                "1",
                "3",
                "2",
                "up",
            ],
            &[
                "short_term",
                "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
                "Hold On",
                "Band of Horses",
                "2",
                "1",
                "-1",
                "down",
            ],
            &[
                "short_term",
                "spotify:track:0VjIjW4GlUZAMYd2vXMi3b",
                "Blinding Lights",
                "The Weeknd",
                "3",
                "NULL",
                "NULL",
                "new",
            ],
            &[
                "short_term",
                "spotify:track:7lQ8MOhq6IN2w8EYcFNSUk",
                "The Funeral",
                "Band of Horses",
                "NULL",
                "2",
                "NULL",
                "dropped",
            ],
        ],
    );
}

#[tokio::test]
async fn top_list_movement_shows_a_track_listed_twice_once_at_its_best_rank() {
    // A list that shifted between page reads can list a track twice in one snapshot: T1 at 4 and
    // 2 in the latest. One row for T1, at rank 2, beside its previous rank 1.
    let mut observations = scenario::observations();
    observations.push(top(T1, "short_term", 4, "2026-11-27T06:00:00.000Z", None));
    let (_, all) = run_on(&observations, "top_list_movement").await;
    let t1: Vec<Vec<String>> = all
        .into_iter()
        .filter(|r| r[0] == "short_term" && r[2] == "Hold On")
        .collect();
    expect(
        t1,
        &[&[
            "short_term",
            "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
            "Hold On",
            "Band of Horses",
            "2",
            "1",
            "-1",
            "down",
        ]],
    );
}

#[tokio::test]
async fn playlist_churn_finds_added_and_removed_entries_between_snapshots() {
    let (cols, rows) = run("playlist_churn").await;
    assert_eq!(
        cols,
        [
            "playlist_id",
            "snapshot_id",
            "previous_snapshot_id",
            "snapshot_seen_at",
            "change",
            "track_uri",
            "track_name",
            "artist_name"
        ]
    );
    let (pl, s1, s2, seen) = (
        scenario::PLAYLIST,
        "AAAAA2kxNjMzNjE0ODAw",
        "AAAAB5kxNjMzNjk5OTAw",
        "2026-11-27T07:00:00Z",
    );
    // T3 moved from 2 to 0 and T2 stayed: no change; re-reading S2 on 11-28 adds nothing.
    expect(
        rows,
        &[
            &[
                pl,
                s2,
                s1,
                seen,
                "added",
                "spotify:local:Unknown:Demo tape:Demo tape:200",
                "Demo tape",
                "Unknown",
            ],
            &[
                pl,
                s2,
                s1,
                seen,
                "added",
                "spotify:track:0VjIjW4GlUZAMYd2vXMi3b",
                "Blinding Lights",
                "The Weeknd",
            ],
            &[
                pl,
                s2,
                s1,
                seen,
                "removed",
                "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
                "Hold On",
                "Band of Horses",
            ],
        ],
    );
}

#[tokio::test]
async fn playlist_churn_compares_each_snapshot_with_the_one_before_only() {
    // A third snapshot S3, read 11-29: T1 comes back (removed at S2, added again at S3), the
    // local file leaves, T2, T3 and T5 stay. S3 is compared with S2 alone: T1's presence in S1
    // changes nothing, and S2's changes are still listed against S1.
    let mut observations = scenario::observations();
    let (pl, s1, s2, s3) = (
        scenario::PLAYLIST,
        "AAAAA2kxNjMzNjE0ODAw",
        "AAAAB5kxNjMzNjk5OTAw",
        "AAAAC3kxNjM0MDAwMDAw",
    );
    for (i, t) in [T2, T3, T5, T1].into_iter().enumerate() {
        observations.push(entry(
            t,
            pl,
            s3,
            i as i32,
            "2025-03-01T12:00:00.000Z",
            "2026-11-29T07:00:00.000Z",
        ));
    }
    let (_, all) = run_on(&observations, "playlist_churn").await;
    let (at_s2, at_s3) = ("2026-11-27T07:00:00Z", "2026-11-29T07:00:00Z");
    let local = "spotify:local:Unknown:Demo tape:Demo tape:200";
    let (t1, t5) = (
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
        "spotify:track:0VjIjW4GlUZAMYd2vXMi3b",
    );
    expect(
        all,
        &[
            &[pl, s2, s1, at_s2, "added", local, "Demo tape", "Unknown"],
            &[pl, s2, s1, at_s2, "added", t5, "Blinding Lights", "The Weeknd"],
            &[pl, s2, s1, at_s2, "removed", t1, "Hold On", "Band of Horses"],
            &[pl, s3, s2, at_s3, "added", t1, "Hold On", "Band of Horses"],
            &[pl, s3, s2, at_s3, "removed", local, "Demo tape", "Unknown"],
        ],
    );
}

#[tokio::test]
async fn popularity_trend_leaves_out_null_popularity_never_counting_it_as_zero() {
    let (cols, rows) = run("popularity_trend").await;
    assert_eq!(
        cols,
        [
            "track_id",
            "track_name",
            "artist_name",
            "week_start",
            "avg_popularity",
            "min_popularity",
            "max_popularity",
            "observations",
            "change"
        ]
    );
    expect(
        rows,
        &[
            // T3: NULL on 11-20 is no measurement, so its only week is 40 (not (0 + 40) / 2).
            &[
                "2takcwOaAZWiXQijPHIx7B",
                "Time to Pretend",
                "MGMT",
                "2026-11-23",
                "40.0",
                "40",
                "40",
                "1",
                "NULL",
            ],
            // T1: NULL on 11-13 and when saved on 11-24 are left out.
            &[
                "4uLU6hMCjMI75M1A2tKUQC",
                "Hold On",
                "Band of Horses",
                "2026-11-16",
                "60.0",
                "60",
                "60",
                "1",
                "NULL",
            ],
            &[
                "4uLU6hMCjMI75M1A2tKUQC",
                "Hold On",
                "Band of Horses",
                "2026-11-23",
                "65.0",
                "64",
                "66",
                "2",
                "5.0",
            ],
        ],
    );
}

#[tokio::test]
async fn popularity_trend_counts_an_observation_once_by_its_first_copy_with_a_value() {
    // A play of T4 read three times: first without popularity, then with 30 (twice, the second
    // copy a resent batch). It is one measurement, of 30, in the week of the copy that carried it.
    let first = play(T4, "2026-11-25T10:00:00.000Z");
    let mut measured = first.copy_observed_at("2026-12-01T09:00:00.000Z");
    measured.record["popularity"] = serde_json::json!(30);
    let resent = measured.copy_observed_at("2026-12-02T09:00:00.000Z");
    let mut observations = scenario::observations();
    observations.extend([first, measured, resent]);
    let (_, all) = run_on(&observations, "popularity_trend").await;
    let t4: Vec<Vec<String>> = all.into_iter().filter(|r| r[0] == T4.id).collect();
    expect(
        t4,
        &[&[
            T4.id,
            T4.name,
            T4.artist_name,
            "2026-11-30",
            "30.0",
            "30",
            "30",
            "1",
            "NULL",
        ]],
    );
}

#[tokio::test]
async fn every_built_in_named_query_runs_on_the_scenario() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    for q in athena.queries() {
        athena
            .run_named(&q.name)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.name));
    }
    assert_eq!(athena.queries().len(), 13);
}

/// Athena runs a named query only when a user does, so in a fresh stack the view of `dedupe`
/// does not exist. Every other named query must run on a lake that has only the table, and
/// answer there exactly what it answers next to the view.
#[tokio::test]
async fn every_named_query_runs_without_the_views_and_answers_the_same() {
    let lake = scenario::lake();
    let with_views = LocalAthena::open(lake.path()).await.expect("open");
    let queries: Vec<_> = local_athena::built_in_queries()
        .into_iter()
        .filter(|q| !q.is_view())
        .collect();
    assert!(queries.len() >= 7, "{queries:?}");
    let table_only = LocalAthena::open_with_queries(lake.path(), queries.clone())
        .await
        .expect("open without views");
    assert!(
        table_only
            .query("SELECT count(*) FROM track_observations_dedup")
            .await
            .is_err(),
        "the view must not exist in this engine"
    );
    for q in &queries {
        let alone = table_only
            .run_named(&q.name)
            .await
            .unwrap_or_else(|e| panic!("{} needs something only a view creates: {e}", q.name));
        let beside = with_views.run_named(&q.name).await.unwrap();
        assert_eq!(rows(&alone), rows(&beside), "{}", q.name);
    }
}

/// Plays and minutes over every row of listening_by_hour: what the play rule leaves.
async fn plays_and_minutes(observations: &[Obs]) -> (u64, f64) {
    let (_, rows) = run_on(observations, "listening_by_hour").await;
    rows.iter().fold((0, 0.0), |(p, m), r| {
        (p + r[3].parse::<u64>().unwrap(), m + r[4].parse::<f64>().unwrap())
    })
}

/// An export play of T1 that ended at 10:10:00 after 2 minutes: its window for a Web API play is
/// 10:07:00 (start minus 60 s) to 10:11:00 (end plus 60 s). T1 lasts 3 minutes.
fn exported_t1() -> Obs {
    export_play(T1, "2026-11-23T10:10:00.000Z", 120_000)
}

#[tokio::test]
async fn a_web_api_play_inside_the_export_window_is_the_same_play() {
    // Inside each edge: one play, of the export's 2 minutes played (the export play is kept).
    for played_at in ["2026-11-23T10:10:59.000Z", "2026-11-23T10:07:00.000Z"] {
        let got = plays_and_minutes(&[exported_t1(), play(T1, played_at)]).await;
        assert_eq!(got, (1, 2.0), "played_at {played_at}");
    }
    // Outside each edge: two plays, the Web API one counting T1's 3 minutes.
    for played_at in ["2026-11-23T10:11:01.000Z", "2026-11-23T10:06:59.000Z"] {
        let got = plays_and_minutes(&[exported_t1(), play(T1, played_at)]).await;
        assert_eq!(got, (2, 5.0), "played_at {played_at}");
    }
    // Another track in the window is another play.
    let got = plays_and_minutes(&[exported_t1(), play(T2, "2026-11-23T10:10:00.000Z")]).await;
    assert_eq!(got, (2, 6.0));
}

#[tokio::test]
async fn a_track_on_repeat_pairs_one_to_one() {
    // T1 three times in a row, each export play 3 minutes, ending 10:03, 10:06, 10:09.
    let exported = [
        export_play(T1, "2026-11-23T10:03:00.000Z", 180_000),
        export_play(T1, "2026-11-23T10:06:00.000Z", 180_000),
        export_play(T1, "2026-11-23T10:09:00.000Z", 180_000),
    ];
    // The Web API listing each play at its start: 10:03 lies in the windows of the plays ending
    // at 10:03 and at 10:06 (and is nearest the first's end); pairing in time order gives each its
    // own export play.
    let at_start = ["10:00:00", "10:03:00", "10:06:00"];
    // ... or at its end.
    let at_end = ["10:03:00", "10:06:00", "10:09:00"];
    for times in [at_start, at_end] {
        let mut lake = exported.to_vec();
        lake.extend(times.map(|t| play(T1, &format!("2026-11-23T{t}.000Z"))));
        assert_eq!(plays_and_minutes(&lake).await, (3, 9.0), "{times:?}");
    }
    // Two Web API plays in the window of one export play: the export play takes one, the other
    // stays a play of its own.
    let lake = [
        export_play(T1, "2026-11-23T10:03:00.000Z", 180_000),
        play(T1, "2026-11-23T10:00:00.000Z"),
        play(T1, "2026-11-23T10:02:00.000Z"),
    ];
    assert_eq!(plays_and_minutes(&lake).await, (2, 6.0));
}

#[tokio::test]
async fn copies_of_a_play_in_both_sources_count_once() {
    let exported = exported_t1();
    let listed = play(T1, "2026-11-23T10:09:00.000Z");
    let lake = [
        exported.clone(),
        exported.copy_observed_at("2026-11-24T10:00:00.000Z"),
        listed.clone(),
        listed.copy_observed_at("2026-11-23T11:00:00.000Z"),
    ];
    assert_eq!(plays_and_minutes(&lake).await, (1, 2.0));
    // Copies of plays without a twin: each play once.
    let alone = play(T2, "2026-11-23T12:00:00.000Z");
    let lake = [
        exported.clone(),
        exported.copy_observed_at("2026-11-24T10:00:00.000Z"),
        alone.clone(),
        alone.copy_observed_at("2026-11-23T13:00:00.000Z"),
    ];
    assert_eq!(plays_and_minutes(&lake).await, (2, 6.0));
}

#[tokio::test]
async fn an_account_data_play_matches_on_track_and_artist_names() {
    // Account data has no track id: T2 by name, ended 12:04 after 4 minutes.
    let account = account_play(T2, "2026-11-23T12:04:00.000Z", 240_000);
    let got = plays_and_minutes(&[account.clone(), play(T2, "2026-11-23T12:00:30.000Z")]).await;
    assert_eq!(got, (1, 4.0));
    // T1 by the same artist at the same time is another play.
    let got = plays_and_minutes(&[account.clone(), play(T1, "2026-11-23T12:00:30.000Z")]).await;
    assert_eq!(got, (2, 7.0));
    // Outside the window, two plays.
    let got = plays_and_minutes(&[account, play(T2, "2026-11-23T12:05:01.000Z")]).await;
    assert_eq!(got, (2, 8.0));
}

/// Plays of both sources: T1 twice on repeat (each seen by both), T2 in the account data and the
/// Web API, T3 only through the Web API, T4 only in the export (a 30-second play).
fn both_sources() -> Vec<Obs> {
    vec![
        export_play(T1, "2026-11-23T10:03:00.000Z", 180_000),
        play(T1, "2026-11-23T10:00:00.000Z"),
        export_play(T1, "2026-11-23T10:06:00.000Z", 180_000),
        play(T1, "2026-11-23T10:03:00.000Z"),
        account_play(T2, "2026-11-24T12:04:00.000Z", 240_000),
        play(T2, "2026-11-24T12:00:30.000Z"),
        play(T3, "2026-11-25T09:00:00.000Z"),
        export_play(T4, "2026-11-26T09:03:00.000Z", 30_000),
    ]
}

#[tokio::test]
async fn listening_by_hour_counts_a_play_of_both_sources_once() {
    let (_, rows) = run_on(&both_sources(), "listening_by_hour").await;
    expect(
        rows,
        &[
            &["1", "Monday", "10", "2", "6.0"],
            &["2", "Tuesday", "12", "1", "4.0"],
            &["3", "Wednesday", "9", "1", "3.0"], // Web API only: T3's duration
            &["4", "Thursday", "9", "1", "0.5"],  // the 30 seconds played
        ],
    );
}

#[tokio::test]
async fn top_tracks_counts_a_play_of_both_sources_once() {
    let (_, rows) = run_on(&both_sources(), "top_tracks").await;
    // T2's account-data play takes the id of its Web API twin.
    expect(
        rows,
        &[
            &[
                "1",
                T1.id,
                T1.name,
                T1.artist_name,
                "2",
                "6.0",
                "2026-11-23T10:06:00Z",
            ],
            &[
                "2",
                T4.id,
                T4.name,
                T4.artist_name,
                "1",
                "0.5",
                "2026-11-26T09:03:00Z",
            ],
            &[
                "2",
                T2.id,
                T2.name,
                T2.artist_name,
                "1",
                "4.0",
                "2026-11-24T12:04:00Z",
            ],
            &[
                "2",
                T3.id,
                T3.name,
                T3.artist_name,
                "1",
                "3.0",
                "2026-11-25T09:00:00Z",
            ],
        ],
    );
}

#[tokio::test]
async fn top_artists_counts_a_play_of_both_sources_once_by_name_without_an_id() {
    let (_, rows) = run_on(&both_sources(), "top_artists").await;
    // Bob Dylan is known only from the export, which carries no artist id: counted by name.
    expect(
        rows,
        &[
            &["1", T1.artist_id, "Band of Horses", "3", "2", "10.0"],
            &["2", "NULL", "Bob Dylan", "1", "1", "0.5"],
            &["2", T3.artist_id, "MGMT", "1", "1", "3.0"],
        ],
    );
}

#[tokio::test]
async fn new_discoveries_counts_a_play_of_both_sources_once() {
    let (_, rows) = run_on(&both_sources(), "new_discoveries").await;
    expect(rows, &[&["2026-11-23", "2026", "48", "5", "4", "4", "3"]]);
}

#[tokio::test]
async fn listening_time_sums_the_time_played_per_day_and_week_flagging_web_api_estimates() {
    let (cols, rows) = run_on(&both_sources(), "listening_time").await;
    assert_eq!(
        cols,
        [
            "period",
            "period_start",
            "iso_year",
            "iso_week",
            "plays",
            "minutes_played",
            "estimated_plays",
            "estimated_minutes"
        ]
    );
    expect(
        rows,
        &[
            &["day", "2026-11-23", "2026", "48", "2", "6.0", "0", "0.0"],
            &["day", "2026-11-24", "2026", "48", "1", "4.0", "0", "0.0"],
            // T3 is known only from the Web API: its 3 minutes are the track's duration.
            &["day", "2026-11-25", "2026", "48", "1", "3.0", "1", "3.0"],
            &["day", "2026-11-26", "2026", "48", "1", "0.5", "0", "0.0"],
            &["week", "2026-11-23", "2026", "48", "5", "13.5", "1", "3.0"],
        ],
    );
}

#[tokio::test]
async fn skip_rate_counts_the_plays_whose_skip_is_known_by_hour_and_platform() {
    let mut lake = both_sources();
    // T4's export play: skipped, on a phone.
    let t4 = lake.iter_mut().find(|o| o.record["track_id"] == T4.id).unwrap();
    t4.record["skipped"] = serde_json::json!(true);
    t4.record["platform"] = serde_json::json!("android");
    let (cols, rows) = run_on(&lake, "skip_rate").await;
    assert_eq!(
        cols,
        [
            "dimension",
            "hour_of_day",
            "platform",
            "plays",
            "skips",
            "skip_rate"
        ]
    );
    // The two T1 export plays (their Web API twins once) and T4; T2 (account data) and T3 (Web
    // API) do not say.
    expect(
        rows,
        &[
            &["hour", "9", "NULL", "1", "1", "1.0"],
            &["hour", "10", "NULL", "2", "0", "0.0"],
            &["platform", "NULL", "android", "1", "1", "1.0"],
            &["platform", "NULL", "windows", "2", "0", "0.0"],
        ],
    );
}

#[tokio::test]
async fn completion_rate_judges_by_duration_where_known_else_by_reason_end() {
    let mut lake = both_sources();
    let mut t1 = lake
        .iter_mut()
        .filter(|o| o.source == "streaming_history" && o.record["track_id"] == T1.id);
    // 180 of 200 seconds: exactly 90%, complete.
    t1.next().unwrap().record["duration_ms"] = serde_json::json!(200_000);
    // 180 of 200.001 seconds: under 90%, incomplete though the export says "trackdone".
    t1.next().unwrap().record["duration_ms"] = serde_json::json!(200_001);
    let t4 = lake.iter_mut().find(|o| o.record["track_id"] == T4.id).unwrap();
    t4.record["reason_end"] = serde_json::json!("fwdbtn");
    let (cols, rows) = run_on(&lake, "completion_rate").await;
    assert_eq!(
        cols,
        [
            "week_start",
            "iso_year",
            "iso_week",
            "plays",
            "completed",
            "completion_rate",
            "by_duration",
            "by_reason_end",
            "unknown_plays"
        ]
    );
    // T2 (account data, no duration, no reason) and T3 (Web API) are unknown.
    expect(
        rows,
        &[&["2026-11-23", "2026", "48", "3", "1", "0.333", "2", "1", "2"]],
    );
}

#[tokio::test]
async fn listening_sessions_split_at_gaps_over_30_minutes() {
    let mut lake = both_sources();
    lake.extend([
        // Starts 10:36:00, 30 minutes after T1's second play ended at 10:06: the same session.
        export_play(T5, "2026-11-23T10:37:00.000Z", 60_000),
        // Starts 11:07:01, 30 minutes and 1 second after 10:37: a new session.
        export_play(T5, "2026-11-23T11:08:01.000Z", 60_000),
    ]);
    let (cols, rows) = run_on(&lake, "listening_sessions").await;
    assert_eq!(
        cols,
        [
            "week_start",
            "iso_year",
            "iso_week",
            "sessions",
            "plays",
            "avg_session_minutes",
            "longest_session_minutes"
        ]
    );
    // Sessions: 10:00-10:37 (37 min, 3 plays; the Web API twins once), 11:07:01-11:08:01 (1),
    // T2 12:00-12:04 (4), T3 from 09:00 for its duration (3), T4's 30 seconds (0.5).
    expect(rows, &[&["2026-11-23", "2026", "48", "5", "7", "9.1", "37.0"]]);
}

#[tokio::test]
async fn first_listens_names_each_artists_first_play_by_name_without_an_id() {
    let (cols, rows) = run_on(&both_sources(), "first_listens").await;
    assert_eq!(
        cols,
        [
            "artist_id",
            "artist_name",
            "first_played_at",
            "first_track_name",
            "first_track_id",
            "plays"
        ]
    );
    expect(
        rows,
        &[
            // The export play kept for the 10:00 Web API play: its event_at is when it ended.
            &[
                T1.artist_id,
                "Band of Horses",
                "2026-11-23T10:03:00Z",
                T1.name,
                T1.id,
                "3",
            ],
            &[T3.artist_id, "MGMT", "2026-11-25T09:00:00Z", T3.name, T3.id, "1"],
            // Known only from the export: no artist id.
            &["NULL", "Bob Dylan", "2026-11-26T09:03:00Z", T4.name, T4.id, "1"],
        ],
    );
}

#[tokio::test]
async fn a_play_in_both_export_packages_counts_once_as_the_extended_one() {
    // The account data writes the end to the minute: 10:10 for the extended history's 10:10:42.
    let extended = export_play(T1, "2026-11-23T10:10:42.000Z", 120_000);
    let account = account_play(T1, "2026-11-23T10:10:00.000Z", 120_000);
    let (_, rows) = run_on(&[account.clone(), extended.clone()], "skip_rate").await;
    // One play, the extended one (the account data has no skip flag or platform).
    expect(
        rows,
        &[
            &["hour", "10", "NULL", "1", "0", "0.0"],
            &["platform", "NULL", "windows", "1", "0", "0.0"],
        ],
    );
    assert_eq!(
        plays_and_minutes(&[account.clone(), extended.clone()]).await,
        (1, 2.0)
    );
    // With its Web API twin too: still one play.
    let listed = play(T1, "2026-11-23T10:08:42.000Z");
    assert_eq!(
        plays_and_minutes(&[account.clone(), extended.clone(), listed]).await,
        (1, 2.0)
    );
    // Another time played, or more than a minute apart: two plays.
    let longer = account_play(T1, "2026-11-23T10:10:00.000Z", 121_000);
    assert_eq!(plays_and_minutes(&[longer, extended.clone()]).await, (2, 4.0));
    let later = account_play(T1, "2026-11-23T10:11:43.000Z", 120_000);
    assert_eq!(plays_and_minutes(&[later, extended]).await, (2, 4.0));
}
