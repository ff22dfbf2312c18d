//! The run report as people read it on stdout. Error texts come from the producer, whose errors
//! never carry a secret.

use std::fmt::Write;

use producer::run::{RunReport, SourceOutcome};

fn outcome(outcome: SourceOutcome) -> &'static str {
    match outcome {
        SourceOutcome::NotDue => "not due",
        SourceOutcome::Delivered => "delivered",
        SourceOutcome::Undelivered => "UNDELIVERED",
        SourceOutcome::PullFailed => "PULL FAILED",
        SourceOutcome::NotReached => "not reached",
        SourceOutcome::Skipped => "skipped",
        SourceOutcome::Paused => "paused",
    }
}

/// The report as text; [`result_line`] follows it once the delivery is known.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the `let _` keep clippy quiet without unwraps.
    let _ = writeln!(out, "run started {}", report.started_at.to_rfc3339());
    if let Some(why) = report.idle_reason() {
        let _ = writeln!(out, "deferred: {why}");
    }
    if !report.sources.is_empty() {
        let _ = writeln!(
            out,
            "{:<16} {:<12} {:>7} {:>9} {:>6} {:>8} {:>6}",
            "source", "outcome", "pulled", "delivered", "resent", "rejected", "failed"
        );
        for s in &report.sources {
            let _ = writeln!(
                out,
                "{:<16} {:<12} {:>7} {:>9} {:>6} {:>8} {:>6}{}",
                s.source.as_str(),
                outcome(s.outcome),
                s.pulled,
                s.delivered,
                s.resent,
                s.rejected,
                s.failed,
                if s.truncated {
                    "  (search stopped at the offset cap)"
                } else {
                    ""
                }
            );
        }
        for s in &report.sources {
            if let Some(error) = &s.error {
                let _ = writeln!(out, "  {}: {error}", s.source.as_str());
            }
            if let Some(note) = &s.note {
                let _ = writeln!(out, "  {}: {note}", s.source.as_str());
            }
        }
        let t = &report.totals;
        let _ = writeln!(
            out,
            "{:<16} {:<12} {:>7} {:>9} {:>6} {:>8} {:>6}",
            "total", "", t.pulled, t.delivered, t.resent, t.rejected, t.failed
        );
    }
    if !report.requests.is_empty() {
        let _ = writeln!(
            out,
            "{:<32} {:>8} {:>7} {:>9} {:>5} {:>9}",
            "endpoint", "requests", "retries", "throttled", "waits", "waited"
        );
        for (endpoint, stats) in &report.requests {
            let _ = writeln!(
                out,
                "{:<32} {:>8} {:>7} {:>9} {:>5} {:>8.1}s",
                endpoint,
                stats.requests,
                stats.retries,
                stats.throttled,
                stats.waits,
                stats.wait_time.as_secs_f64()
            );
        }
    }
    if let Some(not_before) = report.not_before {
        let _ = writeln!(
            out,
            "not before: {} (the next cycle waits until then)",
            not_before.to_rfc3339()
        );
    }
    if let Some(why) = &report.stopped_early {
        let _ = writeln!(out, "stopped early: {why}");
    }
    if report.reauthorization_required {
        let _ = writeln!(
            out,
            "Spotify refused the refresh token (expired or revoked): run `tracklake auth` again \
             (and unset SPOTIFY_REFRESH_TOKEN if it holds the old token)"
        );
    }
    if report.spotify_unavailable {
        let _ = writeln!(out, "Spotify kept failing (5xx or timeouts past the retry limit)");
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "error: {}", producer::logging::error_chain(error));
    }
    out
}

/// The last line of a cycle's report: whether it counts as a success. `run_ok` is the producer
/// run's verdict ([`RunReport::exit_ok`], and the local Firehose's flush), `error_records` the
/// records that reached the error output during the cycle: delivered to Firehose, but not to the
/// lake, so the cycle is not ok either.
pub fn result_line(run_ok: bool, error_records: u64) -> String {
    let verdict = match (run_ok, error_records) {
        (true, 0) => "ok".to_string(),
        (false, 0) => "FAILED (records undelivered or a source broken; see above)".to_string(),
        (true, n) => {
            format!("FAILED ({n} records reached the error output; see above, then `tracklake redrive`)")
        }
        (false, n) => format!(
            "FAILED (records undelivered or a source broken, and {n} records reached the error \
             output; see above)"
        ),
    };
    format!("result: {verdict}\n")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use producer::run::{RunTotals, SourceReport};
    use schemas::Source;
    use spotify_client::EndpointStats;

    use super::*;

    #[test]
    fn a_clean_stop_shows_the_endpoint_waits_and_the_not_before_time_and_stays_ok() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap();
        let report = RunReport {
            started_at: at,
            deferred_until: None,
            sources: vec![SourceReport {
                error: Some("quota exceeded".into()),
                note: Some("library backfill pending".into()),
                ..SourceReport::new(Source::SavedTracks, SourceOutcome::NotReached)
            }],
            requests: BTreeMap::from([(
                "/me/tracks".to_string(),
                EndpointStats {
                    requests: 3,
                    retries: 2,
                    throttled: 2,
                    waits: 2,
                    wait_time: Duration::from_millis(1500),
                },
            )]),
            totals: RunTotals::default(),
            not_before: Some(at + chrono::TimeDelta::hours(1)),
            stopped_early: Some("quota exceeded".into()),
            spotify_unavailable: false,
            reauthorization_required: false,
            error: None,
        };
        let text = render(&report);
        let endpoint: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("/me/tracks"))
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(endpoint, ["/me/tracks", "3", "2", "2", "2", "1.5s"], "{text}");
        assert!(text.contains("saved_tracks: quota exceeded"), "{text}");
        assert!(text.contains("saved_tracks: library backfill pending"), "{text}");
        assert!(text.contains("not before: 2026-11-24T09:00:00+00:00"), "{text}");
        assert!(text.contains("stopped early: quota exceeded"), "{text}");
        assert!(!text.contains("result:"), "{text}");
        assert_eq!(result_line(report.exit_ok(), 0), "result: ok\n");
    }

    #[test]
    fn records_in_the_error_output_fail_the_result_and_name_the_redrive() {
        let line = result_line(true, 12);
        assert!(
            line.starts_with("result: FAILED (12 records reached the error output"),
            "{line}"
        );
        assert!(line.contains("tracklake redrive"), "{line}");
        assert!(result_line(false, 3).contains("3 records reached the error output"));
        assert!(result_line(false, 0).starts_with("result: FAILED"));
    }
}
