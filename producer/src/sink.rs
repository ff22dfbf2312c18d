//! Firehose sink: see issue #3, section 2.
