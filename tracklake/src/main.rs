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
use producer::auth::{authorize, AuthConfig, LocalFileSecretStore, SecretStore};
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
    /// Authorize tracklake to read your Spotify data (authorization code with PKCE): prints a
    /// URL to open, receives the redirect on 127.0.0.1 and stores the refresh token.
    Auth {
        /// Config file, as for `run` (its [secrets] section says where the token goes).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Port of the loopback redirect; must match the redirect URI of your Spotify app.
        #[arg(long)]
        port: Option<u16>,
    },
    /// The deployed Glue table against schemas/ (logic in the schema-check crate).
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaAction {
    /// Read the deployed Glue table (AWS_REGION, AWS credentials, AWS_ENDPOINT_URL_GLUE) and list
    /// every difference from schemas/. Exit 0: no drift, 1: drift, 2: could not check.
    Check(schema_check::CheckArgs),
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
        Command::Auth { config, port } => runtime.block_on(auth(config, port)),
        Command::Schema {
            action: SchemaAction::Check(args),
        } => runtime.block_on(schema_check::run(&args)),
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
    let secrets = LocalFileSecretStore::new(config.secrets.path.clone());
    let stored = match secrets.load().await {
        Ok(token) => token.map(|t| t.expose().to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Checked before anything touches the network, so a missing secret costs nothing.
    let spotify = match config.spotify_config_with(env, stored) {
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
        // Spotify may answer a refresh with a new refresh token: keep it, or the next run fails.
        if let Some(token) = client.take_new_refresh_token().await {
            match secrets.save(&token).await {
                Ok(()) => {
                    tracing::info!(path = %config.secrets.path.display(), "stored Spotify's new refresh token")
                }
                Err(e) => tracing::error!(error = %e, "could not store Spotify's new refresh token"),
            }
            if env(config::ENV_REFRESH_TOKEN).is_some() {
                tracing::warn!(
                    "{} is set, so it overrides the new token stored in {}; unset it",
                    config::ENV_REFRESH_TOKEN,
                    config.secrets.path.display()
                );
            }
        }
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

async fn auth(config_path: Option<PathBuf>, port: Option<u16>) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    config.apply_env(env);
    let Some(client_id) = config.spotify.client_id.clone().filter(|id| !id.is_empty()) else {
        eprintln!(
            "error: set {} (or spotify.client_id in the config file) to your Spotify app's client id",
            config::ENV_CLIENT_ID
        );
        return ExitCode::FAILURE;
    };
    let mut auth = AuthConfig::new(client_id);
    auth.accounts_base = config.spotify.accounts_base.trim_end_matches('/').to_string();
    auth.redirect_port = port.unwrap_or(config.secrets.redirect_port);
    let store = LocalFileSecretStore::new(config.secrets.path.clone());
    let port = auth.redirect_port;
    let result = authorize(&auth, &store, |url| {
        eprintln!(
            "Open this URL in a browser and allow access (your Spotify app must list the redirect URI \
             http://127.0.0.1:{port}/callback):\n\n{url}\n"
        );
    })
    .await;
    match result {
        Ok(_) => {
            println!(
                "authorized: the refresh token is stored in {}",
                config.secrets.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
