//! Same seed and clock, same answers; another seed, other data.

use spotify_sandbox::SandboxConfig;

use crate::{all_pages, config, sandbox, user_token};

/// Every page of every user endpoint, with the sandbox's own address taken out.
async fn everything(config: SandboxConfig) -> Vec<String> {
    let sandbox = sandbox(config).await;
    let token = user_token(&sandbox).await;
    let mut bodies = Vec::new();
    let mut firsts = vec![
        ("/me/playlists?limit=50".to_string(), None),
        ("/me/tracks?limit=50".to_string(), None),
        ("/me/player/recently-played?limit=50".to_string(), None),
        (
            "/search?q=genre:rock&type=track&limit=10".to_string(),
            Some("tracks"),
        ),
    ];
    for range in ["short_term", "medium_term", "long_term"] {
        firsts.push((format!("/me/top/tracks?limit=50&time_range={range}"), None));
    }
    let playlists = all_pages(&sandbox, &token, &firsts[0].0, None).await;
    for page in &playlists {
        for p in page["items"].as_array().unwrap() {
            if p["owner"]["id"] == sandbox.user_id() {
                firsts.push((
                    format!("/playlists/{}/items?limit=50", p["id"].as_str().unwrap()),
                    None,
                ));
            }
        }
    }
    for (first, key) in firsts {
        for page in all_pages(&sandbox, &token, &first, key).await {
            bodies.push(page.to_string().replace(&sandbox.api_base(), "BASE"));
        }
    }
    sandbox.shutdown().await;
    bodies
}

#[tokio::test]
async fn same_seed_same_data_other_seed_other_data() {
    let a = everything(config()).await;
    let b = everything(config()).await;
    assert!(a.len() > 20);
    assert_eq!(a, b);
    let c = everything(SandboxConfig { seed: 43, ..config() }).await;
    assert_ne!(a, c);
    let joined: String = a.join("\n");
    assert!(
        !joined.contains("\"popularity\""),
        "no popularity unless asked for"
    );
    let popular = everything(SandboxConfig {
        include_popularity: true,
        ..config()
    })
    .await
    .join("\n");
    assert!(popular.contains("\"popularity\""));
    // Realistic details in the default data.
    for needle in [
        "\"release_date_precision\":\"year\"",
        "\"release_date_precision\":\"month\"",
        "\"isrc\"",
    ] {
        assert!(joined.contains(needle), "{needle}");
    }
    assert!(!joined.is_ascii(), "non-ASCII names");
}

#[tokio::test]
async fn the_play_history_has_a_daily_and_weekly_rhythm() {
    let sandbox = sandbox(SandboxConfig {
        recently_played_window: 100_000,
        history_days: 60,
        ..config()
    })
    .await;
    let token = user_token(&sandbox).await;
    // Walk the whole (widened) window back through `before` cursors.
    let mut hours = [0u32; 24];
    let mut weekdays = [0u32; 7];
    let mut url = "/me/player/recently-played?limit=50".to_string();
    loop {
        let (_, _, page) = crate::get(&sandbox, &token, &url).await;
        for item in page["items"].as_array().unwrap() {
            let at = chrono::DateTime::parse_from_rfc3339(item["played_at"].as_str().unwrap()).unwrap();
            use chrono::{Datelike, Timelike};
            hours[at.hour() as usize] += 1;
            weekdays[at.weekday().num_days_from_monday() as usize] += 1;
        }
        match page["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let total: u32 = hours.iter().sum();
    // About 60 days of 30 plays.
    assert!((1400..=2300).contains(&total), "{total}");
    let night: u32 = hours[2..6].iter().sum();
    let evening: u32 = hours[18..22].iter().sum();
    assert!(evening > night * 8, "evenings {evening} vs nights {night}");
    let weekday_mean = weekdays[..5].iter().sum::<u32>() as f64 / 5.0;
    let weekend_mean = weekdays[5..].iter().sum::<u32>() as f64 / 2.0;
    assert!(
        weekend_mean > weekday_mean * 1.1,
        "weekends {weekend_mean} vs weekdays {weekday_mean}"
    );
    sandbox.shutdown().await;
}
