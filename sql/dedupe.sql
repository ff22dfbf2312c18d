-- name: dedupe
-- question: What are the observations once each, with the duplicates that Firehose retries and
--   resent batches leave behind removed (one row per record_key)?
--
-- Creates the view track_observations_dedup that every other query reads. Athena: run once after
-- the table exists (infra/ does); the local engine runs it when it opens the lake.
-- The same record_key always lands in the same source and dt (dt is the UTC date of event_at, and
-- event_at is part of what the key identifies), so partitioning the window by source and dt first
-- changes no result but lets a filter on source or dt through the view prune partitions in both
-- engines. Of the copies, the first one observed is kept.
CREATE OR REPLACE VIEW track_observations_dedup AS
SELECT
    record_key, event_at, observed_at, added_at, user_id, context_id, position, snapshot_id,
    added_by, play_context_type, play_context_uri, track_id, track_uri, track_name, duration_ms,
    explicit, popularity, isrc, is_local, disc_number, track_number, album_id, album_name,
    album_type, album_release_date, album_release_date_precision, album_total_tracks,
    album_image_url, artist_ids, artist_names, primary_artist_id, primary_artist_name, source, dt
FROM (
    SELECT
        t.*,
        row_number() OVER (PARTITION BY source, dt, record_key ORDER BY observed_at) AS copy_number
    FROM track_observations t
) numbered
WHERE copy_number = 1
