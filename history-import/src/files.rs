//! Which files of an export hold plays, by their names (docs/privacy-exports.md).

use std::fmt;

/// The two packages Spotify hands out, and the files of each that hold plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportFile {
    /// `Streaming_History_Audio_<years>_<n>.json`: every play since the account began.
    ExtendedAudio,
    /// `Streaming_History_Video_<years>.json`: video plays (counted, never imported).
    ExtendedVideo,
    /// `endsong_<n>.json`: the extended history under its older name.
    ExtendedLegacy,
    /// `StreamingHistory_music_<n>.json`: the account data's last year of music.
    AccountMusic,
    /// `StreamingHistory_podcast_<n>.json`: the account data's podcasts (counted, never imported).
    AccountPodcast,
    /// `StreamingHistory<n>.json`: the account data under its older name, music and podcasts mixed.
    AccountLegacy,
}

impl ExportFile {
    /// The package the file belongs to.
    pub fn package(self) -> Package {
        match self {
            ExportFile::ExtendedAudio | ExportFile::ExtendedVideo | ExportFile::ExtendedLegacy => {
                Package::ExtendedHistory
            }
            ExportFile::AccountMusic | ExportFile::AccountPodcast | ExportFile::AccountLegacy => {
                Package::AccountData
            }
        }
    }
}

/// Which of Spotify's two packages a play came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Package {
    /// The extended streaming history: per play its end, track id, reasons and flags.
    ExtendedHistory,
    /// The account data: per play its end to the minute and names only.
    AccountData,
}

impl Package {
    /// The name stored with each play.
    pub fn as_str(self) -> &'static str {
        match self {
            Package::ExtendedHistory => "extended_history",
            Package::AccountData => "account_data",
        }
    }
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a file of the input is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not JSON: images, PDFs, the export's read-me.
    NotJson,
    /// JSON, but not a file of plays (library, playlists, account details, ...).
    NotPlays,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::NotJson => "not a JSON file",
            Ignored::NotPlays => "not a streaming history file (library, playlists, account details)",
        })
    }
}

/// What every file name of the account data starts with, and no file name of the extended
/// history: the named queries tell the packages' plays apart by it (`export_file`, in the play
/// rule of sql/README.md).
pub const ACCOUNT_DATA_FILE_PREFIX: &str = "StreamingHistory";

/// What a file is, from its name alone (the folders above it do not matter).
pub fn classify(path: &str) -> Result<ExportFile, Ignored> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let Some(stem) = name.strip_suffix(".json") else {
        return Err(Ignored::NotJson);
    };
    let numbered = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    // `<year>[-<year>][_<n>]`: the years a file covers, then its number among them.
    let years = |rest: &str| {
        !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'_')
            && rest.as_bytes()[0].is_ascii_digit()
    };
    if let Some(rest) = stem.strip_prefix("Streaming_History_Audio_") {
        if years(rest) {
            return Ok(ExportFile::ExtendedAudio);
        }
    } else if let Some(rest) = stem.strip_prefix("Streaming_History_Video_") {
        if years(rest) {
            return Ok(ExportFile::ExtendedVideo);
        }
    } else if let Some(rest) = stem.strip_prefix("endsong_") {
        if numbered(rest) {
            return Ok(ExportFile::ExtendedLegacy);
        }
    } else if let Some(rest) = stem.strip_prefix("StreamingHistory_music_") {
        if numbered(rest) {
            return Ok(ExportFile::AccountMusic);
        }
    } else if let Some(rest) = stem.strip_prefix("StreamingHistory_podcast_") {
        if numbered(rest) {
            return Ok(ExportFile::AccountPodcast);
        }
    } else if let Some(rest) = stem.strip_prefix("StreamingHistory") {
        if numbered(rest) {
            return Ok(ExportFile::AccountLegacy);
        }
    }
    Err(Ignored::NotPlays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packages_are_told_apart_by_the_prefix_the_play_rule_reads() {
        let names = [
            "Streaming_History_Audio_2014-2016_0.json",
            "Streaming_History_Video_2014-2026.json",
            "endsong_0.json",
            "StreamingHistory_music_0.json",
            "StreamingHistory_podcast_0.json",
            "StreamingHistory0.json",
        ];
        for name in names {
            let account = classify(name).unwrap().package() == Package::AccountData;
            assert_eq!(name.starts_with(ACCOUNT_DATA_FILE_PREFIX), account, "{name}");
        }
        let rule =
            format!("coalesce(min_by(export_file, observed_at) LIKE '{ACCOUNT_DATA_FILE_PREFIX}%', false)");
        let sql = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql");
        let mut with_rule = 0;
        for file in std::fs::read_dir(sql).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            if text.contains("-- The play rule (") {
                assert!(text.contains(&rule), "the play rule reads {rule}");
                with_rule += 1;
            }
        }
        assert!(with_rule >= 9);
    }

    #[test]
    fn current_and_older_names_of_both_packages() {
        let cases = [
            (
                "Spotify Extended Streaming History/Streaming_History_Audio_2014-2016_0.json",
                ExportFile::ExtendedAudio,
            ),
            ("Streaming_History_Audio_2024_7.json", ExportFile::ExtendedAudio),
            (
                "Streaming_History_Video_2019-2024.json",
                ExportFile::ExtendedVideo,
            ),
            ("MyData/endsong_3.json", ExportFile::ExtendedLegacy),
            (
                "Spotify Account Data/StreamingHistory_music_0.json",
                ExportFile::AccountMusic,
            ),
            ("StreamingHistory_podcast_1.json", ExportFile::AccountPodcast),
            ("MyData\\StreamingHistory12.json", ExportFile::AccountLegacy),
        ];
        for (name, kind) in cases {
            assert_eq!(classify(name), Ok(kind), "{name}");
        }
    }

    #[test]
    fn other_files_are_ignored_with_the_reason() {
        assert_eq!(
            classify("ReadMeFirst_ExtendedStreamingHistory.pdf"),
            Err(Ignored::NotJson)
        );
        assert_eq!(classify("YourLibrary.json"), Err(Ignored::NotPlays));
        assert_eq!(classify("Playlist1.json"), Err(Ignored::NotPlays));
        assert_eq!(classify("StreamingHistory_music_.json"), Err(Ignored::NotPlays));
        assert_eq!(classify("Streaming_History_Audio_x.json"), Err(Ignored::NotPlays));
        assert_eq!(classify("endsong_1.json.bak"), Err(Ignored::NotJson));
    }
}
