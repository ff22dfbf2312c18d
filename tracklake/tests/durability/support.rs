//! What the tests of this binary share: the real `tracklake firehose` in a child process, and
//! what a stopped one leaves behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use test_support::files::files_under;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The line of `tracklake firehose`'s banner that gives its endpoint.
const ENDPOINT_LINE: &str = "export AWS_ENDPOINT_URL_FIREHOSE=";

/// A `tracklake firehose` child process; killed when dropped.
pub struct Firehose {
    pub child: Child,
    pub stdout: Lines<BufReader<ChildStdout>>,
    pub endpoint: String,
}

/// Starts `tracklake firehose --lake <lake> <args>` and waits for its banner.
pub async fn start_firehose(lake: &Path, args: &[String]) -> Firehose {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracklake"))
        .env_clear()
        .env("RUST_LOG", "warn")
        .arg("firehose")
        .args(args)
        .arg("--lake")
        .arg(lake)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let endpoint = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the local Firehose starts within 30 s")
            .unwrap()
            .expect("the local Firehose is running");
        if let Some(endpoint) = line.trim().strip_prefix(ENDPOINT_LINE) {
            break endpoint.to_owned();
        }
    };
    Firehose {
        child,
        stdout,
        endpoint,
    }
}

impl Firehose {
    /// Ctrl-C: the local Firehose flushes its buffers and stops; returns what it printed.
    pub async fn stop(mut self) -> String {
        let pid = self.child.id().unwrap().to_string();
        let signalled = Command::new("kill").args(["-INT", &pid]).status().await.unwrap();
        assert!(signalled.success());
        let mut report = String::new();
        while let Some(line) = tokio::time::timeout(Duration::from_secs(120), self.stdout.next_line())
            .await
            .expect("the local Firehose stops within 2 minutes")
            .unwrap()
        {
            report.push_str(&line);
            report.push('\n');
        }
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "{status:?}\n{report}");
        report
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// What a stopped local Firehose may leave in the lake's state folder: its lock file only (no
/// journal segment, no temporary file).
pub fn left_behind(lake: &Path) -> Vec<PathBuf> {
    files_under(&lake.join(local_firehose::STATE_FOLDER))
        .into_iter()
        .filter(|p| !p.ends_with("lock"))
        .collect()
}
