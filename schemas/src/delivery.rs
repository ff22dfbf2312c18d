//! Delivery settings of the Firehose stream, defined once in `schemas/delivery.json` and read by
//! `infra/` (the cloud stream) and by the local Firehose, so the emulator cannot drift from AWS.

use serde::Deserialize;

/// The settings text, exactly as checked in.
pub const DELIVERY_JSON: &str = include_str!("../delivery.json");

/// Where and how Firehose delivers. Prefixes use Firehose's `!{...}` expressions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Name of the delivery stream.
    pub stream_name: String,
    /// Name of the Glue table the stream converts with (and Athena queries).
    pub glue_table: String,
    /// S3 prefix of the Parquet output; partition keys come from the transform Lambda.
    pub processed_prefix: String,
    /// S3 prefix of records that failed; must contain `!{firehose:error-output-type}`.
    pub error_output_prefix: String,
    /// S3 prefix of the source-record backup (the raw envelopes, gzip).
    pub raw_backup_prefix: String,
    /// Error prefix of the backup destination.
    pub raw_backup_error_output_prefix: String,
    /// Buffering before the Parquet output is written. Format conversion needs >= 64 MiB.
    pub buffering: Buffering,
    /// Buffering before the raw backup is written.
    pub raw_backup_buffering: Buffering,
    /// How much Firehose collects before each transform Lambda invocation (0.2-3 MB, 0-900 s).
    pub processor_buffering: Buffering,
    /// Retries of a failed Lambda invocation before its records go to the error output.
    pub processor_retries: u32,
}

/// Firehose buffering hints: whichever is reached first triggers delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffering {
    pub size_mib: u32,
    pub interval_seconds: u32,
}

/// The checked-in settings.
pub fn settings() -> DeliverySettings {
    serde_json::from_str(DELIVERY_JSON).expect("schemas/delivery.json matches DeliverySettings")
}

impl DeliverySettings {
    /// The folder of the processed prefix above its first `!{` expression: the Glue table's
    /// location under the bucket (`processed/`).
    pub fn processed_root(&self) -> &str {
        let fixed = &self.processed_prefix[..self
            .processed_prefix
            .find("!{")
            .unwrap_or(self.processed_prefix.len())];
        &fixed[..fixed.rfind('/').map_or(0, |i| i + 1)]
    }

    /// The processed prefix in Athena's `storage.location.template` syntax (`${key}`).
    pub fn location_template(&self) -> String {
        self.processed_prefix.replace("!{partitionKeyFromLambda:", "${")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_settings_respect_firehose_limits() {
        let s = settings();
        // Firehose: record format conversion needs a buffer of at least 64 MiB, at most 128 MiB.
        assert!(
            (64..=128).contains(&s.buffering.size_mib),
            "buffering.size_mib {}",
            s.buffering.size_mib
        );
        // Firehose: buffer interval 0-900 s; processor buffer 0.2-3 MB and 0-900 s.
        assert!(s.buffering.interval_seconds <= 900);
        assert!((1..=3).contains(&s.processor_buffering.size_mib));
        assert!(s.processor_buffering.interval_seconds <= 900);
        // Firehose: the error prefix must name the error type and may not use partition keys.
        assert!(s.error_output_prefix.contains("!{firehose:error-output-type}"));
        assert!(!s.error_output_prefix.contains("partitionKeyFrom"));
        for key in crate::partition_keys() {
            assert!(
                s.processed_prefix
                    .contains(&format!("!{{partitionKeyFromLambda:{}}}", key.name)),
                "processed_prefix must place partition key {}",
                key.name
            );
        }
        assert_eq!(s.processed_root(), "processed/");
        assert_eq!(s.location_template(), "processed/source=${source}/dt=${dt}/");
    }
}
