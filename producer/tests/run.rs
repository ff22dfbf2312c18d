//! End-to-end runs: `run_once` with a wiremock Spotify, the Firehose stand-in of `tests/sink/`
//! (the real aws-sdk-firehose client) and a `LocalFileStore` in a temporary folder. Index:
//! - `first_run_*`: every pulled line reaches Firehose, the state moves and is saved; the next run
//!   pulls only what is due and asks recently-played `after` the saved cursor;
//! - `undelivered_*`: a record Firehose never accepts keeps its source's watermark;
//! - `quota_*`: QUOTA_EXCEEDED ends the run cleanly, persists not-before, and later runs before it
//!   make no request at all;
//! - `overlapping_*`: a state file changed between load and save gives a conflict, not an overwrite;
//! - `expired_refresh_token_*`: invalid_grant shows in the report as a re-authorization to do;
//! - `client_credentials_*`: user sources are skipped with a reason, `/me` is never called, and
//!   search still runs.

use std::future::Future;
use std::time::Duration;

use aws_sdk_firehose::config::retry::RetryConfig;
use chrono::{DateTime, TimeDelta, Utc};
use firehose_transform::sample;
use producer::run::{run_once, RunError, RunReport, SourceOutcome};
use producer::sink::{FirehoseSink, SinkConfig};
use producer::sources::SourcesConfig;
use producer::state::{LocalFileStore, State, StateError, StateStore, StateVersion};
use schemas::{RawEnvelope, Source, Timestamp};
use serde_json::{json, Value};
use spotify_client::backoff::Backoff;
use spotify_client::{SpotifyClient, SpotifyConfig};
use test_support::fake_firehose::{FakeFirehose, Reply};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STREAM: &str = "tracklake-raw";
const USER: &str = "alice";

async fn spotify() -> MockServer {
    test_support::spotify_mock::with_user(USER).await
}

fn config_for(server: &MockServer, config: SpotifyConfig) -> SpotifyClient {
    let mut config = config;
    config.api_base = format!("{}/v1", server.uri());
    config.accounts_base = server.uri();
    config.request_timeout = Duration::from_secs(5);
    SpotifyClient::new(config).unwrap()
}

/// A fresh client per run, as the entrypoints build them: the budget and counters are per run.
/// User credentials (a refresh token): the `/me/*` sources need them.
fn client(server: &MockServer) -> SpotifyClient {
    config_for(server, SpotifyConfig::refresh_token("id", "refresh"))
}

fn api(route: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(format!("/v1{route}")))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn sink(firehose: &FakeFirehose) -> FirehoseSink {
    let config = SinkConfig {
        retry: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts: 3,
        },
        max_in_flight: 2,
        call_timeout: Duration::from_secs(10),
    };
    // SDK retries off: the sink's policy is the only loop, so the call counts below are exact.
    FirehoseSink::new(
        firehose.client_with_sdk_retries(RetryConfig::disabled()),
        STREAM,
        config,
    )
}

fn sources(enabled: &[Source]) -> SourcesConfig {
    SourcesConfig {
        enabled: enabled.to_vec(),
        ..SourcesConfig::default()
    }
}

/// Not a fixed date: a not-before time comes from the real clock (now + Retry-After).
fn now() -> DateTime<Utc> {
    Utc::now()
}

fn one_page(items: Vec<Value>) -> Value {
    let total = items.len();
    json!({"href": "…", "items": items, "limit": 50, "offset": 0, "total": total, "next": null, "previous": null})
}

const PLAYED: [&str; 2] = ["2026-11-24T07:50:00.500Z", "2026-11-24T07:40:00Z"];
const ADDED: [&str; 2] = ["2026-11-20T10:00:00Z", "2026-11-01T09:00:00Z"];

async fn mount_recently_played_first(server: &MockServer) {
    let plays: Vec<Value> = PLAYED
        .iter()
        .enumerate()
        .map(|(n, at)| json!({"track": sample::track(n), "played_at": at, "context": null}))
        .collect();
    api("/me/player/recently-played")
        .and(query_param_is_missing("after"))
        .respond_with(ok(
            json!({"items": plays, "next": null, "cursors": null, "limit": 50}),
        ))
        .mount(server)
        .await;
}

async fn mount_saved_tracks(server: &MockServer) {
    let saved: Vec<Value> = ADDED
        .iter()
        .enumerate()
        .map(|(n, at)| json!({"added_at": at, "track": sample::track(10 + n)}))
        .collect();
    api("/me/tracks")
        .respond_with(ok(one_page(saved)))
        .mount(server)
        .await;
}

/// Requests wiremock received for `route`, with their query strings.
async fn requests_to(server: &MockServer, route: &str) -> Vec<String> {
    let route = format!("/v1{route}");
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .map(|r| r.url.query().unwrap_or_default().to_string())
        .collect()
}

/// Every record the stand-in accepted, as (source, line).
fn accepted(firehose: &FakeFirehose) -> Vec<(Source, Vec<u8>)> {
    firehose
        .calls()
        .into_iter()
        .flat_map(|call| {
            call.records
                .into_iter()
                .zip(call.accepted)
                .filter(|(_, accepted)| *accepted)
                .map(|(record, _)| record)
        })
        .map(|line| {
            let source = serde_json::from_slice::<RawEnvelope>(&line).unwrap().source;
            (source, line)
        })
        .collect()
}

fn count(lines: &[(Source, Vec<u8>)], source: Source) -> usize {
    lines.iter().filter(|(s, _)| *s == source).count()
}

fn brief(report: &RunReport) -> String {
    format!(
        "sources {:#?}, totals {:?}, error {:?}, stopped {:?}",
        report.sources, report.totals, report.error, report.stopped_early
    )
}

#[tokio::test]
async fn first_run_delivers_every_line_and_saves_the_state_then_the_next_run_pulls_only_what_is_due() {
    let server = spotify().await;
    mount_recently_played_first(&server).await;
    mount_saved_tracks(&server).await;
    // One track per time range: three lines.
    api("/me/top/tracks")
        .respond_with(ok(one_page(vec![sample::track(20)])))
        .mount(&server)
        .await;
    let cursor = Timestamp::parse(PLAYED[0]).unwrap().millis();
    api("/me/player/recently-played")
        .and(query_param("after", cursor.to_string()))
        .respond_with(ok(
            json!({"items": [], "next": null, "cursors": null, "limit": 50}),
        ))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let config = sources(&[Source::RecentlyPlayed, Source::SavedTracks, Source::TopTracks]);
    let t0 = now();

    let report = run_once(&client(&server), &sink(&firehose), &store, &config, t0).await;
    assert!(report.exit_ok(), "{}", brief(&report));
    assert_eq!(report.totals.pulled, 7, "{}", brief(&report));
    assert_eq!(report.totals.delivered, 7);
    for source in [Source::RecentlyPlayed, Source::SavedTracks, Source::TopTracks] {
        assert_eq!(report.source(source).unwrap().outcome, SourceOutcome::Delivered);
    }
    let arrived = accepted(&firehose);
    assert_eq!(arrived.len(), 7);
    assert_eq!(count(&arrived, Source::RecentlyPlayed), 2);
    assert_eq!(count(&arrived, Source::SavedTracks), 2);
    assert_eq!(count(&arrived, Source::TopTracks), 3);
    assert_eq!(report.requests["/me/top/tracks"].requests, 3);
    assert_eq!(report.requests["/me"].requests, 1);

    let (state, _) = store.load().await.unwrap();
    assert_eq!(state.recently_played_after, Some(cursor));
    assert_eq!(state.saved_tracks_watermark, Timestamp::parse(ADDED[0]));
    let succeeded: Vec<Source> = state.last_success.keys().copied().collect();
    assert_eq!(
        succeeded,
        [Source::RecentlyPlayed, Source::TopTracks, Source::SavedTracks]
    );
    assert!(state.not_before.is_none());
    let summary = state.last_run.expect("the run's summary is saved");
    assert_eq!(summary.delivered, 7);
    assert_eq!(summary.records[&Source::TopTracks], 3);

    let t1 = t0 + TimeDelta::minutes(1);
    let report = run_once(&client(&server), &sink(&firehose), &store, &config, t1).await;
    assert!(report.exit_ok(), "{}", brief(&report));
    assert_eq!(
        report.source(Source::RecentlyPlayed).unwrap().outcome,
        SourceOutcome::Delivered
    );
    assert_eq!(
        report.source(Source::SavedTracks).unwrap().outcome,
        SourceOutcome::NotDue
    );
    assert_eq!(
        report.source(Source::TopTracks).unwrap().outcome,
        SourceOutcome::NotDue
    );
    let plays = requests_to(&server, "/me/player/recently-played").await;
    assert_eq!(plays.len(), 2);
    assert!(
        plays[1].contains(&format!("after={cursor}")),
        "second run must ask after the cursor: {plays:?}"
    );
    assert_eq!(requests_to(&server, "/me/tracks").await.len(), 1);
    assert_eq!(requests_to(&server, "/me/top/tracks").await.len(), 3);
    assert_eq!(accepted(&firehose).len(), 7, "nothing new to send");
    let (state, _) = store.load().await.unwrap();
    assert_eq!(state.recently_played_after, Some(cursor));
    assert_eq!(state.last_success[&Source::RecentlyPlayed], t1);
    assert_eq!(state.last_success[&Source::SavedTracks], t0);
}

#[tokio::test]
async fn undelivered_record_keeps_its_sources_watermark_while_the_others_advance() {
    let server = spotify().await;
    mount_recently_played_first(&server).await;
    mount_saved_tracks(&server).await;
    // The newest saved track never gets through.
    let marker = ADDED[0].as_bytes().to_vec();
    let firehose = FakeFirehose::start(STREAM, move |_, records| {
        Reply::fail_records_containing(records, &marker)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let config = sources(&[Source::RecentlyPlayed, Source::SavedTracks]);

    let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
    assert!(!report.exit_ok(), "{}", brief(&report));
    assert!(report.error.is_none(), "{}", brief(&report));
    let saved = report.source(Source::SavedTracks).unwrap();
    assert_eq!(saved.outcome, SourceOutcome::Undelivered);
    assert_eq!((saved.pulled, saved.delivered, saved.failed), (2, 1, 1));
    assert_eq!(saved.resent, 2, "three attempts in all");
    assert!(saved
        .error
        .as_deref()
        .unwrap()
        .contains("ServiceUnavailableException"));
    assert_eq!(
        report.source(Source::RecentlyPlayed).unwrap().outcome,
        SourceOutcome::Delivered
    );
    assert_eq!(report.totals.failed, 1);

    let (state, _) = store.load().await.unwrap();
    assert_eq!(
        state.saved_tracks_watermark, None,
        "the failed record must be pulled again"
    );
    assert!(!state.last_success.contains_key(&Source::SavedTracks));
    assert_eq!(
        state.recently_played_after,
        Some(Timestamp::parse(PLAYED[0]).unwrap().millis())
    );
    assert!(state.last_success.contains_key(&Source::RecentlyPlayed));
    assert_eq!(state.last_run.unwrap().undelivered, 1);
}

#[tokio::test]
async fn quota_exceeded_delivers_earlier_sources_persists_not_before_and_later_runs_make_no_request() {
    let server = spotify().await;
    mount_recently_played_first(&server).await;
    api("/me/tracks")
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3600")
                .set_body_json(json!({"error": {"status": 429, "message": "Quota exceeded", "reason": "QUOTA_EXCEEDED"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let config = sources(&[Source::RecentlyPlayed, Source::SavedTracks, Source::TopTracks]);
    let t0 = now();

    let report = run_once(&client(&server), &sink(&firehose), &store, &config, t0).await;
    assert!(
        report.exit_ok(),
        "a spent quota ends the run normally: {}",
        brief(&report)
    );
    assert!(report
        .stopped_early
        .as_deref()
        .unwrap()
        .contains("QUOTA_EXCEEDED"));
    let not_before = report.not_before.expect("not-before from Retry-After");
    assert!(not_before > t0 + TimeDelta::minutes(59), "{not_before}");
    assert_eq!(
        report.source(Source::RecentlyPlayed).unwrap().outcome,
        SourceOutcome::Delivered
    );
    assert_eq!(
        report.source(Source::SavedTracks).unwrap().outcome,
        SourceOutcome::NotReached
    );
    assert_eq!(
        report.source(Source::TopTracks).unwrap().outcome,
        SourceOutcome::NotReached
    );
    assert!(requests_to(&server, "/me/top/tracks").await.is_empty());
    assert_eq!(count(&accepted(&firehose), Source::RecentlyPlayed), 2);

    let (state, _) = store.load().await.unwrap();
    assert_eq!(state.not_before, Some(not_before));
    assert!(state.recently_played_after.is_some());
    assert_eq!(state.saved_tracks_watermark, None);

    let seen = server.received_requests().await.unwrap().len();
    let calls = firehose.calls().len();
    for later in [TimeDelta::minutes(1), TimeDelta::minutes(30)] {
        let report = run_once(&client(&server), &sink(&firehose), &store, &config, t0 + later).await;
        assert_eq!(report.deferred_until, Some(not_before));
        assert!(report.exit_ok());
        assert_eq!(report.totals.requests, 0);
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            seen,
            "no request to Spotify"
        );
        assert_eq!(firehose.calls().len(), calls, "nothing to Firehose");
    }
    assert_eq!(store.load().await.unwrap().0.not_before, Some(not_before));
}

/// A store that lets another run save the same file after this run loaded it.
struct Overlapped {
    store: LocalFileStore,
}

impl StateStore for Overlapped {
    fn load(&self) -> impl Future<Output = Result<(State, StateVersion), StateError>> + Send {
        self.store.load()
    }

    fn save(
        &self,
        state: &State,
        loaded: &StateVersion,
    ) -> impl Future<Output = Result<StateVersion, StateError>> + Send {
        let other = LocalFileStore::new(self.store.path());
        let (mut theirs, their_version) = futures_ready(other.load());
        theirs.recently_played_after = Some(42);
        futures_ready(other.save(&theirs, &their_version));
        self.store.save(state, loaded)
    }
}

/// The local store's futures are ready at once; this reads one without an executor.
fn futures_ready<T>(future: impl Future<Output = Result<T, StateError>>) -> T {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(result) => result.unwrap(),
        std::task::Poll::Pending => panic!("LocalFileStore is expected to be ready at once"),
    }
}

#[tokio::test]
async fn overlapping_run_is_a_conflict_and_the_other_runs_state_is_not_overwritten() {
    let server = spotify().await;
    mount_recently_played_first(&server).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Overlapped {
        store: LocalFileStore::new(dir.path().join("state.json")),
    };
    let config = sources(&[Source::RecentlyPlayed]);

    let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
    assert!(!report.exit_ok());
    match &report.error {
        Some(e @ RunError::Conflict { .. }) => {
            let message = e.to_string();
            assert!(message.contains("Nothing is lost"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The records were delivered all the same; the next run sends them again as duplicates.
    assert_eq!(report.totals.delivered, 2);
    let (state, _) = store.store.load().await.unwrap();
    assert_eq!(
        state.recently_played_after,
        Some(42),
        "the other run's state stays"
    );
}

#[tokio::test]
async fn expired_refresh_token_is_reported_as_a_reauthorization_to_do() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Refresh token revoked"
        })))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let client = config_for(&server, SpotifyConfig::refresh_token("id", "refresh-secret"));

    let report = run_once(
        &client,
        &sink(&firehose),
        &store,
        &sources(&[Source::RecentlyPlayed]),
        now(),
    )
    .await;
    assert!(report.reauthorization_required, "{}", brief(&report));
    assert!(!report.exit_ok());
    let played = report.source(Source::RecentlyPlayed).unwrap();
    assert_eq!(played.outcome, SourceOutcome::PullFailed);
    let error = played.error.as_deref().unwrap();
    assert!(error.contains("tracklake auth"), "{error}");
    assert!(
        !format!("{report:?}").contains("refresh-secret"),
        "no secret in the report"
    );
    let summary = store.load().await.unwrap().0.last_run.unwrap();
    assert!(summary.stopped_early.unwrap().contains("tracklake auth"));
}

#[tokio::test]
async fn spotify_failing_past_the_retry_limit_stops_the_run_and_is_not_ok() {
    let server = spotify().await;
    api("/me/player/recently-played")
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let config = sources(&[Source::RecentlyPlayed, Source::SavedTracks]);
    let mut spotify_config = SpotifyConfig::refresh_token("id", "refresh");
    spotify_config.backoff = Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        max_attempts: 3,
    };
    let report = run_once(
        &config_for(&server, spotify_config),
        &sink(&firehose),
        &store,
        &config,
        now(),
    )
    .await;
    assert!(report.spotify_unavailable, "{}", brief(&report));
    assert!(
        !report.exit_ok(),
        "a lasting outage must not look like a quiet, successful run"
    );
    assert_eq!(
        requests_to(&server, "/me/player/recently-played").await.len(),
        3,
        "bounded retries"
    );
    assert!(
        requests_to(&server, "/me/tracks").await.is_empty(),
        "the run stopped pulling"
    );
    let (state, _) = store.load().await.unwrap();
    assert_eq!(
        state.recently_played_after, None,
        "nothing delivered, nothing advanced"
    );
}

#[tokio::test]
async fn client_credentials_skip_the_user_sources_with_a_reason_and_search_still_runs() {
    let server = spotify().await;
    mount_recently_played_first(&server).await;
    let tracks: Vec<Value> = (0..2).map(|n| sample::track(30 + n)).collect();
    api("/search")
        .and(query_param("q", "jazz"))
        .respond_with(ok(json!({"tracks": {
            "href": "…", "items": tracks, "limit": 10, "offset": 0, "total": 2, "next": null, "previous": null
        }})))
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let config = SourcesConfig {
        enabled: vec![Source::RecentlyPlayed, Source::SavedTracks, Source::Search],
        search_queries: vec!["jazz".into()],
        market: Some("US".to_string().try_into().unwrap()),
        ..SourcesConfig::default()
    };
    let app_only = config_for(&server, SpotifyConfig::client_credentials("id", "secret"));

    let report = run_once(&app_only, &sink(&firehose), &store, &config, now()).await;
    assert!(
        report.exit_ok(),
        "a skipped source is not a failure: {}",
        brief(&report)
    );
    for source in [Source::RecentlyPlayed, Source::SavedTracks] {
        let skipped = report.source(source).unwrap();
        assert_eq!(skipped.outcome, SourceOutcome::Skipped, "{}", brief(&report));
        let reason = skipped.error.as_deref().unwrap();
        assert!(
            reason.contains("client credentials") && reason.contains("tracklake auth"),
            "{reason}"
        );
    }
    assert_eq!(
        report.source(Source::Search).unwrap().outcome,
        SourceOutcome::Delivered
    );
    assert!(
        requests_to(&server, "/me").await.is_empty(),
        "no /me with app-only credentials"
    );
    assert!(requests_to(&server, "/me/player/recently-played")
        .await
        .is_empty());
    let arrived = accepted(&firehose);
    assert_eq!((arrived.len(), count(&arrived, Source::Search)), (2, 2));
    let (state, _) = store.load().await.unwrap();
    assert!(state.last_success.contains_key(&Source::Search));
    assert!(!state.last_success.contains_key(&Source::RecentlyPlayed));
}

#[tokio::test]
async fn client_credentials_without_a_market_skip_search_with_a_reason() {
    let server = spotify().await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let config = SourcesConfig {
        enabled: vec![Source::Search],
        search_queries: vec!["jazz".into()],
        ..SourcesConfig::default()
    };
    let app_only = config_for(&server, SpotifyConfig::client_credentials("id", "secret"));

    let report = run_once(&app_only, &sink(&firehose), &store, &config, now()).await;
    let search = report.source(Source::Search).unwrap();
    assert_eq!(search.outcome, SourceOutcome::Skipped, "{}", brief(&report));
    let reason = search.error.as_deref().unwrap();
    assert!(
        reason.contains("market") && reason.contains("TRACKLAKE_MARKET"),
        "{reason}"
    );
    assert!(
        requests_to(&server, "/search").await.is_empty(),
        "no search without a market"
    );
    assert!(accepted(&firehose).is_empty());
}

// --- saved_tracks backfill ---

/// A user's library behind `/me/tracks`, newest first, paged by `offset` and `limit` like
/// Spotify; the test adds saves between runs.
#[derive(Clone)]
struct Library {
    uri: String,
    saves: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Library {
    fn add(&self, n: usize, added_at: DateTime<Utc>) {
        let save = json!({
            "added_at": added_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "track": sample::track(n),
        });
        let mut saves = self.saves.lock().unwrap();
        saves.push(save);
        saves.sort_by(|a, b| b["added_at"].as_str().cmp(&a["added_at"].as_str()));
    }

    /// Removes the save at `position` (the user un-saved it), returning its track id.
    fn remove(&self, position: usize) -> String {
        let save = self.saves.lock().unwrap().remove(position);
        save["track"]["id"].as_str().unwrap().to_string()
    }
}

impl wiremock::Respond for Library {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let param = |name: &str, default: usize| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(default)
        };
        let (offset, limit) = (param("offset", 0), param("limit", 20));
        let saves = self.saves.lock().unwrap();
        let items: Vec<Value> = saves.iter().skip(offset).take(limit).cloned().collect();
        let end = offset + items.len();
        let next =
            (end < saves.len()).then(|| format!("{}/v1/me/tracks?offset={end}&limit={limit}", self.uri));
        ok(
            json!({"href": "…", "items": items, "limit": limit, "offset": offset,
                  "total": saves.len(), "next": next, "previous": null}),
        )
    }
}

/// What the library tests share: Spotify with the (empty) library mounted at `/me/tracks`, a
/// Firehose that accepts everything, a state file, and sources with saved tracks due every run.
struct LibraryRig {
    server: MockServer,
    library: Library,
    firehose: FakeFirehose,
    store: LocalFileStore,
    config: SourcesConfig,
    _dir: tempfile::TempDir,
}

async fn library_rig() -> LibraryRig {
    let server = spotify().await;
    let library = Library {
        uri: server.uri(),
        saves: Default::default(),
    };
    api("/me/tracks")
        .respond_with(library.clone())
        .mount(&server)
        .await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let mut config = sources(&[Source::SavedTracks]);
    config.min_interval_secs.insert(Source::SavedTracks, 0);
    LibraryRig {
        server,
        library,
        firehose,
        store,
        config,
        _dir: dir,
    }
}

/// Noon UTC 30 days ago: the newest save date of the test libraries.
fn newest_library_day() -> DateTime<Utc> {
    (Utc::now() - TimeDelta::days(30))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
}

/// `(UTC date, track id)` of each saved-tracks line Firehose accepted since `from` of its lines.
fn saved_lines_since(firehose: &FakeFirehose, from: usize) -> Vec<(String, String)> {
    accepted(firehose)
        .into_iter()
        .filter(|(source, _)| *source == Source::SavedTracks)
        .skip(from)
        .map(|(_, line)| {
            let envelope: Value = serde_json::from_slice(&line).unwrap();
            let added_at = envelope["spotify"]["added_at"].as_str().unwrap();
            (
                added_at[..10].to_string(),
                envelope["spotify"]["track"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_library_on_more_dates_than_a_run_may_send_arrives_over_several_runs_without_gaps_or_split_dates() {
    use std::collections::{BTreeMap, BTreeSet};

    use producer::sources::SAVED_TRACKS_DATES_PER_RUN;

    let LibraryRig {
        server,
        library,
        firehose,
        store,
        config,
        _dir,
    } = library_rig().await;
    // 250 dates, one save on most of them and three on every fourth (at 12:00, 07:00, 02:00).
    let newest_day = newest_library_day();
    let mut n = 0;
    for day in 0..250 {
        let date = newest_day - TimeDelta::days(day);
        let saves_that_day = if day % 4 == 0 { 3 } else { 1 };
        for hour in 0..saves_that_day {
            library.add(n, date - TimeDelta::hours(hour * 5));
            n += 1;
        }
    }
    let library_size = n;

    // Which run delivered each date, and every track delivered.
    let mut run_of_date: BTreeMap<String, usize> = BTreeMap::new();
    let mut delivered: Vec<String> = Vec::new();
    let mut runs = 0;
    let mut new_save = None;
    loop {
        runs += 1;
        assert!(runs <= 5, "the backfill must end");
        let before = saved_lines_since(&firehose, 0).len();
        let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
        assert!(report.exit_ok(), "{}", brief(&report));
        let saved = report.source(Source::SavedTracks).unwrap();
        assert_eq!(saved.outcome, SourceOutcome::Delivered, "{}", brief(&report));
        let lines = saved_lines_since(&firehose, before);
        let dates: BTreeSet<&String> = lines.iter().map(|(date, _)| date).collect();
        assert!(
            dates.len() <= SAVED_TRACKS_DATES_PER_RUN,
            "run {runs} sent {} dates",
            dates.len()
        );
        for date in dates {
            let earlier = run_of_date.insert(date.clone(), runs);
            assert_eq!(
                earlier, None,
                "date {date} split over runs {earlier:?} and {runs}"
            );
        }
        delivered.extend(lines.into_iter().map(|(_, id)| id));
        let (state, _) = store.load().await.unwrap();
        if state.saved_tracks_backfill_before.is_none() {
            assert!(saved.note.is_none(), "{saved:?}");
            break;
        }
        let note = saved.note.as_deref().expect("a pending backfill is reported");
        assert!(note.contains("backfill pending"), "{note}");
        assert!(
            note.contains(&state.saved_tracks_backfill_before.unwrap().utc_date()),
            "{note}"
        );
        if runs == 1 {
            assert_eq!(run_of_date.len(), SAVED_TRACKS_DATES_PER_RUN);
            // Saved while the backfill is pending, on a date of its own: the next run sends it.
            let at = Utc::now() - TimeDelta::days(1);
            library.add(library_size, at);
            new_save = Some((
                at.date_naive().to_string(),
                sample::track(library_size)["id"].clone(),
            ));
        }
        if runs == 2 {
            let (date, _) = new_save.as_ref().unwrap();
            assert_eq!(
                run_of_date.get(date),
                Some(&2),
                "the new save comes on the next run"
            );
        }
    }
    assert_eq!(runs, 3, "251 dates at 100 a run");
    assert_eq!(run_of_date.len(), 251);
    let unique: BTreeSet<&String> = delivered.iter().collect();
    assert_eq!(delivered.len(), library_size + 1, "no save twice");
    assert_eq!(unique.len(), library_size + 1, "every save once");
    let (state, _) = store.load().await.unwrap();
    assert_eq!(
        state.saved_tracks_watermark,
        Timestamp::parse(library.saves.lock().unwrap()[0]["added_at"].as_str().unwrap())
    );

    // The backfill done, a run reads one page and stops at the watermark again.
    let pages_before = requests_to(&server, "/me/tracks").await.len();
    let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
    assert!(report.exit_ok(), "{}", brief(&report));
    assert_eq!(report.source(Source::SavedTracks).unwrap().pulled, 0);
    assert_eq!(requests_to(&server, "/me/tracks").await.len(), pages_before + 1);
}

#[tokio::test]
async fn a_library_larger_than_a_runs_request_budget_can_walk_still_arrives_whole() {
    use std::collections::BTreeSet;

    let LibraryRig {
        server,
        library,
        firehose,
        store,
        config,
        _dir,
    } = library_rig().await;
    // 300 dates of 10 saves: 60 pages of 50, while a run may send 40 requests. Without a jump
    // over the delivered range the second run would spend its budget walking the first run's
    // 20 pages and 21 more, and every later run more.
    let newest_day = newest_library_day();
    let mut n = 0;
    for day in 0..300 {
        for minute in 0..10 {
            library.add(n, newest_day - TimeDelta::days(day) - TimeDelta::minutes(minute));
            n += 1;
        }
    }
    let budget_client = || {
        let mut config = SpotifyConfig::refresh_token("id", "refresh");
        config.request_budget = 40;
        config_for(&server, config)
    };

    let mut expected: BTreeSet<String> = (0..n)
        .map(|i| sample::track(i)["id"].as_str().unwrap().to_string())
        .collect();
    let mut delivered: Vec<String> = Vec::new();
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 6, "the backfill must end");
        let (lines_before, pages_before) = (
            saved_lines_since(&firehose, 0).len(),
            requests_to(&server, "/me/tracks").await.len(),
        );
        let report = run_once(&budget_client(), &sink(&firehose), &store, &config, now()).await;
        assert!(report.exit_ok(), "run {runs}: {}", brief(&report));
        let saved = report.source(Source::SavedTracks).unwrap();
        assert_eq!(
            saved.outcome,
            SourceOutcome::Delivered,
            "run {runs}: {}",
            brief(&report)
        );
        let lines = saved_lines_since(&firehose, lines_before);
        let pages = requests_to(&server, "/me/tracks").await.len() - pages_before;
        // A run reads the pages it sends and a few more: the top, the landing and a step back.
        assert!(
            pages <= 21 + 3,
            "run {runs} read {pages} pages for {} saves",
            lines.len()
        );
        delivered.extend(lines.into_iter().map(|(_, id)| id));
        let (state, _) = store.load().await.unwrap();
        if state.saved_tracks_backfill_before.is_none() {
            assert_eq!(
                state.saved_tracks_backfill_skip, None,
                "nothing left to jump over"
            );
            break;
        }
        if runs == 1 {
            assert_eq!(delivered.len(), 1_000, "100 dates of 10 saves");
            assert_eq!(
                state.saved_tracks_backfill_skip,
                Some(1_000),
                "the first run's saves"
            );
            // Between runs the user saves 3 tracks on a new date and un-saves 5 delivered ones,
            // so the backfill now begins 2 entries higher than the state's count says: the jump
            // lands past it and must step back rather than skip saves.
            for k in 0..3 {
                library.add(n + k, Utc::now() - TimeDelta::hours(1 + k as i64));
                expected.insert(sample::track(n + k)["id"].as_str().unwrap().to_string());
            }
            for _ in 0..5 {
                let gone = library.remove(500);
                expected.remove(&gone);
                delivered.retain(|id| *id != gone);
            }
        }
    }
    let unique: BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(unique.len(), delivered.len(), "no save twice");
    assert_eq!(unique, expected, "every save still in the library, once");
    assert_eq!(runs, 4, "301 dates at 100 a run");
}

#[tokio::test]
async fn a_jump_past_the_end_of_a_shrunken_library_steps_back_instead_of_ending_the_backfill() {
    use std::collections::BTreeSet;

    let LibraryRig {
        server,
        library,
        firehose,
        store,
        config,
        _dir,
    } = library_rig().await;
    // 150 dates of 10 saves; the first run sends the newest 100 dates.
    let newest_day = newest_library_day();
    for n in 0..1_500 {
        let at = newest_day - TimeDelta::days(n as i64 / 10) - TimeDelta::minutes(n as i64 % 10);
        library.add(n, at);
    }

    let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
    assert!(report.exit_ok(), "{}", brief(&report));
    assert_eq!(
        store.load().await.unwrap().0.saved_tracks_backfill_skip,
        Some(1_000)
    );
    // The user un-saves 600 of the delivered tracks: the list has 900 entries, and the
    // state's count of 1,000 points past its end.
    for _ in 0..600 {
        library.remove(0);
    }
    let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
    assert!(report.exit_ok(), "{}", brief(&report));
    let (state, _) = store.load().await.unwrap();
    assert_eq!(
        state.saved_tracks_backfill_before, None,
        "the backfill is complete"
    );
    let older: BTreeSet<String> = (1_000..1_500)
        .map(|i| sample::track(i)["id"].as_str().unwrap().to_string())
        .collect();
    let sent: BTreeSet<String> = saved_lines_since(&firehose, 1_000)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(sent, older, "the older 500 saves, none lost to the jump");
}

#[tokio::test]
async fn runs_in_quick_succession_open_no_more_partitions_than_the_budget_and_resume_after_the_window() {
    use std::collections::BTreeSet;

    use producer::pacing::PacingConfig;

    let LibraryRig {
        server,
        library,
        firehose,
        store,
        mut config,
        _dir,
    } = library_rig().await;
    // 450 dates, one save each; a budget of 250 partitions per 5 s window.
    config.pacing = PacingConfig {
        partition_budget: 250,
        window_secs: 5,
    };
    let newest_day = newest_library_day();
    for day in 0..450 {
        library.add(day, newest_day - TimeDelta::days(day as i64));
    }

    // Back to back: 100, 100, then the 50 the budget has left, then nothing.
    let mut sent_per_run = Vec::new();
    let mut delivered: Vec<String> = Vec::new();
    for run in 1..=4 {
        let before = saved_lines_since(&firehose, 0).len();
        let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
        assert!(report.exit_ok(), "run {run}: {}", brief(&report));
        let lines = saved_lines_since(&firehose, before);
        sent_per_run.push(lines.iter().map(|(date, _)| date).collect::<BTreeSet<_>>().len());
        delivered.extend(lines.into_iter().map(|(_, id)| id));
        let saved = report.source(Source::SavedTracks).unwrap();
        if run < 4 {
            assert_eq!(
                saved.outcome,
                SourceOutcome::Delivered,
                "run {run}: {}",
                brief(&report)
            );
            assert_eq!(report.backfill_paused(), None);
        } else {
            assert_eq!(saved.outcome, SourceOutcome::Paused, "{}", brief(&report));
            let note = saved.note.as_deref().unwrap();
            assert!(
                note.starts_with("backfill paused: 250 dt partitions opened in the last 5 s"),
                "{note}"
            );
            assert!(note.contains("library backfill pending"), "{note}");
            let (state, _) = store.load().await.unwrap();
            let summary = state.last_run.unwrap();
            assert_eq!(summary.backfill_paused.as_deref(), Some(note));
            assert_eq!(state.opened_partitions.len(), 250, "every partition sent to");
        }
    }
    assert_eq!(sent_per_run, [100, 100, 50, 0]);

    // Once the window has passed, the backfill goes on, 100 dates a run, to the end.
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 3, "the backfill must end");
        let before = saved_lines_since(&firehose, 0).len();
        let report = run_once(&client(&server), &sink(&firehose), &store, &config, now()).await;
        assert!(report.exit_ok(), "{}", brief(&report));
        assert_eq!(
            report.source(Source::SavedTracks).unwrap().outcome,
            SourceOutcome::Delivered,
            "{}",
            brief(&report)
        );
        delivered.extend(saved_lines_since(&firehose, before).into_iter().map(|(_, id)| id));
        let (state, _) = store.load().await.unwrap();
        if state.saved_tracks_backfill_before.is_none() {
            assert_eq!(
                state.opened_partitions.len(),
                200,
                "the partitions of the first runs are forgotten"
            );
            break;
        }
    }
    assert_eq!(runs, 2);
    let unique: BTreeSet<&String> = delivered.iter().collect();
    assert_eq!((delivered.len(), unique.len()), (450, 450), "every save once");
}
