//! The real `tracklake` binary against a wiremock Spotify and the Firehose stand-in of the
//! producer's tests (the binary's own aws-sdk-firehose client, pointed at it with
//! `AWS_ENDPOINT_URL_FIREHOSE`). The child's environment is cleared, so nothing of the developer's
//! machine (AWS profile, real Spotify keys) leaks into a test.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use base64::Engine;
use firehose_transform::sample;
use serde_json::{json, Value};
use test_support::fake_firehose::{FakeFirehose, Reply};
use test_support::stand_ins::firehose_endpoint_env;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STREAM: &str = "tracklake-test";
const CLIENT_ID: &str = "test-client-id";
const SECRET: &str = "sup3r-s3cret-client-value";
const REFRESH: &str = "sup3r-s3cret-refresh-token";
const PLAYED: [&str; 2] = ["2026-11-24T07:50:00.500Z", "2026-11-24T07:40:00Z"];

async fn spotify() -> MockServer {
    test_support::spotify_mock::with_user("alice").await
}

fn plays() -> Value {
    let items: Vec<Value> = PLAYED
        .iter()
        .enumerate()
        .map(|(n, at)| json!({"track": sample::track(n), "played_at": at, "context": null}))
        .collect();
    json!({"items": items, "next": null, "cursors": null, "limit": 50})
}

async fn mount_plays(server: &MockServer, delay: Duration) {
    Mock::given(method("GET"))
        .and(path("/v1/me/player/recently-played"))
        .respond_with(ResponseTemplate::new(200).set_body_json(plays()).set_delay(delay))
        .mount(server)
        .await;
}

/// A config file with only recently played, and few sink attempts so an undeliverable record
/// fails fast.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("tracklake.toml");
    std::fs::write(
        &file,
        "[firehose]\nmax_attempts = 2\n\n[sources]\nenabled = [\"recently_played\"]\n",
    )
    .unwrap();
    file
}

/// The binary with a clean environment: Spotify and Firehose stand-ins, dummy AWS credentials.
/// `secret`: the client secret and a refresh token (the user's sources need the latter).
fn tracklake(server: &MockServer, firehose: &FakeFirehose, dir: &Path, secret: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracklake"));
    command
        .env_clear()
        .current_dir(dir)
        .arg("run")
        .arg("--config")
        .arg(write_config(dir))
        .env("RUST_LOG", "debug")
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_API_BASE", format!("{}/v1", server.uri()))
        .env("SPOTIFY_ACCOUNTS_BASE", server.uri())
        .env("TRACKLAKE_STREAM", STREAM)
        .env("TRACKLAKE_STATE", dir.join("state.json"))
        .kill_on_drop(true);
    // These tests stand in for AWS with a fake Firehose endpoint, not the local Firehose.
    firehose_endpoint_env(&mut command, &firehose.endpoint());
    if secret {
        command.env("SPOTIFY_CLIENT_SECRET", SECRET);
        command.env("SPOTIFY_REFRESH_TOKEN", REFRESH);
    }
    command
}

async fn output(mut command: Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("tracklake finishes within a minute")
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn accepted(firehose: &FakeFirehose) -> usize {
    firehose
        .calls()
        .iter()
        .map(|c| c.accepted.iter().filter(|a| **a).count())
        .sum()
}

/// The secrets, and the HTTP Basic credentials the client secret travels in, appear nowhere.
fn assert_no_secret(stdout: &str, stderr: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    for leak in [SECRET, REFRESH, basic.as_str()] {
        assert!(!stdout.contains(leak), "secret on stdout:\n{stdout}");
        assert!(!stderr.contains(leak), "secret on stderr:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_delivers_the_pulled_records_prints_the_report_and_saves_the_state() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();

    let out = output(tracklake(&server, &firehose, dir.path(), true)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(accepted(&firehose), 2);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("recently_played"))
        .unwrap_or_else(|| panic!("no source row:\n{stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["recently_played", "delivered", "2", "2", "0", "0", "0"],
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("/me/player/recently-played")),
        "requests per endpoint:\n{stdout}"
    );
    assert!(stdout.contains("result: ok"), "{stdout}");
    assert!(!stderr.contains("result:"), "the report goes to stdout only");
    let state = std::fs::read_to_string(dir.path().join("state.json")).expect("state saved");
    assert!(state.contains("recently_played_after"), "{state}");
    assert_no_secret(&stdout, &stderr);
}

/// `RUST_LOG=trace` turns on everything, the AWS SDK's own tracing included: the planted AWS
/// credentials (as the SDK reads them from the environment) and the Spotify secrets appear in no
/// output, while the run really signs and sends PutRecordBatch with them.
#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_never_print_credentials() {
    const ACCESS_KEY_ID: &str = "AKIAEXAMPLEKEYID1234";
    const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMIexampleSECRETaccessKEY1234";
    const SESSION_TOKEN: &str = "IQoJexampleSESSIONtoken1234";
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(&server, &firehose, dir.path(), true);
    command
        .env("RUST_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN);

    let out = output(command).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(accepted(&firehose), 2, "the SDK signed and sent the records");
    // Trace really is on, the SDK's included: the check below is not passing on silence.
    assert!(stderr.contains("TRACE"), "{stderr}");
    assert!(stderr.contains("aws_smithy_runtime"), "{stderr}");
    for leak in [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN] {
        let at = stderr
            .find(leak)
            .map(|i| &stderr[stderr[..i].rfind('\n').map_or(0, |n| n + 1)..]);
        assert!(
            at.is_none(),
            "{leak} on stderr: {}",
            at.unwrap_or_default().lines().next().unwrap_or_default()
        );
        assert!(!stdout.contains(leak), "{leak} on stdout:\n{stdout}");
    }
    assert_no_secret(&stdout, &stderr);
}

/// A budget of zero would make every run do nothing and exit 0: refused when the config is read,
/// naming the setting and the file, before any request.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_budget_zero_says_why() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let command = tracklake(&server, &firehose, dir.path(), true);
    std::fs::write(
        dir.path().join("tracklake.toml"),
        "[spotify]\nrequest_budget = 0\n",
    )
    .unwrap();

    let out = output(command).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("request_budget = 0"), "{stderr}");
    assert!(stderr.contains("tracklake.toml"), "{stderr}");
    assert!(stderr.contains("above zero"), "{stderr}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(accepted(&firehose), 0);
}

/// The CLI reads the producer's environment as the Lambda does: values trimmed (a stream name
/// with spaces around it reaches the stream), settings the file does not set reachable through
/// the environment, and a bad value refused by the variable's name before any request.
#[tokio::test(flavor = "multi_thread")]
async fn the_environment_is_read_as_the_lambda_reads_it() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(&server, &firehose, dir.path(), true);
    command
        .env("TRACKLAKE_STREAM", format!("  {STREAM} \n"))
        .env("TRACKLAKE_SOURCES", " recently_played ")
        .env("TRACKLAKE_FIREHOSE_MAX_ATTEMPTS", " 3 ");
    let out = output(command).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(accepted(&firehose), 2);

    let mut command = tracklake(&server, &firehose, dir.path(), true);
    command.env("TRACKLAKE_REQUEST_BUDGET", " 0 ");
    let requests_before = server.received_requests().await.unwrap().len();
    let out = output(command).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("TRACKLAKE_REQUEST_BUDGET is not valid") && stderr.contains("above zero"),
        "{stderr}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), requests_before);
}

/// A not-before far ahead (Spotify's back-off, saved in the state) makes the run do nothing: it
/// says until when and why on stdout, and exits 75, neither success nor failure.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_deferred_by_not_before_says_until_when() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let first = output(tracklake(&server, &firehose, dir.path(), true)).await;
    assert!(first.status.success(), "{:?}", text(&first));
    let state_file = dir.path().join("state.json");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    state["not_before"] = json!("2099-01-01T00:00:00Z");
    std::fs::write(&state_file, state.to_string()).unwrap();
    let requests_before = server.received_requests().await.unwrap().len();

    let out = output(tracklake(&server, &firehose, dir.path(), true)).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(75),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("deferred:"))
        .unwrap_or_else(|| panic!("no reason on stdout:\n{stdout}"));
    assert!(line.contains("until 2099-01-01T00:00:00+00:00"), "{line}");
    assert!(line.contains("Spotify asked for a pause"), "{line}");
    assert!(line.contains("no request"), "{line}");
    assert_eq!(server.received_requests().await.unwrap().len(), requests_before);

    // The status is documented where a user looks for it.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("75 nothing to do yet"), "{help}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_that_can_never_be_delivered_makes_the_run_fail() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let marker = PLAYED[0].as_bytes().to_vec();
    let firehose = FakeFirehose::start(STREAM, move |_, records| {
        Reply::fail_records_containing(records, &marker)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();

    let out = output(tracklake(&server, &firehose, dir.path(), true)).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(accepted(&firehose), 1);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("recently_played"))
        .unwrap_or_else(|| panic!("no source row:\n{stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["recently_played", "UNDELIVERED", "2", "1", "1", "0", "1"],
        "{stdout}"
    );
    assert!(stdout.contains("ServiceUnavailableException"), "{stdout}");
    assert!(stdout.contains("result: FAILED"), "{stdout}");
    assert_no_secret(&stdout, &stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_fail_before_any_request_and_name_the_variables() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();

    let out = output(tracklake(&server, &firehose, dir.path(), false)).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in [
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIFY_REFRESH_TOKEN",
        "sandbox",
    ] {
        assert!(stderr.contains(name), "{name} missing from:\n{stderr}");
    }
    assert!(stdout.is_empty(), "{stdout}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(firehose.calls().is_empty());
    assert!(!dir.path().join("state.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_skip_the_user_sources_with_a_readable_reason() {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(&server, &firehose, dir.path(), false);
    command.env("SPOTIFY_CLIENT_SECRET", SECRET);

    let out = output(command).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("recently_played "))
        .unwrap_or_else(|| panic!("no source row:\n{stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["recently_played", "skipped", "0", "0", "0", "0", "0"],
        "{stdout}"
    );
    assert!(
        stdout.contains("recently_played: skipped: this source reads the user's own data"),
        "{stdout}"
    );
    assert!(stdout.contains("tracklake auth"), "{stdout}");
    assert!(stdout.contains("result: ok"), "{stdout}");
    assert!(
        !server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path().starts_with("/v1/me")),
        "no /me request with app-only credentials"
    );
    assert!(firehose.calls().is_empty());
    assert_no_secret(&stdout, &stderr);
}

/// Sends SIGINT to the child, as Ctrl-C does.
async fn interrupt(child: &tokio::process::Child) {
    send_signal(child, "INT").await;
}

async fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("still running").to_string();
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_repeats_until_interrupted_then_exits_cleanly() {
    every_repeats_until_signalled_then_exits_cleanly("INT").await;
}

/// SIGTERM (`kill`, a service manager) stops tracklake as Ctrl-C does, not by killing it mid-cycle.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_is_handled_like_ctrl_c() {
    every_repeats_until_signalled_then_exits_cleanly("TERM").await;
}

async fn every_repeats_until_signalled_then_exits_cleanly(signal: &str) {
    let server = spotify().await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(&server, &firehose, dir.path(), true);
    command
        .args(["--every", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    // Two reports: the loop really repeats, then Ctrl-C between cycles ends it.
    let mut reports = 0;
    while reports < 2 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a report within 30 s")
            .unwrap()
            .expect("tracklake still running");
        if line.starts_with("result: ") {
            assert_eq!(line, "result: ok");
            reports += 1;
        }
    }
    send_signal(&child, signal).await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits after the signal")
        .unwrap();
    assert!(status.success(), "SIG{signal}: {status:?}");
    // Each cycle asked Spotify again; the plays were delivered once, the second cycle keeping only
    // plays newer than the saved cursor.
    let asked = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/me/player/recently-played")
        .count();
    assert!(asked >= 2, "{asked} requests for plays");
    assert_eq!(accepted(&firehose), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_cycle_lets_it_finish_and_save_the_state() {
    let server = spotify().await;
    // Slow enough that the interrupt lands while the cycle waits for Spotify.
    mount_plays(&server, Duration::from_secs(2)).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tracklake(&server, &firehose, dir.path(), true);
    command
        .args(["--every", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let requests = server.received_requests().await.unwrap();
        if requests
            .iter()
            .any(|r| r.url.path() == "/v1/me/player/recently-played")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cycle never asked for plays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    interrupt(&child).await;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exits after the cycle")
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("finishing the cycle in flight"), "{stderr}");
    assert_eq!(stdout.matches("result: ok").count(), 1, "{stdout}");
    assert_eq!(accepted(&firehose), 2);
    let state = std::fs::read_to_string(dir.path().join("state.json")).expect("state saved");
    assert!(state.contains("recently_played_after"), "{state}");
}

/// `tracklake auth` with the test as the browser, then `tracklake run` on the stored refresh
/// token, which Spotify rotates: the new one must replace it.
#[tokio::test(flavor = "multi_thread")]
async fn auth_stores_the_refresh_token_that_run_then_uses_and_rotates() {
    use wiremock::matchers::body_string_contains;
    let server = MockServer::start().await;
    let token = |refresh: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access", "token_type": "Bearer", "expires_in": 3600, "refresh_token": refresh
        }))
    };
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=c0de"))
        .and(body_string_contains("code_verifier="))
        .respond_with(token("refresh-from-auth"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("refresh_token=refresh-from-auth"))
        .respond_with(token("rotated-token"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "alice", "type": "user"})))
        .mount(&server)
        .await;
    mount_plays(&server, Duration::ZERO).await;
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.json");
    let port = free_port();

    let mut auth = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .env_clear()
        .current_dir(dir.path())
        .args(["auth", "--port", &port.to_string()])
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_ACCOUNTS_BASE", server.uri())
        .env("TRACKLAKE_SECRETS", &secrets)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    consent_in_browser(&mut auth, port).await;
    let out = tokio::time::timeout(Duration::from_secs(30), auth.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("authorized"));
    let stored = std::fs::read_to_string(&secrets).unwrap();
    assert!(stored.contains("refresh-from-auth"), "{stored}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token file is readable by its owner only");
    }

    // No SPOTIFY_REFRESH_TOKEN and no client secret: the stored token is what makes this work.
    let mut run = tracklake(&server, &firehose, dir.path(), false);
    run.env("TRACKLAKE_SECRETS", &secrets);
    let out = output(run).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(accepted(&firehose), 2);
    let stored = std::fs::read_to_string(&secrets).unwrap();
    assert!(
        stored.contains("rotated-token"),
        "the rotated refresh token replaces the old one: {stored}"
    );
    for secret in ["refresh-from-auth", "rotated-token", "c0de"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked into the output"
        );
    }
}

/// Plays the user's part of `tracklake auth`: reads the printed URL as a user would, and comes
/// back to the loopback redirect with its state, as Spotify would.
async fn consent_in_browser(auth: &mut tokio::process::Child, port: u16) {
    // Read the printed URL as a user would, and come back with its state, as Spotify would.
    let mut lines = BufReader::new(auth.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("/authorize?") {
                return line;
            }
        }
        panic!("tracklake auth printed no authorization URL");
    })
    .await
    .unwrap();
    assert!(
        url.contains(&format!(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback"
        )),
        "{url}"
    );
    let state = url
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let mut browser = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "GET /callback?code=c0de&state={state} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    browser.write_all(request.as_bytes()).await.unwrap();
    let mut page = String::new();
    browser.read_to_string(&mut page).await.unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_with_secret_id_stores_the_refresh_token_in_secrets_manager() {
    use wiremock::matchers::body_string_contains;
    // Secrets Manager is moto's server (a real HTTP endpoint the real SDK talks to).
    let moto = moto_server::MotoServer::start();
    let sdk = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(moto.endpoint())
            .build(),
    );
    // As infra/ creates it: the client id only.
    sdk.create_secret()
        .name("tracklake/spotify")
        .secret_string(json!({"client_id": CLIENT_ID}).to_string())
        .send()
        .await
        .unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "refresh-into-the-secret"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut auth = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .env_clear()
        .current_dir(dir.path())
        .args([
            "auth",
            "--port",
            &port.to_string(),
            "--secret-id",
            "tracklake/spotify",
        ])
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_ACCOUNTS_BASE", server.uri())
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    consent_in_browser(&mut auth, port).await;
    let out = tokio::time::timeout(Duration::from_secs(30), auth.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Secrets Manager secret tracklake/spotify"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("refresh-into-the-secret"),
        "the token was printed"
    );
    let stored: serde_json::Value = serde_json::from_str(
        &sdk.get_secret_value()
            .secret_id("tracklake/spotify")
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored,
        json!({"client_id": CLIENT_ID, "refresh_token": "refresh-into-the-secret"})
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no token file was written"
    );
}
