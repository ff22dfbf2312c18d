//! The Web API under `/v1`: bearer checks, fault injection, the endpoints the producer calls with
//! Spotify's 2026 limits and shapes, and Spotify's answers for endpoints gone for new apps.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::auth::{self, AuthState, TokenKind, TokenProblem};
use crate::catalog::local_track_json;
use crate::config::{
    Faults, SandboxConfig, DEFAULT_LIST_LIMIT, DEFAULT_SEARCH_LIMIT, MAX_LIST_LIMIT, MAX_SEARCH_LIMIT,
    MAX_SEARCH_OFFSET,
};
use crate::history::{
    format_millis, format_seconds, EntryItem, Keys, Owner, PlayContext, World, TIME_RANGES,
};
use crate::ledger::{ItemType, Observation, Place, ServedLedger, SourceKind};
use crate::search;

type Query_ = Query<HashMap<String, String>>;

/// Everything the handlers share.
pub struct Shared {
    pub config: SandboxConfig,
    pub world: World,
    /// `http://127.0.0.1:PORT/v1`: `next` URLs and `href`s point here.
    pub api_base: String,
    pub refresh_token: String,
    pub clock: Mutex<Option<DateTime<Utc>>>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<(Faults, fastrand::Rng)>,
    pub ledger: Mutex<ServedLedger>,
    pub requests: Mutex<BTreeMap<String, u64>>,
    track_ids: HashMap<String, u32>,
    search_cache: Mutex<HashMap<String, Arc<Vec<u32>>>>,
}

impl Shared {
    pub fn new(config: SandboxConfig, api_base: String, refresh_token: String) -> Self {
        let world = World::new(&config);
        let track_ids = world
            .catalog
            .tracks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i as u32))
            .collect();
        Shared {
            auth: Mutex::new(AuthState::new(config.seed, &refresh_token)),
            faults: Mutex::new((
                config.faults.clone(),
                fastrand::Rng::with_seed(config.faults.seed),
            )),
            clock: Mutex::new(config.now),
            config,
            world,
            api_base,
            refresh_token,
            ledger: Mutex::new(ServedLedger::default()),
            requests: Mutex::new(BTreeMap::new()),
            track_ids,
            search_cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.clock).unwrap_or_else(Utc::now)
    }

    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    pub fn count(&self, route: &str) {
        *lock(&self.requests).entry(route.to_string()).or_default() += 1;
    }

    fn record(&self, observation: Observation) {
        if self.config.record_ledger {
            lock(&self.ledger).record(observation);
        }
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `application/x-www-form-urlencoded` encoding of one value (space as `+`).
pub fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Spotify's Web API error body: `{"error": {"status": …, "message": …}}`.
pub fn api_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"status": status.as_u16(), "message": message}})),
    )
        .into_response()
}

pub fn router(shared: Arc<Shared>) -> Router {
    let gone_404 = || get(|State(s): State<Arc<Shared>>| async move { gone(&s, StatusCode::NOT_FOUND) });
    let gone_403 = || get(|State(s): State<Arc<Shared>>| async move { gone(&s, StatusCode::FORBIDDEN) });
    Router::new()
        .route("/api/token", post(auth::token))
        .route("/authorize", get(auth::authorize))
        .route("/v1/me", get(me))
        .route("/v1/me/playlists", get(me_playlists))
        .route("/v1/playlists/{id}/items", get(playlist_items))
        .route("/v1/me/tracks", get(saved_tracks))
        .route("/v1/me/player/recently-played", get(recently_played))
        .route("/v1/me/top/tracks", get(top_tracks))
        .route("/v1/search", get(search_tracks))
        .route("/v1/tracks/{id}", get(track))
        // Gone for Development Mode apps since Nov 2024 (404) and Feb 2026 (403),
        // docs/spotify-web-api.md#endpoints-gone-for-new-apps.
        .route("/v1/audio-features", gone_404())
        .route("/v1/audio-features/{id}", gone_404())
        .route("/v1/audio-analysis/{id}", gone_404())
        .route("/v1/recommendations", gone_404())
        .route("/v1/recommendations/available-genre-seeds", gone_404())
        .route("/v1/artists/{id}/related-artists", gone_404())
        .route("/v1/browse/featured-playlists", gone_404())
        .route("/v1/browse/categories/{id}/playlists", gone_404())
        .route("/v1/tracks", gone_403())
        .route("/v1/albums", gone_403())
        .route("/v1/artists", gone_403())
        .route("/v1/browse/new-releases", gone_403())
        .route("/v1/artists/{id}/top-tracks", gone_403())
        .route("/v1/markets", gone_403())
        .fallback(|State(s): State<Arc<Shared>>| async move {
            s.count("other");
            api_error(StatusCode::NOT_FOUND, "Service not found")
        })
        .with_state(shared)
}

fn gone(shared: &Shared, status: StatusCode) -> Response {
    shared.count(&format!("gone {}", status.as_u16()));
    match status {
        StatusCode::FORBIDDEN => api_error(status, "Forbidden"),
        _ => api_error(status, "Resource not found"),
    }
}

/// The checks every `/v1` request passes before its handler: a valid bearer token, then the fault
/// switches (a slow answer waits here), then, where user data is asked for, a user token.
async fn guard(shared: &Shared, route: &str, headers: &HeaderMap, needs_user: bool) -> Result<(), Response> {
    shared.count(&format!("GET {route}"));
    let now_ms = shared.now_ms();
    let bearer = auth::bearer(headers);
    let kind = match lock(&shared.auth).check(bearer, now_ms) {
        Ok(kind) => kind,
        Err(TokenProblem::Missing) => return Err(api_error(StatusCode::UNAUTHORIZED, "No token provided")),
        Err(TokenProblem::Invalid) => {
            return Err(api_error(StatusCode::UNAUTHORIZED, "Invalid access token"))
        }
        Err(TokenProblem::Expired) => {
            return Err(api_error(StatusCode::UNAUTHORIZED, "The access token expired"))
        }
    };
    let (fault, delay) = {
        let mut guard = lock(&shared.faults);
        let (faults, rng) = &mut *guard;
        // Every switch draws on every request, so one rate does not shift the others' sequence.
        let rolls = [rng.f64(), rng.f64(), rng.f64(), rng.f64(), rng.f64()];
        let delay = (rolls[4] < faults.slow_rate).then(|| faults.slow_delay());
        let fault = if rolls[0] < faults.expired_token_rate {
            Some(Fault::Expired)
        } else if rolls[1] < faults.quota_exceeded_rate {
            Some(Fault::Quota(faults.quota_retry_after))
        } else if rolls[2] < faults.rate_limit_rate {
            Some(Fault::RateLimit(faults.rate_limit_retry_after))
        } else if rolls[3] < faults.server_error_rate {
            Some(Fault::Server(faults.server_error_status))
        } else {
            None
        };
        (fault, delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Expired) => {
            if let Some(token) = bearer {
                lock(&shared.auth).expire(token, now_ms);
            }
            return Err(api_error(StatusCode::UNAUTHORIZED, "The access token expired"));
        }
        Some(Fault::Quota(retry_after)) => {
            let body = json!({"error": {
                "status": 429,
                "message": "Your application has exceeded its daily request quota. Try again later.",
                "reason": "QUOTA_EXCEEDED",
            }});
            return Err(with_retry_after(
                (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response(),
                retry_after,
            ));
        }
        Some(Fault::RateLimit(retry_after)) => {
            let response = api_error(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
            return Err(with_retry_after(response, retry_after));
        }
        Some(Fault::Server(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let message = match status.as_u16() {
                502 => "Bad gateway.",
                503 => "Service unavailable",
                _ => "Server error.",
            };
            return Err(api_error(status, message));
        }
        None => {}
    }
    if needs_user && kind == TokenKind::App {
        // A client-credentials token carries no user: user endpoints refuse it.
        return Err(api_error(StatusCode::UNAUTHORIZED, "Unauthorized."));
    }
    Ok(())
}

enum Fault {
    Expired,
    Quota(Option<i64>),
    RateLimit(Option<i64>),
    Server(u16),
}

fn with_retry_after(mut response: Response, seconds: Option<i64>) -> Response {
    if let Some(seconds) = seconds {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// A refused query parameter: Spotify's 400 with its message.
struct BadParameter(String);

impl IntoResponse for BadParameter {
    fn into_response(self) -> Response {
        api_error(StatusCode::BAD_REQUEST, &self.0)
    }
}

/// `limit`: absent gives `default`; not an integer in 1..=max gives 400 "Invalid limit".
fn limit(query: &HashMap<String, String>, default: u32, max: u32) -> Result<u32, BadParameter> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(BadParameter("Invalid limit".to_string())),
        },
    }
}

fn offset(query: &HashMap<String, String>, max: Option<u32>) -> Result<u32, BadParameter> {
    match query.get("offset") {
        None => Ok(0),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if max.is_none_or(|m| n <= m) => Ok(n),
            _ => Err(BadParameter("Invalid offset".to_string())),
        },
    }
}

/// A paging object; `href`, `next` and `previous` are absolute URLs on the sandbox.
fn paging(
    shared: &Shared,
    path: &str,
    extra: &str,
    items: Vec<Value>,
    offset: u32,
    limit: u32,
    total: usize,
) -> Value {
    let url = |offset: u32| format!("{}{path}?offset={offset}&limit={limit}{extra}", shared.api_base);
    let end = offset as usize + items.len();
    json!({
        "href": url(offset),
        "items": items,
        "limit": limit,
        "next": (end < total && !items.is_empty()).then(|| url(end as u32)),
        "offset": offset,
        "previous": (offset > 0).then(|| url(offset.saturating_sub(limit))),
        "total": total,
    })
}

fn window<T>(all: &[T], offset: u32, limit: u32) -> &[T] {
    let start = (offset as usize).min(all.len());
    let end = (start + limit as usize).min(all.len());
    &all[start..end]
}

fn user_json(shared: &Shared, id: &str, name: Option<&str>) -> Value {
    let mut user = json!({
        "external_urls": {"spotify": format!("https://open.spotify.com/user/{id}")},
        "href": format!("{}/users/{id}", shared.api_base),
        "id": id,
        "type": "user",
        "uri": format!("spotify:user:{id}"),
    });
    if let Some(name) = name {
        user["display_name"] = json!(name);
    }
    user
}

async fn me(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&s, "/me", &headers, true).await {
        return e;
    }
    let mut user = user_json(&s, &s.config.user_id, Some(&s.config.display_name));
    user["images"] =
        json!([{"url": "https://i.scdn.co/image/ab6775700000ee85sandbox", "height": null, "width": null}]);
    user["country"] = json!("SE");
    user["product"] = json!("premium");
    Json(user).into_response()
}

fn owner_json(shared: &Shared, owner: &Owner) -> Value {
    match owner {
        Owner::User => user_json(shared, &shared.config.user_id, Some(&shared.config.display_name)),
        Owner::Friend { id, name } => user_json(shared, id, Some(name)),
        Owner::Spotify => user_json(shared, "spotify", Some("Spotify")),
    }
}

async fn me_playlists(State(s): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query_) -> Response {
    if let Err(e) = guard(&s, "/me/playlists", &headers, true).await {
        return e;
    }
    let (limit, offset) = match (limit(&q, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT), offset(&q, None)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let now_ms = s.now_ms();
    let all = s.world.playlists_at(now_ms);
    let items = window(&all, offset, limit)
        .iter()
        .map(|spec| {
            let state = s.world.playlist_state(spec, now_ms);
            let items_ref = json!({"href": format!("{}/playlists/{}/items", s.api_base, spec.id), "total": state.entries.len()});
            let mosaic = format!("https://mosaic.scdn.co/640/{}", spec.id);
            let images = if spec.null_size_image {
                json!([{"url": mosaic, "height": null, "width": null}])
            } else {
                json!([{"url": mosaic, "height": 640, "width": 640}])
            };
            let mut playlist = json!({
                "collaborative": spec.collaborative,
                "description": spec.description,
                "external_urls": {"spotify": format!("https://open.spotify.com/playlist/{}", spec.id)},
                "href": format!("{}/playlists/{}", s.api_base, spec.id),
                "id": spec.id,
                "images": images,
                "name": spec.name,
                "owner": owner_json(&s, &spec.owner),
                "primary_color": null,
                "public": spec.public,
                "snapshot_id": state.snapshot_id,
                "type": "playlist",
                "uri": format!("spotify:playlist:{}", spec.id),
            });
            if spec.keys != Keys::Old {
                playlist["items"] = items_ref.clone();
            }
            if spec.keys != Keys::New {
                playlist["tracks"] = items_ref;
            }
            playlist
        })
        .collect();
    Json(paging(&s, "/me/playlists", "", items, offset, limit, all.len())).into_response()
}

async fn playlist_items(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query_,
) -> Response {
    if let Err(e) = guard(&s, "/playlists/{id}/items", &headers, true).await {
        return e;
    }
    let now_ms = s.now_ms();
    let Some(spec) = s.world.playlist_by_id(&id).filter(|p| p.created_ms <= now_ms) else {
        return api_error(StatusCode::NOT_FOUND, "Resource not found");
    };
    match spec.owner {
        // Spotify-owned editorial playlists: 404 for new apps since Nov 2024.
        Owner::Spotify => return api_error(StatusCode::NOT_FOUND, "Resource not found"),
        // Other users' playlists: 403 for new apps since Feb 2026, unless the user collaborates.
        Owner::Friend { .. } if !spec.collaborative => return api_error(StatusCode::FORBIDDEN, "Forbidden"),
        _ => {}
    }
    let (limit, offset) = match (limit(&q, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT), offset(&q, None)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let state = s.world.playlist_state(spec, now_ms);
    let catalog = &s.world.catalog;
    let base = &s.api_base;
    let mut items = Vec::new();
    for (i, entry) in window(&state.entries, offset, limit).iter().enumerate() {
        let (object, uri, item_type, is_local) = match entry.item {
            EntryItem::Track(t) => (
                catalog.track_json(t, base),
                Some(catalog.track_uri(t)),
                ItemType::Track,
                false,
            ),
            EntryItem::Episode(e) => (
                catalog.episode_json(e, base),
                Some(catalog.episode_uri(e)),
                ItemType::Episode,
                false,
            ),
            EntryItem::Local(n) => {
                let (uri, object) = local_track_json(s.world.seed, n, catalog.include_popularity);
                (object, Some(uri), ItemType::Track, true)
            }
            EntryItem::Removed => (Value::Null, None, ItemType::Removed, false),
        };
        let added_by = match (entry.legacy, entry.added_by, &spec.owner) {
            (true, _, _) => Value::Null,
            (false, 0, _) => user_json(&s, &s.config.user_id, None),
            (false, 1, owner) => {
                let mut owner = owner_json(&s, owner);
                owner.as_object_mut().map(|o| o.remove("display_name"));
                owner
            }
            (false, _, _) => user_json(&s, "friend-collaborator", None),
        };
        let mut item = json!({
            "added_at": if entry.legacy { Value::Null } else { json!(format_seconds(entry.added_ms)) },
            "added_by": added_by,
            "is_local": is_local,
            "primary_color": null,
            "video_thumbnail": {"url": null},
        });
        if spec.keys != Keys::Old {
            item["item"] = object.clone();
        }
        if spec.keys != Keys::New {
            item["track"] = object;
        }
        items.push(item);
        s.record(Observation {
            source: SourceKind::Playlist,
            context: spec.id.clone(),
            snapshot: state.snapshot_id.clone(),
            place: Place::Position(offset + i as u32),
            uri,
            item_type,
            is_local,
        });
    }
    let path = format!("/playlists/{}/items", spec.id);
    Json(paging(&s, &path, "", items, offset, limit, state.entries.len())).into_response()
}

async fn saved_tracks(State(s): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query_) -> Response {
    if let Err(e) = guard(&s, "/me/tracks", &headers, true).await {
        return e;
    }
    let (limit, offset) = match (limit(&q, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT), offset(&q, None)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let saves = s.world.saves(s.now_ms());
    let catalog = &s.world.catalog;
    let items = window(&saves, offset, limit)
        .iter()
        .map(|save| {
            s.record(Observation {
                source: SourceKind::SavedTracks,
                context: String::new(),
                snapshot: String::new(),
                place: Place::AddedAt(save.at_ms),
                uri: Some(catalog.track_uri(save.track)),
                item_type: ItemType::Track,
                is_local: false,
            });
            json!({"added_at": format_seconds(save.at_ms), "track": catalog.track_json(save.track, &s.api_base)})
        })
        .collect();
    Json(paging(&s, "/me/tracks", "", items, offset, limit, saves.len())).into_response()
}

fn cursor(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, BadParameter> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| BadParameter(format!("Invalid {name} parameter"))),
    }
}

async fn recently_played(State(s): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query_) -> Response {
    if let Err(e) = guard(&s, "/me/player/recently-played", &headers, true).await {
        return e;
    }
    let limit = match limit(&q, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT) {
        Ok(l) => l as usize,
        Err(e) => return e.into_response(),
    };
    let (after, before) = match (cursor(&q, "after"), cursor(&q, "before")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    if after.is_some() && before.is_some() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Only one of after or before can be specified",
        );
    }
    // Only the last `window` plays exist for the API (Spotify: 50); newest first.
    let window = s.world.recent_window(s.now_ms(), after);
    let chosen: Vec<_> = match (after, before) {
        // After a cursor: the plays right after it, so that polling with `after` never skips any.
        (Some(_), _) => {
            let skip = window.len().saturating_sub(limit);
            window[skip..].to_vec()
        }
        (_, Some(b)) => window
            .iter()
            .filter(|p| p.at_ms < b)
            .take(limit)
            .copied()
            .collect(),
        _ => window.iter().take(limit).copied().collect(),
    };
    let oldest_served = chosen.last().map(|p| p.at_ms);
    let older_exists = match (after, oldest_served) {
        (None, Some(oldest)) => window.iter().any(|p| p.at_ms < oldest),
        _ => false,
    };
    let catalog = &s.world.catalog;
    let base = &s.api_base;
    let items: Vec<Value> = chosen
        .iter()
        .map(|play| {
            s.record(Observation {
                source: SourceKind::RecentlyPlayed,
                context: String::new(),
                snapshot: String::new(),
                place: Place::PlayedAt(play.at_ms),
                uri: Some(catalog.track_uri(play.track)),
                item_type: ItemType::Track,
                is_local: false,
            });
            let context = match play.context {
                PlayContext::None => Value::Null,
                PlayContext::Playlist(p) => {
                    let id = &s.world.playlists[p as usize].id;
                    json!({"type": "playlist", "href": format!("{base}/playlists/{id}"),
                           "external_urls": {"spotify": format!("https://open.spotify.com/playlist/{id}")},
                           "uri": format!("spotify:playlist:{id}")})
                }
                PlayContext::Album(a) => {
                    let id = &catalog.albums[a as usize].id;
                    json!({"type": "album", "href": format!("{base}/albums/{id}"),
                           "external_urls": {"spotify": format!("https://open.spotify.com/album/{id}")},
                           "uri": format!("spotify:album:{id}")})
                }
            };
            json!({"track": catalog.track_json(play.track, base), "played_at": format_millis(play.at_ms), "context": context})
        })
        .collect();
    let mut href = format!("{base}/me/player/recently-played?limit={limit}");
    if let Some(a) = after {
        href.push_str(&format!("&after={a}"));
    }
    if let Some(b) = before {
        href.push_str(&format!("&before={b}"));
    }
    let cursors = match (chosen.first(), chosen.last()) {
        (Some(newest), Some(oldest)) => {
            json!({"after": newest.at_ms.to_string(), "before": oldest.at_ms.to_string()})
        }
        _ => Value::Null,
    };
    let next = match (older_exists, oldest_served) {
        (true, Some(oldest)) => json!(format!(
            "{base}/me/player/recently-played?before={oldest}&limit={limit}"
        )),
        _ => Value::Null,
    };
    Json(json!({"items": items, "next": next, "cursors": cursors, "limit": limit, "href": href}))
        .into_response()
}

async fn top_tracks(State(s): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query_) -> Response {
    if let Err(e) = guard(&s, "/me/top/tracks", &headers, true).await {
        return e;
    }
    let range_name = q.get("time_range").map_or("medium_term", String::as_str);
    let Some(range) = TIME_RANGES.iter().position(|(name, _)| *name == range_name) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid time range");
    };
    let (limit, offset) = match (limit(&q, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT), offset(&q, None)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let now_ms = s.now_ms();
    let top = s.world.top_tracks(now_ms, range);
    let date = World::top_list_date(now_ms).to_string();
    let catalog = &s.world.catalog;
    let items = window(&top, offset, limit)
        .iter()
        .enumerate()
        .map(|(i, t)| {
            s.record(Observation {
                source: SourceKind::TopTracks,
                context: range_name.to_string(),
                snapshot: date.clone(),
                place: Place::Rank(offset + i as u32 + 1),
                uri: Some(catalog.track_uri(*t)),
                item_type: ItemType::Track,
                is_local: false,
            });
            catalog.track_json(*t, &s.api_base)
        })
        .collect();
    let extra = format!("&time_range={range_name}");
    Json(paging(
        &s,
        "/me/top/tracks",
        &extra,
        items,
        offset,
        limit,
        top.len(),
    ))
    .into_response()
}

async fn search_tracks(State(s): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query_) -> Response {
    if let Err(e) = guard(&s, "/search", &headers, false).await {
        return e;
    }
    // Spotify's own `next` links name the query `query`; clients send `q`.
    let Some(text) = q
        .get("q")
        .or_else(|| q.get("query"))
        .filter(|t| !t.trim().is_empty())
    else {
        return api_error(StatusCode::BAD_REQUEST, "No search query");
    };
    let Some(types) = q.get("type") else {
        return api_error(StatusCode::BAD_REQUEST, "Missing parameter type");
    };
    for kind in types.split(',') {
        match kind.trim() {
            "track" => {}
            "album" | "artist" | "playlist" | "show" | "episode" | "audiobook" => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "the sandbox serves only type=track, not `{kind}` (the producer searches tracks)"
                    ),
                )
            }
            _ => return api_error(StatusCode::BAD_REQUEST, "Bad search type field"),
        }
    }
    let (limit, offset) = match (
        limit(&q, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT),
        offset(&q, Some(MAX_SEARCH_OFFSET)),
    ) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let cached = lock(&s.search_cache).get(text).cloned();
    let results = match cached {
        Some(results) => results,
        None => {
            let results = Arc::new(search::search(&s.world.catalog, s.world.seed, text));
            lock(&s.search_cache).insert(text.clone(), results.clone());
            results
        }
    };
    let catalog = &s.world.catalog;
    let items = window(&results, offset, limit)
        .iter()
        .enumerate()
        .map(|(i, t)| {
            s.record(Observation {
                source: SourceKind::Search,
                context: text.clone(),
                snapshot: String::new(),
                place: Place::Rank(offset + i as u32 + 1),
                uri: Some(catalog.track_uri(*t)),
                item_type: ItemType::Track,
                is_local: false,
            });
            catalog.track_json(*t, &s.api_base)
        })
        .collect();
    let extra = format!("&query={}&type=track", form_encode(text));
    Json(json!({"tracks": paging(&s, "/search", &extra, items, offset, limit, results.len())}))
        .into_response()
}

async fn track(State(s): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&s, "/tracks/{id}", &headers, false).await {
        return e;
    }
    match s.track_ids.get(&id) {
        Some(t) => Json(s.world.catalog.track_json(*t, &s.api_base)).into_response(),
        None if id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            api_error(StatusCode::NOT_FOUND, "Resource not found")
        }
        None => api_error(StatusCode::BAD_REQUEST, "Invalid base62 id"),
    }
}
