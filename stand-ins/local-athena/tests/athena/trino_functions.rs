//! Each Trino UDF against the results Trino gives (https://trino.io/docs/current/functions/datetime.html).

use local_athena::LocalAthena;

use crate::lake::{play, write_lake, T1, T2};
use crate::queries::rows;

async fn athena() -> (tempfile::TempDir, LocalAthena) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("processed")).unwrap();
    let athena = LocalAthena::open(dir.path()).await.expect("open");
    (dir, athena)
}

/// Evaluates each expression and compares its display text with what Trino returns.
async fn check(cases: &[(&str, &str)]) {
    let (_dir, athena) = athena().await;
    for (expr, expected) in cases {
        let r = athena
            .query(&format!("SELECT {expr}"))
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(rows(&r), vec![vec![expected.to_string()]], "{expr}");
    }
}

#[tokio::test]
async fn field_extraction_matches_trino() {
    check(&[
        ("day_of_week(DATE '2026-11-23')", "1"), // Monday, ISO
        ("day_of_week(DATE '2026-11-29')", "7"), // Sunday
        ("dow(TIMESTAMP '2026-11-25 23:59:59')", "3"),
        ("hour(TIMESTAMP '2026-11-23 21:05:00')", "21"),
        ("minute(TIMESTAMP '2026-11-23 21:05:00')", "5"),
        ("second(TIMESTAMP '2026-11-23 21:05:07.250')", "7"),
        ("millisecond(TIMESTAMP '2026-11-23 21:05:07.250')", "250"),
        ("year(DATE '2026-11-23')", "2026"),
        ("quarter(DATE '2026-11-23')", "4"),
        ("month(DATE '2026-11-23')", "11"),
        ("day(DATE '2026-11-23')", "23"),
        ("day_of_month(DATE '2026-11-23')", "23"),
        ("day_of_year(DATE '2026-02-01')", "32"),
        ("doy(DATE '2024-12-31')", "366"),
        // ISO weeks: 2021-01-03 (Sunday) belongs to week 53 of 2020; 2024-12-30 to week 1 of 2025.
        ("week_of_year(DATE '2021-01-03')", "53"),
        ("week(DATE '2021-01-03')", "53"),
        ("year_of_week(DATE '2021-01-03')", "2020"),
        ("week_of_year(DATE '2024-12-30')", "1"),
        ("yow(DATE '2024-12-30')", "2025"),
        ("week_of_year(DATE '2026-11-23')", "48"),
        ("hour(CAST(NULL AS TIMESTAMP))", "NULL"),
    ])
    .await;
}

#[tokio::test]
async fn field_functions_work_on_columns_of_the_lake_type() {
    let (_dir, athena) = athena().await;
    let r = athena
        .query(
            "SELECT day_of_week(t), hour(t) FROM (VALUES (from_iso8601_timestamp('2026-11-23T08:15:00Z')), \
             (from_iso8601_timestamp('2026-11-29T23:59:00Z')), (NULL)) AS v(t) ORDER BY t NULLS LAST",
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&r),
        vec![vec!["1", "8"], vec!["7", "23"], vec!["NULL", "NULL"]]
    );
}

#[tokio::test]
async fn date_format_uses_mysql_letters_like_trino() {
    check(&[
        ("date_format(TIMESTAMP '2026-11-23 08:05:09.123', '%W')", "Monday"),
        (
            "date_format(TIMESTAMP '2026-11-23 08:05:09.123', '%a %b %e')",
            "Mon Nov 23",
        ),
        (
            "date_format(TIMESTAMP '2026-11-23 08:05:09.123', '%Y-%m-%d %H:%i:%s')",
            "2026-11-23 08:05:09",
        ),
        ("date_format(TIMESTAMP '2026-11-23 08:05:09.123', '%f')", "123000"),
        (
            "date_format(TIMESTAMP '2026-11-23 20:05:09', '%r')",
            "08:05:09 PM",
        ),
        (
            "date_format(TIMESTAMP '2026-11-23 00:05:09', '%h %l %p')",
            "12 12 AM",
        ),
        (
            "date_format(TIMESTAMP '2026-11-23 20:05:09', '%T %k')",
            "20:05:09 20",
        ),
        (
            "date_format(DATE '2026-11-01', '%D %M %y %j %c')",
            "1st November 26 305 11",
        ),
        ("date_format(DATE '2026-11-12', '%D')", "12th"),
        ("date_format(DATE '2021-01-03', '%x-W%v')", "2020-W53"),
        ("date_format(DATE '2026-11-23', '100%%')", "100%"),
    ])
    .await;
}

#[tokio::test]
async fn date_format_rejects_letters_trino_rejects() {
    let (_dir, athena) = athena().await;
    let err = athena
        .query("SELECT date_format(DATE '2026-11-23', '%U')")
        .await
        .map_err(crate::chain)
        .unwrap_err();
    assert!(err.contains("%U is not supported"), "{err}");
}

#[tokio::test]
async fn date_diff_matches_trino() {
    check(&[
        ("date_diff('day', DATE '2026-11-01', DATE '2026-11-23')", "22"),
        (
            "date_diff('day', TIMESTAMP '2026-11-23 23:00:00', TIMESTAMP '2026-11-24 22:59:59')",
            "0",
        ),
        (
            "date_diff('hour', TIMESTAMP '2026-11-23 08:00:00', TIMESTAMP '2026-11-23 05:30:00')",
            "-2",
        ),
        ("date_diff('week', DATE '2026-11-01', DATE '2026-11-23')", "3"),
        (
            "date_diff('second', TIMESTAMP '2026-11-23 08:00:00', TIMESTAMP '2026-11-23 08:01:30.5')",
            "90",
        ),
        (
            "date_diff('millisecond', TIMESTAMP '2026-11-23 08:00:00', TIMESTAMP '2026-11-23 08:00:01.5')",
            "1500",
        ),
        // Calendar months count once the day of month is reached, or the month's last day.
        ("date_diff('month', DATE '2026-01-31', DATE '2026-02-28')", "1"),
        ("date_diff('month', DATE '2026-01-31', DATE '2026-02-27')", "0"),
        (
            "date_diff('month', TIMESTAMP '2026-01-15 10:00:00', TIMESTAMP '2026-02-15 09:59:59')",
            "0",
        ),
        ("date_diff('month', DATE '2026-01-15', DATE '2026-03-15')", "2"),
        ("date_diff('month', DATE '2026-03-15', DATE '2026-01-16')", "-1"),
        ("date_diff('quarter', DATE '2026-01-01', DATE '2026-12-31')", "3"),
        ("date_diff('year', DATE '2000-02-29', DATE '2026-02-28')", "26"),
        ("date_diff('year', DATE '2000-03-01', DATE '2026-02-28')", "25"),
        ("date_diff('YEAR', DATE '2026-02-28', DATE '2000-03-01')", "-25"),
    ])
    .await;
}

#[tokio::test]
async fn date_diff_rejects_an_unknown_unit() {
    let (_dir, athena) = athena().await;
    let err = athena
        .query("SELECT date_diff('fortnight', DATE '2026-01-01', DATE '2026-02-01')")
        .await
        .map_err(crate::chain)
        .unwrap_err();
    assert!(err.contains("'fortnight' is not one of"), "{err}");
}

#[tokio::test]
async fn from_iso8601_timestamp_reads_iso_dates_and_times_as_utc_instants() {
    check(&[
        (
            "from_iso8601_timestamp('2026-11-23T08:15:30.123Z')",
            "2026-11-23T08:15:30.123Z",
        ),
        (
            "from_iso8601_timestamp('2026-11-23T09:15:30+01:00')",
            "2026-11-23T08:15:30Z",
        ),
        ("from_iso8601_timestamp('2026-11-23')", "2026-11-23T00:00:00Z"),
        (
            "from_iso8601_timestamp('2026-11-23T08:15')",
            "2026-11-23T08:15:00Z",
        ),
        ("hour(from_iso8601_timestamp('2026-11-23T23:30:00-02:00'))", "1"),
    ])
    .await;
    let (_dir, athena) = athena().await;
    let err = athena
        .query("SELECT from_iso8601_timestamp('23/11/2026')")
        .await
        .map_err(crate::chain)
        .unwrap_err();
    assert!(err.contains("not an ISO 8601"), "{err}");
}

#[tokio::test]
async fn a_non_temporal_argument_is_a_planning_error() {
    let (_dir, athena) = athena().await;
    let err = athena
        .query("SELECT day_of_week('Monday')")
        .await
        .map_err(crate::chain)
        .unwrap_err();
    assert!(err.contains("day_of_week expects a date or timestamp"), "{err}");
}

#[tokio::test]
async fn date_trunc_week_starts_on_monday_as_in_trino() {
    check(&[
        (
            "CAST(date_trunc('week', TIMESTAMP '2026-11-29 23:59:00') AS DATE)",
            "2026-11-23",
        ),
        (
            "CAST(date_trunc('week', DATE '2026-11-23') AS DATE)",
            "2026-11-23",
        ),
    ])
    .await;
}

/// `date_trunc` on a column of the lake (UTC timestamps, read from Parquet) gives Trino's
/// documented results for every unit and keeps the column's type, zone included; instants before
/// 1970 truncate down too. The lake writes a day's plays as two files: four plays a day (whose
/// truncations agree from the second up) make two-row batches, so the function gets arrays
/// (DataFusion hands it a one-row batch as a constant).
#[tokio::test]
async fn date_trunc_on_the_lake_type_matches_trino_for_every_unit() {
    let dir = tempfile::tempdir().unwrap();
    write_lake(
        dir.path(),
        &[
            play(T1, "2001-08-22T03:04:05.321Z"),
            play(T2, "2001-08-22T03:04:05.400Z"),
            play(T1, "2001-08-22T03:04:05.450Z"),
            play(T2, "2001-08-22T03:04:05.500Z"),
            play(T1, "1969-12-31T23:59:59.001Z"),
            play(T2, "1969-12-31T23:59:59.300Z"),
            play(T1, "1969-12-31T23:59:59.600Z"),
            play(T2, "1969-12-31T23:59:59.999Z"),
        ],
    );
    let athena = LocalAthena::open(dir.path()).await.expect("open");
    // Trino's examples for TIMESTAMP '2001-08-22 03:04:05.321'; 1969-12-31 was a Wednesday.
    let cases = [
        ("second", "2001-08-22T03:04:05Z", "1969-12-31T23:59:59Z"),
        ("minute", "2001-08-22T03:04:00Z", "1969-12-31T23:59:00Z"),
        ("hour", "2001-08-22T03:00:00Z", "1969-12-31T23:00:00Z"),
        ("day", "2001-08-22T00:00:00Z", "1969-12-31T00:00:00Z"),
        ("week", "2001-08-20T00:00:00Z", "1969-12-29T00:00:00Z"),
        ("month", "2001-08-01T00:00:00Z", "1969-12-01T00:00:00Z"),
        ("quarter", "2001-07-01T00:00:00Z", "1969-10-01T00:00:00Z"),
        ("year", "2001-01-01T00:00:00Z", "1969-01-01T00:00:00Z"),
    ];
    for (unit, later, earlier) in cases {
        let r = athena
            .query(&format!(
                "SELECT max(date_trunc('{unit}', event_at)), min(date_trunc('{unit}', event_at)), \
                 max(arrow_typeof(date_trunc('{unit}', event_at))) FROM track_observations"
            ))
            .await
            .unwrap_or_else(|e| panic!("{unit}: {e}"));
        let ty = r#"Timestamp(ms, "UTC")"#;
        assert_eq!(
            rows(&r),
            vec![vec![later, earlier, ty]],
            "date_trunc('{unit}', event_at)"
        );
    }
}
