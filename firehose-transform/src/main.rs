//! The firehose-transform binary (`bootstrap` in the Lambda zip): a thin adapter over
//! [`firehose_transform::process`].
//!
//! - In AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set): serves Firehose's invocations.
//! - Locally: `firehose-transform --event event.json` (or `--event -` for stdin) transforms one
//!   event and prints the response JSON on stdout; logs and metrics go to stderr.

use clap::Parser;
use firehose_transform::{process, FirehoseEvent, Processed};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: the transform allocates a few dozen small strings per
/// record and frees them at once; `cargo bench -p firehose-transform` uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Firehose transformation Lambda: raw Spotify envelopes in, track_observation records out.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Transform one Firehose event read from FILE ("-" for stdin) and print the response,
    /// instead of serving Lambda invocations.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
}

/// Where logs and EMF lines go: stdout in Lambda (CloudWatch Logs reads it), stderr locally
/// (stdout carries the response).
#[derive(Clone, Copy)]
enum Sink {
    Stdout,
    Stderr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.event {
        Some(path) => {
            init_logging(Sink::Stderr);
            match run_local(&path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::from(2)
                }
            }
        }
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => {
            init_logging(Sink::Stdout);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match runtime.map(|rt| rt.block_on(lambda_runtime::run(service_fn(handle)))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "lambda runtime stopped");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not start the async runtime");
                    ExitCode::FAILURE
                }
            }
        }
        None => {
            eprintln!(
                "error: not running inside AWS Lambda (AWS_LAMBDA_RUNTIME_API is unset).\n\
                 To transform an event locally: firehose-transform --event event.json (or --event - for stdin)"
            );
            ExitCode::from(2)
        }
    }
}

async fn handle(event: LambdaEvent<FirehoseEvent>) -> Result<Box<RawValue>, lambda_runtime::Error> {
    let processed = process(&event.payload);
    report(
        &processed,
        &event.payload.invocation_id,
        &event.context.env_config.function_name,
        Sink::Stdout,
    );
    Ok(processed.response)
}

fn run_local(path: &PathBuf) -> Result<(), String> {
    let mut text = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    }
    let event: FirehoseEvent = serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{} is not a Firehose transformation event ({e}); it needs invocationId, \
             deliveryStreamArn, region and records[{{recordId, approximateArrivalTimestamp, data}}]",
            path.display()
        )
    })?;
    let processed = process(&event);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(processed.response.get().as_bytes())
        .and_then(|_| stdout.write_all(b"\n"))
        .map_err(|e| format!("cannot write the response: {e}"))?;
    report(
        &processed,
        &event.invocation_id,
        "firehose-transform-local",
        Sink::Stderr,
    );
    Ok(())
}

/// Logs the failed records (a bounded number), one summary line, and the EMF metrics line.
fn report(processed: &Processed, invocation_id: &str, function_name: &str, sink: Sink) {
    let s = &processed.summary;
    for f in &s.failures {
        tracing::warn!(record_id = %f.record_id, reason = f.reason, detail = %f.detail, "record not transformed");
    }
    tracing::info!(
        invocation_id = %schemas::echo::bounded(invocation_id),
        records = s.records,
        ok = s.ok,
        dropped = s.dropped,
        processing_failed = s.processing_failed,
        reasons = %serde_json::to_string(&s.reasons).unwrap_or_default(),
        request_data_bytes = s.request_data_bytes,
        response_bytes = s.response_bytes,
        "invocation summary"
    );
    let emf = s
        .emf(chrono::Utc::now().timestamp_millis(), function_name)
        .to_string();
    // EMF must be a line of its own, not wrapped in a log record.
    match sink {
        Sink::Stdout => println!("{emf}"),
        Sink::Stderr => eprintln!("{emf}"),
    }
}

fn init_logging(sink: Sink) {
    let builder = tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        );
    match sink {
        Sink::Stdout => builder.with_writer(std::io::stdout).init(),
        Sink::Stderr => builder.with_writer(std::io::stderr).init(),
    }
}
