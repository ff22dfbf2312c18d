//! Starts moto's server mode for tests that need an AWS API no local stand-in of ours speaks
//! (Glue for `tracklake schema check`, S3 conditional writes and Secrets Manager for the
//! producer's deployed stores). The real AWS SDK talks HTTP to it, signed with dummy credentials.
//!
//! moto is a Python package: `./scripts/python-env.sh` installs it into `.venv` (the test
//! command does this first). The interpreter is [`test_support::python`]: `$TRACKLAKE_PYTHON`
//! if set, else the workspace's `.venv/bin/python`, else `python3`. A test that needs moto and cannot start it fails with a
//! message naming that command: a skipped test would pass without checking anything.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};

/// How long moto may take to start answering (it imports every AWS service model at start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Dummy credentials: moto accepts any, and the SDK refuses to sign without some.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";

/// A running moto server; stopped when dropped.
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits until it answers.
    ///
    /// Panics with instructions when Python or moto is missing: this is test support, and a
    /// test that cannot reach its server must fail, not pass silently.
    pub fn start() -> Self {
        let python = test_support::python();
        let port = free_port();
        let mut child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}). Run ./scripts/python-env.sh to create the Python \
                     environment with moto, or set TRACKLAKE_PYTHON to a Python that has moto[server].",
                    python.display()
                )
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr);
                }
                panic!(
                    "moto's server exited ({status}) before answering: {}\nRun ./scripts/python-env.sh \
                     to install moto[server] into .venv.",
                    stderr.trim()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("moto's server did not answer on {addr} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Its log goes nowhere from here on, so a chatty server cannot fill the pipe and stall.
        drop(child.stderr.take());
        MotoServer { child, addr }
    }

    /// The endpoint URL to give the AWS SDK (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The SDK configuration for this server (endpoint, region, dummy credentials), from which
    /// any service's client is made: `aws_sdk_glue::Client::new(&moto.sdk_config())`.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "moto");
        aws_config::SdkConfig::builder()
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    /// An S3 client for this server. Path-style addressing: moto on a loopback port cannot
    /// serve virtual-hosted bucket names (`<bucket>.127.0.0.1`).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Creates `bucket` and answers the S3 client that did.
    pub async fn create_bucket(&self, bucket: &str) -> aws_sdk_s3::Client {
        let s3 = self.s3_client();
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto did not create the bucket {bucket}: {e:?}"));
        s3
    }

    /// Creates the secret `id` holding `value` and answers the Secrets Manager client that did.
    pub async fn create_secret(&self, id: &str, value: &str) -> aws_sdk_secretsmanager::Client {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk_config());
        secrets
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto did not create the secret {id}: {e:?}"));
        secrets
    }

    /// Points the standard AWS configuration chain (the environment) at this server's dummy
    /// credentials and region, for code under test that builds its clients from it.
    pub fn set_credentials_in_environment(&self) {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        std::env::set_var("AWS_REGION", REGION);
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_and_answers_http() {
        let moto = MotoServer::start();
        let mut stream = TcpStream::connect(moto.addr).unwrap();
        use std::io::Write;
        write!(stream, "GET /moto-api/ HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1."), "{answer:.80}");
        assert!(answer.contains(" 200 "), "{answer:.80}");
    }
}
