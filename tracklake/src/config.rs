//! The CLI's configuration: the producer's settings ([`producer::settings::Settings`], the one
//! struct the Lambda reads too) from one TOML file (`--config`, else `tracklake.toml` when
//! present, else the defaults) under the producer's environment layer, plus the CLI's own
//! `[local]` section and `TRACKLAKE_LAKE`. Secrets (the client secret, the refresh token) come
//! from the environment only, so the file can be checked in or shared without leaking them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use producer::settings::{
    FirehoseSettings, SecretsSettings, Settings, SettingsError, SpotifySettings, StateSettings,
};
use producer::sources::SourcesConfig;
use serde::Deserialize;
use spotify_client::{SpotifyConfig, DEFAULT_REQUEST_BUDGET};

pub use producer::settings::{FirehoseTarget, ENV_CLIENT_ID};

/// The file read when `--config` is not given, if it exists in the current folder.
pub const DEFAULT_CONFIG_FILE: &str = "tracklake.toml";

/// The CLI's secrets, read from the environment only (never settings: see the module docs).
pub const ENV_CLIENT_SECRET: &str = "SPOTIFY_CLIENT_SECRET";
pub const ENV_REFRESH_TOKEN: &str = "SPOTIFY_REFRESH_TOKEN";
/// The local pipeline's lake folder (`[local] lake`): the CLI's own, not a producer setting.
pub const ENV_LAKE: &str = "TRACKLAKE_LAKE";
/// Overrides `[local] sandbox_history`.
pub const ENV_SANDBOX_HISTORY: &str = "TRACKLAKE_SANDBOX_HISTORY";

/// The lake folder of the embedded local pipeline when neither the file nor `TRACKLAKE_LAKE` says.
pub const DEFAULT_LAKE: &str = "lake";

/// Everything `tracklake` needs, besides the secrets and the AWS settings (those follow the
/// AWS SDK's standard configuration: `AWS_REGION`, credentials, `AWS_ENDPOINT_URL_FIREHOSE`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "File")]
pub struct Config {
    /// The producer's settings: the file's `[spotify]`, `[firehose]`, `[sources]`, `[state]` and
    /// `[secrets]`.
    pub producer: Settings,
    /// `[local]`: the embedded local pipeline: where its lake is, and the sandbox's data.
    pub local: LocalSection,
}

/// The file's layout: the producer's sections and the CLI's `[local]`. Unknown keys are refused,
/// in every section, so a misspelt setting fails loudly instead of being ignored.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    spotify: SpotifySettings,
    firehose: FirehoseSettings,
    state: StateSettings,
    secrets: SecretsSettings,
    local: LocalSection,
    sources: SourcesConfig,
}

impl From<File> for Config {
    fn from(file: File) -> Config {
        Config {
            producer: Settings {
                spotify: file.spotify,
                firehose: file.firehose,
                sources: file.sources,
                state: file.state,
                secrets: file.secrets,
            },
            local: file.local,
        }
    }
}

/// The embedded local pipeline (`[local]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSection {
    /// The lake folder: Parquet under `processed/`, the raw backup under `raw/`, the error
    /// output under `errors/`, and the sandbox's producer state under `state/`.
    /// `TRACKLAKE_LAKE` overrides it.
    pub lake: PathBuf,
    /// Seed of the sandbox's synthetic listener: the same seed serves the same history.
    pub sandbox_seed: u64,
    /// Pins the sandbox's clock (RFC 3339), for a reproducible demo; default: the real clock.
    pub sandbox_now: Option<chrono::DateTime<chrono::Utc>>,
    /// When `run` reads the sandbox into a lake that holds no imported plays yet, it first imports
    /// the sandbox listener's privacy export (three years of plays, both packages), as a user
    /// would with `tracklake import`, so the first run shows a history. `TRACKLAKE_SANDBOX_HISTORY`
    /// (`true`/`false`) overrides it.
    pub sandbox_history: bool,
}

impl Default for LocalSection {
    fn default() -> Self {
        LocalSection {
            lake: PathBuf::from(DEFAULT_LAKE),
            sandbox_seed: spotify_sandbox::SandboxConfig::default().seed,
            sandbox_now: None,
            sandbox_history: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}. Pass an existing file with --config, or none to use the defaults")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// `message` is the parser's message without the offending line, which could hold a secret.
    #[error("the config file {path} is not valid (line {line}): {message}. See tracklake.example.toml for every setting")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },

    /// Never carries the value: only where it is, so the refusal itself cannot leak it.
    #[error(
        "the config file {path} sets `{key}` on line {line}: secrets never go in the config file, \
         which is meant to be shared or checked in. Remove that line (and treat the value as exposed \
         if the file was shared), then set {ENV_CLIENT_SECRET} or {ENV_REFRESH_TOKEN} in the \
         environment, or run `tracklake auth`, which keeps the refresh token in the secrets file \
         ([secrets] path) or in AWS Secrets Manager (--secret-id)"
    )]
    SecretInFile { path: String, line: usize, key: String },

    #[error(
        "Spotify credentials are missing: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (app-only access: \
         search), or {ENV_CLIENT_ID} and a refresh token for the user's own data (run `tracklake auth` \
         once, or set {ENV_REFRESH_TOKEN}). Create an app at \
         https://developer.spotify.com/dashboard to get them. To try the pipeline without a Spotify \
         account, unset {ENV_CLIENT_ID}: `tracklake run` then reads the local Spotify sandbox"
    )]
    MissingCredentials,

    #[error(
        "the config file {path} sets [spotify] request_budget = 0: no run could make a single request, \
         so every run would do nothing. Set it above zero (the default is {DEFAULT_REQUEST_BUDGET}) or \
         remove the line"
    )]
    ZeroBudget { path: String },

    #[error("{name} is not {expected}: set it to {expected}, or unset it for the config file's value")]
    Env {
        name: &'static str,
        expected: &'static str,
    },

    /// A variable of the producer's environment layer, refused as the Lambda refuses it.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl Config {
    /// Parses a config file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        // Looked for first, so a secret is refused by name whatever else is wrong with the file.
        if let Ok(table) = toml::de::DeTable::parse(text) {
            if let Some((key, offset)) = find_secret(table.get_ref()) {
                return Err(ConfigError::SecretInFile {
                    path: path.to_string(),
                    line: line_of(offset),
                    key,
                });
            }
        }
        let config: Config = toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse {
            path: path.to_string(),
            line: e.span().map_or(1, |span| line_of(span.start)),
            // Not `e.to_string()`: that quotes the offending line, value included.
            message: redact_quoted(e.message().trim()),
        })?;
        if config.producer.spotify.request_budget == 0 {
            return Err(ConfigError::ZeroBudget {
                path: path.to_string(),
            });
        }
        Ok(config)
    }

    /// Reads `path`, or `tracklake.toml` if it exists when `path` is `None`, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(path) => path,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => Path::new(DEFAULT_CONFIG_FILE),
            None => return Ok(Config::default()),
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text, &shown)
    }

    /// Applies the environment: the producer's layer ([`Settings::apply_env`], the Lambda's
    /// too), then `TRACKLAKE_LAKE`. `env` looks a variable up (`std::env::var(..).ok()` outside
    /// tests); values are trimmed and an empty value counts as unset, as a shell's `VAR=` usually
    /// means.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.producer.apply_env(&env)?;
        if let Some(lake) = env(ENV_LAKE)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            self.local.lake = PathBuf::from(lake);
        }
        if let Some(value) = env(ENV_SANDBOX_HISTORY)
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
        {
            self.local.sandbox_history = match value.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Env {
                        name: ENV_SANDBOX_HISTORY,
                        expected: "true or false",
                    })
                }
            };
        }
        Ok(())
    }

    /// Whether `run` reads the local Spotify sandbox: when no Spotify app is configured.
    pub fn uses_sandbox(&self) -> bool {
        self.producer
            .spotify
            .client_id
            .as_deref()
            .is_none_or(str::is_empty)
    }

    /// The Spotify client's settings, with the secret from the environment: the refresh-token
    /// credentials when `SPOTIFY_REFRESH_TOKEN` is set, else client credentials.
    /// `stored_refresh_token` is the one `tracklake auth` stored, used when
    /// `SPOTIFY_REFRESH_TOKEN` is unset.
    pub fn spotify_config_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
        stored_refresh_token: Option<String>,
    ) -> Result<SpotifyConfig, ConfigError> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let client_id = self
            .producer
            .spotify
            .client_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or(ConfigError::MissingCredentials)?;
        let credentials = if let Some(token) = env(ENV_REFRESH_TOKEN).or(stored_refresh_token) {
            SpotifyConfig::refresh_token(client_id, token)
        } else if let Some(secret) = env(ENV_CLIENT_SECRET) {
            SpotifyConfig::client_credentials(client_id, secret)
        } else {
            return Err(ConfigError::MissingCredentials);
        };
        Ok(self.producer.spotify.client_config(credentials))
    }
}

/// Key names that hold a secret: refused anywhere in the config file, in any section. No setting
/// of the file has such a name; the `[secrets]` table (where the secrets file is) is a table, not
/// a value, and is not matched.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "password", "access_key", "credential"]
        .iter()
        .any(|word| key.contains(word))
}

/// The first key holding a secret, with the byte offset of the key.
fn find_secret(table: &toml::de::DeTable<'_>) -> Option<(String, usize)> {
    table.iter().find_map(|(key, value)| match value.get_ref() {
        toml::de::DeValue::Table(inner) => find_secret(inner),
        toml::de::DeValue::Array(items) => items.iter().find_map(|item| match item.get_ref() {
            toml::de::DeValue::Table(inner) => find_secret(inner),
            _ => None,
        }),
        _ if is_secret_key(key.get_ref()) => Some((key.get_ref().to_string(), key.span().start)),
        _ => None,
    })
}

/// A parser message with its double-quoted parts (the values serde quotes, as in
/// `invalid type: string "...", expected u32`) replaced, so no value of the file is echoed.
/// Backquoted key and variant names stay: they say what to fix.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        if i % 2 == 0 {
            out.push_str("\"(value not shown)\"");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// `--every`: a duration in humantime's syntax (`30s`, `15m`, `1h`, `1d`, `1h 30m`, `15 minutes`).
/// Below a second is refused: back-to-back cycles would spend the request budget and the quota
/// for nothing.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let every = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?} ({e}): write e.g. 30s, 15m, 1h or 1d"))?;
    if every < Duration::from_secs(1) {
        return Err(format!(
            "invalid duration {text:?}: it must be at least one second"
        ));
    }
    Ok(every)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use producer::settings::{
        DEFAULT_STATE_FILE, ENV_ACCOUNTS_BASE, ENV_API_BASE, ENV_FIREHOSE_TARGET, ENV_MARKET,
        ENV_PARTITION_BUDGET, ENV_REQUEST_BUDGET, ENV_SECRET_ID, ENV_SOURCES, ENV_STATE_BUCKET,
        ENV_STATE_FILE as ENV_STATE, ENV_STREAM,
    };
    use schemas::Source;
    use spotify_client::{Credentials, DEFAULT_API_BASE};

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn the_example_config_parses_and_says_what_it_documents() {
        let text = include_str!("../../tracklake.example.toml");
        let config = Config::parse(text, "tracklake.example.toml").unwrap();
        assert_eq!(config.producer.spotify.client_id, None);
        assert_eq!(config.producer.spotify.api_base, DEFAULT_API_BASE);
        assert_eq!(config.producer.spotify.request_budget, 500);
        assert_eq!(
            config.producer.firehose.stream,
            schemas::delivery::settings().stream_name
        );
        assert_eq!(config.producer.state.path, PathBuf::from(DEFAULT_STATE_FILE));
        assert_eq!(config.producer.firehose.target, FirehoseTarget::Local);
        assert_eq!(config.local, LocalSection::default());
        assert_eq!(
            config.producer.sources.enabled,
            [
                Source::RecentlyPlayed,
                Source::TopTracks,
                Source::SavedTracks,
                Source::Playlist
            ]
        );
        assert_eq!(
            config.producer.sources.pacing,
            producer::pacing::PacingConfig::default()
        );
        assert_eq!(
            config.producer.sources.min_interval(Source::TopTracks),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn an_empty_file_means_the_defaults() {
        assert_eq!(Config::parse("", "x").unwrap(), Config::default());
    }

    #[test]
    fn a_misspelt_setting_is_refused_with_its_name() {
        let err = Config::parse("[spotify]\nclient_idd = \"x\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("client_idd"), "{err}");
        let err = Config::parse("[sources]\nenabled = [\"recent\"]\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("recent"), "{err}");
    }

    #[test]
    fn config_refusal_never_prints_the_client_secret() {
        let secret = "sUp3rS3cretValue0123456789abcdef";
        let cases = [
            // The refusal by name: where the key is, and what to do instead.
            (
                "[spotify]\nclient_id = \"abc\"\nclient_secret = \"S\"\n",
                Some(("client_secret", 3)),
            ),
            ("client_secret = \"S\"\n", Some(("client_secret", 1))),
            (
                "[firehose]\nstream = \"s\"\n\n[spotify]\nrefresh_token = 'S'\n",
                Some(("refresh_token", 5)),
            ),
            ("spotify.client_secret = \"S\"\n", Some(("client_secret", 1))),
            (
                "spotify = { client_secret = \"S\" }\n",
                Some(("client_secret", 1)),
            ),
            // A file that is broken as well: the secret still never shows.
            ("[spotify]\nclient_secret = \"S\"\nnonsense\n", None),
            ("[spotify]\nclient_secret = \"S\n", None),
            // A secret pasted into an ordinary setting: the type error must not quote it.
            ("[spotify]\nrequest_budget = \"S\"\n", None),
            ("[spotify]\nclient_id = S\n", None),
        ];
        for (text, expected) in cases {
            let text = text.replace('S', secret);
            let err = Config::parse(&text, "tracklake.toml").unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(secret), "the value leaked: {shown}");
            assert!(!shown.contains(&secret[..8]), "part of the value leaked: {shown}");
            assert!(shown.contains("tracklake.toml"), "{shown}");
            if let Some((key, line)) = expected {
                let message = err.to_string();
                assert!(message.contains(&format!("`{key}` on line {line}")), "{message}");
                assert!(message.contains(ENV_CLIENT_SECRET), "{message}");
                assert!(message.contains("tracklake auth"), "{message}");
            }
        }
        // The [secrets] table says where the secrets file is: it is not itself a secret.
        let config = Config::parse("[secrets]\npath = \"s.json\"\n", "x").unwrap();
        assert_eq!(config.producer.secrets.path, PathBuf::from("s.json"));
    }

    #[test]
    fn a_market_is_a_two_letter_country_code() {
        let config = Config::parse("[sources]\nmarket = \"gb\"\n", "x.toml").unwrap();
        assert_eq!(
            config.producer.sources.market.as_ref().map(|m| m.as_str()),
            Some("GB")
        );
        let err = Config::parse("[sources]\nmarket = \"United Kingdom\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("ISO 3166-1 alpha-2"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = Config::parse(
            "[spotify]\nclient_id = \"file\"\n[firehose]\nstream = \"file-stream\"\n",
            "x",
        )
        .unwrap();
        config
            .apply_env(env(&[
                (ENV_CLIENT_ID, "env-id"),
                (ENV_STREAM, "env-stream"),
                (ENV_STATE, "/tmp/s.json"),
                (ENV_API_BASE, "http://127.0.0.1:1/v1/"),
                (ENV_ACCOUNTS_BASE, "http://127.0.0.1:1"),
                (ENV_FIREHOSE_TARGET, "AWS"),
                (ENV_LAKE, "/tmp/lake"),
            ]))
            .unwrap();
        assert_eq!(config.producer.firehose.target, FirehoseTarget::Aws);
        assert_eq!(config.local.lake, PathBuf::from("/tmp/lake"));
        assert_eq!(config.producer.spotify.client_id.as_deref(), Some("env-id"));
        assert_eq!(config.producer.firehose.stream, "env-stream");
        assert_eq!(config.producer.state.path, PathBuf::from("/tmp/s.json"));
        let spotify = config
            .spotify_config_with(env(&[(ENV_CLIENT_SECRET, "s")]), None)
            .unwrap();
        assert_eq!(spotify.api_base, "http://127.0.0.1:1/v1");
        assert_eq!(spotify.accounts_base, "http://127.0.0.1:1");
    }

    /// The file is a layer under the producer's environment layer, the Lambda's own: what the
    /// environment gives reaches the CLI over the file, trimmed and checked as the Lambda does.
    #[test]
    fn the_environment_reaches_the_cli_as_it_reaches_the_lambda() {
        let mut config = Config::parse(
            "[spotify]\nrequest_budget = 100\n[sources]\nenabled = [\"playlist\"]\n\
             [sources.pacing]\npartition_budget = 300\n",
            "x",
        )
        .unwrap();
        let vars = [
            (ENV_REQUEST_BUDGET, " 7 "),
            (ENV_SOURCES, " search "),
            (ENV_MARKET, " gb"),
            (ENV_PARTITION_BUDGET, "20\n"),
            (ENV_STREAM, " stream "),
        ];
        config.apply_env(env(&vars)).unwrap();
        let mut lambda_vars = vars.to_vec();
        lambda_vars.extend([(ENV_STATE_BUCKET, "b"), (ENV_SECRET_ID, "s")]);
        let lambda = Settings::lambda_from_env(env(&lambda_vars)).unwrap();
        assert_eq!(config.producer.spotify.request_budget, 7);
        assert_eq!(config.producer.sources.enabled, [Source::Search]);
        assert_eq!(config.producer.sources.pacing.partition_budget, 20);
        assert_eq!(config.producer.firehose.stream, "stream");
        assert_eq!(config.producer.spotify, lambda.spotify);
        assert_eq!(config.producer.sources, lambda.sources);
        assert_eq!(config.producer.firehose, lambda.firehose);

        let bad = [(ENV_MARKET, "USA")];
        let cli = Config::default().apply_env(env(&bad)).unwrap_err();
        let mut lambda_vars = bad.to_vec();
        lambda_vars.extend([(ENV_STREAM, "s"), (ENV_STATE_BUCKET, "b"), (ENV_SECRET_ID, "s")]);
        let lambda = Settings::lambda_from_env(env(&lambda_vars)).unwrap_err();
        assert_eq!(cli.to_string(), lambda.to_string());
        assert!(cli.to_string().contains(ENV_MARKET), "{cli}");
    }

    #[test]
    fn a_refresh_token_selects_the_user_credentials_else_client_credentials() {
        let mut config = Config::default();
        config.apply_env(env(&[(ENV_CLIENT_ID, "id")])).unwrap();
        let user = config
            .spotify_config_with(env(&[(ENV_CLIENT_SECRET, "s"), (ENV_REFRESH_TOKEN, "r")]), None)
            .unwrap();
        assert!(matches!(user.credentials, Credentials::RefreshToken { .. }));
        let app = config
            .spotify_config_with(env(&[(ENV_CLIENT_SECRET, "s")]), None)
            .unwrap();
        assert!(matches!(app.credentials, Credentials::ClientCredentials { .. }));
    }

    #[test]
    fn missing_credentials_name_the_variables_to_set() {
        for vars in [
            &[][..],
            &[(ENV_CLIENT_ID, "id")][..],
            &[(ENV_CLIENT_SECRET, "s")][..],
            &[(ENV_CLIENT_ID, ""), (ENV_CLIENT_SECRET, "s")][..],
        ] {
            let mut config = Config::default();
            config.apply_env(env(vars)).unwrap();
            let err = config.spotify_config_with(env(vars), None).unwrap_err();
            let message = err.to_string();
            for name in [ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN, "sandbox"] {
                assert!(message.contains(name), "{vars:?}: {message}");
            }
        }
    }

    #[test]
    fn no_client_id_means_the_sandbox_and_a_bad_target_is_refused() {
        let mut config = Config::default();
        assert!(config.uses_sandbox());
        assert_eq!(config.producer.firehose.target, FirehoseTarget::Local);
        config.apply_env(env(&[(ENV_CLIENT_ID, "")])).unwrap();
        assert!(config.uses_sandbox(), "an empty id is no id");
        config.apply_env(env(&[(ENV_CLIENT_ID, "id")])).unwrap();
        assert!(!config.uses_sandbox());
        let err = config
            .apply_env(env(&[(ENV_FIREHOSE_TARGET, "kinesis")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("kinesis") && err.to_string().contains("`aws`"),
            "{err}"
        );
        let err = Config::parse("[firehose]\ntarget = \"s3\"\n", "x").unwrap_err();
        assert!(err.to_string().contains("s3"), "{err}");
    }

    #[test]
    fn every_takes_a_number_and_a_unit() {
        assert_eq!(parse_every("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_every("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_every("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_every("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_every("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_every("15 minutes"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_every("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "15", "m", "-1m", "0s", "500ms", "99999999999999999999d"] {
            assert!(parse_every(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn sandbox_history_follows_the_file_then_the_environment() {
        let file = Config::parse("[local]\nsandbox_history = false\n", "x.toml").unwrap();
        assert!(!file.local.sandbox_history);
        assert!(Config::default().local.sandbox_history, "on by default");
        for (value, expected) in [(" TRUE ", true), ("1", true), ("false", false), ("0", false)] {
            let mut config = Config::default();
            config.local.sandbox_history = !expected;
            config.apply_env(env(&[(ENV_SANDBOX_HISTORY, value)])).unwrap();
            assert_eq!(config.local.sandbox_history, expected, "{value:?}");
        }
        let err = Config::default()
            .apply_env(env(&[(ENV_SANDBOX_HISTORY, "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(ENV_SANDBOX_HISTORY) && err.contains("true or false"),
            "{err}"
        );
    }
}
