//! Where delivered objects go: a local directory (the default `./lake`) or an S3 bucket through
//! `aws-sdk-s3`, behind one small trait.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use crate::FirehoseError;

pub type PutFuture<'a> = Pin<Box<dyn Future<Output = Result<(), FirehoseError>> + Send + 'a>>;

/// Writes whole objects by key (`raw/2026/11/24/08/<name>.gz`).
pub trait ObjectStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> PutFuture<'a>;
    /// Where the objects land, for messages.
    fn describe(&self) -> String;
}

/// Objects as files under a root folder: `<root>/<key>`. Each file is written to a temporary
/// folder on the same file system and renamed into place, so a reader never sees half a file;
/// what a killed process leaves there is removed at the next start ([`crate::journal`]).
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>, tmp: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            tmp: tmp.into(),
        }
    }
}

impl ObjectStore for LocalDir {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> PutFuture<'a> {
        Box::pin(async move {
            let fail = |e: std::io::Error| FirehoseError::Write {
                key: key.to_owned(),
                message: format!("{} ({e})", self.root.display()),
            };
            if key.split('/').any(|p| p == ".." || p == ".") || key.starts_with('/') {
                return Err(FirehoseError::Write {
                    key: key.to_owned(),
                    message: "the key would leave the output folder".into(),
                });
            }
            let path = self.root.join(key);
            let dir = path.parent().unwrap_or(Path::new("."));
            tokio::fs::create_dir_all(dir).await.map_err(fail)?;
            tokio::fs::create_dir_all(&self.tmp).await.map_err(fail)?;
            let tmp = self.tmp.join(format!("{}.tmp", crate::naming::uuid_v4()));
            if let Err(e) = tokio::fs::write(&tmp, &body).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(fail(e));
            }
            if let Err(e) = tokio::fs::rename(&tmp, &path).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(fail(e));
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// Objects in an S3 bucket (or any S3-compatible endpoint, addressed path-style then).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// A client from the usual AWS configuration chain (environment, profile), pointed at
    /// `endpoint` when one is given.
    pub async fn new(bucket: String, endpoint: Option<String>) -> Self {
        let shared = aws_config::load_from_env().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket,
        }
    }
}

impl ObjectStore for S3Store {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> PutFuture<'a> {
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| FirehoseError::Write {
                    key: key.to_owned(),
                    message: format!(
                        "s3://{}: {}",
                        self.bucket,
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                })
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}
