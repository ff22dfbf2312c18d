-- name: popularity_trend
-- question: How does the Spotify popularity (0-100) of the user's tracks move from week to week,
--   where Spotify reports it?
--
-- A missing popularity is NULL, never 0 (apps created after Feb 2026 no longer receive it, and
-- local files have none): those observations are left out, never averaged in as 0. Weeks start on
-- Monday (UTC) of observed_at, when the value was read. change is against the track's previous
-- week with a value.
WITH measured AS (
    SELECT track_id, track_name, primary_artist_name, popularity,
           CAST(date_trunc('week', observed_at) AS DATE) AS week_start
    FROM track_observations_dedup
    WHERE popularity IS NOT NULL AND track_id IS NOT NULL
),
weekly AS (
    SELECT
        track_id,
        max(track_name) AS track_name,
        max(primary_artist_name) AS artist_name,
        week_start,
        avg(popularity) AS mean_popularity,
        min(popularity) AS min_popularity,
        max(popularity) AS max_popularity,
        count(*) AS observations
    FROM measured
    GROUP BY track_id, week_start
)
SELECT
    track_id, track_name, artist_name, week_start,
    round(mean_popularity, 1) AS avg_popularity,
    min_popularity, max_popularity, observations,
    round(mean_popularity - lag(mean_popularity) OVER (PARTITION BY track_id ORDER BY week_start), 1)
        AS change
FROM weekly
ORDER BY track_id, week_start
