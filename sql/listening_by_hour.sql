-- name: listening_by_hour
-- question: At which hours of the day and on which weekdays does the user listen (UTC)?
--
-- One row per weekday and hour that has plays; weekday_number is ISO (1 = Monday, 7 = Sunday).
-- Duplicates are removed by the dedupe view's rule (one row per record_key, the first observed
-- copy), as a grouping on record_key: copies of a play share its event_at (part of what the key
-- identifies), and min_by takes the duration of the first observed copy. Both engines run this
-- hash aggregation faster than the view's sort (bench/README.md).
WITH plays AS (
    SELECT min(event_at) AS event_at, min_by(duration_ms, observed_at) AS duration_ms
    FROM track_observations
    WHERE source = 'recently_played'
    GROUP BY record_key
)
SELECT
    day_of_week(event_at) AS weekday_number,
    date_format(event_at, '%W') AS weekday,
    hour(event_at) AS hour_of_day,
    count(*) AS plays,
    round(CAST(sum(duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played
FROM plays
GROUP BY day_of_week(event_at), date_format(event_at, '%W'), hour(event_at)
ORDER BY weekday_number, hour_of_day
