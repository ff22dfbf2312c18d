-- name: top_tracks
-- question: Which tracks did the user play most in the 28 days up to their latest play?
--
-- The window ends at the latest play in the lake, not at today, so the answer does not go empty
-- when the producer pauses. Ties share a rank; ranks 1 to 20 are shown.
WITH plays AS (
    SELECT track_id, track_name, primary_artist_name, duration_ms, event_at
    FROM track_observations_dedup
    WHERE source = 'recently_played' AND track_id IS NOT NULL
),
last_play AS (
    SELECT max(event_at) AS played_at FROM plays
),
counted AS (
    SELECT
        p.track_id,
        max(p.track_name) AS track_name,
        max(p.primary_artist_name) AS artist_name,
        count(*) AS plays,
        round(CAST(sum(p.duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played,
        max(p.event_at) AS last_played_at
    FROM plays p
    CROSS JOIN last_play l
    WHERE p.event_at > l.played_at - INTERVAL '28' DAY
    GROUP BY p.track_id
),
ranked AS (
    SELECT rank() OVER (ORDER BY plays DESC) AS rank, counted.* FROM counted
)
SELECT rank, track_id, track_name, artist_name, plays, minutes_played, last_played_at
FROM ranked
WHERE rank <= 20
ORDER BY rank, track_name, track_id
