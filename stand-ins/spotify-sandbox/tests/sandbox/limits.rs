//! Spotify's limits and error answers.

use crate::{app_token, config, get, http, sandbox, user_token};

#[tokio::test]
async fn search_limits_follow_spotify() {
    let sandbox = sandbox(config()).await;
    let token = app_token(&sandbox).await;
    for (query, status, message) in [
        ("q=night&type=track&limit=11", 400, Some("Invalid limit")),
        ("q=night&type=track&limit=0", 400, Some("Invalid limit")),
        ("q=night&type=track&limit=abc", 400, Some("Invalid limit")),
        ("q=night&type=track&offset=1001", 400, Some("Invalid offset")),
        ("q=night&type=track&offset=1000&limit=10", 200, None),
        ("type=track", 400, Some("No search query")),
        ("q=night", 400, Some("Missing parameter type")),
    ] {
        let (got, _, body) = get(&sandbox, &token, &format!("/search?{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
        if let Some(message) = message {
            assert_eq!(body["error"]["message"], message, "{query}");
            assert_eq!(body["error"]["status"], status);
        }
    }
    let (_, _, body) = get(&sandbox, &token, "/search?q=a&type=track").await;
    assert_eq!(body["tracks"]["limit"], 5, "the default limit is 5");
    assert_eq!(body["tracks"]["items"].as_array().unwrap().len(), 5);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn list_limits_are_50() {
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    let (_, _, playlists) = get(&sandbox, &token, "/me/playlists?limit=50").await;
    let own = playlists["items"][0]["id"].as_str().unwrap().to_string();
    for path in [
        "/me/tracks".to_string(),
        "/me/playlists".to_string(),
        "/me/top/tracks".to_string(),
        "/me/player/recently-played".to_string(),
        format!("/playlists/{own}/items"),
    ] {
        let (status, _, body) = get(&sandbox, &token, &format!("{path}?limit=51")).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["message"], "Invalid limit");
        let (status, _, body) = get(&sandbox, &token, &format!("{path}?limit=50")).await;
        assert_eq!(status, 200, "{path}: {body}");
        let (_, _, body) = get(&sandbox, &token, &path).await;
        assert_eq!(body["limit"], 20, "{path}: the default limit is 20");
    }
    let (status, _, _) = get(&sandbox, &token, "/me/player/recently-played?after=1&before=2").await;
    assert_eq!(status, 400);
    let (status, _, body) = get(&sandbox, &token, "/me/top/tracks?time_range=forever").await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (400, Some("Invalid time range"))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn recently_played_cursors_walk_back_through_the_last_50_only() {
    let sandbox = sandbox(config()).await;
    let token = user_token(&sandbox).await;
    let (_, _, first) = get(&sandbox, &token, "/me/player/recently-played?limit=20").await;
    let mut seen: Vec<String> = Vec::new();
    let mut page = first;
    loop {
        let items = page["items"].as_array().unwrap();
        let times: Vec<String> = items
            .iter()
            .map(|i| i["played_at"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first");
        if let Some(last) = seen.last() {
            assert!(times.first().is_none_or(|t| t < last), "each page is older");
        }
        seen.extend(times);
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.contains("before="), "next walks back with `before`: {next}");
                page = get(&sandbox, &token, next).await.2;
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 50, "only the last 50 plays exist");
    // `after` returns plays after it (not including it); cursors are Unix ms strings.
    let (_, _, page) = get(&sandbox, &token, "/me/player/recently-played?limit=50").await;
    let after = page["cursors"]["before"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let (_, _, newer) = get(
        &sandbox,
        &token,
        &format!("/me/player/recently-played?limit=50&after={after}"),
    )
    .await;
    assert_eq!(newer["items"].as_array().unwrap().len(), 49);
    let newest = page["cursors"]["after"].as_str().unwrap();
    let (_, _, none) = get(
        &sandbox,
        &token,
        &format!("/me/player/recently-played?after={newest}"),
    )
    .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    assert!(none["cursors"].is_null() && none["next"].is_null());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tokens_and_permissions_answer_like_spotify() {
    let sandbox = sandbox(config()).await;
    let response = http()
        .get(format!("{}/me", sandbox.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "No token provided");
    let (status, _, body) = get(&sandbox, "not-a-token", "/me").await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("Invalid access token"))
    );

    let token = user_token(&sandbox).await;
    let (_, _, playlists) = get(&sandbox, &token, "/me/playlists?limit=50").await;
    let user = sandbox.user_id();
    let mut forbidden = 0;
    let mut editorial = 0;
    for playlist in playlists["items"].as_array().unwrap() {
        let owner = playlist["owner"]["id"].as_str().unwrap();
        let collaborative = playlist["collaborative"].as_bool().unwrap();
        let id = playlist["id"].as_str().unwrap();
        let (status, _, body) = get(&sandbox, &token, &format!("/playlists/{id}/items")).await;
        match (owner, collaborative) {
            (o, _) if o == user => assert_eq!(status, 200),
            (_, true) => assert_eq!(status, 200, "collaborative playlists are readable"),
            ("spotify", _) => {
                assert_eq!(status, 404, "editorial playlists are gone: {body}");
                editorial += 1;
            }
            _ => {
                assert_eq!(status, 403, "other users' playlists: {body}");
                assert_eq!(body["error"]["status"], 403);
                forbidden += 1;
            }
        }
    }
    assert!(forbidden > 0 && editorial > 0);
    for (path, status) in [
        ("/audio-features?ids=abc", 404),
        ("/audio-features/abc", 404),
        ("/recommendations?seed_genres=jazz", 404),
        ("/artists/abc/related-artists", 404),
        ("/browse/featured-playlists", 404),
        ("/tracks?ids=a,b", 403),
        ("/artists/abc/top-tracks", 403),
        ("/browse/new-releases", 403),
        ("/markets", 403),
    ] {
        let (got, _, body) = get(&sandbox, &token, path).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(body["error"]["status"], status, "{path}: Spotify's error body");
        assert!(body["error"]["message"].is_string());
    }
    sandbox.shutdown().await;
}
