//! The producer's settings: one struct for both front-ends, read once at start.
//!
//! Layers, later ones winning:
//! 1. the defaults ([`Settings::default`]);
//! 2. the CLI only: its TOML file (`tracklake.toml`), whose sections are the sections of
//!    [`Settings`] (the CLI's `tracklake::config` adds its own `[local]`);
//! 3. the environment ([`Settings::apply_env`]), the same layer for the CLI and the Lambda: the
//!    same names (`schemas/names.json`, `producer_environment`, which `infra/` reads to set them),
//!    values trimmed, an empty value counting as unset, and the same [`SettingsError`] naming the
//!    variable and what it must be.
//!
//! The Lambda has no file: [`Settings::lambda_from_env`] is layers 1 and 3 plus the variables a
//! deployed function cannot do without.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemas::Source;
use serde::Deserialize;

use crate::sink::SinkConfig;
use crate::sources::{Market, SourcesConfig, SEARCH_RESULT_CAP};
use spotify_client::{SpotifyConfig, DEFAULT_ACCOUNTS_BASE, DEFAULT_API_BASE, DEFAULT_REQUEST_BUDGET};

/// The environment variables of [`Settings::apply_env`]: named once, in `schemas/names.json`.
pub use schemas::names::producer_environment::{
    ACCOUNTS_BASE as ENV_ACCOUNTS_BASE, API_BASE as ENV_API_BASE, CLIENT_ID as ENV_CLIENT_ID,
    FIREHOSE_MAX_ATTEMPTS as ENV_FIREHOSE_MAX_ATTEMPTS, FIREHOSE_TARGET as ENV_FIREHOSE_TARGET,
    MARKET as ENV_MARKET, MIN_INTERVAL_SECS as ENV_MIN_INTERVAL_SECS,
    PACING_WINDOW_SECS as ENV_PACING_WINDOW_SECS, PARTITION_BUDGET as ENV_PARTITION_BUDGET,
    REQUEST_BUDGET as ENV_REQUEST_BUDGET, SEARCH_MAX_RESULTS as ENV_SEARCH_MAX_RESULTS,
    SEARCH_QUERIES as ENV_SEARCH_QUERIES, SECRETS_FILE as ENV_SECRETS_FILE, SECRET_ID as ENV_SECRET_ID,
    SOURCES as ENV_SOURCES, STATE_BUCKET as ENV_STATE_BUCKET, STATE_FILE as ENV_STATE_FILE,
    STATE_KEY as ENV_STATE_KEY, STREAM as ENV_STREAM,
};

/// The Lambda's state object key when `TRACKLAKE_STATE_KEY` is unset; infra grants `state/*`.
pub const DEFAULT_STATE_KEY: &str = "state/producer.json";
/// The CLI's state file when neither the file nor `TRACKLAKE_STATE` says.
pub const DEFAULT_STATE_FILE: &str = "tracklake-state.json";
/// The CLI's secrets file (the refresh token `tracklake auth` stored).
pub const DEFAULT_SECRETS_FILE: &str = "tracklake-secrets.json";

/// Everything the producer is told, besides the secrets and the AWS SDK's own configuration
/// (region, credentials, `AWS_ENDPOINT_URL_*`). Each field's docs name its file key and its
/// variable; the module docs say how the layers stack.
///
/// Every setting reaches both front-ends, except these, one-sided on purpose:
/// - the CLI's only: [`SpotifySettings::client_id`] (the Lambda's is in its secret, beside the
///   refresh token issued to it), [`FirehoseSettings::target`] (the Lambda has no local
///   Firehose beside it), [`StateSettings::path`] and [`SecretsSettings::path`] (a Lambda has no
///   disk that outlives it), [`SecretsSettings::redirect_port`] (authorizing needs the user's
///   browser);
/// - the Lambda's only: [`StateSettings::bucket`], [`StateSettings::key`] and
///   [`SecretsSettings::secret_id`], where a deployed stack keeps what the CLI keeps in files.
///   The file cannot set them, so a CLI user never believes they do something.
///
/// Secrets are never settings: the CLI reads its client secret and refresh token from the
/// environment or its secrets file, the Lambda from its Secrets Manager secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `[spotify]`: the app and how hard to use it.
    pub spotify: SpotifySettings,
    /// `[firehose]`: where the records go.
    pub firehose: FirehoseSettings,
    /// `[sources]`: which sources run, how often, and the partition pacing
    /// (`TRACKLAKE_SOURCES`, `TRACKLAKE_SEARCH_QUERIES`, `TRACKLAKE_SEARCH_MAX_RESULTS`,
    /// `TRACKLAKE_MARKET`, `TRACKLAKE_MIN_INTERVAL_SECS`, `TRACKLAKE_PARTITION_BUDGET`,
    /// `TRACKLAKE_PACING_WINDOW_SECS`).
    pub sources: SourcesConfig,
    /// `[state]`: where the watermarks live between runs.
    pub state: StateSettings,
    /// `[secrets]`: where the refresh token lives.
    pub secrets: SecretsSettings,
}

/// `[spotify]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpotifySettings {
    /// `client_id`, `SPOTIFY_CLIENT_ID`: the app's client id (not a secret). CLI only: the
    /// Lambda takes it from its secret, beside the refresh token issued to that id (a token only
    /// refreshes with the id it was issued to). Without one the CLI reads the local sandbox.
    pub client_id: Option<String>,
    /// `api_base`, `SPOTIFY_API_BASE`: the Web API root (tests and the sandbox point it elsewhere).
    pub api_base: String,
    /// `accounts_base`, `SPOTIFY_ACCOUNTS_BASE`: the accounts service root.
    pub accounts_base: String,
    /// `request_budget`, `TRACKLAKE_REQUEST_BUDGET`: requests one run may make, token requests
    /// included, above zero.
    pub request_budget: u32,
}

impl Default for SpotifySettings {
    fn default() -> Self {
        SpotifySettings {
            client_id: None,
            api_base: DEFAULT_API_BASE.to_string(),
            accounts_base: DEFAULT_ACCOUNTS_BASE.to_string(),
            request_budget: DEFAULT_REQUEST_BUDGET,
        }
    }
}

impl SpotifySettings {
    /// `credentials` (a [`SpotifyConfig`] made for the app's id and secret or refresh token) with
    /// these bases and this budget.
    pub fn client_config(&self, mut credentials: SpotifyConfig) -> SpotifyConfig {
        // The client joins paths onto the bases itself; a trailing slash would double it.
        credentials.api_base = self.api_base.trim_end_matches('/').to_string();
        credentials.accounts_base = self.accounts_base.trim_end_matches('/').to_string();
        credentials.request_budget = self.request_budget;
        credentials
    }
}

/// `[firehose]`. The endpoint, region and credentials are the AWS SDK's business.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirehoseSettings {
    /// `stream`, `TRACKLAKE_STREAM`: the delivery stream. Defaults to the stream of
    /// `schemas/delivery.json` (the local Firehose's); the Lambda requires the variable (a
    /// deployed stack's stream is named after the stack).
    pub stream: String,
    /// `max_attempts`, `TRACKLAKE_FIREHOSE_MAX_ATTEMPTS`: the most PutRecordBatch calls any one
    /// record is part of before it counts as failed, above zero.
    pub max_attempts: u32,
    /// `target`, `TRACKLAKE_FIREHOSE`: where the CLI delivers. CLI only: the Lambda always
    /// delivers through the AWS SDK's endpoint, there is no local Firehose beside it.
    pub target: FirehoseTarget,
}

impl Default for FirehoseSettings {
    fn default() -> Self {
        FirehoseSettings {
            stream: schemas::delivery::settings().stream_name,
            max_attempts: SinkConfig::default().retry.max_attempts,
            target: FirehoseTarget::Local,
        }
    }
}

impl FirehoseSettings {
    /// The sink's settings: the defaults, with the configured number of attempts.
    pub fn sink_config(&self) -> SinkConfig {
        let mut config = SinkConfig::default();
        config.retry.max_attempts = self.max_attempts;
        config
    }
}

/// Where `tracklake run` delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirehoseTarget {
    /// The local Firehose, started in-process, delivering into the CLI's lake folder.
    Local,
    /// The stream through the AWS SDK's configured endpoint (AWS, or `AWS_ENDPOINT_URL_FIREHOSE`).
    Aws,
}

impl std::str::FromStr for FirehoseTarget {
    type Err = SettingsError;

    fn from_str(text: &str) -> Result<Self, SettingsError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(FirehoseTarget::Local),
            "aws" => Ok(FirehoseTarget::Aws),
            _ => Err(SettingsError::Invalid {
                name: ENV_FIREHOSE_TARGET,
                detail: format!("{text:?} is not a Firehose target"),
                expected:
                    "`local` (the local Firehose, into the lake folder) or `aws` (the AWS SDK's endpoint)",
            }),
        }
    }
}

/// `[state]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateSettings {
    /// `path`, `TRACKLAKE_STATE`: the CLI's state file. CLI only: a Lambda has no disk that
    /// outlives it, so it keeps the state in S3.
    pub path: PathBuf,
    /// `TRACKLAKE_STATE_BUCKET`: the bucket of the Lambda's state object. Lambda only (required
    /// there, empty elsewhere): the CLI keeps its state in [`Self::path`]. Not in the file.
    #[serde(skip)]
    pub bucket: String,
    /// `TRACKLAKE_STATE_KEY`: the Lambda's state object key, default [`DEFAULT_STATE_KEY`].
    /// Lambda only, like [`Self::bucket`].
    #[serde(skip)]
    pub key: String,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            path: PathBuf::from(DEFAULT_STATE_FILE),
            bucket: String::new(),
            key: DEFAULT_STATE_KEY.to_string(),
        }
    }
}

/// `[secrets]`: where the refresh token is kept, never the token itself.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// `path`, `TRACKLAKE_SECRETS`: the CLI's secrets file, readable by its owner only; keep it
    /// out of version control. CLI only, as [`StateSettings::path`].
    pub path: PathBuf,
    /// `redirect_port` (no variable: `tracklake auth --port` overrides it): the port of the
    /// loopback redirect `http://127.0.0.1:PORT/callback` of `tracklake auth`. CLI only: the
    /// authorization needs the user's browser.
    pub redirect_port: u16,
    /// `TRACKLAKE_SECRET_ID`: name or ARN of the Secrets Manager secret holding the client id,
    /// the client secret and the refresh token. Lambda only (required there, empty elsewhere;
    /// `tracklake auth --secret-id` writes it). Not in the file.
    #[serde(skip)]
    pub secret_id: String,
}

impl Default for SecretsSettings {
    fn default() -> Self {
        SecretsSettings {
            path: PathBuf::from(DEFAULT_SECRETS_FILE),
            redirect_port: spotify_client::accounts::DEFAULT_REDIRECT_PORT,
            secret_id: String::new(),
        }
    }
}

/// A missing or unreadable environment variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{name} is not set: it names {what}; set it in the function's environment (infra/ does)")]
    Missing { name: &'static str, what: &'static str },

    #[error("{name} is not valid ({detail}); it must be {expected}")]
    Invalid {
        name: &'static str,
        detail: String,
        expected: &'static str,
    },
}

/// One variable: trimmed, and `None` when unset or empty (as a shell's `VAR=` usually means).
fn read(env: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A whole number above zero (`zero_ok`: or zero).
fn number<T: std::str::FromStr + Default + PartialEq>(
    name: &'static str,
    text: &str,
    zero_ok: bool,
) -> Result<T, SettingsError> {
    text.parse::<T>()
        .ok()
        .filter(|n| zero_ok || *n != T::default())
        .ok_or_else(|| SettingsError::Invalid {
            name,
            detail: format!("{text:?}"),
            expected: if zero_ok {
                "a whole number, zero or more"
            } else {
                "a whole number above zero"
            },
        })
}

impl Settings {
    /// The defaults under the environment: the CLI without a file, and the base of
    /// [`Settings::lambda_from_env`].
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let mut settings = Settings::default();
        settings.apply_env(env)?;
        Ok(settings)
    }

    /// The Lambda's settings: [`Settings::from_env`], and the stream, the state bucket and the
    /// secret required from the environment (`infra/` sets them).
    pub fn lambda_from_env(env: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let settings = Settings::from_env(&env)?;
        for (name, what) in [
            (ENV_STREAM, "the Firehose delivery stream"),
            (ENV_STATE_BUCKET, "the S3 bucket of the producer state"),
            (
                ENV_SECRET_ID,
                "the Secrets Manager secret with the Spotify credentials",
            ),
        ] {
            if read(&env, name).is_none() {
                return Err(SettingsError::Missing { name, what });
            }
        }
        Ok(settings)
    }

    /// The environment layer, over whatever is set already (the defaults, or the CLI's file).
    /// `env` looks a variable up (`std::env::var(..).ok()` outside tests).
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
        let read = |name: &str| read(&env, name);
        if let Some(id) = read(ENV_CLIENT_ID) {
            self.spotify.client_id = Some(id);
        }
        if let Some(base) = read(ENV_API_BASE) {
            self.spotify.api_base = base;
        }
        if let Some(base) = read(ENV_ACCOUNTS_BASE) {
            self.spotify.accounts_base = base;
        }
        if let Some(text) = read(ENV_REQUEST_BUDGET) {
            self.spotify.request_budget = number(ENV_REQUEST_BUDGET, &text, false)?;
        }

        if let Some(stream) = read(ENV_STREAM) {
            self.firehose.stream = stream;
        }
        if let Some(text) = read(ENV_FIREHOSE_MAX_ATTEMPTS) {
            self.firehose.max_attempts = number(ENV_FIREHOSE_MAX_ATTEMPTS, &text, false)?;
        }
        if let Some(target) = read(ENV_FIREHOSE_TARGET) {
            self.firehose.target = target.parse()?;
        }

        let sources = &mut self.sources;
        if let Some(list) = read(ENV_SOURCES) {
            sources.enabled = parse_sources(&list)?;
        }
        if let Some(queries) = read(ENV_SEARCH_QUERIES) {
            sources.search_queries = serde_json::from_str(&queries).map_err(|e| SettingsError::Invalid {
                name: ENV_SEARCH_QUERIES,
                detail: e.to_string(),
                expected: "a JSON array of strings, e.g. [\"genre:jazz year:2026\"]",
            })?;
        }
        if let Some(text) = read(ENV_SEARCH_MAX_RESULTS) {
            sources.search_max_results = number(ENV_SEARCH_MAX_RESULTS, &text, false).and_then(|n| {
                if n <= SEARCH_RESULT_CAP {
                    Ok(n)
                } else {
                    Err(SettingsError::Invalid {
                        name: ENV_SEARCH_MAX_RESULTS,
                        detail: format!("{text:?}"),
                        expected: "a whole number from 1 to 1000 (Spotify refuses offsets past 1000)",
                    })
                }
            })?;
        }
        if let Some(market) = read(ENV_MARKET) {
            sources.market = Some(Market::try_from(market).map_err(|detail| SettingsError::Invalid {
                name: ENV_MARKET,
                detail,
                expected: "an ISO 3166-1 alpha-2 country code such as US",
            })?);
        }
        if let Some(text) = read(ENV_MIN_INTERVAL_SECS) {
            let intervals: BTreeMap<Source, u64> =
                serde_json::from_str(&text).map_err(|e| SettingsError::Invalid {
                    name: ENV_MIN_INTERVAL_SECS,
                    detail: e.to_string(),
                    expected: "a JSON object of source names and seconds, e.g. {\"top_tracks\": 86400}",
                })?;
            // Over the file's: a source the variable leaves out keeps its interval.
            sources.min_interval_secs.extend(intervals);
        }
        if let Some(text) = read(ENV_PARTITION_BUDGET) {
            sources.pacing.partition_budget = number(ENV_PARTITION_BUDGET, &text, false)?;
        }
        if let Some(text) = read(ENV_PACING_WINDOW_SECS) {
            sources.pacing.window_secs = number(ENV_PACING_WINDOW_SECS, &text, true)?;
        }

        if let Some(path) = read(ENV_STATE_FILE) {
            self.state.path = PathBuf::from(path);
        }
        if let Some(bucket) = read(ENV_STATE_BUCKET) {
            self.state.bucket = bucket;
        }
        if let Some(key) = read(ENV_STATE_KEY) {
            self.state.key = key;
        }
        if let Some(path) = read(ENV_SECRETS_FILE) {
            self.secrets.path = PathBuf::from(path);
        }
        if let Some(id) = read(ENV_SECRET_ID) {
            self.secrets.secret_id = id;
        }
        Ok(())
    }
}

fn parse_sources(list: &str) -> Result<Vec<Source>, SettingsError> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            serde_json::from_value::<Source>(serde_json::Value::String(name.to_string()))
                .ok()
                .filter(|source| *source != Source::StreamingHistory)
                .ok_or_else(|| SettingsError::Invalid {
                    name: ENV_SOURCES,
                    detail: format!("unknown source {name:?}"),
                    expected: "a comma-separated list of recently_played, top_tracks, saved_tracks, \
                               playlist, search",
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    const REQUIRED: [(&str, &str); 3] = [
        (ENV_STREAM, "tracklake-raw"),
        (ENV_STATE_BUCKET, "bucket"),
        (ENV_SECRET_ID, "arn:aws:secretsmanager:eu-west-1:1:secret:s"),
    ];

    #[test]
    fn defaults_follow_the_contract() {
        let config = Settings::lambda_from_env(env(&REQUIRED)).unwrap();
        assert_eq!(config.state.key, "state/producer.json");
        assert_eq!(
            config.sources.enabled,
            [
                Source::RecentlyPlayed,
                Source::TopTracks,
                Source::SavedTracks,
                Source::Playlist
            ]
        );
        assert!(config.sources.search_queries.is_empty());
        assert_eq!(config.sources.market, None);
        assert_eq!(config.spotify.request_budget, 500);
        assert_eq!(config.spotify.api_base, DEFAULT_API_BASE);
        assert_eq!(config.spotify.accounts_base, DEFAULT_ACCOUNTS_BASE);
    }

    #[test]
    fn every_variable_is_read() {
        let mut vars = REQUIRED.to_vec();
        vars.extend([
            (ENV_STATE_KEY, "state/other.json"),
            (ENV_SOURCES, " search , recently_played"),
            (ENV_SEARCH_QUERIES, r#"["genre:jazz", "year:2026"]"#),
            (ENV_MARKET, "de"),
            (ENV_REQUEST_BUDGET, "120"),
            (ENV_API_BASE, "http://127.0.0.1:9/v1/"),
            (ENV_ACCOUNTS_BASE, "http://127.0.0.1:9"),
            (ENV_CLIENT_ID, "app-id"),
            (ENV_FIREHOSE_MAX_ATTEMPTS, "2"),
            (ENV_FIREHOSE_TARGET, "aws"),
            (ENV_SEARCH_MAX_RESULTS, "30"),
            (ENV_MIN_INTERVAL_SECS, r#"{"top_tracks": 600, "search": 0}"#),
            (ENV_PARTITION_BUDGET, "90"),
            (ENV_PACING_WINDOW_SECS, "0"),
            (ENV_STATE_FILE, "/tmp/state.json"),
            (ENV_SECRETS_FILE, "/tmp/secrets.json"),
        ]);
        let config = Settings::lambda_from_env(env(&vars)).unwrap();
        assert_eq!(config.firehose.stream, "tracklake-raw");
        assert_eq!(config.state.bucket, "bucket");
        assert_eq!(config.state.key, "state/other.json");
        assert_eq!(config.secrets.secret_id, REQUIRED[2].1);
        assert_eq!(config.sources.enabled, [Source::Search, Source::RecentlyPlayed]);
        assert_eq!(config.sources.search_queries, ["genre:jazz", "year:2026"]);
        assert_eq!(config.sources.market.as_ref().map(|m| m.as_str()), Some("DE"));
        assert_eq!(config.spotify.request_budget, 120);
        let spotify = config
            .spotify
            .client_config(SpotifyConfig::refresh_token("id", "token"));
        assert_eq!(spotify.api_base, "http://127.0.0.1:9/v1");
        assert_eq!(spotify.request_budget, 120);
        assert_eq!(config.spotify.client_id.as_deref(), Some("app-id"));
        assert_eq!(config.firehose.max_attempts, 2);
        assert_eq!(config.firehose.sink_config().retry.max_attempts, 2);
        assert_eq!(config.firehose.target, FirehoseTarget::Aws);
        assert_eq!(config.sources.search_max_results, 30);
        assert_eq!(
            config.sources.min_interval(Source::TopTracks),
            Duration::from_secs(600)
        );
        assert_eq!(config.sources.min_interval(Source::Search), Duration::ZERO);
        assert_eq!(config.sources.pacing.partition_budget, 90);
        assert_eq!(config.sources.pacing.window_secs, 0);
        assert_eq!(config.state.path, PathBuf::from("/tmp/state.json"));
        assert_eq!(config.secrets.path, PathBuf::from("/tmp/secrets.json"));
    }

    #[test]
    fn missing_and_bad_variables_are_named() {
        for name in [ENV_STREAM, ENV_STATE_BUCKET, ENV_SECRET_ID] {
            let vars: Vec<_> = REQUIRED.iter().copied().filter(|(n, _)| *n != name).collect();
            let err = Settings::lambda_from_env(env(&vars)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
            // Blank counts as unset.
            let mut vars = vars;
            vars.push((name, "  "));
            let err = Settings::lambda_from_env(env(&vars)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        for (name, value) in [
            (ENV_SOURCES, "recently_played,recent"),
            (ENV_SEARCH_QUERIES, "jazz"),
            (ENV_MARKET, "USA"),
            (ENV_MARKET, "U1"),
            (ENV_REQUEST_BUDGET, "0"),
            (ENV_REQUEST_BUDGET, "-3"),
            (ENV_FIREHOSE_MAX_ATTEMPTS, "0"),
            (ENV_FIREHOSE_TARGET, "kinesis"),
            (ENV_SEARCH_MAX_RESULTS, "1001"),
            (ENV_SEARCH_MAX_RESULTS, "0"),
            (ENV_MIN_INTERVAL_SECS, r#"{"recent": 1}"#),
            (ENV_MIN_INTERVAL_SECS, "600"),
            (ENV_PARTITION_BUDGET, "0"),
            (ENV_PACING_WINDOW_SECS, "7m"),
        ] {
            let mut vars = REQUIRED.to_vec();
            vars.push((name, value));
            let err = Settings::lambda_from_env(env(&vars)).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
            // The same refusal with the same words, whichever front-end reads it.
            let cli = Settings::from_env(env(&[(name, value)])).unwrap_err();
            assert_eq!(cli.to_string(), err.to_string());
        }
    }

    /// The CLI's environment layer is the Lambda's: a value with surrounding spaces reads the
    /// same for both, and so does every variable both front-ends take.
    #[test]
    fn the_cli_and_the_lambda_read_the_environment_alike() {
        let shared = [
            (ENV_STREAM, "  stream-with-spaces \n"),
            (ENV_REQUEST_BUDGET, " 42 "),
            (ENV_SOURCES, " search "),
            (ENV_SEARCH_QUERIES, r#" ["q"] "#),
            (ENV_MARKET, " se "),
            (ENV_API_BASE, " http://127.0.0.1:9/v1 "),
            (ENV_ACCOUNTS_BASE, "http://127.0.0.1:9 "),
            (ENV_FIREHOSE_MAX_ATTEMPTS, " 3"),
            (ENV_SEARCH_MAX_RESULTS, "20 "),
            (ENV_MIN_INTERVAL_SECS, r#" {"search": 60} "#),
            (ENV_PARTITION_BUDGET, " 7 "),
            (ENV_PACING_WINDOW_SECS, " 30 "),
        ];
        let cli = Settings::from_env(env(&shared)).unwrap();
        let mut lambda_vars = shared.to_vec();
        lambda_vars.extend(REQUIRED.iter().filter(|(n, _)| *n != ENV_STREAM));
        let lambda = Settings::lambda_from_env(env(&lambda_vars)).unwrap();
        assert_eq!(cli.firehose.stream, "stream-with-spaces");
        assert_eq!(cli.spotify, lambda.spotify);
        assert_eq!(cli.firehose, lambda.firehose);
        assert_eq!(cli.sources, lambda.sources);
        assert_eq!(cli.sources.market.as_ref().map(|m| m.as_str()), Some("SE"));
        assert_eq!(cli.sources.pacing.window_secs, 30);
        assert_eq!(cli.spotify.api_base, "http://127.0.0.1:9/v1");
    }
}
