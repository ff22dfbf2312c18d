//! The producer Lambda (invoked by EventBridge Scheduler), as plain functions the `producer` binary
//! adapts to the Lambda runtime and tests call directly (docs/lambda-contracts.md#the-producer).
//! The binary's handler only turns the runtime's event into calls of these:
//!
//! - [`Settings::lambda_from_env`](crate::settings::Settings::lambda_from_env): the function's
//!   environment, read once at start (docs/lambda-contracts.md#environment lists the variables);
//! - [`Clients::from_env`]: the AWS clients, built once per process and shared by invocations;
//! - [`deadline`]: the runtime's deadline as a time, which bounds the run lock;
//! - [`invoke`] (`invoke.rs`): one invocation: the run lock taken, the Spotify credentials and
//!   refresh token from Secrets Manager, one [`run_once`](crate::run::run_once) over the S3
//!   state, a rotated refresh token written back, the run lock released;
//! - [`Invocation`] (`outcome.rs`): what the invocation did, its log lines (the summary and the
//!   EMF metrics), and its [`response`](Invocation::response): the summary, or the error the
//!   Lambda returns;
//! - [`Invocation::summary`] (`summary.rs`): the serde structs of the summary.
//!
//! Two outcomes run nothing and succeed, each with one log line and a metric of its own:
//! - another invocation holds the run lock ([`crate::state::lock`]): `RunsSkipped = 1`, the
//!   response says `"skipped": "run_in_progress"`; the running invocation does the work;
//! - the secret holds no refresh token yet (the placeholder `infra/` creates, before the user
//!   ran `tracklake auth --secret-id <arn>`): `AwaitingAuthorization = 1`, the response says
//!   `"skipped": "awaiting_authorization"`. A deployed stack is scheduled before the token can be
//!   stored, so an error here would only fire alarms at every run until then.
//!
//! Which outcomes are errors of the invocation, and why:
//! - records pulled but not delivered (rejected or failed), a fatal Firehose error, a state that
//!   could not be loaded or saved (an overlapping run included), an unreadable secret, a
//!   rotated refresh token that could not be stored, or a run lock that could not be taken or
//!   released: the Lambda returns an error, so the `Errors` alarm fires
//!   (docs/lambda-contracts.md#result), and a retry of the invocation is
//!   harmless (the state moves only past delivered records);
//! - `invalid_grant`: an error log line and `ReauthorizationRequired = 1`, but the invocation
//!   succeeds. A retry cannot fix it, only a new `tracklake auth` can, so an error would only make
//!   Lambda retry into the same refusal;
//! - a quota or rate-limit stop, a broken source, Spotify down past the retries, user sources
//!   skipped under client credentials: the invocation succeeds; the metrics (`RunsFailed`,
//!   `QuotaStops`) and the log say what happened, and the next scheduled run tries again.

mod invoke;
mod outcome;
mod summary;

pub use invoke::{deadline, invoke, spotify_config, Clients};
pub use outcome::{Invocation, InvocationError, Skipped};
