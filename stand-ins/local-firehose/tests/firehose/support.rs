//! Shared setup: a local Firehose writing into a temporary folder, the real SDK client pointed at
//! it, and readers for what lands in the lake.

use std::path::Path;

use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use aws_sdk_firehose::Client;
use base64::Engine;
use local_firehose::{FirehoseConfig, LocalFirehose, Output};
use serde_json::Value;
use test_support::files::{files_under, parquet_batches};

pub use test_support::stand_ins::flush_only;

pub struct Lake {
    pub dir: tempfile::TempDir,
}

impl Lake {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config(&self) -> FirehoseConfig {
        FirehoseConfig {
            output: Output::LocalDir(self.dir.path().to_owned()),
            buffering: flush_only(),
            ..FirehoseConfig::default()
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Every object key under `prefix`, sorted (the stream's journal folder holds no objects).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = files_under(self.root())
            .into_iter()
            .map(|p| {
                p.strip_prefix(self.root())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .filter(|k| k.starts_with(prefix) && !k.starts_with(local_firehose::STATE_FOLDER))
            .collect();
        keys.sort();
        keys
    }

    pub fn read(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.root().join(key)).unwrap()
    }

    /// The documents of every error object of `error_type`.
    pub fn error_docs(&self, error_type: &str) -> Vec<Value> {
        self.keys(&format!("errors/{error_type}/"))
            .iter()
            .flat_map(|k| {
                String::from_utf8(self.read(k))
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Every Parquet row batch under `processed/`, with its key.
    pub fn parquet(&self) -> Vec<(String, arrow::record_batch::RecordBatch)> {
        self.keys("processed/")
            .into_iter()
            .flat_map(|k| {
                let batches = parquet_batches(&self.root().join(&k));
                batches.into_iter().map(move |b| (k.clone(), b))
            })
            .collect()
    }
}

/// The real SDK client, with dummy credentials (the SDK signs every request) and no SDK retries
/// unless asked, so each test sees exactly the answers the endpoint gave.
pub fn client(firehose: &LocalFirehose) -> Client {
    let config = aws_sdk_firehose::Config::builder()
        .endpoint_url(firehose.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "static"))
        .behavior_version(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

pub fn record(data: &[u8]) -> Record {
    Record::builder().data(Blob::new(data)).build().unwrap()
}

/// Sends `lines` in PutRecordBatch calls of at most 500, asserting every record is accepted.
pub async fn send_all(client: &Client, stream: &str, lines: &[Vec<u8>]) {
    for chunk in lines.chunks(500) {
        let out = client
            .put_record_batch()
            .delivery_stream_name(stream)
            .set_records(Some(chunk.iter().map(|l| record(l)).collect()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_put_count(), 0);
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../firehose-transform/tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// The envelope lines of a fixture, each with its `\n`.
pub fn fixture_lines(name: &str) -> Vec<Vec<u8>> {
    fixture(name)
        .lines()
        .map(|l| format!("{l}\n").into_bytes())
        .collect()
}

/// The records' bytes in a fixture event, except those whose base64 does not decode (a client
/// cannot send such a record: the SDK encodes the bytes itself).
pub fn fixture_event_records(name: &str) -> Vec<Vec<u8>> {
    let event: Value = serde_json::from_str(&fixture(name)).unwrap();
    event["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r["data"].as_str().unwrap())
                .ok()
        })
        .collect()
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// The keys of a JSON object, sorted.
pub fn fields(doc: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    keys
}
