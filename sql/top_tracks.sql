-- name: top_tracks
-- question: Which tracks did the user play most in the 28 days up to their latest play?
--
-- The window ends at the latest play in the lake, not at today, so the answer does not go empty
-- when the producer pauses. Ties share a rank; ranks 1 to 20 are shown. The latest play is a
-- window over the same rows (not a second CTE joined back), so the lake is read once.
WITH plays AS (
    SELECT track_id, track_name, primary_artist_name, duration_ms, event_at,
           max(event_at) OVER () AS latest_play
    FROM track_observations_dedup
    WHERE source = 'recently_played' AND track_id IS NOT NULL
),
counted AS (
    SELECT
        track_id,
        max(track_name) AS track_name,
        max(primary_artist_name) AS artist_name,
        count(*) AS plays,
        round(CAST(sum(duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played,
        max(event_at) AS last_played_at
    FROM plays
    WHERE event_at > latest_play - INTERVAL '28' DAY
    GROUP BY track_id
),
ranked AS (
    SELECT rank() OVER (ORDER BY plays DESC) AS rank, counted.* FROM counted
)
SELECT rank, track_id, track_name, artist_name, plays, minutes_played, last_played_at
FROM ranked
WHERE rank <= 20
ORDER BY rank, track_name, track_id
