//! The producer Lambda (`bootstrap` in `target/lambda/producer/bootstrap.zip`), invoked by
//! EventBridge Scheduler. A thin adapter over [`producer::lambda`]: the configuration is read and
//! the AWS clients are built once per process, then each invocation runs [`invoke`] and writes
//! one summary log line and one EMF metrics line to stdout (CloudWatch Logs collects it). The
//! invocation's deadline from the runtime bounds how long its run lock is held.
//! The scheduler's event carries nothing the run needs, so it is accepted as any JSON.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use lambda_runtime::{service_fn, Context, LambdaEvent};
use producer::lambda::{invoke, Clients, LambdaConfig};
use producer::state::lock::LAMBDA_MAX_RUN;
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
    let config = match LambdaConfig::from_env(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            // A failed init: Lambda reports it on every invocation until the environment is fixed.
            tracing::error!(error = %e, "invalid configuration");
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
        let clients = Clients::from_env(&config).await;
        tracing::info!(
            stream = %config.stream,
            state = %format!("s3://{}/{}", config.state_bucket, config.state_key),
            sources = ?config.sources.enabled,
            "producer ready"
        );
        let (config, clients) = (&config, &clients);
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
            handle(config, clients, &event.context).await
        }))
        .await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn handle(
    config: &LambdaConfig,
    clients: &Clients,
    context: &Context,
) -> Result<Value, lambda_runtime::Error> {
    let now = Utc::now();
    // The runtime's deadline in Unix milliseconds; the lock caps whatever it says, and assumes
    // the longest invocation if it says nothing usable.
    let deadline = i64::try_from(context.deadline)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(now + LAMBDA_MAX_RUN);
    let invocation = invoke(config, clients, now, deadline).await;
    invocation.log_summary();
    // EMF must be a line of its own on stdout, not wrapped in a log record.
    let function_name = &context.env_config.function_name;
    println!("{}", invocation.emf(Utc::now().timestamp_millis(), function_name));
    match invocation.error {
        Some(e) => Err(e.into()),
        None => Ok(invocation.summary()),
    }
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
