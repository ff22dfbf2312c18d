//! Test helpers that more than one crate's tests or benches use, as a dev-dependency: one
//! definition, no `#[path]` includes.
//!
//! - [`fake_firehose`]: a scriptable PutRecordBatch endpoint for the real `aws-sdk-firehose`
//!   client (the producer's sink, run and Lambda tests; the CLI's tests).
//! - [`spotify_mock`]: Spotify's Web API as a wiremock server with its token endpoint mounted.
//! - [`duckdb`]: DuckDB's Python package in one long-lived process (the query and conversion
//!   benches).
//! - [`files`]: the files of a folder; with the `lake` feature, the Parquet objects of a lake and
//!   their rows.
//! - [`lake`] (feature `lake`): a small lake written as the local Firehose writes it (the local
//!   Athena's tests and bench).
//! - [`stand_ins`] (feature `stand-ins`): the environment of a `tracklake run` under test, and
//!   the local Firehose's flush-only buffering.

use std::path::PathBuf;

pub mod duckdb;
pub mod fake_firehose;
pub mod files;
#[cfg(feature = "lake")]
pub mod lake;
pub mod spotify_mock;
#[cfg(feature = "stand-ins")]
pub mod stand_ins;

/// The Python of the tests (moto, DuckDB): `TRACKLAKE_PYTHON`, else `.venv/bin/python` at the workspace root, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TRACKLAKE_PYTHON") {
        return PathBuf::from(p);
    }
    // This crate sits one folder below the workspace root.
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}
