//! `tracklake sandbox` and `tracklake firehose`: each local stand-in on its own, until Ctrl-C,
//! for pointing other tools (or a `tracklake run` in another terminal) at it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use local_firehose::{BufferHints, BufferingOverrides, FirehoseConfig, Output};
use spotify_sandbox::{Faults, SandboxConfig};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the synthetic catalog and history: the same seed serves the same data.
    #[arg(long, default_value_t = SandboxConfig::default().seed)]
    pub seed: u64,
    /// Fix the sandbox's clock (RFC 3339, e.g. 2026-11-24T18:30:00Z); default: the real clock.
    #[arg(long, value_name = "TIME")]
    pub now: Option<DateTime<Utc>>,
    /// Days of play history and average plays per day (1095 and 915 make about a million plays).
    #[arg(long)]
    pub history_days: Option<u32>,
    #[arg(long)]
    pub plays_per_day: Option<f64>,
    /// Serve `popularity`, which new Spotify apps no longer receive.
    #[arg(long)]
    pub include_popularity: bool,
    /// Share of requests answered 429 with `Retry-After: --retry-after` (omit it for none).
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    #[arg(long, value_name = "SECONDS")]
    pub retry_after: Option<i64>,
    /// Share of requests answered 429 QUOTA_EXCEEDED (Retry-After 13 h).
    #[arg(long, default_value_t = 0.0)]
    pub quota_rate: f64,
    /// Share of requests answered 503.
    #[arg(long, default_value_t = 0.0)]
    pub server_error_rate: f64,
    /// Share of requests answered after `--slow-ms`.
    #[arg(long, default_value_t = 0.0)]
    pub slow_rate: f64,
    #[arg(long, default_value_t = 2000)]
    pub slow_ms: u64,
    /// Share of requests answered 401 "The access token expired".
    #[arg(long, default_value_t = 0.0)]
    pub expired_token_rate: f64,
    /// First write the listener's privacy exports (both packages, as of the sandbox's clock) into
    /// this folder, for `tracklake import`; they hold the plays the sandbox serves.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

impl SandboxArgs {
    fn config(&self) -> SandboxConfig {
        let defaults = SandboxConfig::default();
        SandboxConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            seed: self.seed,
            now: self.now,
            history_days: self.history_days.unwrap_or(defaults.history_days),
            plays_per_day: self.plays_per_day.unwrap_or(defaults.plays_per_day),
            include_popularity: self.include_popularity,
            faults: Faults {
                seed: self.seed,
                rate_limit_rate: self.rate_limit_rate,
                rate_limit_retry_after: self.retry_after,
                quota_exceeded_rate: self.quota_rate,
                server_error_rate: self.server_error_rate,
                slow_rate: self.slow_rate,
                slow_delay_ms: self.slow_ms,
                expired_token_rate: self.expired_token_rate,
                ..Faults::default()
            },
            ..defaults
        }
    }
}

pub async fn sandbox(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let config = args.config();
    if let Some(dir) = &args.export {
        let written = spotify_sandbox::write_export(&config, config.now.unwrap_or_else(Utc::now), dir)
            .with_context(|| format!("writing the sandbox's export into {}", dir.display()))?;
        println!(
            "Wrote the listener's privacy exports into {} ({} files, {} plays); import them with\n\n  \
             tracklake import {}\n",
            dir.display(),
            written.files.len(),
            written.extended_audio_plays + written.video_plays + written.account_plays,
            dir.display()
        );
    }
    let sandbox = spotify_sandbox::start(config).await?;
    let stop = crate::signal::stop_requested();
    // These are the sandbox's own made-up credentials, not secrets of any real account.
    println!("Spotify sandbox listening. In another terminal:\n");
    println!("  export SPOTIFY_API_BASE={}", sandbox.api_base());
    println!("  export SPOTIFY_ACCOUNTS_BASE={}", sandbox.accounts_base());
    println!("  export SPOTIFY_CLIENT_ID={}", sandbox.client_id());
    println!("  export SPOTIFY_REFRESH_TOKEN={}", sandbox.refresh_token());
    println!("  tracklake run\n\nCtrl-C stops it.");
    stop.await;
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct FirehoseArgs {
    /// Port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Deliver into this folder (default: the configured lake, ./lake) ...
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// ... or into this S3 bucket, through the AWS SDK's configuration (AWS_ENDPOINT_URL_S3 or
    /// `--s3-endpoint` for an S3-compatible store).
    #[arg(long, value_name = "BUCKET", conflicts_with = "lake")]
    pub s3_bucket: Option<String>,
    #[arg(long, value_name = "URL", requires = "s3_bucket")]
    pub s3_endpoint: Option<String>,
    /// Share of records answered ServiceUnavailableException (the producer must resend them).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the fault switch.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Deliver each buffer after this many seconds instead of the stream's intervals (300 s for
    /// Parquet and the raw backup, 60 s for the transform), to see results sooner. Runs pace the
    /// partitions they open by the stream's intervals: set `[sources.pacing] window_secs` to
    /// about this plus a minute when it is shorter.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=900))]
    pub buffer_interval: Option<u64>,
}

/// The stream's buffer sizes with every interval replaced by `interval`.
fn buffering_every(interval: Duration) -> BufferingOverrides {
    let settings = schemas::delivery::settings();
    let with = |b: schemas::delivery::Buffering| BufferHints {
        interval,
        ..BufferHints::from(b)
    };
    BufferingOverrides {
        processed: Some(with(settings.buffering)),
        raw_backup: Some(with(settings.raw_backup_buffering)),
        processor: Some(with(settings.processor_buffering)),
    }
}

pub async fn firehose(args: FirehoseArgs, default_lake: PathBuf) -> anyhow::Result<ExitCode> {
    let output = match args.s3_bucket {
        Some(bucket) => Output::S3 {
            bucket,
            endpoint: args.s3_endpoint,
        },
        None => Output::LocalDir(args.lake.unwrap_or(default_lake)),
    };
    let config = FirehoseConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        output: output.clone(),
        fault_rate: args.fault_rate,
        seed: args.seed,
        buffering: args
            .buffer_interval
            .map(|seconds| buffering_every(Duration::from_secs(seconds)))
            .unwrap_or_default(),
        ..FirehoseConfig::default()
    };
    let firehose = local_firehose::start(config).await?;
    let stop = crate::signal::stop_requested();
    println!(
        "local Firehose for stream {} listening, delivering to {output:?}. In another terminal:\n",
        firehose.stream_name()
    );
    println!("  export AWS_ENDPOINT_URL_FIREHOSE={}", firehose.endpoint());
    println!("  export TRACKLAKE_FIREHOSE=aws AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local");
    println!("  tracklake run\n\nBuffers deliver on the stream's intervals; Ctrl-C flushes them and stops.");
    stop.await;
    let stats = firehose.shutdown().await.context("the final flush failed")?;
    let lake = match &output {
        Output::LocalDir(dir) => dir.clone(),
        Output::S3 { bucket, .. } => PathBuf::from(format!("s3://{bucket}")),
    };
    print!("{}", crate::local::render_delivery(&stats, &lake));
    Ok(ExitCode::SUCCESS)
}
