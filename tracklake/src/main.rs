//! `tracklake`: the pipeline's command line. `tracklake run` performs one producer cycle (pull
//! the due Spotify sources, deliver them to Firehose, save the state); `--every` repeats it like
//! the schedule. Logs go to stderr and the run report to stdout, so the report can be piped.

mod config;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::{Parser, Subcommand};
use producer::run::run_once;
use producer::sink::FirehoseSink;
use producer::spotify::SpotifyClient;
use producer::state::LocalFileStore;
use tokio::time::Instant;

use crate::config::{parse_every, Config};

#[derive(Debug, Parser)]
#[command(name = "tracklake", version, about = "Spotify track data into a data lake")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pull the due Spotify sources once, deliver them to Firehose and save the state.
    Run {
        /// Config file (TOML, see tracklake.example.toml). Default: ./tracklake.toml if it
        /// exists, else the built-in defaults.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Repeat the cycle at this interval (30s, 15m, 1h, 1d) until Ctrl-C; the cycle in
        /// flight finishes first, so the state stays consistent.
        #[arg(long, value_name = "DURATION", value_parser = parse_every)]
        every: Option<Duration>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run { config, every } => runtime.block_on(run(config, every)),
    }
}

async fn run(config_path: Option<PathBuf>, every: Option<Duration>) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    config.apply_env(env);
    // Checked before anything touches the network, so a missing secret costs nothing.
    let spotify = match config.spotify_config(env) {
        Ok(spotify) => spotify,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sink = FirehoseSink::from_env(config.firehose.stream.clone(), config.sink_config()).await;
    let store = LocalFileStore::new(config.state.path.clone());
    tracing::info!(
        stream = sink.stream_name(),
        state = %store.path().display(),
        api = %spotify.api_base,
        "starting"
    );

    // Installed for single runs too: a Ctrl-C in the middle of a delivery would otherwise drop
    // records that were pulled but not yet saved in the state (harmless, they are pulled again,
    // but finishing is cheaper). A second Ctrl-C exits at once for a user who cannot wait.
    let mut interrupted = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut next = Instant::now();
    loop {
        let started = Instant::now();
        let client = match SpotifyClient::new(spotify.clone()) {
            Ok(client) => client,
            Err(e) => {
                eprintln!("error: cannot build the Spotify client: {e}");
                return ExitCode::FAILURE;
            }
        };
        let cycle = run_once(&client, &sink, &store, &config.sources, Utc::now());
        tokio::pin!(cycle);
        let report = if interrupted {
            cycle.await
        } else {
            tokio::select! {
                report = &mut cycle => report,
                _ = &mut ctrl_c => {
                    interrupted = true;
                    tracing::warn!("interrupted: finishing the cycle in flight (Ctrl-C again to quit now)");
                    tokio::select! {
                        report = &mut cycle => report,
                        _ = tokio::signal::ctrl_c() => {
                            // Nothing is lost: the state moves only after delivery, so the next
                            // run pulls this cycle's records again.
                            eprintln!("interrupted again: quitting without finishing the cycle");
                            return ExitCode::from(130);
                        }
                    }
                }
            }
        };
        print!("{}", report::render(&report));
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "cycle finished"
        );
        let ok = report.exit_ok();
        let Some(every) = every else {
            return exit(ok);
        };
        if interrupted {
            return exit(ok);
        }
        // Like a schedule: cycles start `every` apart, not `every` after the previous one ended.
        next += every;
        if next < Instant::now() {
            tracing::warn!("the cycle took longer than --every; starting the next one now");
            next = Instant::now();
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = &mut ctrl_c => {
                tracing::info!("interrupted between cycles: exiting");
                return exit(ok);
            }
        }
        println!();
    }
}

/// With `--every`, the exit status is the last cycle's: an interrupted loop whose last cycle
/// failed must not look like a success.
fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
