use aws_sdk_firehose::types::{DeliveryStreamStatus, ProcessorParameterName};

use crate::support::{client, record, Lake};
use local_firehose::api::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES};

#[tokio::test]
async fn describe_and_list_report_the_checked_in_stream() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let client = client(&firehose);
    let settings = schemas::delivery::settings();

    let out = client
        .describe_delivery_stream()
        .delivery_stream_name(firehose.stream_name())
        .send()
        .await
        .unwrap();
    let d = out.delivery_stream_description().unwrap();
    assert_eq!(d.delivery_stream_name(), settings.stream_name);
    assert_eq!(d.delivery_stream_status(), &DeliveryStreamStatus::Active);
    assert!(d
        .delivery_stream_arn()
        .ends_with(&format!("deliverystream/{}", settings.stream_name)));
    let s3 = d.destinations()[0].extended_s3_destination_description().unwrap();
    assert_eq!(s3.prefix(), Some(settings.processed_prefix.as_str()));
    assert_eq!(
        s3.error_output_prefix(),
        Some(settings.error_output_prefix.as_str())
    );
    assert_eq!(s3.s3_backup_mode().unwrap().as_str(), "Enabled");
    assert_eq!(
        s3.s3_backup_description().unwrap().prefix(),
        Some(settings.raw_backup_prefix.as_str())
    );
    let processor = &s3.processing_configuration().unwrap().processors()[0];
    let retries = processor
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == &ProcessorParameterName::LambdaNumberOfRetries)
        .unwrap();
    assert_eq!(retries.parameter_value(), settings.processor_retries.to_string());
    let conversion = s3.data_format_conversion_configuration().unwrap();
    assert_eq!(
        conversion.schema_configuration().unwrap().table_name(),
        Some(settings.glue_table.as_str())
    );
    assert!(s3
        .dynamic_partitioning_configuration()
        .unwrap()
        .enabled()
        .unwrap());

    let list = client.list_delivery_streams().send().await.unwrap();
    assert_eq!(
        list.delivery_stream_names(),
        std::slice::from_ref(&settings.stream_name)
    );

    let missing = client
        .describe_delivery_stream()
        .delivery_stream_name("no-such-stream")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
    firehose.shutdown().await.unwrap();
}

#[tokio::test]
async fn put_record_batch_limits_answer_the_real_errors() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let client = client(&firehose);
    let stream = firehose.stream_name().to_owned();
    let put = |records: Vec<Vec<u8>>| {
        client
            .put_record_batch()
            .delivery_stream_name(&stream)
            .set_records(Some(records.iter().map(|r| record(r)).collect()))
            .send()
    };

    // Over each limit by one: the whole call fails with InvalidArgumentException.
    let too_many = put(vec![b"{}\n".to_vec(); MAX_BATCH_RECORDS + 1])
        .await
        .unwrap_err()
        .into_service_error();
    assert!(too_many.is_invalid_argument_exception(), "{too_many:?}");
    let too_big = put(vec![vec![b'x'; MAX_RECORD_BYTES + 1]])
        .await
        .unwrap_err()
        .into_service_error();
    assert!(too_big.is_invalid_argument_exception(), "{too_big:?}");
    let per_record = MAX_BATCH_BYTES / 4 + 1;
    let call_too_big = put(vec![vec![b'x'; per_record]; 4])
        .await
        .unwrap_err()
        .into_service_error();
    assert!(call_too_big.is_invalid_argument_exception(), "{call_too_big:?}");
    let wrong_stream = client
        .put_record_batch()
        .delivery_stream_name("other")
        .records(record(b"{}\n"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(wrong_stream.is_resource_not_found_exception(), "{wrong_stream:?}");
    assert_eq!(firehose.stats().records_received, 0);

    // Exactly at each limit: accepted.
    let full = put(vec![b"{}\n".to_vec(); MAX_BATCH_RECORDS]).await.unwrap();
    assert_eq!(full.failed_put_count(), 0);
    assert_eq!(full.request_responses().len(), MAX_BATCH_RECORDS);
    let largest = put(vec![vec![b'x'; MAX_RECORD_BYTES]]).await.unwrap();
    assert_eq!(largest.failed_put_count(), 0);
    let stats = firehose.flush().await.unwrap();
    assert_eq!(stats.records_received, MAX_BATCH_RECORDS as u64 + 1);
    assert!(stats.is_accounted(), "{stats:?}");
    firehose.shutdown().await.unwrap();
}

#[tokio::test]
async fn fault_switch_fails_a_seeded_fraction_inside_a_200() {
    let mut patterns = Vec::new();
    for _ in 0..2 {
        let lake = Lake::new();
        let firehose = local_firehose::start(local_firehose::FirehoseConfig {
            fault_rate: 0.3,
            seed: 7,
            ..lake.config()
        })
        .await
        .unwrap();
        let client = client(&firehose);
        let out = client
            .put_record_batch()
            .delivery_stream_name(firehose.stream_name())
            .set_records(Some(
                (0..200).map(|i| record(format!("{i}\n").as_bytes())).collect(),
            ))
            .send()
            .await
            .unwrap();
        let responses = out.request_responses();
        assert_eq!(responses.len(), 200);
        let failed: Vec<bool> = responses.iter().map(|r| r.error_code().is_some()).collect();
        let n_failed = failed.iter().filter(|f| **f).count();
        assert_eq!(out.failed_put_count() as usize, n_failed);
        assert!(
            (30..90).contains(&n_failed),
            "{n_failed} of 200 failed at rate 0.3"
        );
        for r in responses {
            match r.error_code() {
                Some(code) => {
                    assert_eq!(code, "ServiceUnavailableException");
                    assert!(r.record_id().is_none());
                }
                None => assert!(r.record_id().is_some_and(|id| !id.is_empty())),
            }
        }
        let stats = firehose.shutdown().await.unwrap();
        assert_eq!(stats.records_received as usize, 200 - n_failed);
        assert_eq!(stats.records_refused as usize, n_failed);
        assert_eq!(stats.records_backed_up as usize, 200 - n_failed);
        patterns.push(failed);
    }
    assert_eq!(patterns[0], patterns[1], "the same seed fails the same records");
}

#[tokio::test]
async fn put_record_accepts_one_record_and_fails_whole_under_faults() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let out = client(&firehose)
        .put_record()
        .delivery_stream_name(firehose.stream_name())
        .record(record(b"{}\n"))
        .send()
        .await
        .unwrap();
    assert!(!out.record_id().is_empty());
    assert_eq!(firehose.flush().await.unwrap().records_received, 1);
    firehose.shutdown().await.unwrap();

    let lake = Lake::new();
    let firehose = local_firehose::start(local_firehose::FirehoseConfig {
        fault_rate: 1.0,
        ..lake.config()
    })
    .await
    .unwrap();
    let err = client(&firehose)
        .put_record()
        .delivery_stream_name(firehose.stream_name())
        .record(record(b"{}\n"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_service_unavailable_exception(), "{err:?}");
    let stats = firehose.shutdown().await.unwrap();
    assert_eq!((stats.records_received, stats.records_refused), (0, 1));
}

/// A stream name is echoed in ResourceNotFoundException; a 1 MB one is shown by its start and size.
#[tokio::test]
async fn a_1_mb_stream_name_is_bounded_in_the_error() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let client = client(&firehose);
    let name = "s".repeat(1_000_000);
    let missing = client
        .put_record_batch()
        .delivery_stream_name(&name)
        .records(record(b"{}\n"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
    let message = missing.meta().message().unwrap_or_default();
    assert!(message.len() < 1_000, "a message of {} bytes", message.len());
    assert!(message.contains("(1000000 bytes)"), "{message}");
    firehose.shutdown().await.unwrap();
}

/// Sends a raw `POST /` with `target` as `X-Amz-Target` (the SDK only sends targets it knows) and
/// returns the response body.
fn post_with_target(endpoint: &str, target: &str) -> String {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let body = "{}";
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    response.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[tokio::test]
async fn a_60_kb_x_amz_target_is_bounded() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let endpoint = firehose.endpoint();
    let target = format!("Firehose_20150804.{}", "T".repeat(60 * 1024));
    let body = tokio::task::spawn_blocking(move || post_with_target(&endpoint, &target))
        .await
        .unwrap();
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["__type"], "UnknownOperationException");
    let message = error["message"].as_str().unwrap();
    assert!(body.len() < 1_000, "an error body of {} bytes", body.len());
    assert!(
        message.contains(&format!("({} bytes)", 18 + 60 * 1024)),
        "{message}"
    );
    firehose.shutdown().await.unwrap();
}
