//! Integration tests of the local Athena, one binary (ripgrep style). Modules:
//! - `lake` (from test-support, shared with the query bench): writes a lake as the local Firehose
//!   does (Parquet, snappy, `source=/dt=` folders).
//! - `scenario`: the hand-checked listening history every named query is tested on.
//! - `queries`: each named query's result on the scenario.
//! - `table`: the Glue mapping, partition pruning, empty and missing lakes, bad queries.
//! - `trino_functions`: each Trino UDF against the results Trino documents.
//! - `sql_files`: every `sql/` file has its header and parses.
//! - `output`: table, CSV and JSON output.
//! - `transform_output`: the transformation Lambda's real records through the table and queries.

// The generated lake is shared with the query bench.
use test_support::lake;
mod output;
mod queries;
mod scenario;
mod sql_files;
mod table;
mod transform_output;
mod trino_functions;

/// An error and its causes on one line, as the CLI's report reads: the messages leave the engine's
/// own error to `source()`, and the tests assert on both.
fn chain(e: local_athena::AthenaError) -> String {
    format!("{:#}", anyhow::Error::from(e))
}
