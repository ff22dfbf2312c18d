-- name: listening_by_hour
-- question: At which hours of the day and on which weekdays does the user listen (UTC)?
--
-- One row per weekday and hour that has plays; weekday_number is ISO (1 = Monday, 7 = Sunday).
SELECT
    day_of_week(event_at) AS weekday_number,
    date_format(event_at, '%W') AS weekday,
    hour(event_at) AS hour_of_day,
    count(*) AS plays,
    round(CAST(sum(duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played
FROM track_observations_dedup
WHERE source = 'recently_played'
GROUP BY day_of_week(event_at), date_format(event_at, '%W'), hour(event_at)
ORDER BY weekday_number, hour_of_day
