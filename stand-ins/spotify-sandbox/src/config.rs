//! What the sandbox serves and how it misbehaves: [`SandboxConfig`] and [`Faults`].

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Lifetime of every access token (3600 s, docs/spotify-web-api.md#authorization).
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// Plays `/me/player/recently-played` can ever return: Spotify keeps only the last 50
/// (docs/spotify-web-api.md#recently-played).
pub const SPOTIFY_RECENTLY_PLAYED_WINDOW: usize = 50;

/// Largest `limit` of `/me/*` lists and playlist items (docs/spotify-web-api.md#paging).
pub const MAX_LIST_LIMIT: u32 = 50;

/// Default `limit` of `/me/*` lists and playlist items (Spotify's reference: 20).
pub const DEFAULT_LIST_LIMIT: u32 = 20;

/// Search: limit 1–10, default 5; 11 gives 400 "Invalid limit" (docs/spotify-web-api.md#paging).
pub const MAX_SEARCH_LIMIT: u32 = 10;
pub const DEFAULT_SEARCH_LIMIT: u32 = 5;

/// Search: the largest offset Spotify accepts (docs/spotify-web-api.md#paging).
pub const MAX_SEARCH_OFFSET: u32 = 1000;

/// Everything the sandbox serves, derived from `seed` and the clock. Build it in code
/// (`SandboxConfig { seed: 7, ..Default::default() }`) or from TOML/JSON; unknown keys are refused so
/// a misspelt setting is not silently ignored. The defaults start in well under a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Where to listen. The default `127.0.0.1:0` takes a free loopback port.
    pub addr: SocketAddr,
    /// Seed of the catalog, the user's library and history, tokens and faults: same seed, same data.
    pub seed: u64,
    /// Artists in the catalog.
    pub artists: u32,
    /// Tracks in the catalog (grouped into albums of 1 to 18 tracks).
    pub tracks: u32,
    /// Podcast episodes that can sit in playlists.
    pub episodes: u32,
    /// Days of play history before today (UTC). Plays per day times days is the history's size:
    /// `history_days = 1095, plays_per_day = 915.0` gives about a million plays.
    pub history_days: u32,
    /// Average plays per day; the hour of day and the weekday shape when they happen.
    pub plays_per_day: f64,
    /// Plays `/me/player/recently-played` can return. Spotify's is 50; raise it only to let a
    /// benchmark read a long history through cursors.
    pub recently_played_window: usize,
    /// The first day of the saved-tracks library; saves keep arriving after it as time passes.
    pub library_since: NaiveDate,
    /// Average saves per day.
    pub saves_per_day: f64,
    /// Playlists the user owns.
    pub own_playlists: u32,
    /// Collaborative playlists of other users the user takes part in.
    pub collaborative_playlists: u32,
    /// Other users' playlists the user follows (their items answer 403, as for new apps).
    pub followed_playlists: u32,
    /// Entries a playlist starts with, at most (each playlist draws its own size).
    pub playlist_max_initial_items: u32,
    /// Length of the user's top lists per time range (Spotify serves them in pages of ≤ 50).
    pub top_tracks: u32,
    /// Serve `popularity` on tracks. New apps no longer get it
    /// (docs/spotify-web-api.md#removed-and-renamed-fields), so it is off.
    pub include_popularity: bool,
    /// Fix the sandbox's clock at this time; `None` follows the real clock (`Utc::now()`).
    pub now: Option<DateTime<Utc>>,
    /// Share of token refreshes that rotate the refresh token (answer with a new one).
    pub refresh_rotation_rate: f64,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret (client-credentials grant).
    pub client_secret: String,
    /// A refresh token that is valid from the start, so the producer can read user data without
    /// `tracklake auth`. Empty: derived from the seed.
    pub refresh_token: String,
    /// The user's Spotify id.
    pub user_id: String,
    /// The user's display name.
    pub display_name: String,
    /// Record what was served (see [`crate::ServedLedger`]). Off saves memory in long benchmarks.
    pub record_ledger: bool,
    /// Fault injection; none by default.
    pub faults: Faults,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 42,
            artists: 150,
            tracks: 2000,
            episodes: 40,
            history_days: 400,
            plays_per_day: 30.0,
            recently_played_window: SPOTIFY_RECENTLY_PLAYED_WINDOW,
            library_since: NaiveDate::from_ymd_opt(2021, 3, 1).expect("a valid date"),
            saves_per_day: 0.5,
            own_playlists: 6,
            collaborative_playlists: 2,
            followed_playlists: 3,
            playlist_max_initial_items: 120,
            top_tracks: 100,
            include_popularity: false,
            now: None,
            refresh_rotation_rate: 0.5,
            client_id: "sandboxclientid0000000000000000".to_string(),
            client_secret: "sandbox-client-secret".to_string(),
            refresh_token: String::new(),
            user_id: "sandboxuser".to_string(),
            display_name: "Sandbox Listener".to_string(),
            record_ledger: true,
            faults: Faults::default(),
        }
    }
}

impl SandboxConfig {
    /// A small world at a fixed clock, quick to start and to read through: 600 tracks, and a
    /// library saved since 1 September 2026, so that a producer run reads all of it (fewer UTC
    /// dates than it takes in one run). The tests of the sandbox and of its clients use it.
    pub fn small(now: DateTime<Utc>) -> Self {
        SandboxConfig {
            now: Some(now),
            tracks: 600,
            artists: 60,
            library_since: NaiveDate::from_ymd_opt(2026, 9, 1).expect("a valid date"),
            saves_per_day: 2.0,
            ..SandboxConfig::default()
        }
    }
}

/// Fault switches, each firing on a share (0.0–1.0) of `/v1` requests, decided by a generator
/// seeded with `seed`, so a test sees the same faults in the same order every time. At most one
/// fault answers a request, checked in this order: expired token, quota, rate limit, server error;
/// a slow answer adds its delay to whatever is answered. The token endpoint is never faulted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Seed of the fault generator.
    pub seed: u64,
    /// 429 with `Retry-After: rate_limit_retry_after` (rolling 30-second limit).
    pub rate_limit_rate: f64,
    /// `Retry-After` seconds of a 429; `None` sends none (Spotify sometimes omits it).
    pub rate_limit_retry_after: Option<i64>,
    /// 429 with `"reason": "QUOTA_EXCEEDED"` (a spent daily quota).
    pub quota_exceeded_rate: f64,
    /// `Retry-After` seconds of a quota answer (reported values: 13–14 hours); `None` sends none.
    pub quota_retry_after: Option<i64>,
    /// 5xx answers.
    pub server_error_rate: f64,
    /// Status of a server error (500, 502, 503 …).
    pub server_error_status: u16,
    /// Answers delayed by `slow_delay_ms`.
    pub slow_rate: f64,
    pub slow_delay_ms: u64,
    /// 401 "The access token expired", and the token stays expired.
    pub expired_token_rate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0,
            rate_limit_rate: 0.0,
            rate_limit_retry_after: Some(1),
            quota_exceeded_rate: 0.0,
            quota_retry_after: Some(13 * 60 * 60),
            server_error_rate: 0.0,
            server_error_status: 503,
            slow_rate: 0.0,
            slow_delay_ms: 2000,
            expired_token_rate: 0.0,
        }
    }
}

impl Faults {
    /// The slow-answer delay.
    pub fn slow_delay(&self) -> Duration {
        Duration::from_millis(self.slow_delay_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("faults.rate_limit_rate", self.rate_limit_rate),
            ("faults.quota_exceeded_rate", self.quota_exceeded_rate),
            ("faults.server_error_rate", self.server_error_rate),
            ("faults.slow_rate", self.slow_rate),
            ("faults.expired_token_rate", self.expired_token_rate),
        ] {
            check_rate(name, rate)?;
        }
        if !(500..=599).contains(&self.server_error_status) {
            return Err(format!(
                "faults.server_error_status is {}; use a 5xx status such as 500, 502 or 503",
                self.server_error_status
            ));
        }
        Ok(())
    }
}

fn check_rate(name: &str, rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("{name} is {rate}; a rate is a share between 0.0 and 1.0"))
    }
}

impl SandboxConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        let positive = [
            ("artists", self.artists),
            ("tracks", self.tracks),
            ("episodes", self.episodes),
            ("top_tracks", self.top_tracks),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} is 0; the sandbox needs at least one"));
            }
        }
        if self.tracks < 20 {
            return Err(format!("tracks is {}; use at least 20", self.tracks));
        }
        if !(self.plays_per_day.is_finite() && self.plays_per_day >= 0.0) {
            return Err(format!(
                "plays_per_day is {}; use a number >= 0",
                self.plays_per_day
            ));
        }
        if !(self.saves_per_day.is_finite() && self.saves_per_day >= 0.0) {
            return Err(format!(
                "saves_per_day is {}; use a number >= 0",
                self.saves_per_day
            ));
        }
        if self.recently_played_window == 0 {
            return Err("recently_played_window is 0; Spotify's is 50".to_string());
        }
        check_rate("refresh_rotation_rate", self.refresh_rotation_rate)?;
        for (name, value) in [
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("user_id", &self.user_id),
        ] {
            if value.is_empty() {
                return Err(format!("{name} is empty"));
            }
        }
        self.faults.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_partial_documents_and_refuses_unknown_keys() {
        let config: SandboxConfig = serde_json::from_str(
            r#"{"seed": 7, "now": "2026-11-24T08:00:00Z", "faults": {"rate_limit_rate": 0.5}}"#,
        )
        .unwrap();
        assert_eq!(config.seed, 7);
        assert_eq!(config.faults.rate_limit_rate, 0.5);
        assert_eq!(
            config.faults.quota_retry_after,
            Faults::default().quota_retry_after
        );
        assert!(config.validate().is_ok());
        let err = serde_json::from_str::<SandboxConfig>(r#"{"sead": 7}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `sead`"), "{err}");
        assert!(serde_json::from_str::<SandboxConfig>(r#"{"faults": {"slow": 1}}"#).is_err());
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let config = SandboxConfig {
            faults: Faults {
                server_error_rate: 1.5,
                ..Faults::default()
            },
            ..SandboxConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .contains("faults.server_error_rate"));
        let config = SandboxConfig {
            tracks: 5,
            ..SandboxConfig::default()
        };
        assert!(config.validate().unwrap_err().contains("tracks"));
    }
}
