-- name: dedupe
-- question: What are the observations once each, with the duplicates that Firehose retries and
--   resent batches leave behind removed (one row per record_key)?
--
-- Creates the view track_observations_dedup, for queries of your own. No other named query reads
-- it (each applies the same rule itself): Athena creates the view only when a user runs this
-- query once; the local engine runs it when it opens the lake.
-- The same record_key always lands in the same source and dt (dt is the UTC date of event_at, and
-- event_at is part of what the key identifies). So the view sorts each (source, dt) partition by
-- record_key, then observed_at, and keeps a row when the row before it has another key: the first
-- observed copy. Partitioning by source and dt lets a filter on either through the view prune
-- partitions in both engines; this form is also several times faster than
-- `row_number() OVER (PARTITION BY source, dt, record_key ...) = 1`, which makes each record_key
-- its own window partition (measured with the local engine: bench/README.md).
CREATE OR REPLACE VIEW track_observations_dedup AS
SELECT
    record_key, event_at, observed_at, added_at, user_id, context_id, position, snapshot_id,
    added_by, play_context_type, play_context_uri, track_id, track_uri, track_name, duration_ms,
    explicit, popularity, isrc, is_local, disc_number, track_number, album_id, album_name,
    album_type, album_release_date, album_release_date_precision, album_total_tracks,
    album_image_url, artist_ids, artist_names, primary_artist_id, primary_artist_name, ms_played,
    skipped, reason_start, reason_end, shuffle, offline, incognito_mode, platform, conn_country,
    export_file, source, dt
FROM (
    SELECT
        t.*,
        lag(record_key) OVER (PARTITION BY source, dt ORDER BY record_key, observed_at) AS previous_key
    FROM track_observations t
) ordered
WHERE previous_key IS DISTINCT FROM record_key
