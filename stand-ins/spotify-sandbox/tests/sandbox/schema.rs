//! Every shape the sandbox serves, checked against the published Spotify Web API schema
//! (`spotify-sandbox/openapi/spotify-web-api.yml`, OpenAPI 3.0.3, vendored; see its README):
//! `$ref`s resolved, `allOf` and `oneOf`, types, `required`, `nullable`, `enum`,
//! `format: date-time`, integer bounds, arrays and nested objects. Each served answer is checked
//! against the schema of its own operation's response.
//!
//! The published schema and Spotify's real answers differ in known places; the sandbox follows the
//! real answers (docs/spotify-web-api.md#the-openapi-description), and each difference is allowed
//! by name in [`DEVIATIONS`], never silently.

use std::path::PathBuf;

use serde_json::Value;

use crate::{all_pages, app_token, config, get, sandbox, user_token};

/// (schema, property, what is allowed, why).
const DEVIATIONS: &[(&str, &str, Allow, &str)] = &[
    (
        "AlbumBase",
        "available_markets",
        Allow::Missing,
        "removed for new apps (docs/spotify-web-api.md#removed-and-renamed-fields)",
    ),
    (
        "ShowBase",
        "available_markets",
        Allow::Missing,
        "removed for new apps (docs/spotify-web-api.md#removed-and-renamed-fields)",
    ),
    (
        "PlaylistTrackObject",
        "added_at",
        Allow::Null,
        "null on old playlists (docs/spotify-web-api.md#edge-cases-in-real-data)",
    ),
    (
        "PlaylistTrackObject",
        "added_by",
        Allow::Null,
        "null on old playlists (docs/spotify-web-api.md#edge-cases-in-real-data)",
    ),
    (
        "PlaylistTrackObject",
        "item",
        Allow::Null,
        "null for a removed track (docs/spotify-web-api.md#edge-cases-in-real-data)",
    ),
    (
        "PlaylistTrackObject",
        "track",
        Allow::Null,
        "null for a removed track (docs/spotify-web-api.md#edge-cases-in-real-data)",
    ),
    (
        "CursorPagingObject",
        "next",
        Allow::Null,
        "null when no older page exists",
    ),
    (
        "CursorPagingObject",
        "cursors",
        Allow::Null,
        "null when the page is empty",
    ),
    (
        "PlayHistoryObject",
        "context",
        Allow::Null,
        "null when played outside a playlist or album",
    ),
];

/// Fields a local file's album lacks altogether (Spotify has no catalog entry for it).
const LOCAL_MAY_LACK: &[&str] = &["total_tracks"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allow {
    Missing,
    Null,
}

struct Spec {
    doc: Value,
}

/// The vendored description; `openapi/README.md` says where it comes from and how to refresh it.
fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/spotify-web-api.yml")
}

fn load_spec() -> Spec {
    let path = spec_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the vendored Spotify OpenAPI description {} ({e}); it is a tracked file \
             of the repository: restore it with `git checkout -- spotify-sandbox/openapi` or \
             refresh it as spotify-sandbox/openapi/README.md says",
            path.display()
        )
    });
    let doc: Value = serde_yaml::from_str(&text).expect("openapi.yml is YAML");
    assert_eq!(
        doc["openapi"].as_str().map(|v| &v[..2]),
        Some("3."),
        "an OpenAPI 3 document"
    );
    Spec { doc }
}

/// What the validator saw, so a test can check that edge cases were really exercised.
#[derive(Default, Debug)]
struct Seen {
    checked: usize,
    errors: Vec<String>,
    local_tracks: usize,
    episodes: usize,
    null_items: usize,
    null_added_at: usize,
    null_size_images: usize,
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// The name of the component schema being checked (for [`DEVIATIONS`]).
    name: Option<&'a str>,
    /// Inside a local-file track: Spotify sends null for every catalog field there.
    local: bool,
}

impl Spec {
    fn resolve<'a>(&'a self, reference: &'a str) -> (&'a Value, &'a str) {
        let path = reference
            .strip_prefix("#/")
            .unwrap_or_else(|| panic!("only local refs: {reference}"));
        let mut node = &self.doc;
        for part in path.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "unresolved $ref {reference}");
        (node, path.rsplit('/').next().unwrap())
    }

    /// The schema of `operation`'s answer with `status` (e.g. `/me/tracks`, "200").
    fn response_schema(&self, path: &str, status: &str) -> &Value {
        let mut response = &self.doc["paths"][path]["get"]["responses"][status];
        if response.is_null() {
            // Not every operation lists every error status; Spotify answers them all with the
            // same error object, which the shared responses describe.
            let shared = match status {
                "400" => "BadRequest",
                "401" => "Unauthorized",
                "403" => "Forbidden",
                "404" => "NotFound",
                "429" => "TooManyRequests",
                _ => panic!("the schema has no {status} answer for GET {path}"),
            };
            response = &self.doc["components"]["responses"][shared];
        }
        if let Some(r) = response["$ref"].as_str() {
            response = self.resolve(r).0;
        }
        let schema = &response["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "no JSON schema for GET {path} {status}");
        schema
    }

    fn check(&self, value: &Value, schema: &Value, at: &str, ctx: Ctx, seen: &mut Seen) {
        seen.checked += 1;
        if let Some(reference) = schema["$ref"].as_str() {
            let (target, name) = self.resolve(reference);
            return self.check(
                value,
                target,
                at,
                Ctx {
                    name: Some(name),
                    ..ctx
                },
                seen,
            );
        }
        if value.is_null() {
            if schema["nullable"] == true || ctx.local {
                return;
            }
            seen.errors
                .push(format!("{at}: null, but the schema does not allow null"));
            return;
        }
        if let Some(parts) = schema["allOf"].as_array() {
            for part in parts {
                self.check(value, part, at, ctx, seen);
            }
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let matching = options
                .iter()
                .filter(|option| {
                    let mut trial = Seen::default();
                    self.check(value, option, at, ctx, &mut trial);
                    trial.errors.is_empty()
                })
                .count();
            if matching != 1 {
                let reasons: Vec<String> = options
                    .iter()
                    .map(|option| {
                        let mut trial = Seen::default();
                        self.check(value, option, at, ctx, &mut trial);
                        trial.errors.join("; ")
                    })
                    .collect();
                seen.errors.push(format!(
                    "{at}: matches {matching} of the oneOf schemas, not exactly one ({})",
                    reasons.join(" | ")
                ));
            } else {
                // Check again for real, to count what was seen.
                for option in options {
                    let mut trial = Seen::default();
                    self.check(value, option, at, ctx, &mut trial);
                    if trial.errors.is_empty() {
                        self.check(value, option, at, ctx, seen);
                    }
                }
            }
        }
        let allow = |property: &str, allow: Allow| {
            DEVIATIONS
                .iter()
                .any(|(name, p, a, _)| Some(*name) == ctx.name && *p == property && *a == allow)
        };
        match schema["type"].as_str() {
            Some("object") | None if schema.get("properties").is_some() || schema["type"] == "object" => {
                let Some(object) = value.as_object() else {
                    seen.errors.push(format!("{at}: expected an object, got {value}"));
                    return;
                };
                if ctx.name == Some("TrackObject") && object.get("is_local") == Some(&Value::Bool(true)) {
                    seen.local_tracks += 1;
                }
                if ctx.name == Some("EpisodeObject") {
                    seen.episodes += 1;
                }
                if ctx.name == Some("ImageObject") && object.get("width") == Some(&Value::Null) {
                    seen.null_size_images += 1;
                }
                if ctx.name == Some("PlaylistTrackObject") {
                    if object.get("added_at") == Some(&Value::Null) {
                        seen.null_added_at += 1;
                    }
                    if ["item", "track"]
                        .iter()
                        .any(|k| object.get(*k) == Some(&Value::Null))
                    {
                        seen.null_items += 1;
                    }
                }
                let local = ctx.local
                    || (ctx.name == Some("TrackObject")
                        && object.get("is_local") == Some(&Value::Bool(true)));
                for required in schema["required"].as_array().into_iter().flatten() {
                    let key = required.as_str().unwrap();
                    let excused = allow(key, Allow::Missing) || (local && LOCAL_MAY_LACK.contains(&key));
                    if !object.contains_key(key) && !excused {
                        seen.errors.push(format!("{at}: required `{key}` is missing"));
                    }
                }
                if let Some(properties) = schema["properties"].as_object() {
                    for (key, property) in properties {
                        let Some(item) = object.get(key) else { continue };
                        if item.is_null() && allow(key, Allow::Null) {
                            continue;
                        }
                        self.check(item, property, &format!("{at}.{key}"), Ctx { local, ..ctx }, seen);
                    }
                }
            }
            Some("array") => match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, &schema["items"], &format!("{at}[{i}]"), ctx, seen);
                    }
                }
                None => seen.errors.push(format!("{at}: expected an array, got {value}")),
            },
            Some("string") => match value.as_str() {
                Some(text) => {
                    if schema["format"] == "date-time" && chrono::DateTime::parse_from_rfc3339(text).is_err()
                    {
                        seen.errors.push(format!("{at}: `{text}` is not a date-time"));
                    }
                    check_enum(value, schema, at, seen);
                }
                None => seen.errors.push(format!("{at}: expected a string, got {value}")),
            },
            Some("integer") => match value.as_i64() {
                Some(n) => {
                    if schema["minimum"].as_i64().is_some_and(|min| n < min)
                        || schema["maximum"].as_i64().is_some_and(|max| n > max)
                    {
                        seen.errors
                            .push(format!("{at}: {n} is out of the schema's bounds"));
                    }
                }
                None => seen
                    .errors
                    .push(format!("{at}: expected an integer, got {value}")),
            },
            Some("number") if !value.is_number() => {
                seen.errors.push(format!("{at}: expected a number, got {value}"))
            }
            Some("boolean") if !value.is_boolean() => {
                seen.errors.push(format!("{at}: expected a boolean, got {value}"))
            }
            _ => {}
        }
    }

    fn check_answer(&self, path: &str, status: u16, body: &Value, seen: &mut Seen) {
        let schema = self.response_schema(path, &status.to_string());
        self.check(
            body,
            schema,
            &format!("GET {path} {status}"),
            Ctx {
                name: None,
                local: false,
            },
            seen,
        );
    }
}

fn check_enum(value: &Value, schema: &Value, at: &str, seen: &mut Seen) {
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            seen.errors
                .push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
}

#[tokio::test]
async fn every_served_shape_matches_the_published_schema() {
    let spec = load_spec();
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    let mut seen = Seen::default();

    let (status, _, me) = get(&sandbox, &token, "/me").await;
    spec.check_answer("/me", status, &me, &mut seen);
    let playlists = all_pages(&sandbox, &token, "/me/playlists?limit=50", None).await;
    for page in &playlists {
        spec.check_answer("/me/playlists", 200, page, &mut seen);
        for playlist in page["items"].as_array().unwrap() {
            let id = playlist["id"].as_str().unwrap();
            let url = format!("/playlists/{id}/items?limit=50");
            let (status, _, body) = get(&sandbox, &token, &url).await;
            if status != 200 {
                // Other users' playlists: the error shapes are part of the operation too.
                spec.check_answer("/playlists/{playlist_id}/items", status, &body, &mut seen);
                continue;
            }
            for page in all_pages(&sandbox, &token, &url, None).await {
                spec.check_answer("/playlists/{playlist_id}/items", 200, &page, &mut seen);
            }
        }
    }
    for page in all_pages(&sandbox, &token, "/me/tracks?limit=50", None).await {
        spec.check_answer("/me/tracks", 200, &page, &mut seen);
    }
    for range in ["short_term", "medium_term", "long_term"] {
        let first = format!("/me/top/tracks?limit=50&time_range={range}");
        for page in all_pages(&sandbox, &token, &first, None).await {
            spec.check_answer("/me/top/tracks", 200, &page, &mut seen);
        }
    }
    let mut url = "/me/player/recently-played?limit=20".to_string();
    loop {
        let (status, _, page) = get(&sandbox, &token, &url).await;
        spec.check_answer("/me/player/recently-played", status, &page, &mut seen);
        match page["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let newest = get(&sandbox, &token, "/me/player/recently-played?limit=1")
        .await
        .2["cursors"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, empty) = get(
        &sandbox,
        &token,
        &format!("/me/player/recently-played?after={newest}"),
    )
    .await;
    spec.check_answer("/me/player/recently-played", status, &empty, &mut seen);
    let app = app_token(&sandbox).await;
    for page in all_pages(
        &sandbox,
        &app,
        "/search?q=genre:jazz&type=track&limit=10",
        Some("tracks"),
    )
    .await
    {
        spec.check_answer("/search", 200, &page, &mut seen);
    }
    let (_, _, page) = get(&sandbox, &app, "/search?q=night&type=track").await;
    let id = page["tracks"]["items"][0]["id"].as_str().unwrap().to_string();
    let (status, _, track) = get(&sandbox, &app, &format!("/tracks/{id}")).await;
    spec.check_answer("/tracks/{id}", status, &track, &mut seen);
    // Error answers.
    for (path, url, token) in [
        ("/search", "/search?q=x&type=track&limit=11", app.as_str()),
        ("/me", "/me", "expired-or-unknown"),
    ] {
        let (status, _, body) = get(&sandbox, token, url).await;
        spec.check_answer(path, status, &body, &mut seen);
    }
    sandbox.set_faults(spotify_sandbox::Faults {
        quota_exceeded_rate: 1.0,
        ..Default::default()
    });
    let (status, _, body) = get(&sandbox, &token, "/me").await;
    spec.check_answer("/me", status, &body, &mut seen);
    sandbox.shutdown().await;

    assert!(
        seen.errors.is_empty(),
        "{} schema violations, first ones:\n{}",
        seen.errors.len(),
        seen.errors
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The edge cases were really served and checked, not skipped.
    assert!(seen.checked > 10_000, "{seen:?}");
    assert!(seen.local_tracks > 0, "{seen:?}");
    assert!(seen.episodes > 0, "{seen:?}");
    assert!(seen.null_items > 0, "{seen:?}");
    assert!(seen.null_added_at > 0, "{seen:?}");
    assert!(seen.null_size_images > 0, "{seen:?}");
}

/// The validator itself must find broken shapes, or the test above proves nothing.
#[test]
fn the_validator_reports_broken_shapes() {
    let spec = load_spec();
    let track_schema = serde_json::json!({"$ref": "#/components/schemas/TrackObject"});
    let good = serde_json::json!({
        "album": {"album_type": "album", "total_tracks": 1, "external_urls": {}, "href": "h", "id": "i",
                  "images": [], "name": "n", "release_date": "1998", "release_date_precision": "year",
                  "type": "album", "uri": "u", "artists": []},
        "artists": [], "duration_ms": 1, "explicit": false, "id": "x", "name": "n", "type": "track", "uri": "u"
    });
    let run = |value: &Value| {
        let mut seen = Seen::default();
        spec.check(
            value,
            &track_schema,
            "t",
            Ctx {
                name: None,
                local: false,
            },
            &mut seen,
        );
        seen.errors
    };
    assert_eq!(run(&good), Vec::<String>::new());
    let mut broken = good.clone();
    broken["duration_ms"] = "long".into();
    broken["album"]["release_date_precision"] = "decade".into();
    broken["album"].as_object_mut().unwrap().remove("images");
    broken["id"] = Value::Null;
    broken["artists"] = serde_json::json!({});
    let errors = run(&broken);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let mut missing_key = good.clone();
    missing_key["album"].as_object_mut().unwrap().remove("name");
    assert_eq!(run(&missing_key).len(), 1);
    // A paging answer without `items` and a wrong `next`.
    let mut seen = Seen::default();
    spec.check_answer(
        "/me/tracks",
        200,
        &serde_json::json!({"href": "h", "limit": 1, "next": 3, "offset": 0, "previous": null, "total": 0}),
        &mut seen,
    );
    assert_eq!(seen.errors.len(), 2, "{:?}", seen.errors);
}

/// The README beside the vendored file names its version; a refresh that forgets to update it
/// (or a file swapped for another) fails here.
#[test]
fn the_vendored_schema_is_the_version_its_readme_names() {
    let spec = load_spec();
    let version = spec.doc["info"]["version"]
        .as_str()
        .expect("info.version is a string");
    let readme_path = spec_path().with_file_name("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("spotify-sandbox/openapi/README.md is tracked");
    assert!(
        readme.contains(&format!("`info.version` **{version}**")),
        "spotify-sandbox/openapi/README.md does not name info.version {version} of the vendored file; \
         update its Version line after a refresh"
    );
    assert_eq!(
        spec.doc["info"]["contact"]["url"].as_str(),
        Some("https://github.com/sonallux/spotify-web-api"),
        "the vendored file is not sonallux's patched description the README describes"
    );
}
