-- name: top_artists
-- question: Which artists did the user play most in the 28 days up to their latest play?
--
-- Counted by each track's primary (first) artist. The window ends at the latest play in the lake.
-- Ties share a rank; ranks 1 to 20 are shown. As in top_tracks, the latest play is a scalar
-- subquery on event_at alone, so an engine can skip the files before the window, and duplicates
-- are removed after the 28-day filter by the dedupe view's rule (see top_tracks for why that keeps
-- the same plays).
WITH recent AS (
    SELECT record_key, primary_artist_id, primary_artist_name, track_id, duration_ms,
           lag(record_key) OVER (PARTITION BY dt ORDER BY record_key, observed_at) AS previous_key
    FROM track_observations
    WHERE source = 'recently_played' AND primary_artist_id IS NOT NULL
      AND event_at > (SELECT max(event_at) FROM track_observations
                      WHERE source = 'recently_played') - INTERVAL '28' DAY
),
counted AS (
    SELECT
        primary_artist_id AS artist_id,
        max(primary_artist_name) AS artist_name,
        count(*) AS plays,
        count(DISTINCT track_id) AS distinct_tracks,
        round(CAST(sum(duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played
    FROM recent
    WHERE previous_key IS DISTINCT FROM record_key
    GROUP BY primary_artist_id
),
ranked AS (
    SELECT rank() OVER (ORDER BY plays DESC) AS rank, counted.* FROM counted
)
SELECT rank, artist_id, artist_name, plays, distinct_tracks, minutes_played
FROM ranked
WHERE rank <= 20
ORDER BY rank, artist_name, artist_id
