//! `tracklake`: the pipeline's command line. `tracklake run` performs one producer cycle (pull
//! the due Spotify sources, deliver them to Firehose, save the state); `--every` repeats it like
//! the schedule. With no Spotify app configured it reads the local Spotify sandbox, and with the
//! default Firehose target it delivers through the local Firehose into `./lake` and then queries
//! it (`local.rs`), so the whole pipeline runs offline in one command. Logs go to stderr and the
//! reports to stdout, so they can be piped.

mod config;
mod enrich;
mod import;
mod import_s3;
mod local;
mod progress;
mod query;
mod redrive;
mod report;
mod serve;
mod signal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// mimalloc instead of the system allocator, as DataFusion's own CLI does: the local Athena and the
/// local Firehose's converter allocate many short-lived buffers. The query and conversion benches
/// use the same allocator, so their figures are this binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Parser, Subcommand};
use producer::auth::{authorize, AuthConfig, LocalFileSecretStore, SecretStore, SecretsManagerStore};
use producer::run::run_once;
use producer::sink::FirehoseSink;
use producer::state::{LocalFileStore, StateStore};
use spotify_client::{SpotifyClient, SpotifyConfig};
use spotify_sandbox::{Sandbox, SandboxConfig};
use tokio::time::Instant;

use crate::config::{parse_every, Config, ConfigError, FirehoseTarget};

#[derive(Debug, Parser)]
#[command(name = "tracklake", version, about = "Spotify track data into a data lake")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pull the due Spotify sources once, deliver them to Firehose and save the state.
    ///
    /// With no Spotify app configured (no SPOTIFY_CLIENT_ID) it reads the local Spotify sandbox;
    /// with the default Firehose target (`local`) it delivers into the lake folder and prints
    /// what the local Athena finds there.
    ///
    /// Exit status: 0 the run is ok; 1 it failed (records undelivered, records in the error
    /// output of the local Firehose, a source broken, a bad configuration, e.g.
    /// request_budget = 0); 75 nothing to do yet: Spotify asked for a pause
    /// (kept in the state as not-before) that lasts past this run, which made no request; the
    /// report says until when. With --every, the status is the last cycle's.
    Run {
        /// Config file (TOML, see tracklake.example.toml). Default: ./tracklake.toml if it
        /// exists, else the built-in defaults.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Repeat the cycle at this interval (30s, 15m, 1h, 1d) until Ctrl-C; the cycle in
        /// flight finishes first, so the state stays consistent.
        #[arg(long, value_name = "DURATION", value_parser = parse_every)]
        every: Option<Duration>,
        /// The lake folder of the local Firehose (overrides [local] lake and TRACKLAKE_LAKE).
        #[arg(long, value_name = "DIR")]
        lake: Option<PathBuf>,
    },
    /// SQL over the local lake through the local Athena: a named query of sql/ or ad-hoc SQL.
    ///
    /// Read-only: statements that write (INSERT, COPY ... TO, CREATE [EXTERNAL] TABLE or VIEW,
    /// DROP, SET) are refused; the pipeline alone writes the lake. To keep a result, redirect
    /// `--format csv` or `json` to a file.
    Query(query::QueryArgs),
    /// Import Spotify's privacy exports (extended streaming history, account data) into the
    /// local lake, or with --target aws --bucket B straight into the deployed stack's bucket:
    /// every play of the music files becomes a row of source streaming_history.
    ///
    /// Prints the files used and those ignored (with why), then per file: plays read, imported,
    /// already in the lake, left out by reason (incognito unless --include-incognito, podcast
    /// episodes, audiobooks, video). Importing the same or an overlapping export again adds no
    /// play twice. IP addresses, user agents and user names in the export are never read.
    ///
    /// Exit status: 0 every file was imported; 1 a file could not be read (cut short, not an
    /// export, no exports found) or the lake could not be written: the plays before it are kept
    /// and running the command again continues.
    Import(import::ImportArgs),
    /// Fill in what imported plays lack (duration, album, artist ids; for account-data plays the
    /// track id) from Spotify's catalog, the most played tracks first, within --budget requests.
    ///
    /// Only empty columns are filled; the export's names stay, so the named queries count the
    /// same plays before and after. Every answer (found or not) is kept in the lake's
    /// state/track-catalog.jsonl: a track is never asked for twice, and a run stopped by the
    /// budget or Spotify's limits is continued by running the command again. With no Spotify app
    /// configured it asks the local Spotify sandbox, as `run` does.
    ///
    /// Exit status: 0 the run ended (every track looked up, or the budget or Spotify's limits
    /// stopped it: the output says what is left); 1 Spotify refused a lookup or the lake could
    /// not be written (what was found before is filled in).
    Enrich(enrich::EnrichArgs),
    /// Send the records of the error output (processing-failed, format-conversion-failed,
    /// activePartitionExceeded, partitioning-failed) through the stream again, after their cause
    /// is fixed: from the lake folder (through an in-process local Firehose) or an S3 bucket (to
    /// the configured stream).
    ///
    /// Each original record is sent once per redrive; the documents sent are recorded beside
    /// their object under redriven/ and an object all of whose documents were sent is removed
    /// from errors/, so the next redrive does not send them again. An interrupted redrive can be
    /// run again: it resends only what no ledger shows as sent.
    ///
    /// Exit status: 0 everything was sent; 1 documents were left (the report says which and why)
    /// or the redriven records failed again.
    Redrive(redrive::RedriveArgs),
    /// Serve the local Spotify sandbox until Ctrl-C (for a `tracklake run` in another terminal).
    Sandbox(serve::SandboxArgs),
    /// Serve the local Firehose until Ctrl-C, delivering into the lake folder or an S3 bucket.
    Firehose(serve::FirehoseArgs),
    /// Authorize tracklake to read your Spotify data (authorization code with PKCE): prints a
    /// URL to open, receives the redirect on 127.0.0.1 and stores the refresh token.
    Auth {
        /// Config file, as for `run` (its [secrets] section says where the token goes).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Port of the loopback redirect; must match the redirect URI of your Spotify app.
        #[arg(long)]
        port: Option<u16>,
        /// Store the token in this AWS Secrets Manager secret (the deployed producer's, see
        /// `pulumi stack output`) instead of the local file; uses the AWS SDK's configuration.
        #[arg(long, value_name = "ID_OR_ARN")]
        secret_id: Option<String>,
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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let cli = Cli::parse();
    // RUST_LOG as usual, but no level prints the AWS credentials (see producer::logging).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(producer::logging::env_filter())
        .finish()
        .with(tracing_subscriber::filter::filter_fn(
            producer::logging::never_logs_credentials,
        ))
        .init();
    match command(cli.command) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Runs one command; its error, if any, is reported by `main` with every cause.
fn command(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match command {
        Command::Run { config, every, lake } => runtime.block_on(run(config, every, lake)),
        Command::Auth {
            config,
            port,
            secret_id,
        } => runtime.block_on(auth(config, port, secret_id)),
        // The config file only supplies the default lake: with `--lake` or `--list`, a missing or
        // broken tracklake.toml is no reason to refuse a query.
        Command::Query(args) if args.lake.is_some() || args.list => {
            query::run_on_query_stack(args, PathBuf::new())
        }
        Command::Query(args) => query::run_on_query_stack(args, load_config(None)?.local.lake),
        // Into AWS, or with `--lake`, the config file is not needed.
        Command::Import(args) if args.lake.is_some() || args.bucket.is_some() => {
            import::run(args, PathBuf::new(), &runtime)
        }
        Command::Import(args) => import::run(args, load_config(None)?.local.lake, &runtime),
        Command::Enrich(args) => runtime.block_on(enrich(args)),
        Command::Redrive(args) => runtime.block_on(redrive::run(args)),
        Command::Sandbox(args) => runtime.block_on(serve::sandbox(args)),
        Command::Firehose(args) => {
            let lake = load_config(None)?.local.lake;
            runtime.block_on(serve::firehose(args, lake))
        }
        Command::Schema {
            action: SchemaAction::Check(args),
        } => Ok(runtime.block_on(schema_check::run(&args))),
    }
}

/// The config file and the environment overrides.
fn load_config(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = Config::load(path)?;
    config.apply_env(env)?;
    Ok(config)
}

/// Reports an error on stderr, its causes each once below it, and returns the failure status.
fn fail(e: anyhow::Error) -> ExitCode {
    report_error(&e);
    ExitCode::FAILURE
}

/// The error, then each cause of its chain once, one a line. Not anyhow's `{:?}`, which adds a
/// backtrace whenever RUST_BACKTRACE is set: a user needs the causes, not our stack. A cause whose
/// text its error's message already holds is left out: some libraries' errors print their source
/// in their own message too (DataFusion's do).
fn report_error(e: &anyhow::Error) {
    let mut text = format!("error: {e}");
    let mut previous = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !previous.contains(&cause) {
            text.push_str("\n  caused by: ");
            text.push_str(&cause);
        }
        previous = cause;
    }
    eprintln!("{text}");
}

/// Where the Spotify data comes from: the user's app, or the sandbox started for this run.
struct SpotifySide {
    spotify: SpotifyConfig,
    sandbox: Option<Sandbox>,
    state: PathBuf,
    /// Where a refresh token that Spotify rotates is saved (not for the sandbox).
    secrets: Option<LocalFileSecretStore>,
}

async fn spotify_side(config: &Config) -> anyhow::Result<SpotifySide> {
    let env = |name: &str| std::env::var(name).ok();
    if config.uses_sandbox() {
        let sandbox_config = SandboxConfig {
            seed: config.local.sandbox_seed,
            now: config.local.sandbox_now,
            ..SandboxConfig::default()
        };
        let (sandbox, spotify) =
            local::start_sandbox(sandbox_config, config.producer.spotify.request_budget).await?;
        eprintln!(
            "no Spotify app configured ({}): reading the local Spotify sandbox at {}",
            config::ENV_CLIENT_ID,
            sandbox.api_base()
        );
        return Ok(SpotifySide {
            spotify,
            sandbox: Some(sandbox),
            state: local::sandbox_state_path(&config.local.lake),
            secrets: None,
        });
    }
    let secrets = LocalFileSecretStore::new(config.producer.secrets.path.clone());
    let stored = secrets.load().await?.map(|t| t.expose().to_string());
    // Checked before anything touches the network, so a missing secret costs nothing.
    let spotify = config.spotify_config_with(env, stored)?;
    Ok(SpotifySide {
        spotify,
        sandbox: None,
        state: config.producer.state.path.clone(),
        secrets: Some(secrets),
    })
}

/// Spotify may answer a refresh with a new refresh token: keep it, or the next run fails.
async fn keep_new_refresh_token(client: &SpotifyClient, side: &SpotifySide, config: &Config) {
    let new_token = client.take_new_refresh_token().await;
    if let (Some(token), Some(secrets)) = (new_token, &side.secrets) {
        match secrets.save(&token).await {
            Ok(()) => {
                tracing::info!(path = %config.producer.secrets.path.display(), "stored Spotify's new refresh token")
            }
            Err(e) => tracing::error!(
                error = %producer::logging::error_chain(&e),
                "could not store Spotify's new refresh token"
            ),
        }
        if std::env::var(config::ENV_REFRESH_TOKEN).is_ok() {
            tracing::warn!(
                "{} is set, so it overrides the new token stored in {}; unset it",
                config::ENV_REFRESH_TOKEN,
                config.producer.secrets.path.display()
            );
        }
    }
}

/// `tracklake enrich`: the configured Spotify (or the sandbox) with the run's budget.
async fn enrich(args: enrich::EnrichArgs) -> anyhow::Result<ExitCode> {
    if args.target == enrich::Target::Local && args.bucket.is_some() {
        anyhow::bail!("--bucket is for --target aws: add --target aws to fill in the bucket's plays");
    }
    let mut config = load_config(args.config.as_deref())?;
    if let Some(lake) = args.lake {
        config.local.lake = lake;
    }
    let lake = config.local.lake.clone();
    let side = spotify_side(&config).await?;
    let mut spotify = side.spotify.clone();
    spotify.request_budget = args.budget;
    let client = SpotifyClient::new(spotify)?;
    let market = config
        .producer
        .sources
        .market
        .as_ref()
        .map(|m| m.as_str().to_owned());
    let state = local::state_dir(&lake);
    let done = match (args.target, &args.bucket) {
        (enrich::Target::Aws, Some(bucket)) => {
            let s3 = redrive::s3_client(args.s3_endpoint.as_deref()).await;
            let handle = tokio::runtime::Handle::current();
            let mut bucket = import_s3::S3Lake::open(s3, bucket, handle).await?;
            enrich::enrich(&client, &mut bucket, &state, market.as_deref()).await
        }
        _ => {
            let mut plays = history_import::enrich::LocalPlays(&lake);
            enrich::enrich(&client, &mut plays, &state, market.as_deref()).await
        }
    };
    keep_new_refresh_token(&client, &side, &config).await;
    if let Some(sandbox) = side.sandbox {
        sandbox.shutdown().await;
    }
    let done = done?;
    print!("{}", enrich::render(&done, &state, client.requests_sent()));
    Ok(ExitCode::SUCCESS)
}

/// `tracklake run`. An error is what stopped it before a cycle could report; a cycle's failures
/// are in its report and the exit status.
async fn run(
    config_path: Option<PathBuf>,
    every: Option<Duration>,
    lake: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut config = load_config(config_path.as_deref())?;
    if let Some(lake) = lake {
        config.local.lake = lake;
    }
    let lake = config.local.lake.clone();
    let side = spotify_side(&config).await?;
    if let (Some(sandbox), FirehoseTarget::Local, true) = (
        &side.sandbox,
        config.producer.firehose.target,
        config.local.sandbox_history,
    ) {
        if let Some(done) = local::import_sandbox_history(sandbox, &lake)? {
            eprintln!("{done}");
        }
    }
    let spotify = side.spotify.clone();
    let (firehose, sink) = match config.producer.firehose.target {
        FirehoseTarget::Local => {
            let firehose = local::start_firehose(&lake).await?;
            eprintln!(
                "Firehose target `local`: delivering through the local Firehose into {}",
                lake.display()
            );
            let sink = FirehoseSink::local(
                &firehose.endpoint(),
                firehose.stream_name(),
                config.producer.firehose.sink_config(),
            );
            // This Firehose delivers every buffer at the end of each cycle, so no partition
            // outlives the cycle that opened it: the pacing window does not apply.
            config.producer.sources.pacing.window_secs = 0;
            (Some(firehose), sink)
        }
        FirehoseTarget::Aws => (
            None,
            FirehoseSink::from_env(
                config.producer.firehose.stream.clone(),
                config.producer.firehose.sink_config(),
            )
            .await,
        ),
    };
    // The sandbox's state lives inside the lake, which may not exist yet.
    if let Some(parent) = side.state.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "cannot create {} for the producer state; check the permissions or pass another --lake",
                parent.display()
            )
        })?;
    }
    let store = LocalFileStore::new(side.state.clone());
    tracing::info!(
        stream = sink.stream_name(),
        state = %store.path().display(),
        api = %spotify.api_base,
        "starting"
    );

    // Installed for single runs too (Ctrl-C and SIGTERM alike): a Ctrl-C in the middle of a delivery would otherwise drop
    // records that were pulled but not yet saved in the state (harmless, they are pulled again,
    // but finishing is cheaper). A second Ctrl-C exits at once for a user who cannot wait.
    let mut interrupted = false;
    let ctrl_c = signal::stop_requested();
    tokio::pin!(ctrl_c);
    let mut next = Instant::now();
    // The in-process local Firehose's error output counts at the previous cycle.
    let mut errors_seen = local::ErrorOutput::new();
    // A standalone local Firehose (`tracklake firehose`, reached through the SDK's endpoint
    // override) writes its error output into the lake folder; against AWS it lands in S3, where
    // the stack's alarm watches it.
    let standalone_errors = firehose.is_none() && firehose_endpoint_overridden();
    loop {
        let started = Instant::now();
        // Error output written since the previous run ended is this run's to report: a standalone
        // Firehose writes it when it processes a batch, which may be after the run that sent it.
        let errors_since = match store.load().await {
            Ok((state, _)) => state.last_run.and_then(|r| r.finished_at).map(SystemTime::from),
            Err(_) => None,
        }
        .unwrap_or_else(SystemTime::now);
        let client = SpotifyClient::new(spotify.clone()).context("cannot build the Spotify client")?;
        // The sandbox's clock may be pinned (a reproducible demo): observe at its time.
        let now = side.sandbox.as_ref().map_or_else(Utc::now, Sandbox::now);
        let cycle = run_once(&client, &sink, &store, &config.producer.sources, now);
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
                        _ = signal::stop_requested() => {
                            // Nothing is lost: the state moves only after delivery, so the next
                            // run pulls this cycle's records again (and the local Firehose's
                            // journal keeps what it accepted, for the next start to deliver).
                            eprintln!("interrupted again: quitting without finishing the cycle");
                            return Ok(ExitCode::from(130));
                        }
                    }
                }
            }
        };
        print!("{}", report::render(&report));
        let mut ok = report.exit_ok();
        let deferred = report.deferred_until.is_some();
        let mut errors = local::ErrorOutput::new();
        if let Some(firehose) = &firehose {
            // Deliver now rather than on the buffer interval, so the lake shows this cycle.
            match firehose.flush().await {
                Ok(stats) => {
                    print!("{}", local::render_delivery(&stats, &lake));
                    errors = local::new_error_output(&stats, &mut errors_seen);
                }
                Err(e) => {
                    let context = format!("the local Firehose could not write to {}", lake.display());
                    report_error(&anyhow::Error::new(e).context(context));
                    ok = false;
                }
            }
        } else if standalone_errors {
            match local::error_output_since(&lake, errors_since) {
                Ok(found) => errors = found,
                Err(e) => tracing::warn!(
                    lake = %lake.display(),
                    error = %e,
                    "could not read the lake's error output; the report does not count it"
                ),
            }
        }
        let error_records: u64 = errors.values().sum();
        print!("{}", local::render_error_output(&errors, &lake));
        print!("{}", report::result_line(ok, error_records));
        ok &= error_records == 0;
        keep_new_refresh_token(&client, &side, &config).await;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "cycle finished"
        );
        let Some(every) = every else {
            return Ok(finish(ok, deferred, firehose, side.sandbox, &lake).await);
        };
        if interrupted {
            return Ok(finish(ok, deferred, firehose, side.sandbox, &lake).await);
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
                return Ok(finish(ok, deferred, firehose, side.sandbox, &lake).await);
            }
        }
        println!();
    }
}

/// Stops the local stand-ins (the Firehose flushes what it still buffers) and, when the lake is
/// local, prints what the local Athena finds in it.
async fn finish(
    ok: bool,
    deferred: bool,
    firehose: Option<local_firehose::LocalFirehose>,
    sandbox: Option<Sandbox>,
    lake: &std::path::Path,
) -> ExitCode {
    let mut ok = ok;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    if let Some(firehose) = firehose {
        if let Err(e) = firehose.shutdown().await {
            report_error(&anyhow::Error::new(e).context("the local Firehose's last flush failed"));
            ok = false;
        }
        match local::render_analytics(lake).await {
            Ok(text) => print!("{text}"),
            Err(e) => {
                report_error(&e);
                ok = false;
            }
        }
    }
    exit(ok, deferred)
}

/// Whether the AWS SDK sends Firehose calls to an endpoint of its own (a standalone local
/// Firehose, `tracklake firehose`) rather than to AWS.
fn firehose_endpoint_overridden() -> bool {
    ["AWS_ENDPOINT_URL_FIREHOSE", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// `tracklake run`'s status when the persisted not-before made the run do nothing: EX_TEMPFAIL of
/// sysexits(3), "try again later", distinct from a failure (1) and from success.
const EXIT_DEFERRED: u8 = 75;

/// With `--every`, the exit status is the last cycle's: an interrupted loop whose last cycle
/// failed must not look like a success, nor one that could do nothing like one that did its work.
fn exit(ok: bool, deferred: bool) -> ExitCode {
    match (ok, deferred) {
        (false, _) => ExitCode::FAILURE,
        (true, true) => ExitCode::from(EXIT_DEFERRED),
        (true, false) => ExitCode::SUCCESS,
    }
}

async fn auth(
    config_path: Option<PathBuf>,
    port: Option<u16>,
    secret_id: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path.as_deref())?;
    let Some(client_id) = config
        .producer
        .spotify
        .client_id
        .clone()
        .filter(|id| !id.is_empty())
    else {
        anyhow::bail!(
            "set {} (or spotify.client_id in the config file) to your Spotify app's client id",
            config::ENV_CLIENT_ID
        );
    };
    let mut auth = AuthConfig::new(client_id);
    auth.accounts_base = config
        .producer
        .spotify
        .accounts_base
        .trim_end_matches('/')
        .to_string();
    auth.redirect_port = port.unwrap_or(config.producer.secrets.redirect_port);
    let port = auth.redirect_port;
    let show = |url: &str| {
        eprintln!(
            "Open this URL in a browser and allow access (your Spotify app must list the redirect URI \
             http://127.0.0.1:{port}/callback):\n\n{url}\n"
        );
    };
    let (result, stored_in) = match secret_id {
        Some(id) => {
            let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let store = SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&shared), id.clone());
            (
                authorize(&auth, &store, show).await,
                format!("the Secrets Manager secret {id}"),
            )
        }
        None => {
            let store = LocalFileSecretStore::new(config.producer.secrets.path.clone());
            (
                authorize(&auth, &store, show).await,
                config.producer.secrets.path.display().to_string(),
            )
        }
    };
    result?;
    println!("authorized: the refresh token is stored in {stored_in}");
    Ok(ExitCode::SUCCESS)
}
