//! A run's counts as CloudWatch metrics in Embedded Metric Format (EMF): one JSON log line that
//! CloudWatch Logs turns into metrics with no API call. The names, namespace and dimension are the
//! contract with `infra/`'s alarms (docs/lambda-contracts.md#metrics), named once in
//! `schemas/names.json`.

use schemas::names::producer_metrics as metric;
use serde_json::Value;

use crate::run::RunReport;

/// CloudWatch namespace of the producer's metrics; `infra/` alarms on them.
pub const METRIC_NAMESPACE: &str = metric::NAMESPACE;

/// The counts of one run (or of an invocation that could not start one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunMetrics {
    /// Lines pulled from Spotify.
    pub records_pulled: usize,
    /// Lines Firehose accepted.
    pub records_delivered: usize,
    /// Re-sends after partial failures.
    pub records_resent: usize,
    /// Lines never sent (over Firehose's record size limit).
    pub records_rejected: usize,
    /// Lines not accepted within the sink's attempts.
    pub records_failed: usize,
    /// 1 when the run does not count as a success ([`RunReport::exit_ok`] is false) or could
    /// not start at all.
    pub runs_failed: usize,
    /// 1 when Spotify refused the refresh token (`invalid_grant`): someone must run
    /// `tracklake auth` again.
    pub reauthorization_required: usize,
    /// 1 when the run ended early because Spotify asked for a pause longer than a run waits: a
    /// `QUOTA_EXCEEDED` answer or a long `Retry-After`, both of which persist a not-before time.
    pub quota_stops: usize,
    /// HTTP requests to Spotify, token requests and retries included.
    pub spotify_requests: usize,
    /// 1 when the invocation ran nothing because another one holds the run lock
    /// ([`crate::state::lock`]). Not a failure: the other invocation does the work.
    pub runs_skipped: usize,
    /// 1 when the invocation ran nothing because the secret holds no refresh token yet (the
    /// user has not run `tracklake auth --secret-id <arn>`). Not a failure either.
    pub awaiting_authorization: usize,
}

impl RunMetrics {
    /// The metrics as (name, value) pairs, in the contract's order.
    pub fn pairs(&self) -> [(&'static str, usize); 11] {
        [
            (metric::RECORDS_PULLED, self.records_pulled),
            (metric::RECORDS_DELIVERED, self.records_delivered),
            (metric::RECORDS_RESENT, self.records_resent),
            (metric::RECORDS_REJECTED, self.records_rejected),
            (metric::RECORDS_FAILED, self.records_failed),
            (metric::RUNS_FAILED, self.runs_failed),
            (metric::REAUTHORIZATION_REQUIRED, self.reauthorization_required),
            (metric::QUOTA_STOPS, self.quota_stops),
            (metric::SPOTIFY_REQUESTS, self.spotify_requests),
            (metric::RUNS_SKIPPED, self.runs_skipped),
            (metric::AWAITING_AUTHORIZATION, self.awaiting_authorization),
        ]
    }

    /// One EMF document with dimension `FunctionName`. Every metric is present, zero or not, so
    /// that alarms (and "no delivery" alarms in particular) always have data points.
    pub fn emf(&self, timestamp_ms: i64, function_name: &str) -> Value {
        schemas::emf::document(
            METRIC_NAMESPACE,
            metric::DIMENSION,
            function_name,
            timestamp_ms,
            self.pairs(),
        )
    }
}

impl From<&RunReport> for RunMetrics {
    fn from(report: &RunReport) -> Self {
        let t = &report.totals;
        RunMetrics {
            records_pulled: t.pulled,
            records_delivered: t.delivered,
            records_resent: t.resent,
            records_rejected: t.rejected,
            records_failed: t.failed,
            runs_failed: usize::from(!report.exit_ok()),
            reauthorization_required: usize::from(report.reauthorization_required),
            quota_stops: usize::from(report.not_before.is_some()),
            spotify_requests: t.requests as usize,
            runs_skipped: 0,
            awaiting_authorization: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_metrics_are_those_of_names_json() {
        let mut declared: Vec<&str> = metric::ALL
            .into_iter()
            .filter(|n| ![metric::NAMESPACE, metric::DIMENSION].contains(n))
            .collect();
        let mut written: Vec<&str> = RunMetrics::default().pairs().map(|(name, _)| name).to_vec();
        declared.sort_unstable();
        written.sort_unstable();
        assert_eq!(written, declared);
    }

    #[test]
    fn the_emf_document_declares_every_metric_it_carries() {
        let metrics = RunMetrics {
            records_pulled: 3,
            records_delivered: 2,
            records_failed: 1,
            runs_failed: 1,
            ..RunMetrics::default()
        };
        let doc = metrics.emf(1_700_000_000_000, "tracklake-producer");
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "tracklake/producer");
        assert_eq!(declared["Dimensions"], json!([["FunctionName"]]));
        let names: Vec<&str> = declared["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 11);
        for name in names {
            assert!(doc[name].is_u64(), "{name} declared but not set: {doc}");
        }
        assert_eq!(doc["FunctionName"], "tracklake-producer");
        assert_eq!(doc["RecordsPulled"], 3);
        assert_eq!(doc["RecordsFailed"], 1);
        assert_eq!(doc["QuotaStops"], 0);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
