//! The producer: pulls track data from the Spotify Web API (through the `spotify-client` crate) and
//! streams every observation into Firehose as a raw envelope (`schemas::RawEnvelope`). Two
//! entrypoints call it: the `tracklake` CLI (local files for the state and the refresh token) and
//! the `producer` Lambda binary (`src/bin/producer.rs`, over [`lambda`]: S3 state, Secrets
//! Manager, EMF metrics).
//!
//! - [`auth`]: `tracklake auth` (the authorization code flow of `spotify_client::accounts`) and the
//!   refresh-token stores (a local file, or Secrets Manager with the client id and secret);
//! - [`lambda`]: the Lambda's AWS clients, one invocation with its run lock, which outcomes make
//!   the invocation an error, and its serde summary;
//! - [`logging`]: `RUST_LOG`, capped so that no level prints the AWS credentials;
//! - [`metrics`]: a run's counts as CloudWatch EMF metrics (namespace `tracklake/producer`);
//! - [`pacing`]: the `dt` partitions recently opened, so that runs in quick succession stay
//!   within Firehose's active partition quota;
//! - [`settings`]: the producer's settings, one struct for the CLI and the Lambda, with one
//!   environment layer (the CLI's TOML file goes under it);
//! - [`run`]: one run: pull the due sources, deliver, move the state only past what was delivered;
//! - [`sink`]: PutRecordBatch within Firehose's limits, resending only the failed records;
//! - [`sources`]: the five sources, each pulling envelope lines and the state they earn;
//! - [`state`]: watermarks, snapshots and not-before between runs, saved atomically, overlap-safe
//!   (a local file, or an S3 object written with a conditional put).

pub mod auth;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod pacing;
pub mod run;
pub mod settings;
pub mod sink;
pub mod sources;
pub mod state;
