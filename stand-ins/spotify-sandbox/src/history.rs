//! The user's library and listening history as functions of (seed, time): plays per hour, saves
//! per day, playlist adds and removals at fixed instants. Nothing is stored; each answer generates
//! the part of the timeline it needs, so the clock can move freely and a history of a million
//! plays costs no memory. Only the top lists (one computation per day and time range) are cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};

use crate::catalog::Catalog;
use crate::config::SandboxConfig;
use crate::rng::{hash, poisson, rng, spotify_id, Kind};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Relative listening by hour of day (UTC is the user's time zone): little at night, a morning
/// commute, a long evening peak.
const HOUR_WEIGHTS: [f64; 24] = [
    0.35, 0.18, 0.08, 0.04, 0.03, 0.06, 0.25, 0.8, 1.3, 1.1, 0.9, 0.9, 1.2, 1.1, 0.9, 0.9, 1.1, 1.5, 1.9,
    2.2, 2.3, 2.0, 1.4, 0.8,
];

/// Relative listening by weekday, Monday first: more at the weekend.
const WEEKDAY_WEIGHTS: [f64; 7] = [0.9, 0.92, 0.95, 0.97, 1.1, 1.35, 1.25];

/// Spotify's time ranges and the days each covers ("approximately last 4 weeks", "last 6
/// months", "calculated from ~1 year of data", Spotify's reference).
pub const TIME_RANGES: [(&str, i64); 3] = [("short_term", 28), ("medium_term", 182), ("long_term", 365)];

/// Playlist entries added before this instant carry null `added_at` and `added_by`, as entries of
/// very old playlists do (docs/spotify-web-api.md#edge-cases-in-real-data).
const LEGACY_ENTRY_CUTOFF_MS: i64 = 1_356_998_400_000; // 2013-01-01T00:00:00Z

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayContext {
    None,
    Playlist(u32),
    Album(u32),
}

/// One play: when it ended (Spotify's `played_at`), which track, from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Play {
    pub at_ms: i64,
    pub track: u32,
    pub context: PlayContext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Save {
    pub at_ms: i64,
    pub track: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User,
    Friend { id: String, name: String },
    Spotify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// `item` and `track` (and `items` and `tracks` on the playlist).
    Both,
    /// Only the new keys.
    New,
    /// Only the old keys.
    Old,
}

#[derive(Debug, Clone)]
pub struct PlaylistSpec {
    pub index: u32,
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner: Owner,
    pub collaborative: bool,
    pub public: bool,
    pub created_ms: i64,
    pub initial: u32,
    /// Mean days between later adds.
    pub add_gap_days: f64,
    pub keys: Keys,
    pub null_size_image: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryItem {
    Track(u32),
    Episode(u32),
    Local(u64),
    Removed,
}

/// One entry of a playlist as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Which add it was (stable across removals of other entries).
    pub serial: u64,
    pub added_ms: i64,
    pub item: EntryItem,
    /// Added before Spotify recorded who and when.
    pub legacy: bool,
    /// Who added it: 0 the user, 1 the owner (a friend), 2 another collaborator.
    pub added_by: u8,
}

/// What a playlist is at one instant.
#[derive(Debug, Clone)]
pub struct PlaylistState {
    pub entries: Vec<Entry>,
    pub snapshot_id: String,
}

/// Top lists computed so far, by (day, time range).
type TopCache = Mutex<HashMap<(i64, usize), Arc<Vec<u32>>>>;

pub struct World {
    pub seed: u64,
    pub catalog: Catalog,
    pub playlists: Vec<PlaylistSpec>,
    history_days: i64,
    plays_per_day: f64,
    saves_per_day: f64,
    library_since_ms: i64,
    pub window: usize,
    top_len: usize,
    perm_a: u64,
    perm_b: u64,
    favorites: u64,
    weekly_norm: f64,
    top_cache: TopCache,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Spotify's `added_at`: seconds, `Z`.
pub fn format_seconds(ms: i64) -> String {
    ms_to_datetime(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Spotify's `played_at`: milliseconds, `Z`.
pub fn format_millis(ms: i64) -> String {
    ms_to_datetime(ms).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn midnight_ms(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

fn exp_sample(rng: &mut fastrand::Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.f64()).ln()
}

impl World {
    pub fn new(config: &SandboxConfig) -> Self {
        let seed = config.seed;
        let catalog = Catalog::generate(
            seed,
            config.artists,
            config.tracks,
            config.episodes,
            config.include_popularity,
        );
        let n = catalog.tracks.len() as u64;
        let mut perm_a = (hash(seed, &[77]) % n).max(1) | 1;
        while gcd(perm_a, n) != 1 {
            perm_a += 1;
        }
        let library_since_ms = config
            .library_since
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis());
        let weekly_norm: f64 = WEEKDAY_WEIGHTS
            .iter()
            .map(|d| HOUR_WEIGHTS.iter().map(|h| h * d).sum::<f64>())
            .sum();
        let mut world = World {
            seed,
            catalog,
            playlists: Vec::new(),
            history_days: i64::from(config.history_days),
            plays_per_day: config.plays_per_day,
            saves_per_day: config.saves_per_day,
            library_since_ms,
            window: config.recently_played_window,
            top_len: config.top_tracks as usize,
            perm_a,
            perm_b: hash(seed, &[78]) % n,
            favorites: (n / 8).clamp(20, 400).min(n),
            weekly_norm,
            top_cache: Mutex::new(HashMap::new()),
        };
        world.playlists = world.make_playlists(config);
        world
    }

    fn make_playlists(&self, config: &SandboxConfig) -> Vec<PlaylistSpec> {
        let seed = self.seed;
        let mut specs = Vec::new();
        let total = config.own_playlists + config.collaborative_playlists + config.followed_playlists;
        for p in 0..total {
            let mut r = rng(seed, &[Kind::Playlist as u64, u64::from(p)]);
            let friend = |r: &mut fastrand::Rng| {
                let f = r.u32(..1000);
                Owner::Friend {
                    id: format!("friend{f}"),
                    name: format!("Friend {f}"),
                }
            };
            let (owner, collaborative) = if p < config.own_playlists {
                // One of the user's own playlists is shared for collaboration.
                (Owner::User, p == 2)
            } else if p < config.own_playlists + config.collaborative_playlists {
                (friend(&mut r), true)
            } else if p + 1 == total && config.followed_playlists > 1 {
                (Owner::Spotify, false)
            } else {
                (friend(&mut r), false)
            };
            // The first playlist is an old one, from before Spotify recorded who added what.
            let created_ms = if p == 0 {
                1_293_840_000_000 + r.i64(0..180 * DAY_MS) // 2011
            } else {
                self.library_since_ms - r.i64(0..4 * 365 * DAY_MS)
            };
            let name = match owner {
                Owner::Spotify => "Top 50 - Global".to_string(),
                _ => {
                    let mut names = rng(seed, &[Kind::Names as u64, u64::from(p)]);
                    crate::catalog::GENRES[names.usize(..crate::catalog::GENRES.len())].to_string()
                        + " "
                        + ["mix", "favourites", "for the road", "☾ late", "workout", "2026"][names.usize(..6)]
                }
            };
            let keys = match r.u8(..100) {
                0..=59 => Keys::Both,
                60..=84 => Keys::New,
                _ => Keys::Old,
            };
            specs.push(PlaylistSpec {
                index: p,
                id: spotify_id(seed, Kind::Playlist, u64::from(p)),
                description: if r.bool() {
                    format!("Songs for {name}")
                } else {
                    String::new()
                },
                name,
                owner,
                collaborative,
                public: !collaborative && r.bool(),
                created_ms,
                initial: r.u32(1..=config.playlist_max_initial_items.max(1)),
                add_gap_days: 5.0 + r.f64() * 40.0,
                keys,
                null_size_image: r.bool(),
            });
        }
        specs
    }

    /// The oldest instant of the play history at `now`: midnight `history_days` before today.
    pub fn history_start_ms(&self, now_ms: i64) -> i64 {
        midnight_ms(now_ms) - self.history_days * DAY_MS
    }

    pub(crate) fn track_for(&self, rng: &mut fastrand::Rng, day: i64) -> u32 {
        let n = self.catalog.tracks.len() as u64;
        let rank = if rng.u8(..100) < 75 {
            // Favourites, heavily skewed; the set drifts week by week, so top lists move.
            let drift = day.div_euclid(7) as u64 * (self.favorites / 12).max(1);
            ((self.favorites as f64 * rng.f64().powf(2.2)) as u64 + drift) % n
        } else {
            rng.u64(..n)
        };
        ((self.perm_a.wrapping_mul(rank) + self.perm_b) % n) as u32
    }

    /// Every play that ended in the hour starting at `hour * 1 h`, oldest first (ignoring the
    /// history start and the clock: callers filter).
    pub fn plays_in_hour(&self, hour: i64) -> Vec<Play> {
        let start = hour * HOUR_MS;
        let at = ms_to_datetime(start);
        let weight =
            HOUR_WEIGHTS[at.hour() as usize] * WEEKDAY_WEIGHTS[at.weekday().num_days_from_monday() as usize];
        let lambda = self.plays_per_day * 7.0 * weight / self.weekly_norm;
        let mut r = rng(self.seed, &[Kind::PlayHour as u64, hour as u64]);
        let count = poisson(&mut r, lambda) as usize;
        let mut offsets: Vec<i64> = (0..count).map(|_| r.i64(0..HOUR_MS)).collect();
        offsets.sort_unstable();
        offsets.dedup();
        let day = hour.div_euclid(24);
        let own = self.playlists.iter().filter(|p| p.owner == Owner::User).count() as u32;
        offsets
            .into_iter()
            .map(|offset| {
                let track = self.track_for(&mut r, day);
                let context = match r.u8(..100) {
                    0..=39 if own > 0 => PlayContext::Playlist(r.u32(..own)),
                    40..=64 => PlayContext::Album(self.catalog.tracks[track as usize].album),
                    _ => PlayContext::None,
                };
                Play {
                    at_ms: start + offset,
                    track,
                    context,
                }
            })
            .collect()
    }

    /// Plays at or before `now`, newest first, walking back until `stop` says enough (it sees
    /// each play) or the history starts.
    fn plays_back(&self, now_ms: i64, mut stop: impl FnMut(&Play) -> bool) -> Vec<Play> {
        let start = self.history_start_ms(now_ms);
        let mut out = Vec::new();
        let mut hour = now_ms.div_euclid(HOUR_MS);
        while hour * HOUR_MS + HOUR_MS > start {
            for play in self.plays_in_hour(hour).into_iter().rev() {
                if play.at_ms > now_ms || play.at_ms < start {
                    continue;
                }
                if stop(&play) {
                    return out;
                }
                out.push(play);
            }
            hour -= 1;
        }
        out
    }

    /// The plays `/me/player/recently-played` can return at `now`: the last `window`, newest first;
    /// with `after`, only those after it (the walk stops there, so polling is cheap).
    pub fn recent_window(&self, now_ms: i64, after: Option<i64>) -> Vec<Play> {
        let window = self.window;
        let mut seen = 0usize;
        self.plays_back(now_ms, |play| {
            seen += 1;
            seen > window || after.is_some_and(|a| play.at_ms <= a)
        })
    }

    /// Every play in `[from, to)` (both clipped to the history at `to`), oldest first.
    pub fn plays_between(&self, from_ms: i64, to_ms: i64) -> Vec<Play> {
        let from = from_ms.max(self.history_start_ms(to_ms));
        let mut out = Vec::new();
        let mut hour = from.div_euclid(HOUR_MS);
        while hour * HOUR_MS < to_ms {
            out.extend(
                self.plays_in_hour(hour)
                    .into_iter()
                    .filter(|p| p.at_ms >= from && p.at_ms < to_ms),
            );
            hour += 1;
        }
        out
    }

    /// The user's top tracks for a time range at `now`: recomputed once a day, at midnight UTC,
    /// from the plays of the range before it, most played first (ties by catalog order).
    pub fn top_tracks(&self, now_ms: i64, range: usize) -> Arc<Vec<u32>> {
        let day = now_ms.div_euclid(DAY_MS);
        if let Some(top) = self
            .top_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(day, range))
        {
            return top.clone();
        }
        let end = day * DAY_MS;
        let begin = end - TIME_RANGES[range].1 * DAY_MS;
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for play in self.plays_between(begin, end) {
            *counts.entry(play.track).or_default() += 1;
        }
        let mut ranked: Vec<(u32, u32)> = counts.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top: Arc<Vec<u32>> = Arc::new(ranked.into_iter().take(self.top_len).map(|(t, _)| t).collect());
        self.top_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((day, range), top.clone());
        top
    }

    /// The saved-tracks library at `now`, newest first. A track saved twice keeps its first save.
    pub fn saves(&self, now_ms: i64) -> Vec<Save> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let first_day = self.library_since_ms.div_euclid(DAY_MS);
        let last_day = now_ms.div_euclid(DAY_MS);
        for day in first_day..=last_day {
            let mut r = rng(self.seed, &[Kind::SaveDay as u64, day as u64]);
            let count = poisson(&mut r, self.saves_per_day);
            let mut day_saves: Vec<Save> = (0..count)
                .map(|_| Save {
                    // Saves happen in waking hours.
                    at_ms: day * DAY_MS + r.i64(8 * HOUR_MS..24 * HOUR_MS) / 1000 * 1000,
                    track: self.track_for(&mut r, day),
                })
                .collect();
            day_saves.sort_by_key(|s| s.at_ms);
            for save in day_saves {
                if save.at_ms <= now_ms && seen.insert(save.track) {
                    out.push(save);
                }
            }
        }
        // Equal seconds keep a stable order: newest first, then catalog order.
        out.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(a.track.cmp(&b.track)));
        out
    }

    /// The playlists that exist at `now`, in the order `/me/playlists` lists them.
    pub fn playlists_at(&self, now_ms: i64) -> Vec<&PlaylistSpec> {
        self.playlists.iter().filter(|p| p.created_ms <= now_ms).collect()
    }

    pub fn playlist_by_id(&self, id: &str) -> Option<&PlaylistSpec> {
        self.playlists.iter().find(|p| p.id == id)
    }

    /// A playlist's entries and snapshot at `now`. Adds happen at fixed instants (a first batch at
    /// creation, then one every few weeks); about a quarter of the entries are removed later. The
    /// snapshot id changes exactly when an add or a removal has happened.
    pub fn playlist_state(&self, spec: &PlaylistSpec, now_ms: i64) -> PlaylistState {
        let mut entries = Vec::new();
        let mut adds = 0u64;
        let mut removals = 0u64;
        let mut added_ms = spec.created_ms;
        let mut serial = 0u64;
        loop {
            let mut r = rng(
                self.seed,
                &[Kind::PlaylistEntry as u64, u64::from(spec.index), serial],
            );
            if serial > 0 {
                added_ms += if serial < u64::from(spec.initial) {
                    r.i64(30_000..400_000)
                } else {
                    (exp_sample(&mut r, spec.add_gap_days) * DAY_MS as f64) as i64 + 1000
                };
            }
            if added_ms > now_ms {
                break;
            }
            adds += 1;
            let roll = r.u16(..1000);
            let item = if roll < 20 {
                EntryItem::Local(hash(u64::from(spec.index), &[serial]))
            } else if roll < 50 && !self.catalog.episodes.is_empty() {
                EntryItem::Episode(r.u32(..self.catalog.episodes.len() as u32))
            } else if roll < 62 {
                EntryItem::Removed
            } else {
                let day = added_ms.div_euclid(DAY_MS);
                EntryItem::Track(self.track_for(&mut r, day))
            };
            let removed_at = (r.u8(..100) < 25)
                .then(|| added_ms + (exp_sample(&mut r, 200.0) * DAY_MS as f64) as i64 + 1000);
            let added_by = match spec.owner {
                Owner::User => 0,
                Owner::Friend { .. } if spec.collaborative => r.u8(..3),
                _ => 1,
            };
            match removed_at {
                Some(at) if at <= now_ms => removals += 1,
                _ => entries.push(Entry {
                    serial,
                    added_ms: added_ms / 1000 * 1000,
                    item,
                    legacy: added_ms < LEGACY_ENTRY_CUTOFF_MS,
                    added_by,
                }),
            }
            serial += 1;
        }
        let snapshot_seed = hash(self.seed, &[Kind::Snapshot as u64, u64::from(spec.index)]);
        let snapshot_id = format!(
            "AAAA{}",
            spotify_id(
                snapshot_seed,
                Kind::Snapshot,
                adds.wrapping_mul(1_000_003) ^ removals
            )
        );
        PlaylistState { entries, snapshot_id }
    }

    /// The date of a top list served at `now` (its snapshot: it changes at midnight UTC).
    pub fn top_list_date(now_ms: i64) -> NaiveDate {
        ms_to_datetime(midnight_ms(now_ms)).date_naive()
    }
}
