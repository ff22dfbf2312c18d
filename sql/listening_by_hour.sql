-- name: listening_by_hour
-- question: At which hours of the day and on which weekdays does the user listen (UTC)?
--
-- One row per weekday and hour that has plays; weekday_number is ISO (1 = Monday, 7 = Sunday).
-- The plays are grouped by two small integers and the weekday's name is written once per group
-- afterwards: grouping by the formatted name as well made both engines format and hash a string
-- for every play (README, Benchmarks).
SELECT
    weekday_number,
    CASE weekday_number
        WHEN 1 THEN 'Monday'
        WHEN 2 THEN 'Tuesday'
        WHEN 3 THEN 'Wednesday'
        WHEN 4 THEN 'Thursday'
        WHEN 5 THEN 'Friday'
        WHEN 6 THEN 'Saturday'
        WHEN 7 THEN 'Sunday'
    END AS weekday,
    hour_of_day,
    plays,
    minutes_played
FROM (
    SELECT
        day_of_week(event_at) AS weekday_number,
        hour(event_at) AS hour_of_day,
        count(*) AS plays,
        round(CAST(sum(duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played
    FROM track_observations_dedup
    WHERE source = 'recently_played'
    GROUP BY day_of_week(event_at), hour(event_at)
) by_hour
ORDER BY weekday_number, hour_of_day
