//! Test helpers that more than one crate's tests use, as a dev-dependency: one definition, no
//! `#[path]` includes.
//!
//! - [`fake_firehose`]: a scriptable PutRecordBatch endpoint for the real `aws-sdk-firehose`
//!   client (the producer's sink, run and Lambda tests; the CLI's tests).
//! - [`spotify_mock`]: Spotify's Web API as a wiremock server with its token endpoint mounted.

pub mod fake_firehose;
pub mod spotify_mock;
