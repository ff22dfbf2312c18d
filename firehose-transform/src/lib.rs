//! firehose-transform: the Lambda that Firehose calls to turn raw Spotify envelopes into
//! `track_observation` records (one JSON object per line, partitioned by `source` and `dt`).
//!
//! - [`firehose`]: the request and response shapes of Firehose's Lambda processor;
//! - [`normalize`]: one envelope to one record, or the reason there is none;
//! - [`process`]: a whole event to its response, within Lambda's 6 MB response limit;
//! - [`summary`]: per-invocation counts, the summary log line and the EMF metrics.
//!
//! `main.rs` is a thin adapter: the Lambda runtime, or `--event FILE` to run one event locally.

pub mod firehose;
pub mod normalize;
pub mod process;
pub mod summary;

pub use firehose::{FirehoseEvent, FirehoseRecord, FirehoseResponse, RecordResult, ResponseRecord};
pub use process::{process, Processed};
pub use summary::Summary;
#[doc(hidden)]
pub mod sample;
