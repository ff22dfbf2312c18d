//! `tracklake run` under test, against the stand-ins: its environment, and the local Firehose's
//! buffering that only a flush empties.

use std::path::Path;
use std::time::Duration;

use local_firehose::{BufferHints, BufferingOverrides};
use spotify_sandbox::Sandbox;
use tokio::process::Command;

/// The environment of `tracklake run` in `dir` reading the Spotify sandbox: nothing from the
/// developer's shell (SPOTIFY_*, AWS_*), the sandbox's app and user, the state and the secrets in
/// `dir`. Set the rest (RUST_LOG, the Firehose target) after it: it clears the environment.
pub fn sandbox_env<'c>(command: &'c mut Command, sandbox: &Sandbox, dir: &Path) -> &'c mut Command {
    command
        .env_clear()
        .current_dir(dir)
        .env("SPOTIFY_CLIENT_ID", sandbox.client_id())
        .env("SPOTIFY_REFRESH_TOKEN", sandbox.refresh_token())
        .env("SPOTIFY_API_BASE", sandbox.api_base())
        .env("SPOTIFY_ACCOUNTS_BASE", sandbox.accounts_base())
        .env("TRACKLAKE_STATE", dir.join("state.json"))
        .env("TRACKLAKE_SECRETS", dir.join("secrets.json"))
        .kill_on_drop(true)
}

/// Firehose through the AWS SDK at `endpoint` (a local Firehose or a fake one), with made-up
/// credentials and region.
pub fn firehose_endpoint_env<'c>(command: &'c mut Command, endpoint: &str) -> &'c mut Command {
    command
        .env("TRACKLAKE_FIREHOSE", "aws")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_FIREHOSE", endpoint)
}

/// Buffers that only a flush empties (sizes and intervals far beyond what a test sends).
pub fn flush_only() -> BufferingOverrides {
    let never = BufferHints {
        size_bytes: usize::MAX / 2,
        interval: Duration::from_secs(3600),
    };
    BufferingOverrides {
        processed: Some(never),
        raw_backup: Some(never),
        processor: None,
    }
}
