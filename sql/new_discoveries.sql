-- name: new_discoveries
-- question: How many tracks and artists did the user play for the first time each week, out of
--   how many plays?
--
-- Weeks start on Monday (UTC). "First time" means first in the lake: the first weeks of a new lake
-- count everything as new, as the play history before it is unknown.
WITH plays AS (
    SELECT track_id, primary_artist_id, event_at
    FROM track_observations_dedup
    WHERE source = 'recently_played' AND track_id IS NOT NULL
),
weekly AS (
    SELECT
        CAST(date_trunc('week', event_at) AS DATE) AS week_start,
        count(*) AS plays,
        count(DISTINCT track_id) AS distinct_tracks
    FROM plays
    GROUP BY CAST(date_trunc('week', event_at) AS DATE)
),
first_track_plays AS (
    SELECT track_id, min(event_at) AS first_played_at FROM plays GROUP BY track_id
),
new_tracks AS (
    SELECT CAST(date_trunc('week', first_played_at) AS DATE) AS week_start, count(*) AS new_tracks
    FROM first_track_plays
    GROUP BY CAST(date_trunc('week', first_played_at) AS DATE)
),
first_artist_plays AS (
    SELECT primary_artist_id, min(event_at) AS first_played_at
    FROM plays
    WHERE primary_artist_id IS NOT NULL
    GROUP BY primary_artist_id
),
new_artists AS (
    SELECT CAST(date_trunc('week', first_played_at) AS DATE) AS week_start, count(*) AS new_artists
    FROM first_artist_plays
    GROUP BY CAST(date_trunc('week', first_played_at) AS DATE)
)
SELECT
    w.week_start,
    year_of_week(w.week_start) AS iso_year,
    week_of_year(w.week_start) AS iso_week,
    w.plays,
    w.distinct_tracks,
    coalesce(t.new_tracks, 0) AS new_tracks,
    coalesce(a.new_artists, 0) AS new_artists
FROM weekly w
LEFT JOIN new_tracks t ON t.week_start = w.week_start
LEFT JOIN new_artists a ON a.week_start = w.week_start
ORDER BY w.week_start
