//! Exports as a user has them (a zip as downloaded, an unpacked folder, single files), built
//! here with the fields and names Spotify's files carry (docs/privacy-exports.md).

use std::io::Write;
use std::path::Path;

use history_import::{Export, ExportFile, Ignored, ImportError, LeftOut, Options, Package};
use serde_json::{json, Value};

const IP: &str = "203.0.113.77";
const USER_AGENT: &str = "Mozilla/5.0 (unit-test-agent)";
const USERNAME: &str = "listener-name-42";

fn music(ts: &str, id: &str, name: &str) -> Value {
    json!({
        "ts": ts, "username": USERNAME, "platform": "Android OS 9 API 28 (samsung, SM-G960F)",
        "ms_played": 215000, "conn_country": "SE", "ip_addr_decrypted": IP,
        "user_agent_decrypted": USER_AGENT,
        "master_metadata_track_name": name, "master_metadata_album_artist_name": "Artist",
        "master_metadata_album_album_name": "Album", "spotify_track_uri": format!("spotify:track:{id}"),
        "episode_name": null, "episode_show_name": null, "spotify_episode_uri": null,
        "reason_start": "trackdone", "reason_end": "trackdone", "shuffle": false, "skipped": null,
        "offline": false, "offline_timestamp": 0, "incognito_mode": false
    })
}

fn extended_history() -> Value {
    let mut incognito = music("2024-03-01T18:00:00Z", "4uLU6hMCjMI75M1A2tKUQC", "Private");
    incognito["incognito_mode"] = json!(true);
    let episode = json!({
        "ts": "2024-03-01T19:00:00Z", "ms_played": 1200000, "ip_addr": IP,
        "master_metadata_track_name": null, "spotify_track_uri": null,
        "episode_name": "Episode 1", "episode_show_name": "Show",
        "spotify_episode_uri": "spotify:episode:0Q86acNRm6V9GYx55SXKwf", "incognito_mode": false
    });
    let audiobook = json!({
        "ts": "2024-03-01T20:00:00Z", "ms_played": 600000, "ip_addr": IP,
        "master_metadata_track_name": null, "spotify_track_uri": null, "episode_name": null,
        "audiobook_title": "Book", "audiobook_uri": "spotify:audiobook:7iHfbu1YPACw6oZPAFJtqe",
        "audiobook_chapter_uri": "spotify:chapter:0D5wENdkdwbqlrHoaJ9g29", "incognito_mode": false
    });
    let mut bad_time = music("yesterday", "6rqhFgbbKwnb9MLmUQDhG6", "When");
    bad_time["ts"] = json!("yesterday");
    json!([
        music("2024-03-01T17:45:02Z", "6rqhFgbbKwnb9MLmUQDhG6", "First"),
        incognito,
        episode,
        audiobook,
        bad_time,
        music("2024-03-02T08:00:00Z", "3n3Ppam7vgaVa1iaRUc9Lp", "Second"),
    ])
}

fn zip_of(path: &Path, files: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap()
}

#[test]
fn the_downloaded_zip_is_read_and_every_play_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("my_spotify_data.zip");
    let folder = "Spotify Extended Streaming History";
    zip_of(
        &archive,
        &[
            (
                &format!("{folder}/Streaming_History_Audio_2023-2024_0.json"),
                bytes(&extended_history()),
            ),
            (
                &format!("{folder}/Streaming_History_Video_2024.json"),
                bytes(&json!([music("2024-03-03T08:00:00Z", "x", "Clip")])),
            ),
            (
                &format!("{folder}/ReadMeFirst_ExtendedStreamingHistory.pdf"),
                b"%PDF".to_vec(),
            ),
        ],
    );

    let export = Export::open(&[&archive]).unwrap();
    let kinds: Vec<ExportFile> = export.entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ExportFile::ExtendedAudio, ExportFile::ExtendedVideo]);
    assert_eq!(export.ignored.len(), 1);
    assert_eq!(export.ignored[0].1, Ignored::NotJson);
    assert!(export.ignored[0]
        .0
        .ends_with("ReadMeFirst_ExtendedStreamingHistory.pdf"));

    let audio = export.entries[0].read(&Options::default()).unwrap();
    assert_eq!(audio.read, 6);
    let names: Vec<&str> = audio.plays.iter().map(|p| p.track_name.as_str()).collect();
    assert_eq!(names, ["First", "Second"]);
    let expected_left_out = [
        (LeftOut::Incognito, 1),
        (LeftOut::Episode, 1),
        (LeftOut::Audiobook, 1),
        (LeftOut::BadTime, 1),
    ];
    assert_eq!(audio.left_out.into_iter().collect::<Vec<_>>(), expected_left_out);
    let first = &audio.plays[0];
    assert_eq!(first.ended_at.to_rfc3339(), "2024-03-01T17:45:02+00:00");
    assert_eq!(first.track_id.as_deref(), Some("6rqhFgbbKwnb9MLmUQDhG6"));
    assert_eq!(first.ms_played, 215_000);
    assert_eq!(first.platform.as_deref(), Some("android"));
    assert_eq!(first.country.as_deref(), Some("SE"));
    assert_eq!(first.reason_end.as_deref(), Some("trackdone"));
    assert_eq!(first.skipped, None);
    assert_eq!(first.package, Package::ExtendedHistory);

    let video = export.entries[1].read(&Options::default()).unwrap();
    assert_eq!((video.read, video.plays.len()), (1, 0));
    assert_eq!(video.left_out.get(&LeftOut::Video), Some(&1));
}

#[test]
fn personal_data_is_never_held() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Streaming_History_Audio_2024_0.json");
    std::fs::write(&file, bytes(&extended_history())).unwrap();
    let export = Export::open(&[&file]).unwrap();
    let report = export.entries[0]
        .read(&Options {
            include_incognito: true,
        })
        .unwrap();
    let held = format!("{:?}", report.plays);
    for personal in [IP, USER_AGENT, USERNAME, "SM-G960F", "samsung"] {
        assert!(!held.contains(personal), "{personal} reached a play: {held}");
    }
    // Asked for, the private session's play is kept.
    assert!(report.plays.iter().any(|p| p.track_name == "Private"));
    assert_eq!(report.left_out.get(&LeftOut::Incognito), None);
}

#[test]
fn an_unpacked_account_data_folder_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("Spotify Account Data");
    std::fs::create_dir(&folder).unwrap();
    let music = json!([
        {"endTime": "2024-03-01 17:45", "artistName": "Artist", "trackName": "First", "msPlayed": 215000},
        {"endTime": "2024-03-01 17:49", "artistName": "Artist", "trackName": "", "msPlayed": 1000}
    ]);
    let podcast = json!([
        {"endTime": "2024-03-01 19:00", "podcastName": "Show", "episodeName": "Episode 1", "msPlayed": 1200000}
    ]);
    std::fs::write(folder.join("StreamingHistory_music_0.json"), bytes(&music)).unwrap();
    std::fs::write(folder.join("StreamingHistory_podcast_0.json"), bytes(&podcast)).unwrap();
    std::fs::write(folder.join("YourLibrary.json"), b"{}").unwrap();

    let export = Export::open(&[&dir.path()]).unwrap();
    assert_eq!(export.entries.len(), 2);
    assert_eq!(export.ignored.len(), 1);
    assert_eq!(export.ignored[0].1, Ignored::NotPlays);

    let music = export.entries[0].read(&Options::default()).unwrap();
    assert_eq!(export.entries[0].kind, ExportFile::AccountMusic);
    assert_eq!(music.read, 2);
    assert_eq!(music.plays.len(), 1);
    assert_eq!(music.left_out.get(&LeftOut::NoTrack), Some(&1));
    let play = &music.plays[0];
    assert_eq!(play.ended_at.to_rfc3339(), "2024-03-01T17:45:00+00:00");
    assert_eq!(play.track_id, None);
    assert_eq!(play.artist_name.as_deref(), Some("Artist"));
    assert_eq!(play.package, Package::AccountData);

    let podcast = export.entries[1].read(&Options::default()).unwrap();
    assert_eq!((podcast.read, podcast.plays.len()), (1, 0));
    assert_eq!(podcast.left_out.get(&LeftOut::Episode), Some(&1));
}

#[test]
fn a_file_cut_short_is_named_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Streaming_History_Audio_2024_1.json");
    let full = bytes(&extended_history());
    std::fs::write(&file, &full[..full.len() / 2]).unwrap();
    let export = Export::open(&[&file]).unwrap();
    let err = export.entries[0].read(&Options::default()).unwrap_err();
    assert!(
        matches!(err, ImportError::CutShort { line, .. } if line > 1),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("Streaming_History_Audio_2024_1.json"),
        "{message}"
    );
    assert!(message.contains("cut short"), "{message}");
}

/// Where serde_json, reading the whole of `bytes` as an array, stops: its line and column.
fn serde_json_stops_at(bytes: &[u8]) -> (usize, usize) {
    let e = serde_json::from_slice::<Vec<Value>>(bytes).unwrap_err();
    (e.line(), e.column())
}

#[test]
fn an_error_after_plays_is_placed_exactly_with_the_plays_before_it_read_in_a_file_or_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let full = bytes(&extended_history());
    // Cut inside the third play; and a missing comma after the fifth (a quote in a name, and
    // brackets, do not end a play early).
    let third = String::from_utf8_lossy(&full)
        .match_indices("\"ts\"")
        .nth(2)
        .unwrap()
        .0;
    let cut = full[..third + 20].to_vec();
    let mut named = extended_history();
    named[0]["master_metadata_track_name"] = json!("Say \"]}\" [live]");
    let text = String::from_utf8(bytes(&named)).unwrap();
    let sixth = text.match_indices("\n  {").nth(5).unwrap().0;
    let comma = text[..sixth].rfind(',').unwrap();
    let no_comma = format!("{}{}", &text[..comma], &text[comma + 1..]).into_bytes();
    for (bytes, cut_short, read) in [(cut, true, 2), (no_comma, false, 5)] {
        let (line, column) = serde_json_stops_at(&bytes);
        let file = dir.path().join("Streaming_History_Audio_2024_1.json");
        std::fs::write(&file, &bytes).unwrap();
        let archive = dir.path().join("export.zip");
        zip_of(
            &archive,
            &[("Streaming_History_Audio_2024_2.json", bytes.clone())],
        );
        for export in [
            Export::open(&[&file]).unwrap(),
            Export::open(&[&archive]).unwrap(),
        ] {
            let mut report = history_import::FileReport::default();
            let err = export.entries[0]
                .read_into(&Options::default(), &mut report)
                .unwrap_err();
            let at = match err {
                ImportError::CutShort { line, column, .. } if cut_short => (line, column),
                ImportError::NotPlays { line, column, .. } if !cut_short => (line, column),
                other => panic!("{other:?}"),
            };
            assert_eq!(at, (line, column), "{}", export.entries[0].name);
            assert_eq!(report.read, read, "{}", export.entries[0].name);
        }
    }
}

#[test]
fn a_file_named_like_an_export_that_is_not_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("endsong_0.json");
    std::fs::write(&file, br#"{"playlists": []}"#).unwrap();
    let export = Export::open(&[&file]).unwrap();
    let err = export.entries[0].read(&Options::default()).unwrap_err();
    assert!(matches!(err, ImportError::NotPlays { line: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("endsong_0.json"), "{err}");
}

#[test]
fn a_zip_or_folder_without_exports_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("photos.zip");
    zip_of(
        &archive,
        &[("a.jpg", vec![1, 2, 3]), ("YourLibrary.json", b"{}".to_vec())],
    );
    let err = Export::open(&[&archive]).unwrap_err();
    assert!(matches!(err, ImportError::NoExports { files: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("photos.zip"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = Export::open(&[empty.path()]).unwrap_err();
    assert!(matches!(err, ImportError::NoExports { files: 0, .. }), "{err:?}");

    let not_a_zip = dir.path().join("broken.zip");
    std::fs::write(&not_a_zip, b"not a zip").unwrap();
    let err = Export::open(&[&not_a_zip]).unwrap_err();
    assert!(matches!(err, ImportError::Zip { .. }), "{err:?}");
}
