-- name: playlist_churn
-- question: Which entries were added to and removed from each playlist between one snapshot and
--   the next?
--
-- A snapshot is one snapshot_id of a playlist, ordered by when it was first read. An entry is a
-- track_uri (local files have no track_id); a track moved within the playlist is no change.
-- A playlist's first snapshot has no previous one, so it lists no changes.
--
-- The lake is read once: each snapshot gets its number n within the playlist, and each entry
-- learns from windows over the same rows in which snapshots its track appears next to it, and
-- the ids of snapshots n-1 and n+1. An entry of snapshot n whose track is not in n-1 was added
-- at n; one whose track is not in n+1 was removed at n+1. (Joining snapshots to their previous
-- one reads the lake once per reference in engines that inline CTEs, as DataFusion does.)
WITH observed AS (
    -- Each record_key once: its first observed copy (the rule of sql/dedupe.sql, written out here
    -- because Athena runs a named query only when a user does, so no query may read its view).
    SELECT context_id, snapshot_id, track_uri, track_name, primary_artist_name, observed_at
    FROM (
        SELECT
            context_id, snapshot_id, track_uri, track_name, primary_artist_name, observed_at,
            record_key,
            lag(record_key) OVER (PARTITION BY source, dt ORDER BY record_key, observed_at)
                AS previous_key
        FROM track_observations
        WHERE source = 'playlist'
    ) ordered
    WHERE previous_key IS DISTINCT FROM record_key
),
entries AS (
    SELECT
        context_id AS playlist_id, snapshot_id, track_uri,
        max(track_name) AS track_name, max(primary_artist_name) AS artist_name,
        min(min(observed_at)) OVER (PARTITION BY context_id, snapshot_id) AS snapshot_seen_at
    FROM observed
    WHERE snapshot_id IS NOT NULL
    GROUP BY context_id, snapshot_id, track_uri
),
numbered AS (
    SELECT
        *,
        dense_rank() OVER (PARTITION BY playlist_id ORDER BY snapshot_seen_at, snapshot_id) AS n
    FROM entries
),
linked AS (
    SELECT
        *,
        lag(n) OVER (PARTITION BY playlist_id, track_uri ORDER BY n) AS track_previous_n,
        lead(n) OVER (PARTITION BY playlist_id, track_uri ORDER BY n) AS track_next_n,
        max(n) OVER (PARTITION BY playlist_id) AS last_n,
        first_value(snapshot_id) OVER (
            PARTITION BY playlist_id ORDER BY n RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING
        ) AS previous_snapshot_id,
        first_value(snapshot_id) OVER (
            PARTITION BY playlist_id ORDER BY n RANGE BETWEEN 1 FOLLOWING AND 1 FOLLOWING
        ) AS next_snapshot_id,
        first_value(snapshot_seen_at) OVER (
            PARTITION BY playlist_id ORDER BY n RANGE BETWEEN 1 FOLLOWING AND 1 FOLLOWING
        ) AS next_snapshot_seen_at
    FROM numbered
),
changes AS (
    -- Each entry is looked at twice, as a possible addition (at n) and a possible removal (at n+1).
    SELECT
        l.playlist_id, l.track_uri, l.track_name, l.artist_name, c.change,
        CASE c.change WHEN 'added' THEN l.snapshot_id ELSE l.next_snapshot_id END AS snapshot_id,
        CASE c.change WHEN 'added' THEN l.previous_snapshot_id ELSE l.snapshot_id END
            AS previous_snapshot_id,
        CASE c.change WHEN 'added' THEN l.snapshot_seen_at ELSE l.next_snapshot_seen_at END
            AS snapshot_seen_at
    FROM linked l
    CROSS JOIN (VALUES ('added'), ('removed')) AS c (change)
    WHERE (c.change = 'added' AND l.n > 1
           AND (l.track_previous_n IS NULL OR l.track_previous_n < l.n - 1))
       OR (c.change = 'removed' AND l.n < l.last_n
           AND (l.track_next_n IS NULL OR l.track_next_n > l.n + 1))
)
SELECT
    playlist_id, snapshot_id, previous_snapshot_id, snapshot_seen_at, change,
    track_uri, track_name, artist_name
FROM changes
ORDER BY playlist_id, snapshot_seen_at, change, track_uri
