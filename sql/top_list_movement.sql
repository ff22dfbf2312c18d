-- name: top_list_movement
-- question: What is trending for the user: how did each track's rank in their top tracks move
--   between the two latest snapshots of each time range?
--
-- A snapshot is one read of a top list (one observed_at per user and time range). movement is
-- new (not in the previous snapshot), dropped (not in the latest), up, down or same;
-- rank_change > 0 means the track climbed. A track listed twice in one snapshot (a list that
-- shifted between page reads) counts at its best rank, so each track has one row.
-- The entries are read once: each learns the age of its snapshot from a window, and one GROUP BY
-- over the two latest snapshots puts a track's two ranks side by side (joining the latest snapshot
-- with the previous one would read the lake once per side).
WITH observed AS (
    -- Each record_key once: its first observed copy (the rule of sql/dedupe.sql, written out here
    -- because Athena runs a named query only when a user does, so no query may read its view).
    SELECT user_id, context_id, position, track_uri, track_name, primary_artist_name, observed_at
    FROM (
        SELECT
            user_id, context_id, position, track_uri, track_name, primary_artist_name,
            observed_at, record_key,
            lag(record_key) OVER (PARTITION BY source, dt ORDER BY record_key, observed_at)
                AS previous_key
        FROM track_observations
        WHERE source = 'top_tracks'
    ) ordered
    WHERE previous_key IS DISTINCT FROM record_key
),
entries AS (
    SELECT user_id, context_id AS time_range, position AS rank, track_uri, track_name,
           primary_artist_name,
           dense_rank() OVER (PARTITION BY user_id, context_id ORDER BY observed_at DESC) AS age
    FROM observed
),
paired AS (
    SELECT
        time_range,
        track_uri,
        coalesce(max(CASE WHEN age = 1 THEN track_name END),
                 max(CASE WHEN age = 2 THEN track_name END)) AS track_name,
        coalesce(max(CASE WHEN age = 1 THEN primary_artist_name END),
                 max(CASE WHEN age = 2 THEN primary_artist_name END)) AS artist_name,
        min(CASE WHEN age = 1 THEN rank END) AS rank,
        min(CASE WHEN age = 2 THEN rank END) AS previous_rank
    FROM entries
    WHERE age <= 2
    GROUP BY user_id, time_range, track_uri
)
SELECT
    time_range,
    track_uri,
    track_name,
    artist_name,
    rank,
    previous_rank,
    previous_rank - rank AS rank_change,
    CASE
        WHEN previous_rank IS NULL THEN 'new'
        WHEN rank IS NULL THEN 'dropped'
        WHEN rank < previous_rank THEN 'up'
        WHEN rank > previous_rank THEN 'down'
        ELSE 'same'
    END AS movement
FROM paired
ORDER BY time_range, rank NULLS LAST, previous_rank NULLS LAST, track_uri
