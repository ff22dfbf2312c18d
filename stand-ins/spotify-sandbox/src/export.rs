//! The synthetic listener's privacy exports, in both of Spotify's packages, so that the offline
//! demo has a lifetime history to import (docs/privacy-exports.md describes the real files).
//!
//! The exports hold the same plays the Web API serves: a play the API lists at `played_at` is in
//! the extended history with `ts` = that instant to the second, so the matching rule between the
//! two is exercised. Around them, each hour adds what the API never lists: plays shorter than
//! 30 s, private-session plays, podcast episodes and videos. The quirks of real files are there
//! too: skips, offline plays (several with the same `ts` in older periods), and no reasons or skip
//! flags before [`REASONS_SINCE_DAYS`].
//!
//! Personal fields (`ip_addr`, `user_agent_decrypted`, `username`) are written with documentation
//! values (TEST-NET addresses), so that an importer's tests can check they never reach the lake.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use serde_json::{json, Value};

use crate::config::SandboxConfig;
use crate::history::{format_seconds, ms_to_datetime, World};
use crate::rng::{rng, Kind};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How far back the extended history goes: the listener's account is this old.
pub const EXTENDED_HISTORY_DAYS: i64 = 3 * 365;

/// The account data covers about the last year.
pub const ACCOUNT_DATA_DAYS: i64 = 365;

/// Plays before this many days ago carry no `reason_start`, `reason_end` or `skipped`, as whole
/// older periods of real exports do.
pub const REASONS_SINCE_DAYS: i64 = 2 * 365;

/// Plays per extended-history file; real files hold about 15,000.
pub const PLAYS_PER_FILE: usize = 15_000;

/// The Web API lists a play only once it lasted about this long.
const API_MIN_PLAY_MS: i64 = 30_000;

/// The folders the two packages unpack to.
pub const EXTENDED_FOLDER: &str = "Spotify Extended Streaming History";
pub const ACCOUNT_FOLDER: &str = "Spotify Account Data";

/// Platform texts as older exports write them (models and versions), and as newer ones do.
const PLATFORMS: [&str; 7] = [
    "Android OS 13 API 33 (Google, Pixel 7)",
    "iOS 17.1.2 (iPhone15,2)",
    "Windows 10 (10.0.19045; x64)",
    "OS X 14.1.1 [arm 2]",
    "web_player linux ;chrome 120.0.0.0;desktop",
    "Partner google cast_tv;Chromecast",
    "android",
];

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportWritten {
    /// Every file, extended history first.
    pub files: Vec<PathBuf>,
    /// Plays in the extended history's audio files (music, episodes, short and private plays).
    pub extended_audio_plays: usize,
    /// Of those, the music plays the Web API also serves (`recently-played` lists them).
    pub api_plays: usize,
    /// Plays in the extended history's video file.
    pub video_plays: usize,
    /// Music and podcast plays of the account data.
    pub account_plays: usize,
}

/// Writes both packages of the listener's export as it stands at `now` under `dir`, in the
/// folders Spotify's zips unpack to.
pub fn write_export(config: &SandboxConfig, now: DateTime<Utc>, dir: &Path) -> io::Result<ExportWritten> {
    let world = World::new(config);
    let now_ms = now.timestamp_millis();
    let mut written = ExportWritten::default();
    let extended = dir.join(EXTENDED_FOLDER);
    let account = dir.join(ACCOUNT_FOLDER);
    fs::create_dir_all(&extended)?;
    fs::create_dir_all(&account)?;

    let first_hour = (now_ms - EXTENDED_HISTORY_DAYS * DAY_MS).div_euclid(HOUR_MS);
    let last_hour = now_ms.div_euclid(HOUR_MS);
    let account_since = now_ms - ACCOUNT_DATA_DAYS * DAY_MS;
    let mut audio = Vec::with_capacity(PLAYS_PER_FILE);
    let mut video = Vec::new();
    let mut music = Vec::new();
    let mut podcasts = Vec::new();
    let mut part = 0;
    for hour in first_hour..=last_hour {
        for play in hour_of_export(&world, config, hour, now_ms) {
            if play.ended_ms > now_ms {
                continue;
            }
            written.api_plays += usize::from(play.api);
            if play.ended_ms >= account_since && !play.incognito {
                match play.item {
                    Item::Track(_) => music.push(play.account_json(&world)),
                    Item::Episode(_) => podcasts.push(play.account_json(&world)),
                    Item::Video(_) => {}
                }
            }
            let value = play.extended_json(&world, config, now_ms);
            if matches!(play.item, Item::Video(_)) {
                video.push(value);
                continue;
            }
            audio.push(value);
            if audio.len() == PLAYS_PER_FILE {
                written.extended_audio_plays += audio.len();
                written.files.push(write_audio(&extended, &mut audio, part)?);
                part += 1;
            }
        }
    }
    if !audio.is_empty() {
        written.extended_audio_plays += audio.len();
        written.files.push(write_audio(&extended, &mut audio, part)?);
    }
    written.video_plays = video.len();
    let video_name = format!("Streaming_History_Video_{}.json", years(&video));
    written
        .files
        .push(write_json(&extended.join(video_name), &video)?);
    written.account_plays = music.len() + podcasts.len();
    written.files.push(write_json(
        &account.join("StreamingHistory_music_0.json"),
        &music,
    )?);
    written.files.push(write_json(
        &account.join("StreamingHistory_podcast_0.json"),
        &podcasts,
    )?);
    Ok(written)
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Track(u32),
    Episode(u32),
    Video(u32),
}

/// One play of the export.
#[derive(Debug, Clone, Copy)]
struct ExportPlay {
    ended_ms: i64,
    /// When the export says it ended: `ended_ms` to the second, or a sync time for offline plays
    /// of older periods.
    ts_ms: i64,
    ms_played: i64,
    item: Item,
    /// The Web API serves this play (`recently-played`).
    api: bool,
    skipped: bool,
    reason_start: &'static str,
    reason_end: &'static str,
    shuffle: bool,
    offline: bool,
    incognito: bool,
    platform: usize,
}

/// The plays of one hour: the Web API's (same track, same end), then the ones it never lists.
fn hour_of_export(world: &World, config: &SandboxConfig, hour: i64, now_ms: i64) -> Vec<ExportPlay> {
    let mut r = rng(config.seed, &[Kind::ExportHour as u64, hour as u64]);
    let mut plays: Vec<ExportPlay> = Vec::new();
    for api in world.plays_in_hour(hour) {
        let duration = i64::from(world.catalog.tracks[api.track as usize].duration_ms);
        // A skip after at least the 30 s the API needs to list the play.
        let skipped = r.u8(..100) < 15 && duration > API_MIN_PLAY_MS + 1_000;
        let ms_played = if skipped {
            r.i64(API_MIN_PLAY_MS..duration)
        } else {
            duration - r.i64(0..1_500).min(duration)
        };
        plays.push(ExportPlay {
            ended_ms: api.at_ms,
            ts_ms: api.at_ms,
            ms_played,
            item: Item::Track(api.track),
            api: true,
            skipped,
            reason_start: ["trackdone", "trackdone", "clickrow", "fwdbtn", "playbtn"][r.usize(..5)],
            reason_end: if skipped { "fwdbtn" } else { "trackdone" },
            shuffle: r.u8(..100) < 40,
            offline: r.u8(..100) < 5,
            incognito: false,
            platform: r.usize(..PLATFORMS.len()),
        });
    }
    let start = hour * HOUR_MS;
    let day = hour.div_euclid(24);
    let extra = |r: &mut fastrand::Rng, item: Item, ms_played: i64, incognito: bool| ExportPlay {
        ended_ms: start + r.i64(0..HOUR_MS),
        ts_ms: 0,
        ms_played,
        item,
        api: false,
        skipped: ms_played < API_MIN_PLAY_MS,
        reason_start: "clickrow",
        reason_end: if ms_played < API_MIN_PLAY_MS {
            "fwdbtn"
        } else {
            "endplay"
        },
        shuffle: false,
        offline: false,
        incognito,
        platform: r.usize(..PLATFORMS.len()),
    };
    let tracks = &world.catalog;
    if r.u8(..100) < 30 {
        let track = world.track_for(&mut r, day);
        let ms = r.i64(5..API_MIN_PLAY_MS);
        plays.push(extra(&mut r, Item::Track(track), ms, false));
    }
    if r.u8(..100) < 3 {
        let track = world.track_for(&mut r, day);
        let ms = i64::from(tracks.tracks[track as usize].duration_ms);
        plays.push(extra(&mut r, Item::Track(track), ms, true));
    }
    if !tracks.episodes.is_empty() && r.u8(..100) < 4 {
        let episode = r.u32(..tracks.episodes.len() as u32);
        let ms = r.i64(60_000..1_800_000);
        plays.push(extra(&mut r, Item::Episode(episode), ms, false));
    }
    if !tracks.episodes.is_empty() && r.u16(..1000) < 5 {
        let episode = r.u32(..tracks.episodes.len() as u32);
        let ms = r.i64(60_000..600_000);
        plays.push(extra(&mut r, Item::Video(episode), ms, false));
    }
    // Offline plays of older periods reach Spotify at the day's sync: they share its time.
    let sync = (day + 1) * DAY_MS - 1_000;
    for play in &mut plays {
        if play.ts_ms == 0 {
            play.ts_ms = play.ended_ms;
        }
        let old = now_ms - play.ended_ms > 60 * DAY_MS;
        if play.offline && old {
            play.ts_ms = sync;
        }
    }
    plays.sort_by_key(|p| (p.ts_ms, p.ended_ms));
    plays
}

impl ExportPlay {
    fn extended_json(&self, world: &World, config: &SandboxConfig, now_ms: i64) -> Value {
        let catalog = &world.catalog;
        let reasons = now_ms - self.ended_ms < REASONS_SINCE_DAYS * DAY_MS;
        let offline_timestamp = if self.offline {
            // Seconds in some periods, milliseconds in others, as in real files.
            let start = self.ended_ms - self.ms_played;
            if ms_to_datetime(start).year() % 2 == 0 {
                json!(start / 1000)
            } else {
                json!(start)
            }
        } else {
            json!(0)
        };
        let mut play = json!({
            "ts": format_seconds(self.ts_ms),
            "platform": PLATFORMS[self.platform],
            "ms_played": self.ms_played,
            "conn_country": "SE",
            "ip_addr": format!("192.0.2.{}", self.platform + 1),
            "master_metadata_track_name": null,
            "master_metadata_album_artist_name": null,
            "master_metadata_album_album_name": null,
            "spotify_track_uri": null,
            "episode_name": null,
            "episode_show_name": null,
            "spotify_episode_uri": null,
            "audiobook_title": null,
            "audiobook_uri": null,
            "audiobook_chapter_uri": null,
            "audiobook_chapter_title": null,
            "reason_start": if reasons { json!(self.reason_start) } else { Value::Null },
            "reason_end": if reasons { json!(self.reason_end) } else { Value::Null },
            "shuffle": self.shuffle,
            "skipped": if reasons { json!(self.skipped) } else { Value::Null },
            "offline": self.offline,
            "offline_timestamp": offline_timestamp,
            "incognito_mode": self.incognito,
            "user_agent_decrypted": "unknown",
            "username": config.user_id,
        });
        match self.item {
            Item::Track(t) => {
                let track = &catalog.tracks[t as usize];
                let album = &catalog.albums[track.album as usize];
                play["master_metadata_track_name"] = json!(track.name);
                play["master_metadata_album_artist_name"] =
                    json!(catalog.artists[album.artists[0] as usize].name);
                play["master_metadata_album_album_name"] = json!(album.name);
                play["spotify_track_uri"] = json!(catalog.track_uri(t));
            }
            Item::Episode(e) | Item::Video(e) => {
                let episode = &catalog.episodes[e as usize];
                play["episode_name"] = json!(episode.name);
                play["episode_show_name"] = json!(episode.show_name);
                play["spotify_episode_uri"] = json!(catalog.episode_uri(e));
            }
        }
        play
    }

    fn account_json(&self, world: &World) -> Value {
        let catalog = &world.catalog;
        let end_time = ms_to_datetime(self.ts_ms).format("%Y-%m-%d %H:%M").to_string();
        match self.item {
            Item::Track(t) => {
                let track = &catalog.tracks[t as usize];
                let artist = &catalog.artists[track.artists[0] as usize].name;
                json!({"endTime": end_time, "artistName": artist, "trackName": track.name, "msPlayed": self.ms_played})
            }
            Item::Episode(e) | Item::Video(e) => {
                let episode = &catalog.episodes[e as usize];
                json!({"endTime": end_time, "podcastName": episode.show_name, "episodeName": episode.name, "msPlayed": self.ms_played})
            }
        }
    }
}

/// `2019` or `2019-2021`: the years a file's plays cover, as Spotify names its files.
fn years(plays: &[Value]) -> String {
    let year = |v: &Value| {
        v["ts"]
            .as_str()
            .and_then(|ts| ts.get(..4))
            .unwrap_or("0000")
            .to_string()
    };
    match (plays.first().map(year), plays.last().map(year)) {
        (Some(first), Some(last)) if first != last => format!("{first}-{last}"),
        (Some(first), _) => first,
        _ => "0000".to_string(),
    }
}

fn write_audio(dir: &Path, plays: &mut Vec<Value>, part: usize) -> io::Result<PathBuf> {
    let name = format!("Streaming_History_Audio_{}_{part}.json", years(plays));
    let path = write_json(&dir.join(name), plays)?;
    plays.clear();
    Ok(path)
}

/// One JSON array, one play per line, as Spotify's files are laid out.
fn write_json(path: &Path, plays: &[Value]) -> io::Result<PathBuf> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(b"[")?;
    for (i, play) in plays.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut out, play)?;
    }
    out.write_all(b"\n]\n")?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(path.to_path_buf())
}
