//! One play of an export, as the lake keeps it: what the export says about the listening, and
//! nothing that identifies a person or a device (docs/privacy-exports.md).

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::files::{ExportFile, Package};

/// A play the import keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    /// When the play ended (the export's `ts` or `endTime`; the latter only to the minute).
    pub ended_at: DateTime<Utc>,
    /// How long it played.
    pub ms_played: u64,
    /// The Spotify track id; only the extended history has it.
    pub track_id: Option<String>,
    pub track_name: String,
    pub artist_name: Option<String>,
    pub album_name: Option<String>,
    pub reason_start: Option<String>,
    pub reason_end: Option<String>,
    pub shuffle: Option<bool>,
    pub skipped: Option<bool>,
    pub offline: Option<bool>,
    /// Whether it played in a private session (kept only with [`Options::include_incognito`]).
    pub incognito_mode: Option<bool>,
    /// The device family (`android`, `ios`, `windows`, ...), never the device's model or
    /// version string, which can tell one person's devices apart.
    pub platform: Option<String>,
    /// ISO country of the connection.
    pub country: Option<String>,
    pub package: Package,
}

/// Why a play of an export is left out of the lake. Every play read is either kept or counted
/// under one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeftOut {
    /// Played in a private session; kept only when the user asks for them.
    Incognito,
    /// A podcast episode: the lake holds music.
    Episode,
    /// An audiobook chapter.
    Audiobook,
    /// A video.
    Video,
    /// No track at all (neither an id nor a name): nothing to count it under.
    NoTrack,
    /// Its time cannot be read.
    BadTime,
}

impl LeftOut {
    pub const ALL: [LeftOut; 6] = [
        LeftOut::Incognito,
        LeftOut::Episode,
        LeftOut::Audiobook,
        LeftOut::Video,
        LeftOut::NoTrack,
        LeftOut::BadTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeftOut::Incognito => "incognito",
            LeftOut::Episode => "podcast episode",
            LeftOut::Audiobook => "audiobook",
            LeftOut::Video => "video",
            LeftOut::NoTrack => "no track",
            LeftOut::BadTime => "unreadable time",
        }
    }
}

impl fmt::Display for LeftOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the import may keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Keep plays of private sessions (left out unless asked for).
    pub include_incognito: bool,
}

/// A play of the extended streaming history. Only the fields the lake keeps are declared: the
/// IP address, user agent and user name are skipped by the parser and never held.
#[derive(Debug, Deserialize)]
pub(crate) struct ExtendedPlay {
    ts: Option<String>,
    #[serde(default)]
    ms_played: u64,
    platform: Option<String>,
    conn_country: Option<String>,
    master_metadata_track_name: Option<String>,
    master_metadata_album_artist_name: Option<String>,
    master_metadata_album_album_name: Option<String>,
    spotify_track_uri: Option<String>,
    spotify_episode_uri: Option<String>,
    episode_name: Option<String>,
    audiobook_uri: Option<String>,
    audiobook_chapter_uri: Option<String>,
    reason_start: Option<String>,
    reason_end: Option<String>,
    shuffle: Option<bool>,
    skipped: Option<bool>,
    offline: Option<bool>,
    incognito_mode: Option<bool>,
}

/// A play of the account data: its end to the minute, and names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountPlay {
    end_time: Option<String>,
    artist_name: Option<String>,
    track_name: Option<String>,
    #[serde(default)]
    ms_played: u64,
}

impl ExtendedPlay {
    pub(crate) fn into_play(self, file: ExportFile, options: &Options) -> Result<Play, LeftOut> {
        if file == ExportFile::ExtendedVideo {
            return Err(LeftOut::Video);
        }
        if self.incognito_mode == Some(true) && !options.include_incognito {
            return Err(LeftOut::Incognito);
        }
        let track_id = self
            .spotify_track_uri
            .as_deref()
            .and_then(|uri| uri.strip_prefix("spotify:track:"))
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        if track_id.is_none() {
            if self.spotify_episode_uri.is_some() || self.episode_name.is_some() {
                return Err(LeftOut::Episode);
            }
            if self.audiobook_uri.is_some() || self.audiobook_chapter_uri.is_some() {
                return Err(LeftOut::Audiobook);
            }
        }
        let Some(track_name) = self.master_metadata_track_name.filter(|n| !n.is_empty()) else {
            return Err(LeftOut::NoTrack);
        };
        let ended_at = self
            .ts
            .as_deref()
            .and_then(|ts| DateTime::parse_from_rfc3339(ts).ok())
            .ok_or(LeftOut::BadTime)?
            .with_timezone(&Utc);
        Ok(Play {
            ended_at,
            ms_played: self.ms_played,
            track_id,
            track_name,
            artist_name: self.master_metadata_album_artist_name,
            album_name: self.master_metadata_album_album_name,
            reason_start: self.reason_start,
            reason_end: self.reason_end,
            shuffle: self.shuffle,
            skipped: self.skipped,
            offline: self.offline,
            incognito_mode: self.incognito_mode,
            platform: self.platform.as_deref().and_then(platform_family),
            country: self.conn_country.filter(|c| c.len() == 2),
            package: Package::ExtendedHistory,
        })
    }
}

impl AccountPlay {
    pub(crate) fn into_play(self, file: ExportFile) -> Result<Play, LeftOut> {
        if file == ExportFile::AccountPodcast {
            return Err(LeftOut::Episode);
        }
        let Some(track_name) = self.track_name.filter(|n| !n.is_empty()) else {
            return Err(LeftOut::NoTrack);
        };
        let ended_at = self
            .end_time
            .as_deref()
            .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").ok())
            .ok_or(LeftOut::BadTime)?
            .and_utc();
        Ok(Play {
            ended_at,
            ms_played: self.ms_played,
            track_id: None,
            track_name,
            artist_name: self.artist_name.filter(|n| !n.is_empty()),
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
        })
    }
}

/// The device family of an export's `platform`: current exports write a family (`android`),
/// older ones a description with versions and models (`iOS 12.1.4 (iPhone8,1)`,
/// `Android OS 9 API 28 (samsung, SM-G960F)`); only the family is kept.
pub fn platform_family(platform: &str) -> Option<String> {
    let p = platform.trim().to_ascii_lowercase();
    let family = [
        ("android", "android"),
        ("ios", "ios"),
        ("iphone", "ios"),
        ("ipad", "ios"),
        ("windows", "windows"),
        ("os x", "osx"),
        ("osx", "osx"),
        ("macos", "osx"),
        ("linux", "linux"),
        ("web_player", "web_player"),
        ("web player", "web_player"),
        ("webplayer", "web_player"),
        ("cast", "cast"),
        ("chromecast", "cast"),
        ("playstation", "console"),
        ("xbox", "console"),
        ("tv", "tv"),
        ("car", "car"),
        ("partner", "partner"),
    ]
    .into_iter()
    .find(|(prefix, _)| p.starts_with(prefix))
    .map(|(_, family)| family)
    .unwrap_or("other");
    (!p.is_empty()).then(|| family.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_descriptions_become_their_family() {
        assert_eq!(platform_family("iOS 12.1.4 (iPhone8,1)").as_deref(), Some("ios"));
        assert_eq!(
            platform_family("Android OS 9 API 28 (samsung, SM-G960F)").as_deref(),
            Some("android")
        );
        assert_eq!(platform_family("android").as_deref(), Some("android"));
        assert_eq!(platform_family("OS X 10.15.7 [x86 8]").as_deref(), Some("osx"));
        assert_eq!(
            platform_family("Windows 10 (10.0.19045; x64)").as_deref(),
            Some("windows")
        );
        assert_eq!(
            platform_family("WebPlayer (websocket RFC6455)").as_deref(),
            Some("web_player")
        );
        assert_eq!(platform_family("Sonos Move").as_deref(), Some("other"));
        assert_eq!(platform_family("  "), None);
    }
}
