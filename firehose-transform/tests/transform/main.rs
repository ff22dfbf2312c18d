//! Integration tests of firehose-transform: one test binary, modules by concern.
//!
//! - `golden`: real Firehose events from `tests/fixtures/` against checked-in responses
//!   (`UPDATE_GOLDEN=1 cargo test -p firehose-transform golden` rewrites them; review the diff);
//! - `cases`: the normalization rules of `src/normalize.rs`, one test per rule;
//! - `properties`: arbitrary bytes and JSON never panic and always get a well-formed answer;
//! - `limits`: the 6 MB response limit, at that size;
//! - `binary`: the `firehose-transform` executable's local mode, as a user runs it.
//! - `lambda`: the executable inside a stand-in of the Lambda Runtime API.

mod binary;
mod cases;
mod golden;
mod lambda;
mod limits;
mod properties;
mod support;
