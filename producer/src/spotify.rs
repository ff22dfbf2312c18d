//! Spotify HTTP client: see issue #3, section 1.
