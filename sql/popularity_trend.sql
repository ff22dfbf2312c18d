-- name: popularity_trend
-- question: How does the Spotify popularity (0-100) of the user's tracks move from week to week,
--   where Spotify reports it?
--
-- A missing popularity is NULL, never 0 (apps created after Feb 2026 no longer receive it, and
-- local files have none): those observations are left out, never averaged in as 0. Weeks start on
-- Monday (UTC) of observed_at, when the value was read. change is against the track's previous
-- week with a value.
--
-- Duplicates are removed among the observations that carry a popularity: one per record_key,
-- the first observed copy with a value (the dedupe view's rule, applied after the filter). Copies
-- of one observation carry the same value in practice; filtering first lets both engines skip
-- every file whose popularity column is all NULL (row-group statistics), which on a new app's lake
-- is all of them, instead of sorting the whole lake as the view would.
WITH candidates AS (
    SELECT track_id, track_name, primary_artist_name, popularity, observed_at, record_key,
           lag(record_key) OVER (PARTITION BY source, dt ORDER BY record_key, observed_at)
               AS previous_key
    FROM track_observations
    WHERE popularity IS NOT NULL AND track_id IS NOT NULL
),
measured AS (
    SELECT track_id, track_name, primary_artist_name, popularity,
           CAST(date_trunc('week', observed_at) AS DATE) AS week_start
    FROM candidates
    WHERE previous_key IS DISTINCT FROM record_key
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
