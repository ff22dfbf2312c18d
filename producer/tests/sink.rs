//! Integration tests of the Firehose sink: the real aws-sdk-firehose client against a local
//! stand-in that speaks the Firehose protocol and enforces its limits. Index:
//! - `test_support::fake_firehose`: the stand-in; PutRecordBatch over AWS JSON 1.1, the
//!   real per-call limits, a scripted answer per call, a log of every call;
//! - `delivers_*`: packing within 500 records and 4 MiB per call, byte-identical delivery;
//! - `resends_only_*`: per-record partial failures, and a record that never gets through;
//! - `throttling_*`: whole-call throttling, ridden out or given up on within the bound;
//! - `sdk_retries_*`: how the SDK's own retries add to the sink's, and stay bounded;
//! - `never_sends_*`: a record over 1,000 KiB is rejected, not sent;
//! - `stops_*`: a non-retryable error (no such stream) ends the run without a retry storm;
//! - `from_env_*`: the standard SDK configuration picks the endpoint, and SDK retries are off.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_firehose::config::retry::RetryConfig;
use producer::sink::{FirehoseSink, RejectReason, SinkConfig, SinkError, SinkReport, MAX_RECORD_BYTES};
use spotify_client::backoff::Backoff;
use test_support::fake_firehose::{FakeFirehose, Reply};

const STREAM: &str = "tracklake-raw";
/// The per-call limits, written out again rather than taken from the code under test.
const FIREHOSE_MAX_RECORDS: usize = 500;
const FIREHOSE_MAX_CALL_BYTES: usize = 4 * 1024 * 1024;

/// Millisecond backoff keeps the suite fast; the policy is the same as in production.
fn fast(max_attempts: u32, max_in_flight: usize) -> SinkConfig {
    SinkConfig {
        retry: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts,
        },
        max_in_flight,
        call_timeout: Duration::from_secs(10),
    }
}

/// A small envelope-like line, distinct for every `n`.
fn small(n: usize) -> Vec<u8> {
    format!("{{\"v\":1,\"source\":\"search\",\"n\":{n}}}\n").into_bytes()
}

/// FNV-1a: a fixed hash, so which records fail does not change from run to run.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The report without its per-record lists, which run to thousands of lines.
fn summary(report: &SinkReport) -> String {
    format!(
        "given {}, delivered {}, resent {}, calls {}, rejected {}, failed {} (first: {:?}), fatal: {:?}",
        report.given,
        report.delivered,
        report.resent,
        report.calls,
        report.rejected.len(),
        report.failed.len(),
        report.failed.first(),
        report.fatal
    )
}

fn assert_accounted(report: &SinkReport) {
    assert!(
        report.is_accounted(),
        "given {} != delivered {} + rejected {} + failed {}",
        report.given,
        report.delivered,
        report.rejected.len(),
        report.failed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_record_byte_identical_within_the_per_call_limits() {
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let mut records: Vec<Vec<u8>> = (0..1_234).map(small).collect();
    // Near-limit records, five of them in a row: together over 4 MiB, so bytes must cut a batch.
    for (k, at) in [100, 101, 102, 103, 104, 700].into_iter().enumerate() {
        let mut big = vec![b'a' + k as u8; MAX_RECORD_BYTES - k - 1];
        big.push(b'\n');
        records.insert(at, big);
    }
    let sink = FirehoseSink::new(firehose.client(), STREAM, fast(3, 3));
    let report = sink.send_all(records.clone()).await;

    assert!(report.all_delivered(), "{}", summary(&report));
    assert_accounted(&report);
    assert_eq!(
        (report.resent, report.rejected.len(), report.failed.len()),
        (0, 0, 0)
    );
    let calls = firehose.calls();
    assert_eq!(report.calls, calls.len());
    for call in &calls {
        assert_eq!(
            (call.status, call.stream.as_str()),
            (200, STREAM),
            "{:?}",
            call.error
        );
        assert!(call.records.len() <= FIREHOSE_MAX_RECORDS);
        assert!(call.records.iter().map(Vec::len).sum::<usize>() <= FIREHOSE_MAX_CALL_BYTES);
    }
    assert!(
        calls.iter().any(|c| c.records.len() == FIREHOSE_MAX_RECORDS),
        "batches are filled"
    );
    let mut arrived: HashMap<&[u8], usize> = HashMap::new();
    for record in calls.iter().flat_map(|c| &c.records) {
        *arrived.entry(record).or_default() += 1;
    }
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            arrived.get(record.as_slice()),
            Some(&1),
            "record {i} did not arrive exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_only_the_failed_records_and_reports_the_one_that_never_gets_through() {
    let records: Vec<Vec<u8>> = (0..1_234).map(small).collect();
    let poison_index = 777;
    let poison = records[poison_index].clone();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let firehose = FakeFirehose::start(STREAM, move |_, batch| {
        let outcomes = batch
            .iter()
            .map(|data| {
                let first_time = seen.insert(data.clone());
                let fails = *data == poison || (first_time && fnv(data) % 10 < 3);
                fails.then(|| ("ServiceUnavailableException", "Slow down.".to_owned()))
            })
            .collect();
        Reply::Records(outcomes)
    })
    .await;
    let max_attempts = 4;
    let sink = FirehoseSink::new(firehose.client(), STREAM, fast(max_attempts, 3));
    let report = sink.send_all(records.clone()).await;

    assert_accounted(&report);
    assert_eq!(report.delivered, records.len() - 1);
    assert!(report.rejected.is_empty() && report.fatal.is_none());
    let [failed] = report.failed.as_slice() else {
        panic!("expected one failed record: {}", summary(&report))
    };
    assert_eq!((failed.index, failed.attempts), (poison_index, max_attempts));
    assert_eq!(failed.error_code, "ServiceUnavailableException");
    assert_eq!(failed.error_message, "Slow down.");

    let calls = firehose.calls();
    let mut accepted: HashSet<&[u8]> = HashSet::new();
    let mut sent: HashMap<&[u8], u32> = HashMap::new();
    let mut failed_first_time = 0;
    for call in &calls {
        assert_eq!(call.status, 200);
        for (record, ok) in call.records.iter().zip(&call.accepted) {
            assert!(
                !accepted.contains(record.as_slice()),
                "a record was sent again after it was accepted"
            );
            let times = sent.entry(record).or_default();
            *times += 1;
            if *ok {
                accepted.insert(record);
            } else if *times == 1 {
                failed_first_time += 1;
            }
        }
    }
    assert!(
        failed_first_time > 300,
        "the script failed only {failed_first_time} records"
    );
    assert_eq!(sent[records[poison_index].as_slice()], max_attempts);
    assert_eq!(accepted.len(), records.len() - 1);
    let total_sent: usize = calls.iter().map(|c| c.records.len()).sum();
    assert_eq!(report.resent, total_sent - records.len());
    assert_eq!(report.calls, calls.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_of_whole_calls_is_ridden_out_in_a_bounded_number_of_calls() {
    let throttled_calls = 4;
    let firehose = FakeFirehose::start(STREAM, move |n, records| {
        if n < throttled_calls {
            Reply::throttled()
        } else {
            Reply::accept_all(records)
        }
    })
    .await;
    let records: Vec<Vec<u8>> = (0..1_234).map(small).collect();
    let sink = FirehoseSink::new(firehose.client(), STREAM, fast(6, 2));
    let report = sink.send_all(records).await;

    assert!(report.all_delivered(), "{}", summary(&report));
    assert_accounted(&report);
    let calls = firehose.calls();
    // Three batches plus one call per throttle. The SDK does not retry Firehose's 400
    // ServiceUnavailableException, so what the server saw is exactly what the sink made.
    assert_eq!(calls.len(), 3 + throttled_calls);
    assert_eq!(report.calls, calls.len());
    let throttled_records: usize = calls
        .iter()
        .filter(|c| c.status == 400)
        .map(|c| c.records.len())
        .sum();
    assert_eq!(report.resent, throttled_records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_that_never_ends_gives_up_after_max_attempts_per_batch() {
    let firehose = FakeFirehose::start(STREAM, |_, _| Reply::throttled()).await;
    let records: Vec<Vec<u8>> = (0..1_234).map(small).collect();
    let max_attempts = 3;
    let sink = FirehoseSink::new(firehose.client(), STREAM, fast(max_attempts, 2));
    let report = sink.send_all(records).await;

    assert_accounted(&report);
    assert_eq!(report.delivered, 0);
    assert!(report.fatal.is_none(), "throttling is retryable, not fatal");
    assert_eq!(firehose.calls().len(), 3 * max_attempts as usize);
    assert_eq!(report.calls, firehose.calls().len());
    assert!(report
        .failed
        .iter()
        .all(|f| f.error_code == "ServiceUnavailableException" && f.attempts == max_attempts));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_retries_of_5xx_happen_inside_one_sink_call_and_stay_bounded() {
    let failing = 3;
    let firehose = FakeFirehose::start(STREAM, move |n, records| {
        if n < failing {
            Reply::Error {
                status: 503,
                code: "ServiceUnavailable",
                message: "Try again.",
            }
        } else {
            Reply::accept_all(records)
        }
    })
    .await;
    let sdk_attempts = 2;
    let sdk_retry = RetryConfig::standard()
        .with_max_attempts(sdk_attempts)
        .with_initial_backoff(Duration::from_millis(1));
    let sink = FirehoseSink::new(firehose.client_with_sdk_retries(sdk_retry), STREAM, fast(3, 1));
    let report = sink.send_all((0..10).map(small).collect()).await;

    assert!(report.all_delivered(), "{}", summary(&report));
    // Sink call 1 = two HTTP 503s (the SDK retried once); sink call 2 = a 503 and a success.
    let calls = firehose.calls();
    assert_eq!((report.calls, calls.len()), (2, 4));
    assert!(calls.len() <= report.calls * sdk_attempts as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_sends_a_record_over_1000_kib_and_reports_it_rejected() {
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let mut records: Vec<Vec<u8>> = (0..10).map(small).collect();
    let too_large = vec![b'x'; MAX_RECORD_BYTES + 1];
    records.insert(5, too_large.clone());
    let sink = FirehoseSink::new(firehose.client(), STREAM, fast(3, 2));
    let report = sink.send_all(records).await;

    assert_accounted(&report);
    assert_eq!((report.delivered, report.failed.len()), (10, 0));
    let [rejected] = report.rejected.as_slice() else {
        panic!("expected one rejected record: {}", summary(&report))
    };
    assert_eq!(rejected.index, 5);
    assert_eq!(
        rejected.reason,
        RejectReason::TooLarge {
            bytes: MAX_RECORD_BYTES + 1,
            limit: MAX_RECORD_BYTES
        }
    );
    assert!(
        rejected.reason.to_string().contains("1024001 bytes"),
        "{}",
        rejected.reason
    );
    assert!(firehose
        .calls()
        .iter()
        .flat_map(|c| &c.records)
        .all(|r| r.len() <= MAX_RECORD_BYTES));

    // Alone, it causes no call at all.
    let before = firehose.calls().len();
    let report = sink.send_all(vec![too_large]).await;
    assert_eq!((report.calls, report.rejected.len(), report.delivered), (0, 1, 0));
    assert_eq!(firehose.calls().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_at_once_when_the_stream_does_not_exist() {
    let firehose = FakeFirehose::start(STREAM, |_, records| Reply::accept_all(records)).await;
    let records: Vec<Vec<u8>> = (0..2_500).map(small).collect();
    let max_in_flight = 2;
    // Slow backoff, so a retry of the fatal error would likely show in the elapsed time too
    // (full jitter makes that likely, not certain; the call count below is the firm check).
    let mut config = fast(5, max_in_flight);
    config.retry.base = Duration::from_secs(1);
    config.retry.cap = Duration::from_secs(1);
    let sink = FirehoseSink::new(firehose.client(), "no-such-stream", config);
    let started = Instant::now();
    let report = sink.send_all(records).await;

    assert!(
        started.elapsed() < Duration::from_millis(900),
        "took {:?}",
        started.elapsed()
    );
    assert_accounted(&report);
    assert_eq!((report.delivered, report.failed.len()), (0, 2_500));
    let Some(SinkError::StreamNotFound { stream, .. }) = &report.fatal else {
        panic!("expected StreamNotFound: {}", summary(&report))
    };
    assert_eq!(stream, "no-such-stream");
    let message = report.fatal.as_ref().unwrap().to_string();
    assert!(
        message.contains("`no-such-stream` does not exist") && message.contains("create it"),
        "{message}"
    );
    // Five batches, but only the calls already in flight when the first answer came back.
    let calls = firehose.calls();
    assert!(calls.len() <= max_in_flight, "{} calls", calls.len());
    assert_eq!(report.calls, calls.len());
    assert!(report
        .failed
        .iter()
        .all(|f| ["ResourceNotFoundException", "Aborted"].contains(&f.error_code.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_env_follows_aws_endpoint_url_firehose_and_leaves_retries_to_the_sink() {
    let firehose = FakeFirehose::start(STREAM, |n, records| {
        if n == 0 {
            Reply::Error {
                status: 503,
                code: "ServiceUnavailable",
                message: "Try again.",
            }
        } else {
            Reply::accept_all(records)
        }
    })
    .await;
    // The only test in this binary that reads the environment, so setting it here races nothing.
    // Static values keep the SDK from looking for profiles or instance metadata.
    for (name, value) in [
        ("AWS_ENDPOINT_URL_FIREHOSE", firehose.endpoint()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ] {
        std::env::set_var(name, value);
    }
    let sink = FirehoseSink::from_env(STREAM, fast(3, 1)).await;
    let report = sink.send_all((0..10).map(small).collect()).await;

    assert!(report.all_delivered(), "{}", summary(&report));
    // With the SDK's retries on, the 503 would have been retried inside the first sink call.
    assert_eq!((report.calls, firehose.calls().len()), (2, 2));
}
