//! What an imported play lacks, filled in from Spotify's catalog
//! (docs/privacy-exports.md#filling-in-what-an-export-lacks). An extended-history play has its
//! track id but no duration, album id or artist ids; an account-data play has names only.
//! `tracklake enrich` looks each track up once (`GET /tracks/{id}`, or a search by names), keeps
//! every answer in a [`TrackCache`] (found or not), and fills the plays' empty columns with
//! [`fill_plays`]. This module is everything but the requests.
//!
//! What the export gave is never replaced: only empty columns are filled, and the names the play
//! rule matches plays by (track, primary artist) stay as the export wrote them, so the named
//! queries count the same plays with or without enrichment.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use lake_layout::LakeError;
use schemas::{Source, TrackObservation};
use serde::{Deserialize, Serialize};

use crate::observation::NAME_SEPARATOR;

/// The file of the lake's state folder that holds every answer of the catalog: the cache that
/// makes `tracklake enrich` resumable and never ask for a track twice.
pub const CACHE_FILE: &str = "track-catalog.jsonl";

/// How one imported play's track is found in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lookup {
    /// By its id (extended history): `GET /tracks/{id}`.
    Id(String),
    /// By its names (account data): a search for the track name and the artist name.
    Names { artist: String, track: String },
}

impl Lookup {
    /// What the play `row` of the `streaming_history` source still needs, if anything: a play
    /// with a duration was filled in already (every catalog track has one).
    pub fn of(row: &TrackObservation) -> Option<Lookup> {
        if row.duration_ms.is_some() {
            return None;
        }
        match (&row.track_id, &row.primary_artist_name) {
            (Some(id), _) => Some(Lookup::Id(id.clone())),
            (None, Some(artist)) if !row.track_name.is_empty() && !artist.is_empty() => Some(Lookup::Names {
                artist: artist.clone(),
                track: row.track_name.clone(),
            }),
            _ => None,
        }
    }

    /// The key of its answer in the cache.
    pub fn cache_key(&self) -> String {
        match self {
            Lookup::Id(id) => format!("id:{id}"),
            Lookup::Names { artist, track } => format!("names:{artist}{NAME_SEPARATOR}{track}"),
        }
    }

    /// The search query of a lookup by names, in Spotify's field syntax. Double quotes would end
    /// the quoted value early, so they are left out of the names.
    pub fn search_query(&self) -> Option<String> {
        match self {
            Lookup::Id(_) => None,
            Lookup::Names { artist, track } => {
                let clean = |s: &str| s.replace('"', " ");
                Some(format!("track:\"{}\" artist:\"{}\"", clean(track), clean(artist)))
            }
        }
    }
}

/// What the catalog says about a track: the columns of the record that describe the track, as the
/// transform makes them from a Spotify track object (so each column means the same in every row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogTrack {
    pub track_id: Option<String>,
    pub track_uri: Option<String>,
    pub track_name: String,
    pub duration_ms: Option<i32>,
    pub explicit: Option<bool>,
    pub popularity: Option<i32>,
    pub isrc: Option<String>,
    pub disc_number: Option<i32>,
    pub track_number: Option<i32>,
    pub album_id: Option<String>,
    pub album_name: Option<String>,
    pub album_type: Option<String>,
    pub album_release_date: Option<NaiveDate>,
    pub album_release_date_precision: Option<String>,
    pub album_total_tracks: Option<i32>,
    pub album_image_url: Option<String>,
    pub artist_ids: Vec<Option<String>>,
    pub artist_names: Vec<String>,
}

impl From<TrackObservation> for CatalogTrack {
    fn from(r: TrackObservation) -> Self {
        CatalogTrack {
            track_id: r.track_id,
            track_uri: r.track_uri,
            track_name: r.track_name,
            duration_ms: r.duration_ms,
            explicit: r.explicit,
            popularity: r.popularity,
            isrc: r.isrc,
            disc_number: r.disc_number,
            track_number: r.track_number,
            album_id: r.album_id,
            album_name: r.album_name,
            album_type: r.album_type,
            album_release_date: r.album_release_date,
            album_release_date_precision: r.album_release_date_precision,
            album_total_tracks: r.album_total_tracks,
            album_image_url: r.album_image_url,
            artist_ids: r.artist_ids,
            artist_names: r.artist_names,
        }
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// The search result that is the play's track: the first with the same track name and an artist
/// of the same name (case and surrounding spaces aside). Anything looser (a live version, a
/// cover) would count the play under another track, so no such match is "not found".
pub fn best_match<'a>(results: &'a [CatalogTrack], artist: &str, track: &str) -> Option<&'a CatalogTrack> {
    results
        .iter()
        .find(|t| same_name(&t.track_name, track) && t.artist_names.iter().any(|a| same_name(a, artist)))
}

/// Fills the empty columns of the play `row` from its catalog track; returns whether any
/// changed. The export's names stay (the play rule matches by them); the artist lists take the
/// catalog's only when the export's artist is one of them, which also gives the primary artist
/// its id.
pub fn fill(row: &mut TrackObservation, track: &CatalogTrack) -> bool {
    let before = row.clone();
    fn take<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(value);
        }
    }
    take(&mut row.track_id, &track.track_id);
    take(&mut row.track_uri, &track.track_uri);
    take(&mut row.is_local, &Some(false));
    take(&mut row.duration_ms, &track.duration_ms);
    take(&mut row.explicit, &track.explicit);
    take(&mut row.popularity, &track.popularity);
    take(&mut row.isrc, &track.isrc);
    take(&mut row.disc_number, &track.disc_number);
    take(&mut row.track_number, &track.track_number);
    take(&mut row.album_id, &track.album_id);
    take(&mut row.album_name, &track.album_name);
    take(&mut row.album_type, &track.album_type);
    take(&mut row.album_release_date, &track.album_release_date);
    take(
        &mut row.album_release_date_precision,
        &track.album_release_date_precision,
    );
    take(&mut row.album_total_tracks, &track.album_total_tracks);
    take(&mut row.album_image_url, &track.album_image_url);
    if row.artist_ids.iter().all(Option::is_none) {
        let artist = row.primary_artist_name.clone().unwrap_or_default();
        if let Some(i) = track.artist_names.iter().position(|a| same_name(a, &artist)) {
            row.artist_ids.clone_from(&track.artist_ids);
            row.artist_names.clone_from(&track.artist_names);
            take(&mut row.primary_artist_id, &track.artist_ids[i]);
        }
    }
    *row != before
}

/// Every answer the catalog gave, kept between runs in a file of JSON lines (one per lookup,
/// appended as soon as it is known, so a run stopped at any point loses at most the lookup in
/// flight). `None`: the catalog has no such track (asked once, not again).
pub struct TrackCache {
    path: PathBuf,
    answers: HashMap<String, Option<CatalogTrack>>,
}

#[derive(Serialize, Deserialize)]
struct CacheLine {
    lookup: String,
    track: Option<CatalogTrack>,
}

/// Why the cache cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the track cache {path}: check the lake's state folder (the file may be removed: it only saves requests)")]
pub struct CacheError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl TrackCache {
    /// The cache of the lake's state folder `state`, with what earlier runs found. A last line
    /// cut short by a stopped run is skipped: that lookup is made again.
    pub fn open(state: &Path) -> Result<TrackCache, CacheError> {
        let path = state.join(CACHE_FILE);
        let error = |source| CacheError {
            path: path.clone(),
            source,
        };
        let mut answers = HashMap::new();
        match File::open(&path) {
            Ok(file) => {
                for line in BufReader::new(file).lines() {
                    let line = line.map_err(error)?;
                    if let Ok(CacheLine { lookup, track }) = serde_json::from_str(&line) {
                        answers.insert(lookup, track);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(error(e)),
        }
        Ok(TrackCache { path, answers })
    }

    /// Whether the catalog was asked for `lookup` already.
    pub fn knows(&self, lookup: &Lookup) -> bool {
        self.answers.contains_key(&lookup.cache_key())
    }

    /// The track of `lookup`, when the catalog has it.
    pub fn track(&self, lookup: &Lookup) -> Option<&CatalogTrack> {
        self.answers.get(&lookup.cache_key()).and_then(Option::as_ref)
    }

    /// How many lookups have an answer, and how many of them found a track.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.answers.len(),
            self.answers.values().filter(|t| t.is_some()).count(),
        )
    }

    /// Keeps the catalog's answer to `lookup`, in memory and at the end of the file.
    pub fn record(&mut self, lookup: &Lookup, track: Option<CatalogTrack>) -> Result<(), CacheError> {
        let error = |source| CacheError {
            path: self.path.clone(),
            source,
        };
        let line = CacheLine {
            lookup: lookup.cache_key(),
            track,
        };
        let mut text = serde_json::to_string(&line).expect("a cache line serializes");
        text.push('\n');
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(error)?;
        file.write_all(text.as_bytes()).map_err(error)?;
        self.answers.insert(line.lookup, line.track);
        Ok(())
    }
}

/// The imported plays, wherever their partition files are: the local lake ([`LocalPlays`]) or,
/// in the command line, the deployed stack's bucket.
pub trait ImportedPlays {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Shows every imported play to `change`, which says whether it changed it, and stores each
    /// file one of whose plays changed, at once (`lake_layout::rewrite_bytes`).
    fn rewrite_each(
        &mut self,
        change: &mut dyn FnMut(&mut TrackObservation) -> bool,
    ) -> Result<Filled, Self::Error>;
}

/// The imported plays of the local lake folder (the one holding `processed/`).
pub struct LocalPlays<'a>(pub &'a Path);

impl ImportedPlays for LocalPlays<'_> {
    type Error = LakeError;

    fn rewrite_each(
        &mut self,
        change: &mut dyn FnMut(&mut TrackObservation) -> bool,
    ) -> Result<Filled, LakeError> {
        let mut filled = Filled::default();
        for file in imported_files(self.0)? {
            let plays = lake_layout::rewrite(&file, &mut *change)?;
            if plays > 0 {
                filled.plays += plays;
                filled.files += 1;
            }
        }
        Ok(filled)
    }
}

/// The partition files of imported plays in the lake folder `lake`, in date order.
pub fn imported_files(lake: &Path) -> Result<Vec<PathBuf>, LakeError> {
    let source_dir = lake_layout::partition_dir(lake, Source::StreamingHistory, "x")
        .parent()
        .expect("a partition folder is under its source's folder")
        .to_path_buf();
    let io = |source| LakeError::Io {
        path: source_dir.clone(),
        source,
    };
    let mut files = Vec::new();
    match std::fs::read_dir(&source_dir) {
        Ok(dirs) => {
            for dir in dirs {
                let file = dir.map_err(io)?.path().join(crate::IMPORT_FILE_NAME);
                if file.is_file() {
                    files.push(file);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    files.sort();
    Ok(files)
}

/// What the imported plays still need from the catalog, with how many plays each lookup would
/// fill, most plays first (a budget is best spent on the most played tracks).
pub fn lookups_needed<P: ImportedPlays>(plays: &mut P) -> Result<Vec<(Lookup, usize)>, P::Error> {
    let mut counts: HashMap<Lookup, usize> = HashMap::new();
    plays.rewrite_each(&mut |row| {
        if let Some(lookup) = Lookup::of(row) {
            *counts.entry(lookup).or_default() += 1;
        }
        false
    })?;
    let mut needed: Vec<(Lookup, usize)> = counts.into_iter().collect();
    needed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(needed)
}

/// What [`fill_plays`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filled {
    pub plays: usize,
    pub files: usize,
}

/// Fills the imported plays from the cache; each partition file is replaced at once, so a
/// stopped run leaves each file either as it was or filled.
pub fn fill_plays<P: ImportedPlays>(plays: &mut P, cache: &TrackCache) -> Result<Filled, P::Error> {
    plays.rewrite_each(&mut |row| {
        Lookup::of(row)
            .and_then(|lookup| cache.track(&lookup))
            .is_some_and(|track| fill(row, track))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{observation::observation, Package, Play};

    fn catalog(name: &str, artists: &[&str]) -> CatalogTrack {
        CatalogTrack {
            track_id: Some("4uLU6hMCjMI75M1A2tKUQC".into()),
            track_uri: Some("spotify:track:4uLU6hMCjMI75M1A2tKUQC".into()),
            track_name: name.into(),
            duration_ms: Some(213_000),
            explicit: Some(false),
            popularity: None,
            isrc: Some("GBARL9300135".into()),
            disc_number: Some(1),
            track_number: Some(3),
            album_id: Some("album1".into()),
            album_name: Some("Catalog Album".into()),
            album_type: Some("album".into()),
            album_release_date: NaiveDate::from_ymd_opt(1987, 7, 27),
            album_release_date_precision: Some("day".into()),
            album_total_tracks: Some(12),
            album_image_url: None,
            artist_ids: artists.iter().map(|a| Some(format!("id-{a}"))).collect(),
            artist_names: artists.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn account_play(artist: &str, track: &str) -> TrackObservation {
        let play = Play {
            ended_at: "2024-03-01T17:45:00Z".parse().unwrap(),
            ms_played: 180_000,
            track_id: None,
            track_name: track.into(),
            artist_name: Some(artist.into()),
            album_name: None,
            reason_start: None,
            reason_end: None,
            shuffle: None,
            skipped: None,
            offline: None,
            incognito_mode: None,
            platform: None,
            country: None,
            package: Package::AccountData,
        };
        observation(&play, "StreamingHistory_music_0.json", schemas::Timestamp::now()).unwrap()
    }

    #[test]
    fn a_search_result_is_the_play_s_track_only_with_the_same_names() {
        let results = [
            catalog("Never Gonna Give You Up - Live", &["Rick Astley"]),
            catalog("Never Gonna Give You Up", &["Someone Else"]),
            catalog("never gonna give you up ", &["Guest", "RICK ASTLEY"]),
        ];
        let found = best_match(&results, "Rick Astley", "Never Gonna Give You Up").unwrap();
        assert_eq!(found.artist_names, ["Guest", "RICK ASTLEY"]);
        assert!(best_match(&results[..2], "Rick Astley", "Never Gonna Give You Up").is_none());
    }

    #[test]
    fn a_fill_sets_only_empty_columns_and_keeps_the_export_s_names_and_key() {
        let mut row = account_play("Rick Astley", "Never Gonna Give You Up");
        row.album_name = Some("The Export's Album".into());
        let before = row.clone();
        let lookup = Lookup::of(&row).unwrap();
        assert_eq!(
            lookup.search_query().unwrap(),
            "track:\"Never Gonna Give You Up\" artist:\"Rick Astley\""
        );
        assert!(fill(
            &mut row,
            &catalog("NEVER gonna give you up", &["Guest", "Rick Astley"])
        ));
        assert_eq!(row.record_key, before.record_key);
        assert_eq!(row.track_name, before.track_name);
        assert_eq!(row.primary_artist_name, before.primary_artist_name);
        assert_eq!(row.album_name.as_deref(), Some("The Export's Album"));
        assert_eq!(row.ms_played, before.ms_played);
        assert_eq!(row.duration_ms, Some(213_000));
        assert_eq!(row.track_id.as_deref(), Some("4uLU6hMCjMI75M1A2tKUQC"));
        assert_eq!(row.album_id.as_deref(), Some("album1"));
        assert_eq!(row.primary_artist_id.as_deref(), Some("id-Rick Astley"));
        assert_eq!(row.artist_names, ["Guest", "Rick Astley"]);
        assert_eq!(Lookup::of(&row), None, "a filled play needs nothing more");
        assert!(
            !fill(&mut row, &catalog("x", &["y"])),
            "a second fill changes nothing"
        );

        // The export's artist is not among the track's: the artists stay as the export gave them.
        let mut various = account_play("Various Artists", "Never Gonna Give You Up");
        assert!(fill(
            &mut various,
            &catalog("Never Gonna Give You Up", &["Rick Astley"])
        ));
        assert_eq!(various.artist_names, ["Various Artists"]);
        assert_eq!(various.primary_artist_id, None);
    }

    #[test]
    fn the_cache_keeps_every_answer_across_runs_and_skips_a_line_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let found = Lookup::Id("4uLU6hMCjMI75M1A2tKUQC".into());
        let missing = Lookup::Names {
            artist: "Nobody".into(),
            track: "Nothing".into(),
        };
        let mut cache = TrackCache::open(dir.path()).unwrap();
        assert!(!cache.knows(&found));
        cache.record(&found, Some(catalog("Song", &["Artist"]))).unwrap();
        cache.record(&missing, None).unwrap();
        let file = dir.path().join(CACHE_FILE);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("{\"lookup\":\"id:cut");
        std::fs::write(&file, text).unwrap();

        let again = TrackCache::open(dir.path()).unwrap();
        assert!(again.knows(&found) && again.knows(&missing));
        assert_eq!(again.track(&found).unwrap().track_name, "Song");
        assert!(again.track(&missing).is_none());
        assert_eq!(again.counts(), (2, 1));
    }
}
