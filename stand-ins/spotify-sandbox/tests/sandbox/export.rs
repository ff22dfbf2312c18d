//! The listener's privacy exports: readable by the importer, holding the plays the Web API serves
//! (so the matching rule has pairs to match), with the quirks of real files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use history_import::{Export, LeftOut, Options};
use serde_json::Value;
use spotify_sandbox::{write_export, SandboxConfig, ACCOUNT_FOLDER, EXTENDED_FOLDER};

use crate::{config, get, now, sandbox, user_token};

fn plays_of(path: &Path) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn both_packages_are_read_by_the_importer_and_every_play_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_export(&config(), now(), dir.path()).unwrap();
    let export = Export::open(&[dir.path()]).unwrap();
    let names: Vec<String> = export.entries.iter().map(|e| e.name.clone()).collect();
    assert!(
        names.iter().any(|n| n.contains("/Streaming_History_Audio_")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("/Streaming_History_Video_")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("/StreamingHistory_music_0.json")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("/StreamingHistory_podcast_0.json")),
        "{names:?}"
    );
    assert_eq!(export.entries.len(), written.files.len());

    let mut read = 0;
    let mut kept = 0;
    let mut left: BTreeMap<LeftOut, usize> = BTreeMap::new();
    for entry in &export.entries {
        let report = entry.read(&Options::default()).unwrap();
        read += report.read;
        kept += report.plays.len();
        for (reason, n) in &report.left_out {
            *left.entry(*reason).or_default() += n;
        }
    }
    assert_eq!(
        read,
        written.extended_audio_plays + written.video_plays + written.account_plays
    );
    assert_eq!(read, kept + left.values().sum::<usize>());
    for reason in [LeftOut::Incognito, LeftOut::Episode, LeftOut::Video] {
        assert!(
            left.get(&reason).copied().unwrap_or(0) > 0,
            "no {reason} plays: {left:?}"
        );
    }
    // Three years of about 30 plays a day.
    assert!(written.api_plays > 25_000, "{written:?}");
}

#[test]
fn files_have_the_quirks_of_real_exports() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_export(&config(), now(), dir.path()).unwrap();
    let audio: Vec<Value> = written
        .files
        .iter()
        .filter(|f| {
            f.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Streaming_History_Audio_")
        })
        .flat_map(|f| plays_of(f))
        .collect();
    assert!(
        written.files.len() > 4,
        "split into files of 15,000 plays: {:?}",
        written.files
    );
    let count = |f: &dyn Fn(&Value) -> bool| audio.iter().filter(|p| f(p)).count();
    assert!(count(&|p| p["skipped"] == true) > 100);
    assert!(
        count(&|p| p["ms_played"].as_i64().unwrap() < 30_000) > 100,
        "short plays"
    );
    assert!(count(&|p| p["offline"] == true) > 100);
    assert!(count(&|p| p["incognito_mode"] == true) > 10);
    assert!(
        count(&|p| p["reason_end"].is_null()) > 1000,
        "older periods without reasons"
    );
    assert!(count(&|p| p["reason_end"].is_null() && p["ts"].as_str().unwrap() > "2025-12-01") == 0);
    let mut ts: HashMap<&str, usize> = HashMap::new();
    for p in &audio {
        *ts.entry(p["ts"].as_str().unwrap()).or_default() += 1;
    }
    assert!(ts.values().any(|n| *n > 1), "offline plays sharing a ts");
    // The personal fields real files carry, with documentation values.
    assert!(audio
        .iter()
        .all(|p| p["ip_addr"].as_str().unwrap().starts_with("192.0.2.")));
    assert!(audio.iter().all(|p| p["username"].is_string()));
    assert!(dir.path().join(EXTENDED_FOLDER).is_dir() && dir.path().join(ACCOUNT_FOLDER).is_dir());
}

#[tokio::test]
async fn every_play_the_web_api_lists_is_in_the_extended_history_within_the_matching_window() {
    let sandbox = sandbox(SandboxConfig {
        recently_played_window: 500,
        ..config()
    })
    .await;
    let token = user_token(&sandbox).await;
    let dir = tempfile::tempdir().unwrap();
    let written = write_export(sandbox.config(), now(), dir.path()).unwrap();
    let mut by_track: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for file in &written.files {
        if !file.to_str().unwrap().contains("Streaming_History_Audio_") {
            continue;
        }
        for p in plays_of(file) {
            if let Some(uri) = p["spotify_track_uri"].as_str() {
                let ts = chrono::DateTime::parse_from_rfc3339(p["ts"].as_str().unwrap()).unwrap();
                by_track
                    .entry(uri.to_string())
                    .or_default()
                    .push((ts.timestamp_millis(), p["ms_played"].as_i64().unwrap()));
            }
        }
    }
    let mut url = "/me/player/recently-played?limit=50".to_string();
    let mut checked = 0;
    loop {
        let (status, _, page) = get(&sandbox, &token, &url).await;
        assert_eq!(status, 200);
        for item in page["items"].as_array().unwrap() {
            let uri = item["track"]["uri"].as_str().unwrap();
            let played_at = chrono::DateTime::parse_from_rfc3339(item["played_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            // docs/privacy-exports.md: ts - ms_played - 60 s <= played_at <= ts + 60 s.
            let twins = by_track.get(uri).map_or(0, |plays| {
                plays
                    .iter()
                    .filter(|(ts, ms)| ts - ms - 60_000 <= played_at && played_at <= ts + 60_000)
                    .count()
            });
            assert!(twins >= 1, "{uri} played at {played_at} is not in the export");
            checked += 1;
        }
        match page["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(checked, 500);
}
