//! The local Firehose's tests, one binary. Every test starts its own stream on a free loopback
//! port, writing into a temporary folder, and talks to it with the real `aws-sdk-firehose`.
//!
//! - `api`: the AWS JSON 1.1 surface: limits with the real errors, the fault switch,
//!   DescribeDeliveryStream / ListDeliveryStreams, PutRecord.
//! - `delivery`: what lands in the lake: raw backup, Parquet with the Glue schema, partition
//!   paths, error output documents, Firehose's handling of bad processor answers, the
//!   active-partition limit, buffering, flush on shutdown.
//! - `journal`: acknowledged records on disk until delivered: recovery, cut writes, removal, lock.
//! - `s3`: the same delivery into an S3 bucket, through aws-sdk-s3, against moto's server.

mod api;
mod delivery;
mod journal;
mod s3;
mod support;
