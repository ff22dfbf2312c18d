//! Per-endpoint counters for the run report, keyed by a path with its ids replaced by `{id}`, so
//! that a hundred playlists add up under one `/playlists/{id}/items`.

use std::time::Duration;

/// What one endpoint cost during the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// HTTP requests sent, retries included.
    pub requests: u32,
    /// Requests sent again after a 429, 5xx, transport error or 401.
    pub retries: u32,
    /// 429 answers received.
    pub throttled: u32,
    /// Waits before a retry (`Retry-After` or backoff).
    pub waits: u32,
    /// Time spent in those waits.
    pub wait_time: Duration,
}

/// Collections whose next path segment is an id (or, under `users`, a user name).
const ID_COLLECTIONS: &[&str] = &[
    "albums",
    "artists",
    "audiobooks",
    "categories",
    "chapters",
    "episodes",
    "playlists",
    "shows",
    "tracks",
    "users",
];

/// `/playlists/3cEY…/items?offset=50` -> `/playlists/{id}/items`. A segment is an id when it follows
/// a collection name that is itself not an id: `/albums/{id}/tracks` keeps `tracks`, `/me/tracks`
/// has no id, and `/me/top/tracks` none either.
pub fn normalize_endpoint(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out = String::with_capacity(path.len());
    let mut previous_was_collection = false;
    let mut previous: Option<&str> = None;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if previous_was_collection {
            out.push_str("{id}");
            previous_was_collection = false;
        } else {
            out.push_str(segment);
            // `/me/tracks`, `/me/top/tracks`: the collection belongs to the user, no id follows.
            previous_was_collection =
                ID_COLLECTIONS.contains(&segment) && !matches!(previous, Some("me") | Some("top"));
        }
        previous = Some(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_endpoint;

    #[test]
    fn ids_become_placeholders_and_fixed_words_stay() {
        let cases = [
            (
                "/playlists/3cEYpjA9oz9GiPac4AsH4n/items?offset=50&limit=50",
                "/playlists/{id}/items",
            ),
            ("/me/player/recently-played?after=1", "/me/player/recently-played"),
            ("/me/tracks", "/me/tracks"),
            ("/me/top/tracks", "/me/top/tracks"),
            ("/me/playlists", "/me/playlists"),
            ("/albums/4aawyAB9vmqN3uQ7FjRGTy/tracks", "/albums/{id}/tracks"),
            ("/artists/0TnOYISbd1XYRBk9myaseg/albums", "/artists/{id}/albums"),
            ("/tracks/11dFghVXANMlKmJXsNCbNl", "/tracks/{id}"),
            ("/users/some.user/playlists", "/users/{id}/playlists"),
            ("/search?q=x&type=track", "/search"),
            ("/api/token", "/api/token"),
            ("", "/"),
        ];
        for (path, want) in cases {
            assert_eq!(normalize_endpoint(path), want, "{path}");
        }
    }
}
