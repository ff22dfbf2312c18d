//! The invocation's summary: the summary log line's `summary` field and the Lambda's response,
//! as serde structs.

use serde::Serialize;
use serde_json::Value;

use super::{Invocation, Skipped};

/// [`Invocation::summary`] of an invocation that ran nothing (skipped, or failed before a run).
#[derive(Serialize)]
struct NoRunSummary {
    ok: bool,
    ran: bool,
    skipped: Option<&'static str>,
    awaiting_authorization: bool,
    error: Option<String>,
    /// Why it ran nothing, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// Only when another invocation holds the run lock (null: the lock's expiry is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_expires_at: Option<Option<String>>,
}

/// [`Invocation::summary`] of an invocation that ran.
#[derive(Serialize)]
struct RunSummary<'a> {
    ok: bool,
    ran: bool,
    skipped: Option<&'static str>,
    awaiting_authorization: bool,
    started_at: String,
    deferred_until: Option<String>,
    /// Why a run did nothing (a persisted not-before): said, though the invocation succeeds.
    idle: Option<String>,
    pulled: usize,
    delivered: usize,
    resent: usize,
    rejected: usize,
    failed: usize,
    spotify_requests: u32,
    retries: u32,
    waits: u32,
    not_before: Option<String>,
    /// Why the run stopped before pulling every due source.
    stopped_early: Option<String>,
    /// The partition pacing held the library backfill back (not an error).
    backfill_paused: Option<String>,
    reauthorization_required: bool,
    spotify_unavailable: bool,
    refresh_token_stored: bool,
    sources: Vec<SourceSummary<'a>>,
    requests: std::collections::BTreeMap<&'a str, RequestSummary>,
    error: Option<String>,
}

#[derive(Serialize)]
struct SourceSummary<'a> {
    source: &'static str,
    outcome: String,
    pulled: usize,
    delivered: usize,
    resent: usize,
    rejected: usize,
    failed: usize,
    truncated: bool,
    error: Option<&'a str>,
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct RequestSummary {
    requests: u32,
    retries: u32,
    throttled: u32,
    waits: u32,
    wait_ms: u64,
}

impl Invocation {
    /// The run as one JSON object: the summary log line's `summary` field and the Lambda's
    /// response. Error messages only, never a secret. Every response has `ok` (false: the
    /// invocation is an error), `ran` (a run over the state took place), `skipped` (why not:
    /// `run_in_progress`, `awaiting_authorization`, or null), `awaiting_authorization` and
    /// `error`; a run adds its counts.
    pub fn summary(&self) -> Value {
        let error = self.error.as_ref().map(|e| crate::logging::error_chain(e));
        let Some(report) = &self.report else {
            let skipped = self.skipped.as_ref();
            return serde_json::to_value(NoRunSummary {
                ok: error.is_none(),
                ran: false,
                skipped: skipped.map(Skipped::reason),
                awaiting_authorization: matches!(skipped, Some(Skipped::AwaitingAuthorization { .. })),
                error,
                message: skipped.map(Skipped::message),
                lock_expires_at: match skipped {
                    Some(Skipped::RunInProgress { lock_expires_at, .. }) => {
                        Some(lock_expires_at.map(|t| t.to_rfc3339()))
                    }
                    _ => None,
                },
            })
            .expect("the summary serializes");
        };
        let t = &report.totals;
        serde_json::to_value(RunSummary {
            ok: report.exit_ok() && self.error.is_none(),
            ran: true,
            skipped: None,
            awaiting_authorization: false,
            started_at: report.started_at.to_rfc3339(),
            deferred_until: report.deferred_until.map(|t| t.to_rfc3339()),
            idle: report.idle_reason(),
            pulled: t.pulled,
            delivered: t.delivered,
            resent: t.resent,
            rejected: t.rejected,
            failed: t.failed,
            spotify_requests: t.requests,
            retries: t.retries,
            waits: t.waits,
            not_before: report.not_before.map(|t| t.to_rfc3339()),
            stopped_early: report.stopped_early.clone(),
            backfill_paused: report.backfill_paused(),
            reauthorization_required: report.reauthorization_required,
            spotify_unavailable: report.spotify_unavailable,
            refresh_token_stored: self.refresh_token_stored,
            sources: report
                .sources
                .iter()
                .map(|s| SourceSummary {
                    source: s.source.as_str(),
                    outcome: format!("{:?}", s.outcome),
                    pulled: s.pulled,
                    delivered: s.delivered,
                    resent: s.resent,
                    rejected: s.rejected,
                    failed: s.failed,
                    truncated: s.truncated,
                    error: s.error.as_deref(),
                    note: s.note.as_deref(),
                })
                .collect(),
            requests: report
                .requests
                .iter()
                .map(|(endpoint, r)| {
                    let stats = RequestSummary {
                        requests: r.requests,
                        retries: r.retries,
                        throttled: r.throttled,
                        waits: r.waits,
                        wait_ms: r.wait_time.as_millis() as u64,
                    };
                    (endpoint.as_str(), stats)
                })
                .collect(),
            error,
        })
        .expect("the summary serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunReport;

    /// A persisted not-before that lies ahead: the invocation succeeds (it is pacing, not a
    /// failure, and a failed invocation would be retried and alarm) and its response and log line
    /// say why nothing ran and until when. The report is the one `run_once` returns for it
    /// (`producer/tests/run.rs` checks that); built by hand here to test the summary alone.
    #[test]
    fn a_deferred_lambda_run_succeeds_and_says_why() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let until = chrono::DateTime::parse_from_rfc3339("2099-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let report = RunReport {
            started_at: now,
            deferred_until: Some(until),
            sources: Vec::new(),
            requests: Default::default(),
            totals: Default::default(),
            not_before: None,
            stopped_early: None,
            spotify_unavailable: false,
            reauthorization_required: false,
            error: None,
        };
        let invocation = Invocation {
            report: Some(report),
            error: None,
            refresh_token_stored: false,
            skipped: None,
        };
        let summary = invocation.summary();
        assert_eq!(summary["ok"], true, "{summary}");
        assert_eq!(summary["error"], Value::Null, "{summary}");
        let idle = summary["idle"]
            .as_str()
            .unwrap_or_else(|| panic!("no reason: {summary}"));
        assert!(idle.contains("until 2099-01-01T00:00:00+00:00"), "{idle}");
        assert!(idle.contains("no request"), "{idle}");
    }
}
