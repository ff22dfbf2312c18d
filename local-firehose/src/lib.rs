//! The local Firehose (issue #4). Work in progress.
