-- name: playlist_churn
-- question: Which entries were added to and removed from each playlist between one snapshot and
--   the next?
--
-- A snapshot is one snapshot_id of a playlist, ordered by when it was first read. An entry is a
-- track_uri (local files have no track_id); a track moved within the playlist is no change.
-- A playlist's first snapshot has no previous one, so it lists no changes.
WITH entries AS (
    SELECT DISTINCT context_id AS playlist_id, snapshot_id, track_uri, track_name, primary_artist_name
    FROM track_observations_dedup
    WHERE source = 'playlist' AND snapshot_id IS NOT NULL
),
snapshots AS (
    SELECT context_id AS playlist_id, snapshot_id, min(observed_at) AS first_seen_at
    FROM track_observations_dedup
    WHERE source = 'playlist' AND snapshot_id IS NOT NULL
    GROUP BY context_id, snapshot_id
),
pairs AS (
    SELECT
        playlist_id, snapshot_id, first_seen_at,
        lag(snapshot_id) OVER (PARTITION BY playlist_id ORDER BY first_seen_at) AS previous_snapshot_id
    FROM snapshots
),
added AS (
    SELECT p.playlist_id, p.snapshot_id, p.previous_snapshot_id, p.first_seen_at, 'added' AS change,
           e.track_uri, e.track_name, e.primary_artist_name
    FROM pairs p
    JOIN entries e ON e.playlist_id = p.playlist_id AND e.snapshot_id = p.snapshot_id
    LEFT JOIN entries o
      ON o.playlist_id = p.playlist_id AND o.snapshot_id = p.previous_snapshot_id
     AND o.track_uri = e.track_uri
    WHERE p.previous_snapshot_id IS NOT NULL AND o.track_uri IS NULL
),
removed AS (
    SELECT p.playlist_id, p.snapshot_id, p.previous_snapshot_id, p.first_seen_at, 'removed' AS change,
           o.track_uri, o.track_name, o.primary_artist_name
    FROM pairs p
    JOIN entries o ON o.playlist_id = p.playlist_id AND o.snapshot_id = p.previous_snapshot_id
    LEFT JOIN entries e
      ON e.playlist_id = p.playlist_id AND e.snapshot_id = p.snapshot_id
     AND e.track_uri = o.track_uri
    WHERE e.track_uri IS NULL
)
SELECT
    playlist_id, snapshot_id, previous_snapshot_id, first_seen_at AS snapshot_seen_at, change,
    track_uri, track_name, primary_artist_name AS artist_name
FROM (SELECT * FROM added UNION ALL SELECT * FROM removed) changes
ORDER BY playlist_id, snapshot_seen_at, change, track_uri
