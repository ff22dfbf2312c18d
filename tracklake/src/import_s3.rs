//! `tracklake import --target aws`: the plays go straight to the deployed stack's bucket, at the
//! keys Firehose's dynamic partitioning gives (`processed/source=streaming_history/dt=.../`), in
//! Parquet written by `lake_layout` (docs/privacy-exports.md#into-aws). Each partition file is
//! merged like the local lake's: GetObject (none yet: NoSuchKey), `lake_layout::merge_bytes`,
//! PutObject. A PUT replaces the object at once, so an interrupted import leaves the old file or
//! the new one, never half of one, and running it again adds what is missing. `tracklake enrich
//! --target aws` fills the same files in the same way (`lake_layout::rewrite_bytes`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use history_import::enrich::{Filled, ImportedPlays};
use history_import::{ImportError, Partition, PartitionStore};
use lake_layout::Merged;
use schemas::TrackObservation;

/// Partition files merged at once. Each merge is two requests of some tens of milliseconds and a
/// little CPU, so one at a time would leave a 10-year history (3,650 days, 7,300 requests) waiting
/// several minutes on round trips; 16 keep that to seconds while the partitions held in memory
/// at once stay small (a day of plays, at most a few hundred rows).
pub const PARTITIONS_IN_FLIGHT: usize = 16;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why the bucket cannot take the plays.
#[derive(Debug, thiserror::Error)]
pub enum S3LakeError {
    #[error(
        "the bucket {bucket} does not exist: pass the deployed stack's bucket with --bucket (the \
         one holding processed/ and raw/), or check AWS_REGION and --s3-endpoint"
    )]
    NoBucket { bucket: String },
    #[error(
        "cannot reach the bucket {bucket}: check the AWS credentials, and that they may \
         s3:ListBucket it (docs/privacy-exports.md#into-aws)"
    )]
    Bucket {
        bucket: String,
        #[source]
        source: Cause,
    },
    #[error(
        "cannot read s3://{bucket}/{key}: check that the credentials may s3:GetObject under \
         processed/source=streaming_history/ (docs/privacy-exports.md#into-aws), then run again"
    )]
    Get {
        bucket: String,
        key: String,
        #[source]
        source: Cause,
    },
    #[error(
        "cannot write s3://{bucket}/{key} (the object is unchanged): check that the credentials \
         may s3:PutObject under processed/source=streaming_history/ \
         (docs/privacy-exports.md#into-aws), then run again"
    )]
    Put {
        bucket: String,
        key: String,
        #[source]
        source: Cause,
    },
    #[error(transparent)]
    Partition(#[from] lake_layout::LakeError),
    #[error("a partition's merge into {bucket} stopped unexpectedly; run again")]
    Task {
        bucket: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// The deployed stack's bucket as the lake of an import.
pub struct S3Lake {
    client: aws_sdk_s3::Client,
    bucket: Arc<str>,
    runtime: tokio::runtime::Handle,
}

impl S3Lake {
    /// The bucket, once it is known to exist and be reachable (a missing bucket is refused
    /// before any export file is read).
    pub async fn open(
        client: aws_sdk_s3::Client,
        bucket: &str,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, S3LakeError> {
        match client.head_bucket().bucket(bucket).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                return Err(S3LakeError::NoBucket {
                    bucket: bucket.to_owned(),
                })
            }
            Err(e) => {
                return Err(S3LakeError::Bucket {
                    bucket: bucket.to_owned(),
                    source: e.into(),
                })
            }
        }
        Ok(Self {
            client,
            bucket: bucket.into(),
            runtime,
        })
    }

    /// The key of the `dt` partition's file: the local lake's path under the bucket.
    pub fn key(dt: &str) -> String {
        history_import::partition_file(Path::new(""), dt)
            .to_string_lossy()
            .replace('\\', "/")
    }
}

/// The object's bytes, `None` when there is no such key.
async fn get_bytes(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, S3LakeError> {
    let get = |source: Cause| S3LakeError::Get {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source,
    };
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let body = out.body.collect().await.map_err(|e| get(e.into()))?;
            Ok(Some(body.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.code() == Some("NoSuchBucket")) =>
        {
            Err(S3LakeError::NoBucket {
                bucket: bucket.to_owned(),
            })
        }
        Err(e) => Err(get(e.into())),
    }
}

/// Replaces the object (a PUT replaces it at once).
async fn put_bytes(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), S3LakeError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.code() == Some("NoSuchBucket"))
            {
                S3LakeError::NoBucket {
                    bucket: bucket.to_owned(),
                }
            } else {
                S3LakeError::Put {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    source: e.into(),
                }
            }
        })?;
    Ok(())
}

/// Merges one partition file: GetObject, merge, PutObject if anything was added.
async fn merge_one(
    client: aws_sdk_s3::Client,
    bucket: Arc<str>,
    (dt, rows): Partition,
) -> Result<Merged, ImportError> {
    let key = S3Lake::key(&dt);
    let existing = get_bytes(&client, &bucket, &key).await.map_err(store)?;
    let location = PathBuf::from(format!("s3://{bucket}/{key}"));
    let (merged, bytes) = lake_layout::merge_bytes(&location, existing, &rows)?;
    if let Some(bytes) = bytes {
        put_bytes(&client, &bucket, &key, bytes).await.map_err(store)?;
    }
    Ok(merged)
}

impl S3Lake {
    /// The keys of the imported plays' partition files, in date order.
    async fn imported_keys(&self) -> Result<Vec<String>, S3LakeError> {
        let any = Self::key("x");
        let prefix = &any[..any.find("dt=").expect("a partition key holds dt=")];
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&*self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| S3LakeError::Bucket {
                bucket: self.bucket.to_string(),
                source: e.into(),
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with(history_import::IMPORT_FILE_NAME))
                    .map(str::to_owned),
            );
        }
        keys.sort();
        Ok(keys)
    }
}

impl ImportedPlays for S3Lake {
    type Error = S3LakeError;

    /// Reads up to [`PARTITIONS_IN_FLIGHT`] files at once and writes as many; `change` sees the
    /// rows of one file at a time.
    fn rewrite_each(
        &mut self,
        change: &mut dyn FnMut(&mut TrackObservation) -> bool,
    ) -> Result<Filled, S3LakeError> {
        let runtime = self.runtime.clone();
        runtime.block_on(async {
            let task = |source| S3LakeError::Task {
                bucket: self.bucket.to_string(),
                source,
            };
            let mut pending = self.imported_keys().await?.into_iter();
            let (mut gets, mut puts) = (tokio::task::JoinSet::new(), tokio::task::JoinSet::new());
            let mut filled = Filled::default();
            loop {
                while gets.len() < PARTITIONS_IN_FLIGHT {
                    let Some(key) = pending.next() else { break };
                    let (client, bucket) = (self.client.clone(), self.bucket.clone());
                    gets.spawn(async move {
                        let bytes = get_bytes(&client, &bucket, &key).await;
                        (key, bytes)
                    });
                }
                let Some(done) = gets.join_next().await else { break };
                let (key, bytes) = done.map_err(task)?;
                // Listed a moment ago and gone now: removed by someone else, nothing to fill.
                let Some(bytes) = bytes? else { continue };
                let location = PathBuf::from(format!("s3://{}/{key}", self.bucket));
                let (plays, new) = lake_layout::rewrite_bytes(&location, bytes, &mut *change)?;
                if let Some(new) = new {
                    filled.plays += plays;
                    filled.files += 1;
                    let (client, bucket) = (self.client.clone(), self.bucket.clone());
                    puts.spawn(async move { put_bytes(&client, &bucket, &key, new).await });
                    while puts.len() >= PARTITIONS_IN_FLIGHT {
                        puts.join_next().await.expect("a put in flight").map_err(task)??;
                    }
                }
            }
            while let Some(put) = puts.join_next().await {
                put.map_err(task)??;
            }
            Ok(filled)
        })
    }
}

fn store(e: S3LakeError) -> ImportError {
    ImportError::Store(Box::new(e))
}

impl PartitionStore for S3Lake {
    fn merge_partitions(&mut self, partitions: Vec<Partition>) -> (Merged, Option<ImportError>) {
        self.runtime.block_on(async {
            let mut total = Merged::default();
            let mut first_error = None;
            let mut pending = partitions.into_iter();
            let mut in_flight = tokio::task::JoinSet::new();
            loop {
                while in_flight.len() < PARTITIONS_IN_FLIGHT && first_error.is_none() {
                    let Some(partition) = pending.next() else { break };
                    let (client, bucket) = (self.client.clone(), self.bucket.clone());
                    in_flight.spawn(merge_one(client, bucket, partition));
                }
                // After an error no partition is started; those in flight finish, and count.
                let Some(done) = in_flight.join_next().await else {
                    break;
                };
                let result = done.unwrap_or_else(|source| {
                    Err(store(S3LakeError::Task {
                        bucket: self.bucket.to_string(),
                        source,
                    }))
                });
                match result {
                    Ok(merged) => {
                        total.added += merged.added;
                        total.present += merged.present;
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            (total, first_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_lies_at_the_key_firehose_gives_it() {
        assert_eq!(
            S3Lake::key("2024-03-01"),
            "processed/source=streaming_history/dt=2024-03-01/streaming-history.parquet"
        );
    }
}
