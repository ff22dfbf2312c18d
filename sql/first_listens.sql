-- name: first_listens
-- question: When did the user first listen to each artist, and to which track?
--
-- One row per primary artist: the first play in the lake (an imported export reaches back to the
-- account's first plays), its track, and the artist's plays since. An artist is its id; a play
-- without one (imported plays) takes the id of another play of the same artist name, or the
-- artist counts by name alone (artist_id NULL). Local files are left out. Plays of the Web API and
-- of imported exports count once each (the play rule below).
WITH observations AS (
    -- The plays of both sources; the files of other sources are pruned.
    SELECT * FROM track_observations
    WHERE source IN ('recently_played', 'streaming_history')
),
-- The play rule (the same text in every query about plays; sql/README.md, "Plays"): each play
-- once, whether the Web API listed it (recently_played), an export held it (streaming_history),
-- or both.
copies AS (
    -- Each record_key once; what may differ between copies comes from the first observed one.
    SELECT
        record_key,
        min(source) AS source,
        min(event_at) AS event_at,
        min(track_id) AS track_id,
        min_by(track_name, observed_at) AS track_name,
        min_by(primary_artist_id, observed_at) AS artist_id,
        min_by(primary_artist_name, observed_at) AS artist_name,
        min_by(is_local, observed_at) AS is_local,
        min_by(duration_ms, observed_at) AS duration_ms,
        min(ms_played) AS ms_played,
        min_by(skipped, observed_at) AS skipped,
        min_by(reason_end, observed_at) AS reason_end,
        min_by(platform, observed_at) AS platform,
        -- The account data's files are named StreamingHistory*, the extended history's never.
        coalesce(min_by(export_file, observed_at) LIKE 'StreamingHistory%', false) AS account_data
    FROM observations
    GROUP BY record_key
),
keyed AS (
    -- What a play is matched on: the track id, or for account-data plays the track and artist
    -- names (whether or not `tracklake enrich` found their id: the answer must not depend on it).
    -- A Web API play carries both, so it is looked up both ways.
    SELECT
        c.record_key, c.source, c.event_at, c.ms_played,
        CASE WHEN k.by_id THEN c.track_id ELSE '' END AS match_id,
        CASE WHEN k.by_id THEN '' ELSE c.track_name END AS match_name,
        CASE WHEN k.by_id THEN '' ELSE coalesce(c.artist_name, '') END AS match_artist
    FROM copies c
    CROSS JOIN (VALUES (true), (false)) AS k (by_id)
    WHERE (c.source = 'recently_played' AND (c.track_id IS NOT NULL OR NOT k.by_id))
       OR (c.source = 'streaming_history' AND c.ms_played IS NOT NULL
           AND (NOT c.account_data AND c.track_id IS NOT NULL) = k.by_id)
),
exported AS (
    -- The export's plays of each track, numbered in time order.
    SELECT
        event_at, ms_played, match_id, match_name, match_artist,
        -- BIGINT as in Trino (DataFusion's row_number is unsigned; first_n - p_n below is not).
        CAST(row_number() OVER (PARTITION BY match_id, match_name, match_artist
                                ORDER BY event_at, record_key) AS BIGINT) AS n
    FROM keyed
    WHERE source = 'streaming_history'
),
windows AS (
    -- A Web API play P and an export play E are one play when
    -- E.event_at - ms_played - 60 s <= P.event_at <= E.event_at + 60 s (docs/privacy-exports.md):
    -- for each P, the first and last E whose window holds it.
    SELECT
        p.record_key, p.event_at, p.match_id, p.match_name, p.match_artist,
        min(e.n) AS first_n, max(e.n) AS last_n
    FROM keyed p
    JOIN exported e
      ON e.match_id = p.match_id AND e.match_name = p.match_name
     AND e.match_artist = p.match_artist
     AND date_diff('millisecond', e.event_at, p.event_at) BETWEEN -(e.ms_played + 60000) AND 60000
    WHERE p.source = 'recently_played'
    GROUP BY p.record_key, p.event_at, p.match_id, p.match_name, p.match_artist
),
numbered AS (
    SELECT
        *,
        CAST(row_number() OVER (PARTITION BY match_id, match_name, match_artist
                                ORDER BY event_at, record_key) AS BIGINT) AS p_n
    FROM windows
),
assigned AS (
    -- One to one, in time order: each P takes the first E of its window that no earlier P took,
    -- E number max(first_n, previous P's E + 1) = p_n + the running max of (first_n - p_n).
    SELECT
        record_key, last_n,
        p_n + max(first_n - p_n) OVER (
            PARTITION BY match_id, match_name, match_artist
            ORDER BY p_n ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS n
    FROM numbered
),
package_twins AS (
    -- The account data's last year of plays is also in the extended history, with the id and to
    -- the second: an account-data play and an extended-history play of the same track and
    -- artist names and the same ms_played, ending within a minute of each other (endTime is to
    -- the minute), are one play. The extended one is kept.
    SELECT a.record_key
    FROM copies a
    JOIN copies x
      ON x.track_name = a.track_name AND x.artist_name = a.artist_name
     AND x.ms_played = a.ms_played
     AND date_diff('millisecond', a.event_at, x.event_at) BETWEEN -60000 AND 60000
    WHERE a.source = 'streaming_history' AND a.account_data
      AND x.source = 'streaming_history' AND NOT x.account_data
),
twins AS (
    -- The plays counted under another's name (a key may come twice: the join below only asks
    -- whether it is there).
    SELECT record_key FROM assigned WHERE n <= last_n
    UNION ALL
    SELECT record_key FROM package_twins
),
named AS (
    -- Ids an imported play lacks, taken from any play of the same names (before twins are
    -- dropped: a Web API twin is often the only play that knows them).
    SELECT
        *,
        -- An account-data play's own id (found by `tracklake enrich`) comes last, so that it
        -- never splits a track that the other plays name.
        coalesce(CASE WHEN NOT account_data THEN track_id END,
                 max(CASE WHEN NOT account_data THEN track_id END)
                     OVER (PARTITION BY track_name, artist_name),
                 track_id) AS known_track_id,
        coalesce(artist_id, max(artist_id) OVER (PARTITION BY artist_name)) AS known_artist_id
    FROM copies
),
plays AS (
    -- Every export play but the account data's twins of extended-history plays, and every Web
    -- API play without an export twin. played_ms is the time played: ms_played for an imported
    -- play, the track's duration for a Web API play (the API says no more).
    SELECT
        n.record_key, n.source, n.event_at, n.track_name, n.artist_name, n.is_local, n.duration_ms,
        n.ms_played, n.skipped, n.reason_end, n.platform,
        n.known_track_id AS track_id,
        n.known_artist_id AS artist_id,
        CASE WHEN n.source = 'streaming_history' THEN n.ms_played ELSE n.duration_ms END
            AS played_ms
    FROM named n
    LEFT JOIN twins t ON t.record_key = n.record_key
    WHERE t.record_key IS NULL
)
-- End of the play rule.
SELECT
    artist_id,
    max(artist_name) AS artist_name,
    min(event_at) AS first_played_at,
    min_by(track_name, event_at) AS first_track_name,
    min_by(track_id, event_at) AS first_track_id,
    count(*) AS plays
FROM plays
WHERE coalesce(is_local, false) = false AND artist_name IS NOT NULL
GROUP BY artist_id, CASE WHEN artist_id IS NULL THEN artist_name END
ORDER BY first_played_at, artist_name
