//! Logging setup shared by the `tracklake` CLI and the producer Lambda: `RUST_LOG` as usual
//! (default `info`), under a hard cap on the AWS SDK targets that print credentials.
//!
//! With `RUST_LOG=trace` (or `debug` for one of them) the AWS SDK writes the resolved credentials'
//! `Debug` form, which redacts the secret key but shows the access key id in full. Found by running
//! `tracklake run` with `RUST_LOG=trace` and planted credentials against a local Firehose endpoint
//! (`tracklake/tests/cli.rs`, `trace_logs_never_print_credentials`). The targets that printed it:
//!
//! - `aws_smithy_runtime::client::orchestrator` at TRACE (`runtime_components=`, and its `auth`
//!   module's `resolved identity identity=Identity { data: Credentials { access_key_id: .. } }`);
//! - `aws_smithy_runtime::client::orchestrator::endpoints` at DEBUG (`resolving endpoint
//!   endpoint_params=..`, whose property bag holds the identity);
//! - `aws_sigv4::http_request::sign` at TRACE (`signing request .. params=V4(SigningParams {
//!   identity: ..`).
//!
//! The cap is a filter of its own, applied after `RUST_LOG`'s, so no directive (a more specific
//! target, a span filter) can lift it. Everything else of the SDK still logs at any level.

use tracing::level_filters::LevelFilter;
use tracing::Metadata;
use tracing_subscriber::EnvFilter;

/// `(target, most verbose level allowed)`: a target and its submodules. An event must pass every
/// cap whose target it falls under.
pub const CREDENTIAL_LOG_CAPS: &[(&str, LevelFilter)] = &[
    ("aws_smithy_runtime::client::orchestrator", LevelFilter::DEBUG),
    (
        "aws_smithy_runtime::client::orchestrator::endpoints",
        LevelFilter::INFO,
    ),
    ("aws_sigv4::http_request::sign", LevelFilter::DEBUG),
];

/// Whether a span or event may be logged: false for the levels of [`CREDENTIAL_LOG_CAPS`] that
/// print credentials.
pub fn never_logs_credentials(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    CREDENTIAL_LOG_CAPS.iter().all(|(cap, max)| {
        let under = target
            .strip_prefix(cap)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
        !under || *metadata.level() <= *max
    })
}

/// An error as one line, each cause once after it ("context: cause: cause"), for where an error is
/// kept or logged as text: the run report, the Lambda's summary, log fields. Error messages leave
/// their cause to `source()`, so `to_string()` alone would drop it.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// `RUST_LOG`, or `info` when it is unset or invalid.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn an_error_chain_names_each_cause_once_after_its_context() {
        #[derive(Debug, thiserror::Error)]
        #[error("could not read the producer state s3://bucket/state.json; check the permissions")]
        struct Context(#[source] std::io::Error);
        let e = Context(std::io::Error::other("access denied"));
        assert_eq!(
            error_chain(&e),
            "could not read the producer state s3://bucket/state.json; check the permissions: access denied"
        );
    }

    fn allowed(target: &'static str, level: Level) -> bool {
        // A callsite's metadata, built by hand: the filter only reads the target and the level.
        struct Callsite;
        impl tracing::callsite::Callsite for Callsite {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static CALLSITE: Callsite = Callsite;
        let metadata = Metadata::new(
            "event",
            target,
            level,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CALLSITE)),
            tracing::metadata::Kind::EVENT,
        );
        never_logs_credentials(&metadata)
    }

    #[test]
    fn the_caps_hold_the_printing_targets_and_nothing_else() {
        let orchestrator = "aws_smithy_runtime::client::orchestrator";
        assert!(!allowed(orchestrator, Level::TRACE));
        assert!(allowed(orchestrator, Level::DEBUG));
        assert!(!allowed(
            "aws_smithy_runtime::client::orchestrator::auth",
            Level::TRACE
        ));
        assert!(!allowed(
            "aws_smithy_runtime::client::orchestrator::endpoints",
            Level::DEBUG
        ));
        assert!(allowed(
            "aws_smithy_runtime::client::orchestrator::endpoints",
            Level::INFO
        ));
        assert!(!allowed("aws_sigv4::http_request::sign", Level::TRACE));
        assert!(allowed("aws_sigv4::http_request::sign", Level::DEBUG));
        // Only whole path segments: a sibling with a common prefix is not capped.
        assert!(allowed(
            "aws_smithy_runtime::client::orchestrator_x",
            Level::TRACE
        ));
        assert!(allowed("aws_smithy_runtime::client::http", Level::TRACE));
        assert!(allowed("producer::run", Level::TRACE));
    }
}
