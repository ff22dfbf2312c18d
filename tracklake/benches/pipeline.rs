//! End-to-end throughput of the whole local pipeline at a million plays:
//! Spotify sandbox -> producer cycles (`run_once`, the real reqwest client and `aws-sdk-firehose`
//! sink) -> local Firehose (raw backup, firehose-transform, Parquet conversion, dynamic
//! partitioning) -> the lake -> a count through the local Athena.
//!
//! Spotify only ever returns the last 50 plays, so the producer reads a long history the way the
//! schedule does: one cycle per step of the sandbox's clock, each step short enough that no more
//! than 50 plays fall into it (the bench checks that no play was missed). The figures are printed,
//! never asserted: `cargo bench -p tracklake --bench pipeline` (TRACKLAKE_BENCH_PLAYS sets the
//! number of plays, default 1,000,000). Under `cargo test` it runs a small history and checks
//! the counts only.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use local_athena::LocalAthena;
use local_firehose::{FirehoseConfig, Output};
use producer::run::run_once;
use producer::sink::{FirehoseSink, SinkConfig};
use producer::sources::SourcesConfig;
use producer::state::LocalFileStore;
use schemas::Source;
use spotify_client::{SpotifyClient, SpotifyConfig};
use spotify_sandbox::SandboxConfig;

/// Average plays per day of the synthetic listener: heavy, so a million plays span ~3 years.
const PLAYS_PER_DAY: f64 = 915.0;
/// Clock step per cycle: at the evening peak (a few times the average rate) still well under
/// Spotify's 50-play window.
const STEP: TimeDelta = TimeDelta::minutes(12);

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let plays: usize = if bench {
        std::env::var("TRACKLAKE_BENCH_PLAYS")
            .ok()
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or(1_000_000)
    } else {
        3_000
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(plays, bench));
}

async fn run(plays: usize, bench: bool) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let days = (plays as f64 / PLAYS_PER_DAY).ceil() as i64 + 1;
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let end = start + TimeDelta::days(days);
    let sandbox = spotify_sandbox::start(SandboxConfig {
        seed: 5,
        plays_per_day: PLAYS_PER_DAY,
        // History before the first cycle is not read (only its last 50 plays): keep it short.
        history_days: 1,
        now: Some(start),
        record_ledger: false,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let firehose = local_firehose::start(FirehoseConfig {
        output: Output::LocalDir(lake.clone()),
        ..FirehoseConfig::default()
    })
    .await
    .unwrap();
    let sink = FirehoseSink::local(
        &firehose.endpoint(),
        firehose.stream_name(),
        SinkConfig::default(),
    );
    let store = LocalFileStore::new(dir.path().join("state.json"));
    let sources = SourcesConfig {
        enabled: vec![Source::RecentlyPlayed],
        ..SourcesConfig::default()
    };
    let mut spotify = SpotifyConfig::refresh_token(sandbox.client_id(), sandbox.refresh_token());
    spotify.api_base = sandbox.api_base();
    spotify.accounts_base = sandbox.accounts_base();

    let began = Instant::now();
    let mut now = start;
    let (mut cycles, mut delivered, mut full_pages) = (0usize, 0usize, 0usize);
    while now < end && delivered < plays {
        now += STEP;
        sandbox.set_now(Some(now));
        // A fresh client per cycle, as each scheduled Lambda invocation has (token included).
        let client = SpotifyClient::new(spotify.clone()).unwrap();
        let report = run_once(&client, &sink, &store, &sources, now).await;
        assert!(report.exit_ok(), "cycle at {now} failed: {:?}", report.error);
        let pulled = report.totals.pulled;
        full_pages += usize::from(pulled >= 50);
        delivered += report.totals.delivered;
        cycles += 1;
        if bench && cycles % 2000 == 0 {
            eprintln!(
                "  {cycles} cycles, {delivered} plays delivered, {:.0} s",
                began.elapsed().as_secs_f64()
            );
        }
    }
    let produced = began.elapsed();
    let stats = firehose.shutdown().await.unwrap();
    let total = began.elapsed();
    sandbox.shutdown().await;

    let athena = LocalAthena::open(&lake).await.unwrap();
    let counted = athena
        .query("SELECT count(*) AS n, count(DISTINCT record_key) AS k FROM track_observations")
        .await
        .unwrap();
    use arrow::array::AsArray;
    let rows = counted[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0) as usize;
    let keys = counted[0]
        .column(1)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0) as usize;
    let queried = began.elapsed() - total;

    assert_eq!(stats.delivered as usize, delivered, "{stats:?}");
    assert_eq!(rows, delivered, "rows in the lake vs plays delivered");
    assert_eq!(keys, rows, "every play has its own record_key");
    assert!(stats.is_accounted() && stats.errored.is_empty(), "{stats:?}");
    if !bench {
        assert!(delivered > 0 && cycles > 0);
        return;
    }
    let per_s = |d: Duration| delivered as f64 / d.as_secs_f64();
    println!(
        "End-to-end pipeline, {delivered} plays in {cycles} producer cycles ({STEP} of sandbox time each)"
    );
    println!("| stage | seconds | plays/s |");
    println!("|---|---|---|");
    println!(
        "| producer cycles (Spotify -> Firehose accepted) | {:.1} | {:.0} |",
        produced.as_secs_f64(),
        per_s(produced)
    );
    println!(
        "| ... plus the final flush (all in the lake) | {:.1} | {:.0} |",
        total.as_secs_f64(),
        per_s(total)
    );
    println!(
        "| count over the lake (local Athena) | {:.2} | - |",
        queried.as_secs_f64()
    );
    println!(
        "cycles that read a full page of 50 (a play could have been missed): {full_pages}; Parquet objects {}, raw backup objects {}",
        stats.objects.parquet, stats.objects.raw_backup
    );
}
