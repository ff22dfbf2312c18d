//! DuckDB's Python package in one process that stays up for a whole bench. Shared by the query
//! bench (local-athena) and the conversion bench (local-firehose).
//!
//! The process runs the bench's Python script: one JSON request per line on its stdin, one JSON
//! answer per line on its stdout, `{"s": seconds taken inside Python, "rows": n}` or
//! `{"error": "..."}`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

pub struct DuckDbProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl DuckDbProcess {
    /// Starts `python -c script args...`; an error says why not (no Python, no duckdb package).
    pub fn start(script: &str, args: &[&str]) -> Result<Self, String> {
        let python = crate::python();
        let probe = Command::new(&python).args(["-c", "import duckdb"]).output();
        if !matches!(probe, Ok(ref o) if o.status.success()) {
            return Err(format!(
                "`{} -c 'import duckdb'` failed. Install it (scripts/python-env.sh) or set TRACKLAKE_PYTHON.",
                python.display()
            ));
        }
        let mut child = Command::new(&python)
            .args(["-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(DuckDbProcess { child, stdin, stdout })
    }

    /// Sends one request and reads its answer: the time DuckDB took and the rows it reported.
    pub fn ask(&mut self, request: &serde_json::Value) -> Result<(Duration, usize), String> {
        writeln!(self.stdin, "{request}").map_err(|e| format!("DuckDB process: {e}"))?;
        self.stdin.flush().map_err(|e| format!("DuckDB process: {e}"))?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("DuckDB process: {e}"))?;
        let answer: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("DuckDB answered no JSON ({e}): {line:?}"))?;
        if let Some(error) = answer["error"].as_str() {
            return Err(error.to_owned());
        }
        match (answer["s"].as_f64(), answer["rows"].as_u64()) {
            (Some(s), Some(rows)) => Ok((Duration::from_secs_f64(s), rows as usize)),
            _ => Err(format!("unexpected DuckDB answer: {line}")),
        }
    }
}

impl Drop for DuckDbProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
