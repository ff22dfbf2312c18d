//! `tracklake import` end to end: the real binary imports exports written here with the fields
//! and names Spotify's files carry (personal fields with fake values), and the lake is read back
//! with SQL through the local Athena (docs/privacy-exports.md#importing-into-the-lake).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use local_athena::LocalAthena;
use serde_json::{json, Value};
use test_support::files::files_under;

const IP: &str = "198.51.100.23";
const USER_AGENT: &str = "unit-test-agent/9.9 (fake-device)";
const USERNAME: &str = "fake-listener-77";

const FOLDER: &str = "Spotify Extended Streaming History";

fn music(ts: &str, id: &str, ms_played: u64) -> Value {
    json!({
        "ts": ts, "username": USERNAME, "platform": "Android OS 9 API 28 (samsung, SM-G960F)",
        "ms_played": ms_played, "conn_country": "SE", "ip_addr_decrypted": IP,
        "user_agent_decrypted": USER_AGENT,
        "master_metadata_track_name": format!("Track {id}"),
        "master_metadata_album_artist_name": "Artist", "master_metadata_album_album_name": "Album",
        "spotify_track_uri": format!("spotify:track:{id}"),
        "episode_name": null, "episode_show_name": null, "spotify_episode_uri": null,
        "reason_start": "trackdone", "reason_end": "fwdbtn", "shuffle": true, "skipped": true,
        "offline": false, "offline_timestamp": 0, "incognito_mode": false
    })
}

/// Three music plays over two days, an incognito play, an episode and an audiobook chapter.
fn extended_history() -> Value {
    let mut incognito = music("2024-03-01T18:00:00Z", "4uLU6hMCjMI75M1A2tKUQC", 1000);
    incognito["incognito_mode"] = json!(true);
    json!([
        music("2024-03-01T17:45:02Z", "6rqhFgbbKwnb9MLmUQDhG6", 215000),
        incognito,
        {
            "ts": "2024-03-01T19:00:00Z", "ms_played": 1200000, "ip_addr": IP, "username": USERNAME,
            "master_metadata_track_name": null, "spotify_track_uri": null,
            "episode_name": "Episode 1", "episode_show_name": "Show",
            "spotify_episode_uri": "spotify:episode:0Q86acNRm6V9GYx55SXKwf", "incognito_mode": false
        },
        {
            "ts": "2024-03-01T20:00:00Z", "ms_played": 600000, "ip_addr": IP,
            "master_metadata_track_name": null, "spotify_track_uri": null, "episode_name": null,
            "audiobook_title": "Book", "audiobook_uri": "spotify:audiobook:7iHfbu1YPACw6oZPAFJtqe",
            "audiobook_chapter_uri": "spotify:chapter:0D5wENdkdwbqlrHoaJ9g29", "incognito_mode": false
        },
        music("2024-03-01T23:59:59Z", "3n3Ppam7vgaVa1iaRUc9Lp", 4000),
        music("2024-03-02T08:00:00Z", "0VjIjW4GlUZAMYd2vXMi3b", 200000),
    ])
}

fn video() -> Value {
    json!([{ "ts": "2024-03-03T10:00:00Z", "ms_played": 5000, "ip_addr": IP,
             "master_metadata_track_name": null, "spotify_track_uri": null }])
}

fn account_music() -> Value {
    json!([
        { "endTime": "2024-02-10 21:04", "artistName": "Old Artist", "trackName": "Old Song", "msPlayed": 180000 },
        { "endTime": "2024-02-10 21:08", "artistName": "Old Artist", "trackName": "Other Song", "msPlayed": 3000 },
    ])
}

fn account_podcast() -> Value {
    json!([{ "endTime": "2024-02-11 08:00", "podcastName": "Show", "episodeName": "E", "msPlayed": 900000 }])
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap()
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

/// The extended history as downloaded (a zip) and the account data unpacked (a folder).
fn both_packages(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let archive = dir.join("my_spotify_data.zip");
    zip_of(
        &archive,
        &[
            (
                &format!("{FOLDER}/Streaming_History_Audio_2023-2024_0.json"),
                bytes(&extended_history()),
            ),
            (
                &format!("{FOLDER}/Streaming_History_Video_2024.json"),
                bytes(&video()),
            ),
            (
                &format!("{FOLDER}/ReadMeFirst_ExtendedStreamingHistory.pdf"),
                b"%PDF".to_vec(),
            ),
        ],
    );
    let folder = dir.join("Spotify Account Data");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("StreamingHistory_music_0.json"),
        bytes(&account_music()),
    )
    .unwrap();
    std::fs::write(
        folder.join("StreamingHistory_podcast_0.json"),
        bytes(&account_podcast()),
    )
    .unwrap();
    std::fs::write(
        folder.join("Userdata.json"),
        bytes(&json!({"username": USERNAME, "country": "SE"})),
    )
    .unwrap();
    (archive, folder)
}

fn import(lake: &Path, args: &[&Path], extra: &[&str]) -> (Output, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .arg("import")
        .args(args)
        .args(extra)
        .arg("--lake")
        .arg(lake)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    for personal in [IP, USER_AGENT, USERNAME] {
        assert!(
            !stdout.contains(personal) && !stderr.contains(personal),
            "{personal} printed"
        );
    }
    (output, stdout, stderr)
}

async fn count(lake: &Path, sql: &str) -> i64 {
    let athena = LocalAthena::open(lake).await.unwrap();
    let batches = athena.query(sql).await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

async fn imported(lake: &Path) -> i64 {
    count(
        lake,
        "SELECT count(*) FROM track_observations WHERE source = 'streaming_history'",
    )
    .await
}

async fn distinct_keys(lake: &Path) -> i64 {
    count(
        lake,
        "SELECT count(DISTINCT record_key) FROM track_observations WHERE source = 'streaming_history'",
    )
    .await
}

/// The total line of the table: `total  read  imported  already  left out...`.
fn total(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no total in\n{stdout}"));
    line.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test]
async fn both_packages_become_rows_read_back_with_sql_and_a_second_import_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let (archive, folder) = both_packages(dir.path());

    let (output, stdout, stderr) = import(&lake, &[&archive, &folder], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("using 4 files:"), "{stdout}");
    assert!(
        stdout.contains("Streaming_History_Video_2024.json (extended streaming history, video)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ReadMeFirst_ExtendedStreamingHistory.pdf: not a JSON file"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Userdata.json: not a streaming history file"),
        "{stdout}"
    );
    // 6 + 1 + 2 + 1 read; 4 music plays of the extended history and 2 of the account data
    // imported; incognito, episode, audiobook, video and the account data's podcast left out.
    assert_eq!(total(&stdout)[..5], ["total", "10", "5", "0", "5"], "{stdout}");
    for reason in ["incognito 1", "podcast episode 2", "audiobook 1", "video 1"] {
        assert!(stdout.contains(reason), "{reason} in\n{stdout}");
    }
    assert_eq!(imported(&lake).await, 5);
    assert_eq!(distinct_keys(&lake).await, 5);
    // Partitioned by the UTC date of the play's end.
    assert_eq!(
        count(&lake, "SELECT count(*) FROM track_observations WHERE source = 'streaming_history' AND dt = '2024-03-01'").await,
        2
    );
    assert_eq!(
        count(
            &lake,
            "SELECT count(*) FROM track_observations WHERE source = 'streaming_history' \
             AND event_at = TIMESTAMP '2024-03-01 17:45:02' AND track_uri = 'spotify:track:6rqhFgbbKwnb9MLmUQDhG6' \
             AND track_id = '6rqhFgbbKwnb9MLmUQDhG6' AND ms_played = 215000 AND skipped AND shuffle \
             AND NOT offline AND NOT incognito_mode AND is_local = false AND platform = 'android' \
             AND conn_country = 'SE' AND reason_start = 'trackdone' AND reason_end = 'fwdbtn' \
             AND export_file = 'Streaming_History_Audio_2023-2024_0.json' AND user_id IS NULL \
             AND primary_artist_name = 'Artist' AND artist_names[1] = 'Artist' AND album_name = 'Album' \
             AND duration_ms IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &lake,
            "SELECT count(*) FROM track_observations WHERE source = 'streaming_history' \
             AND track_uri IS NULL AND track_name = 'Old Song' AND primary_artist_name = 'Old Artist' \
             AND event_at = TIMESTAMP '2024-02-10 21:04:00' AND is_local IS NULL AND dt = '2024-02-10' \
             AND export_file = 'StreamingHistory_music_0.json'"
        )
        .await,
        1
    );
    let files: Vec<_> = files_under(&lake);
    assert!(!files.is_empty());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for personal in [IP, USER_AGENT, USERNAME, "SM-G960F"] {
            assert!(
                !bytes.windows(personal.len()).any(|w| w == personal.as_bytes()),
                "{personal} in {}",
                file.display()
            );
        }
    }

    let (output, stdout, stderr) = import(&lake, &[&archive, &folder], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..5], ["total", "10", "0", "5", "5"], "{stdout}");
    assert_eq!(imported(&lake).await, 5);
    assert_eq!(files_under(&lake), files, "the second import wrote no new file");
}

#[tokio::test]
async fn a_newer_export_overlapping_an_older_one_adds_only_the_new_plays() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let older = dir.path().join("older/Streaming_History_Audio_2024_0.json");
    let newer = dir.path().join("newer/Streaming_History_Audio_2024_0.json");
    let plays: Vec<Value> = (0..6)
        .map(|i| {
            music(
                &format!("2024-03-0{}T12:00:00Z", i + 1),
                &format!("track{i}"),
                100_000 + i,
            )
        })
        .collect();
    for (path, range) in [(&older, 0..4), (&newer, 2..6)] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes(&Value::Array(plays[range].to_vec()))).unwrap();
    }
    let (output, stdout, stderr) = import(&lake, &[&older], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(imported(&lake).await, 4);
    let (output, stdout, stderr) = import(&lake, &[&newer], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..4], ["total", "4", "2", "2"], "{stdout}");
    assert_eq!(imported(&lake).await, 6);
    assert_eq!(distinct_keys(&lake).await, 6);
}

#[tokio::test]
async fn a_file_cut_short_keeps_what_was_read_and_running_again_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let folder = dir.path().join(FOLDER);
    std::fs::create_dir_all(&folder).unwrap();
    let plays: Vec<Value> = (0..7)
        .map(|i| {
            music(
                &format!("2024-04-0{}T12:00:00Z", i + 1),
                &format!("cut{i}"),
                100_000,
            )
        })
        .collect();
    std::fs::write(
        folder.join("Streaming_History_Audio_2024_0.json"),
        bytes(&Value::Array(plays[..3].to_vec())),
    )
    .unwrap();
    let second = folder.join("Streaming_History_Audio_2024_1.json");
    let full = bytes(&Value::Array(plays[3..].to_vec()));
    // Cut inside the third play of the second file: two of its plays are complete.
    let third = String::from_utf8_lossy(&full)
        .match_indices("\"ts\"")
        .nth(2)
        .unwrap()
        .0;
    std::fs::write(&second, &full[..third + 20]).unwrap();

    let (output, stdout, stderr) = import(&lake, &[&folder], &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Streaming_History_Audio_2024_1.json ends early (line "),
        "{stderr}"
    );
    assert!(stderr.contains("column"), "{stderr}");
    assert!(
        stdout.contains("total"),
        "the table of what was done is printed: {stdout}"
    );
    assert_eq!(
        imported(&lake).await,
        5,
        "the first file and the two complete plays are kept"
    );

    std::fs::write(&second, &full).unwrap();
    let (output, stdout, stderr) = import(&lake, &[&folder], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..4], ["total", "7", "2", "5"], "{stdout}");
    assert_eq!(imported(&lake).await, 7);
    assert_eq!(distinct_keys(&lake).await, 7);
}

#[tokio::test]
async fn incognito_plays_are_imported_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let (archive, _) = both_packages(dir.path());
    let (output, stdout, stderr) = import(&lake, &[&archive], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        count(
            &lake,
            "SELECT count(*) FROM track_observations WHERE incognito_mode"
        )
        .await,
        0
    );
    let (output, stdout, stderr) = import(&lake, &[&archive], &["--include-incognito"]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(total(&stdout)[..4], ["total", "7", "1", "3"], "{stdout}");
    assert_eq!(
        count(
            &lake,
            "SELECT count(*) FROM track_observations WHERE incognito_mode"
        )
        .await,
        1
    );
    assert_eq!(imported(&lake).await, 4);
}

#[test]
fn a_path_without_exports_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let empty = dir.path().join("not-an-export");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "x").unwrap();
    let (output, stdout, stderr) = import(&lake, &[&empty], &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("not-an-export holds no streaming history"),
        "{stderr}"
    );
    assert!(!lake.exists(), "nothing written");
}

/// The Spotify sandbox's export (both packages, three years, with real files' quirks: identical
/// `ts`, short, offline and private plays, episodes, video, no reasons in older periods): every
/// play read is imported or accounted for, the lake holds each imported play once, its documentation
/// values for personal fields reach no output, and a second import adds nothing.
#[tokio::test]
async fn the_sandbox_export_is_imported_with_every_play_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let exports = dir.path().join("export");
    let config = spotify_sandbox::SandboxConfig {
        plays_per_day: 6.0,
        ..spotify_sandbox::SandboxConfig::default()
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
        .unwrap()
        .to_utc();
    let written = spotify_sandbox::write_export(&config, now, &exports).unwrap();
    let plays = written.extended_audio_plays + written.video_plays + written.account_plays;

    let (output, stdout, stderr) = import(&lake, &[&exports], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let first = total(&stdout);
    let number = |i: usize| first[i].parse::<usize>().unwrap();
    assert_eq!(number(1), plays, "{stdout}");
    assert_eq!(number(1), number(2) + number(3) + number(4), "{stdout}");
    assert!(
        number(4) > 0 && stdout.contains("incognito") && stdout.contains("video"),
        "{stdout}"
    );
    assert_eq!(imported(&lake).await, number(2) as i64);
    assert_eq!(distinct_keys(&lake).await, number(2) as i64);
    let devices = count(
        &lake,
        "SELECT count(*) FROM track_observations WHERE platform NOT IN \
         ('android', 'ios', 'windows', 'osx', 'linux', 'web_player', 'cast', 'console', 'tv', 'car', 'partner', 'other')",
    )
    .await;
    assert_eq!(devices, 0, "platforms are families only");
    for file in files_under(&lake) {
        let bytes = std::fs::read(&file).unwrap();
        let personal_values = [
            config.user_id.as_str(),
            "Pixel 7",
            "iPhone15,2",
            "192.0.2.",
            "198.51.100.",
            "203.0.113.",
        ];
        for personal in personal_values {
            assert!(
                !bytes.windows(personal.len()).any(|w| w == personal.as_bytes()),
                "{personal} in {}",
                file.display()
            );
        }
    }

    let (output, stdout, stderr) = import(&lake, &[&exports], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let again = total(&stdout);
    assert_eq!(
        (again[2].as_str(), again[3].parse::<usize>().unwrap()),
        ("0", number(2) + number(3)),
        "{stdout}"
    );
    assert_eq!(imported(&lake).await, number(2) as i64);
}

/// A file named like an export whose content is not plays stops the import at that file, naming
/// it and the position; the file before it is imported.
#[tokio::test]
async fn a_file_that_is_not_plays_stops_the_import_after_the_files_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let folder = dir.path().join(FOLDER);
    std::fs::create_dir_all(&folder).unwrap();
    let plays = json!([music("2024-05-01T12:00:00Z", "kept", 100_000)]);
    std::fs::write(folder.join("Streaming_History_Audio_2024_0.json"), bytes(&plays)).unwrap();
    std::fs::write(
        folder.join("Streaming_History_Audio_2024_1.json"),
        bytes(&json!({"playlists": []})),
    )
    .unwrap();
    let (output, stdout, stderr) = import(&lake, &[&folder], &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "Streaming_History_Audio_2024_1.json is not a streaming history file (line 1, column 1)"
        ),
        "{stderr}"
    );
    assert_eq!(imported(&lake).await, 1);
}

/// A run killed while writing a partition leaves the file being written beside the partition's
/// file: the table does not read it, and the next run writes over it and completes.
#[tokio::test]
async fn a_partial_file_left_by_an_interrupted_run_is_not_read_and_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let file = dir.path().join("Streaming_History_Audio_2024_0.json");
    let plays = json!([
        music("2024-05-01T12:00:00Z", "one", 100_000),
        music("2024-05-01T13:00:00Z", "two", 100_000),
    ]);
    std::fs::write(&file, bytes(&plays)).unwrap();
    let partition = history_import::partition_file(&lake, "2024-05-01");
    std::fs::create_dir_all(partition.parent().unwrap()).unwrap();
    let partial = partition.with_file_name(format!("{}.partial", history_import::IMPORT_FILE_NAME));
    std::fs::write(&partial, b"PAR1 half a file").unwrap();
    assert_eq!(
        imported(&lake).await,
        0,
        "the partial file is not part of the table"
    );

    let (output, stdout, stderr) = import(&lake, &[&file], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(imported(&lake).await, 2);
    assert!(!partial.exists(), "renamed over the partition's file");
}
