//! Per-invocation counts: one summary log line and the same counts as CloudWatch metrics in
//! Embedded Metric Format (EMF), which CloudWatch Logs turns into metrics with no API call.

use schemas::names::transform_metrics as metric;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::normalize::{DropReason, FailReason};
use crate::process::Outcome;

/// CloudWatch namespace of the metrics; `infra/` alarms on them.
pub const METRIC_NAMESPACE: &str = metric::NAMESPACE;
/// How many failed records one invocation logs one by one; the summary counts them all.
pub const MAX_LOGGED_FAILURES: usize = 20;
/// Longest detail logged for a failed record: enough to name the field, never the payload.
pub const MAX_DETAIL_CHARS: usize = 300;

/// What happened to the records of one invocation.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub records: usize,
    pub ok: usize,
    pub dropped: usize,
    pub processing_failed: usize,
    /// Counts per reason, for `Dropped` and `ProcessingFailed` records.
    pub reasons: BTreeMap<&'static str, usize>,
    /// Base64 characters received and bytes of the response.
    pub request_data_bytes: usize,
    pub response_bytes: usize,
    /// The first [`MAX_LOGGED_FAILURES`] failures, for the log.
    #[serde(skip)]
    pub failures: Vec<FailureSample>,
}

/// One failed record, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSample {
    pub record_id: String,
    pub reason: &'static str,
    pub detail: String,
}

impl Summary {
    pub(crate) fn count(&mut self, record_id: &str, data_len: usize, outcome: &Outcome) {
        self.records += 1;
        self.request_data_bytes += data_len;
        match outcome {
            Outcome::Ok { .. } => self.ok += 1,
            Outcome::Dropped(reason) => {
                self.dropped += 1;
                *self.reasons.entry(reason.as_str()).or_default() += 1;
            }
            Outcome::Failed(failure) => {
                self.processing_failed += 1;
                *self.reasons.entry(failure.reason.as_str()).or_default() += 1;
                if self.failures.len() < MAX_LOGGED_FAILURES {
                    self.failures.push(FailureSample {
                        record_id: schemas::echo::bounded(record_id).into_owned(),
                        reason: failure.reason.as_str(),
                        detail: schemas::validate::clip(&failure.detail, MAX_DETAIL_CHARS).into_owned(),
                    });
                }
            }
        }
    }

    /// The counts as one EMF document (one JSON log line). Every metric is present, zero or not,
    /// so that alarms always have data points.
    pub fn emf(&self, timestamp_ms: i64, function_name: &str) -> Value {
        let mut metrics: Vec<(String, usize)> = vec![
            (metric::RECORDS.into(), self.records),
            (metric::RECORDS_OK.into(), self.ok),
            (metric::RECORDS_DROPPED.into(), self.dropped),
            (metric::RECORDS_PROCESSING_FAILED.into(), self.processing_failed),
        ];
        for reason in DropReason::ALL
            .map(DropReason::as_str)
            .into_iter()
            .chain(FailReason::ALL.map(FailReason::as_str))
        {
            metrics.push((
                format!("Reason.{reason}"),
                self.reasons.get(reason).copied().unwrap_or(0),
            ));
        }
        schemas::emf::document(
            METRIC_NAMESPACE,
            metric::DIMENSION,
            function_name,
            timestamp_ms,
            metrics,
        )
    }
}
