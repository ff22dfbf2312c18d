//! Prints how long the sandbox takes to start and to answer the heaviest requests at a given scale:
//! `cargo run --release -p spotify-sandbox --example scale_probe -- DAYS PLAYS_PER_DAY`.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let days: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1095);
    let per_day: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(915.0);
    let started = Instant::now();
    let sandbox = spotify_sandbox::start(spotify_sandbox::SandboxConfig {
        history_days: days,
        plays_per_day: per_day,
        ..Default::default()
    })
    .await
    .expect("the sandbox starts");
    println!(
        "start: {:?} (about {:.0} plays of history)",
        started.elapsed(),
        f64::from(days) * per_day
    );
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/api/token", sandbox.accounts_base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}",
            sandbox.refresh_token(),
            sandbox.client_id()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    for path in [
        "/me/top/tracks?time_range=long_term&limit=50",
        "/me/top/tracks?time_range=long_term&limit=50",
        "/me/player/recently-played?limit=50",
        "/me/tracks?limit=50",
        "/me/playlists?limit=50",
    ] {
        let t = Instant::now();
        let status = http
            .get(format!("{}{path}", sandbox.api_base()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        println!("{path}: {status} in {:?}", t.elapsed());
    }
    sandbox.shutdown().await;
}
