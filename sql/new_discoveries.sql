-- name: new_discoveries
-- question: How many tracks and artists did the user play for the first time each week, out of
--   how many plays?
--
-- Weeks start on Monday (UTC). "First time" means first in the lake: the first weeks of a new lake
-- count everything as new, as the play history before it is unknown.
-- Duplicates are removed by the dedupe view's rule (one row per record_key, the first observed
-- copy), as a grouping on record_key: a play's key identifies its track and its event_at, so its
-- copies share both, and min_by takes the primary artist of the first observed copy. Both engines
-- run this hash aggregation faster than the view's sort (bench/README.md).
-- The plays are read once: grouped by track, artist and week first, then each group learns the
-- first week of its track and of its artist from a window over those (few) groups. A CTE per
-- question, each reading the plays, would read the lake once per reference.
WITH plays AS (
    SELECT track_id, min_by(primary_artist_id, observed_at) AS primary_artist_id,
           CAST(date_trunc('week', min(event_at)) AS DATE) AS week_start
    FROM track_observations
    WHERE source = 'recently_played' AND track_id IS NOT NULL
    GROUP BY record_key, track_id
),
track_weeks AS (
    SELECT
        track_id, primary_artist_id, week_start,
        count(*) AS plays,
        min(week_start) OVER (PARTITION BY track_id) AS track_first_week,
        min(week_start) OVER (PARTITION BY primary_artist_id) AS artist_first_week
    FROM plays
    GROUP BY track_id, primary_artist_id, week_start
),
weekly AS (
    SELECT
        week_start,
        sum(plays) AS plays,
        count(DISTINCT track_id) AS distinct_tracks,
        count(DISTINCT CASE WHEN week_start = track_first_week THEN track_id END) AS new_tracks,
        count(DISTINCT CASE WHEN week_start = artist_first_week THEN primary_artist_id END)
            AS new_artists
    FROM track_weeks
    GROUP BY week_start
)
SELECT
    week_start,
    year_of_week(week_start) AS iso_year,
    week_of_year(week_start) AS iso_week,
    plays,
    distinct_tracks,
    new_tracks,
    new_artists
FROM weekly
ORDER BY week_start
