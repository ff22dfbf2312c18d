-- name: top_list_movement
-- question: What is trending for the user: how did each track's rank in their top tracks move
--   between the two latest snapshots of each time range?
--
-- A snapshot is one read of a top list (one observed_at per user and time range). movement is
-- new (not in the previous snapshot), dropped (not in the latest), up, down or same;
-- rank_change > 0 means the track climbed.
WITH entries AS (
    SELECT user_id, context_id AS time_range, observed_at, position AS rank, track_uri, track_name,
           primary_artist_name
    FROM track_observations_dedup
    WHERE source = 'top_tracks'
),
snapshots AS (
    SELECT
        user_id, time_range, observed_at,
        row_number() OVER (PARTITION BY user_id, time_range ORDER BY observed_at DESC) AS age
    FROM (SELECT DISTINCT user_id, time_range, observed_at FROM entries) s
),
latest AS (
    SELECT e.*
    FROM entries e
    JOIN snapshots s
      ON s.user_id = e.user_id AND s.time_range = e.time_range AND s.observed_at = e.observed_at
    WHERE s.age = 1
),
previous AS (
    SELECT e.*
    FROM entries e
    JOIN snapshots s
      ON s.user_id = e.user_id AND s.time_range = e.time_range AND s.observed_at = e.observed_at
    WHERE s.age = 2
)
SELECT
    coalesce(l.time_range, p.time_range) AS time_range,
    coalesce(l.track_uri, p.track_uri) AS track_uri,
    coalesce(l.track_name, p.track_name) AS track_name,
    coalesce(l.primary_artist_name, p.primary_artist_name) AS artist_name,
    l.rank AS rank,
    p.rank AS previous_rank,
    p.rank - l.rank AS rank_change,
    CASE
        WHEN p.rank IS NULL THEN 'new'
        WHEN l.rank IS NULL THEN 'dropped'
        WHEN l.rank < p.rank THEN 'up'
        WHEN l.rank > p.rank THEN 'down'
        ELSE 'same'
    END AS movement
FROM latest l
FULL OUTER JOIN previous p
  ON p.user_id = l.user_id AND p.time_range = l.time_range AND p.track_uri = l.track_uri
ORDER BY time_range, rank NULLS LAST, previous_rank NULLS LAST, track_uri
