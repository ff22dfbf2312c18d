//! The local Athena (issue #4). Work in progress.
