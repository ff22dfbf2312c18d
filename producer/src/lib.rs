//! The producer: pulls track data from the Spotify Web API and streams every observation into
//! Firehose as a raw envelope (`schemas::RawEnvelope`). Work in progress (issue #3):
//!
//! - [`auth`]: `tracklake auth`: authorization code with PKCE, loopback redirect, refresh-token store;
//! - [`backoff`]: exponential backoff with full jitter, shared by every retry loop;
//! - [`run`]: one run: pull the due sources, deliver, move the state only past what was delivered;
//! - [`sink`]: PutRecordBatch within Firehose's limits, resending only the failed records;
//! - [`sources`]: the five sources, each pulling envelope lines and the state they earn;
//! - [`spotify`]: the HTTP client: tokens, rate limits, quotas, bounded retries;
//! - [`state`]: watermarks, snapshots and not-before between runs, saved atomically, overlap-safe.

pub mod auth;
pub mod backoff;
pub mod run;
pub mod sink;
pub mod sources;
pub mod spotify;
pub mod state;
