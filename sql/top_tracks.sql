-- name: top_tracks
-- question: Which tracks did the user play most in the 28 days up to their latest play?
--
-- The window ends at the latest play in the lake (of any track, local files included), not at
-- today, so the answer does not go empty when the producer pauses. Ties share a rank; ranks 1 to
-- 20 are shown. The latest play is a scalar subquery on event_at alone: an engine that evaluates
-- it first can skip every file whose event_at statistics end before the window (the local engine
-- then reads 28 of a two-year lake's daily files; bench/README.md).
-- Duplicates are removed after the 28-day filter, by the dedupe view's rule (one row per
-- record_key, the first observed copy): copies of a play share its event_at, so filtering first
-- keeps the same plays, and both engines sort four weeks of plays instead of the whole history, as
-- reading the view would. source is one value here, so the rule partitions by dt alone.
WITH recent AS (
    SELECT record_key, track_id, track_name, primary_artist_name, duration_ms, event_at,
           lag(record_key) OVER (PARTITION BY dt ORDER BY record_key, observed_at) AS previous_key
    FROM track_observations
    WHERE source = 'recently_played' AND track_id IS NOT NULL
      AND event_at > (SELECT max(event_at) FROM track_observations
                      WHERE source = 'recently_played') - INTERVAL '28' DAY
),
counted AS (
    SELECT
        track_id,
        max(track_name) AS track_name,
        max(primary_artist_name) AS artist_name,
        count(*) AS plays,
        round(CAST(sum(duration_ms) AS DOUBLE) / 60000, 1) AS minutes_played,
        max(event_at) AS last_played_at
    FROM recent
    WHERE previous_key IS DISTINCT FROM record_key
    GROUP BY track_id
),
ranked AS (
    SELECT rank() OVER (ORDER BY plays DESC) AS rank, counted.* FROM counted
)
SELECT rank, track_id, track_name, artist_name, plays, minutes_played, last_played_at
FROM ranked
WHERE rank <= 20
ORDER BY rank, track_name, track_id
