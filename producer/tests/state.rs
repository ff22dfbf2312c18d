//! The producer's state file: round trip, fresh start, overlap detection, owner-only permissions
//! and clear refusals of files it does not understand.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use producer::state::{
    LocalFileStore, RunSummary, State, StateError, StateStore, StateVersion, STATE_VERSION,
};
use schemas::{Source, Timestamp};

fn sample_state() -> State {
    State {
        version: STATE_VERSION,
        recently_played_after: Some(1_795_507_200_123),
        saved_tracks_watermark: Timestamp::parse("2026-11-20T10:00:00Z"),
        saved_tracks_backfill_before: Timestamp::parse("2019-03-04T00:00:00Z"),
        saved_tracks_backfill_skip: Some(4_950),
        playlist_snapshots: BTreeMap::from([("pl1".to_string(), "snap-a".to_string())]),
        last_success: BTreeMap::from([(
            Source::TopTracks,
            Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap(),
        )]),
        not_before: Some(Utc.with_ymd_and_hms(2026, 11, 24, 22, 0, 0).unwrap()),
        last_run: Some(RunSummary {
            started_at: Some(Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()),
            finished_at: Some(Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 5).unwrap()),
            records: BTreeMap::from([(Source::RecentlyPlayed, 12)]),
            delivered: 12,
            undelivered: 0,
            stopped_early: None,
            backfill_paused: Some("backfill paused".to_string()),
        }),
        opened_partitions: BTreeMap::from([(
            "source=saved_tracks/dt=2019-03-04".to_string(),
            Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 3).unwrap(),
        )]),
    }
}

#[tokio::test]
async fn missing_file_is_a_fresh_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let (state, version) = store.load().await.unwrap();
    assert_eq!(state, State::default());
    assert_eq!(state.version, STATE_VERSION);
    assert_eq!(state.recently_played_after, None);
    assert_eq!(version, StateVersion::ABSENT);
}

#[tokio::test]
async fn save_then_load_round_trips_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let (_, version) = store.load().await.unwrap();
    let state = sample_state();
    let saved = store.save(&state, &version).await.unwrap();
    let (loaded, loaded_version) = store.load().await.unwrap();
    assert_eq!(loaded, state);
    assert_eq!(loaded_version, saved);
    assert_ne!(saved, StateVersion::ABSENT);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["state.json"]);
}

#[tokio::test]
async fn a_second_save_from_the_same_load_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let (mut first, version) = store.load().await.unwrap();
    store.save(&first, &version).await.unwrap();

    // Two runs load the same state; the first to finish saves.
    let (_, run_a) = store.load().await.unwrap();
    let (_, run_b) = store.load().await.unwrap();
    first.recently_played_after = Some(1);
    store.save(&first, &run_a).await.unwrap();
    first.recently_played_after = Some(2);
    let err = store.save(&first, &run_b).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("another run overlapped"), "{err}");
    // The first run's state stays.
    assert_eq!(store.load().await.unwrap().0.recently_played_after, Some(1));
}

#[tokio::test]
async fn saving_as_a_first_run_over_an_existing_file_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    store.save(&sample_state(), &StateVersion::ABSENT).await.unwrap();
    let err = store
        .save(&State::default(), &StateVersion::ABSENT)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn a_hand_edit_since_load_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = LocalFileStore::new(&path);
    let saved = store.save(&sample_state(), &StateVersion::ABSENT).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("snap-a", "snap-b")).unwrap();
    let err = store.save(&sample_state(), &saved).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // An older file readable by everyone is replaced by an owner-only one.
    std::fs::write(&path, serde_json::to_vec(&State::default()).unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = LocalFileStore::new(&path);
    let (state, version) = store.load().await.unwrap();
    store.save(&state, &version).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
}

#[tokio::test]
async fn unknown_fields_are_rejected_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, r#"{"version": 1, "recently_played_cursor": 5}"#).unwrap();
    let err = LocalFileStore::new(&path).load().await.unwrap_err();
    assert!(matches!(err, StateError::Invalid { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("unknown field `recently_played_cursor`"),
        "{message}"
    );
    assert!(message.contains("state.json"), "{message}");
    assert!(message.contains("delete it to start over"), "{message}");
}

#[tokio::test]
async fn another_version_is_refused_before_its_fields_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, r#"{"version": 2, "some_new_field": true}"#).unwrap();
    let err = LocalFileStore::new(&path).load().await.unwrap_err();
    assert!(
        matches!(
            err,
            StateError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    std::fs::write(&path, r#"{"recently_played_after": 5}"#).unwrap();
    let err = LocalFileStore::new(&path).load().await.unwrap_err();
    assert!(err.to_string().contains("missing field `version`"), "{err}");
}

#[tokio::test]
async fn a_state_file_written_before_the_saved_tracks_backfill_existed_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // As the previous release wrote it: no `saved_tracks_backfill_before`.
    std::fs::write(
        &path,
        r#"{
  "version": 1,
  "recently_played_after": 1795507200123,
  "saved_tracks_watermark": "2026-11-20T10:00:00.000Z",
  "playlist_snapshots": {},
  "last_success": {"saved_tracks": "2026-11-24T08:00:00Z"},
  "not_before": null,
  "last_run": null
}
"#,
    )
    .unwrap();
    let (state, _) = LocalFileStore::new(&path).load().await.unwrap();
    assert_eq!(
        state.saved_tracks_watermark,
        Timestamp::parse("2026-11-20T10:00:00Z")
    );
    assert_eq!(state.saved_tracks_backfill_before, None, "nothing pending");
    assert_eq!(state.saved_tracks_backfill_skip, None, "nothing to jump over");
    assert!(
        state.opened_partitions.is_empty(),
        "no partition known to be active"
    );
}
