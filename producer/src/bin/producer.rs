//! The producer Lambda (`bootstrap` in `target/lambda/producer/bootstrap.zip`), invoked by
//! EventBridge Scheduler. A thin adapter over [`producer::lambda`]: the settings are read and the
//! AWS clients built once per process; the handler turns each event into one [`invoke`] and
//! returns its response. The scheduler's event carries nothing the run needs, so it is accepted
//! as any JSON; only its context is read (the deadline, which bounds the run lock, and the
//! function's name, the metrics' dimension).

use std::process::ExitCode;

use chrono::Utc;
use lambda_runtime::{service_fn, LambdaEvent};
use producer::lambda::{deadline, invoke, Clients};
use producer::logging::error_chain;
use producer::settings::Settings;
use serde_json::Value;

fn main() -> ExitCode {
    init_logging();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!(
            "error: the producer binary runs inside AWS Lambda only (AWS_LAMBDA_RUNTIME_API is unset); \
             to run the producer on this machine use `tracklake run`"
        );
        return ExitCode::from(2);
    }
    let settings = match Settings::lambda_from_env(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(e) => {
            // A failed init: Lambda reports it on every invocation until the environment is fixed.
            tracing::error!(error = %error_chain(&e), "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "could not start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let clients = Clients::from_env(&settings).await;
        tracing::info!(
            stream = %settings.firehose.stream,
            state = %format!("s3://{}/{}", settings.state.bucket, settings.state.key),
            sources = ?settings.sources.enabled,
            "producer ready"
        );
        let (settings, clients) = (&settings, &clients);
        lambda_runtime::run(service_fn(move |event| handler(settings, clients, event))).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn handler(
    settings: &Settings,
    clients: &Clients,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let now = Utc::now();
    let invocation = invoke(settings, clients, now, deadline(now, event.context.deadline)).await;
    invocation.log(&event.context.env_config.function_name);
    // Lambda reports the error's text alone: its causes go into that text.
    invocation.response().map_err(|e| error_chain(&e).into())
}

/// JSON lines on stdout without ANSI colours: CloudWatch Logs stores them as they are. No level
/// prints the AWS credentials (`producer::logging`).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stdout)
        .with_env_filter(producer::logging::env_filter())
        .finish()
        .with(tracing_subscriber::filter::filter_fn(
            producer::logging::never_logs_credentials,
        ))
        .init();
}
