//! The Spotify sandbox (issue #4). Work in progress.
