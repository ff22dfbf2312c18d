use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, TimestampMillisecondType};
use firehose_transform::sample::envelope_line;
use local_firehose::{BufferHints, BufferingOverrides, FirehoseConfig, Processor};
use serde_json::{json, Value};

use crate::support::{b64, client, fields, fixture_event_records, fixture_lines, send_all, unb64, Lake};

/// What the real transform makes of `lines`: (record_key, source, dt) of each `Ok` record.
fn expected_rows(lines: &[Vec<u8>]) -> BTreeSet<(String, String, String)> {
    let event = firehose_transform::FirehoseEvent {
        invocation_id: "expected".into(),
        delivery_stream_arn: "arn".into(),
        region: "us-east-1".into(),
        records: lines
            .iter()
            .enumerate()
            .map(|(i, l)| firehose_transform::FirehoseRecord {
                record_id: i.to_string(),
                approximate_arrival_timestamp: 0,
                data: b64(l),
            })
            .collect(),
    };
    let response: firehose_transform::FirehoseResponse =
        serde_json::from_str(firehose_transform::process(&event).response.get()).unwrap();
    response
        .records
        .into_iter()
        .filter(|r| r.result == firehose_transform::RecordResult::Ok)
        .map(|r| {
            let row: Value = serde_json::from_slice(&unb64(&r.data)).unwrap();
            let keys = r.metadata.unwrap().partition_keys;
            (
                row["record_key"].as_str().unwrap().to_owned(),
                keys["source"].clone(),
                keys["dt"].clone(),
            )
        })
        .collect()
}

fn strip_nullability(dt: &DataType) -> DataType {
    match dt {
        DataType::List(f) => DataType::List(Arc::new(Field::new(
            f.name(),
            strip_nullability(f.data_type()),
            true,
        ))),
        other => other.clone(),
    }
}

#[test]
fn glue_derived_schema_agrees_with_the_schema_crate() {
    let converter = local_firehose::Converter::from_glue(schemas::glue::table());
    let from_glue = converter.schema();
    let from_avro = schemas::arrow::arrow_schema();
    let names =
        |s: &arrow::datatypes::Schema| s.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
    assert_eq!(names(&from_glue), names(&from_avro));
    for (g, a) in from_glue.fields().iter().zip(from_avro.fields()) {
        // Hive columns are all nullable, so the Parquet columns are too; types must match.
        assert_eq!(
            strip_nullability(g.data_type()),
            strip_nullability(a.data_type()),
            "column {}",
            g.name()
        );
        assert!(g.is_nullable());
    }
}

// Multi-threaded, as `tracklake` runs it: the CPU-heavy steps then leave the runtime's threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_backup_parquet_partitions_and_processing_failures() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let client = client(&firehose);
    let mut lines: Vec<Vec<u8>> = (0..60).map(envelope_line).collect();
    lines.extend(fixture_lines("sources.envelopes.jsonl"));
    lines.extend(fixture_lines("playlist_shapes.envelopes.jsonl"));
    let invalid = fixture_event_records("invalid.event.json");
    lines.extend(invalid.iter().cloned());
    send_all(&client, firehose.stream_name(), &lines).await;
    let stats = firehose.flush().await.unwrap();

    // Every record is accounted for, and nothing is left in flight after a flush.
    assert_eq!(stats.records_received, lines.len() as u64);
    assert_eq!(stats.in_flight, 0);
    assert!(stats.is_accounted(), "{stats:?}");
    assert_eq!(stats.records_backed_up, lines.len() as u64);

    // Raw backup: gzip objects under raw/yyyy/MM/dd/HH/, holding every record as sent.
    let raw_keys = lake.keys("raw/");
    assert!(!raw_keys.is_empty());
    let mut backed_up = Vec::new();
    for key in &raw_keys {
        assert!(key.ends_with(".gz"), "{key}");
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(lake.read(key).as_slice())
            .read_to_end(&mut text)
            .unwrap();
        backed_up.extend(text);
    }
    assert_eq!(
        backed_up,
        lines.concat(),
        "the backup holds the records as sent, in order"
    );

    // Parquet: the Glue schema, one folder per partition, Firehose object names, expected rows.
    let expected = expected_rows(&lines);
    let glue_schema = local_firehose::Converter::from_glue(schemas::glue::table()).schema();
    let stream = firehose.stream_name().to_owned();
    let mut seen = BTreeSet::new();
    for (key, batch) in lake.parquet() {
        assert_eq!(batch.schema().fields(), glue_schema.fields(), "{key}");
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 4, "{key}");
        assert_eq!(parts[0], "processed");
        let source = parts[1].strip_prefix("source=").unwrap();
        let dt = parts[2].strip_prefix("dt=").unwrap();
        let name = parts[3];
        assert!(
            name.starts_with(&format!("{stream}-1-")) && name.ends_with(".parquet"),
            "{name}"
        );
        let stamp = &name[stream.len() + 3..stream.len() + 3 + 19];
        assert!(
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d-%H-%M-%S").is_ok(),
            "{name}"
        );
        let keys = batch.column_by_name("record_key").unwrap().as_string::<i32>();
        let event_at = batch
            .column_by_name("event_at")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>();
        for i in 0..batch.num_rows() {
            let day = chrono::DateTime::from_timestamp_millis(event_at.value(i))
                .unwrap()
                .format("%Y-%m-%d")
                .to_string();
            assert_eq!(day, dt, "dt is the UTC date of event_at");
            seen.insert((keys.value(i).to_owned(), source.to_owned(), dt.to_owned()));
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(stats.delivered as usize, expected.len());
    assert_eq!(stats.transformed["Ok"] as usize, expected.len());
    assert_eq!(
        stats.delivered_per_partition.values().sum::<u64>(),
        stats.delivered
    );

    // ProcessingFailed records: the documented fields, the original bytes, the Lambda's ARN.
    let docs = lake.error_docs("processing-failed");
    assert_eq!(docs.len() as u64, stats.transformed["ProcessingFailed"]);
    assert_eq!(stats.errored["processing-failed"], docs.len() as u64);
    assert!(!docs.is_empty());
    for doc in &docs {
        assert_eq!(
            fields(doc),
            [
                "arrivalTimestamp",
                "attemptEndingTimestamp",
                "attemptsMade",
                "errorCode",
                "errorMessage",
                "lambdaArn",
                "rawData"
            ]
        );
        assert_eq!(doc["errorCode"], "Lambda.ProcessingFailedStatus");
        assert_eq!(doc["attemptsMade"], 1);
        assert!(doc["lambdaArn"].as_str().unwrap().starts_with("arn:aws:lambda:"));
        assert!(doc["attemptEndingTimestamp"].as_i64() >= doc["arrivalTimestamp"].as_i64());
        assert!(invalid.contains(&unb64(doc["rawData"].as_str().unwrap())));
    }
    let error_keys = lake.keys("errors/processing-failed/");
    let today = chrono::Utc::now().format("%Y/%m/%d").to_string();
    assert!(
        error_keys[0].starts_with(&format!("errors/processing-failed/{today}/{stream}-1-")),
        "{error_keys:?}"
    );
    assert_eq!(stats.dropped, stats.transformed["Dropped"]);
    assert!(stats.dropped > 0);
    firehose.shutdown().await.unwrap();
}

/// A processor that answers like firehose-transform, then lets `edit` change the answer.
fn edited(edit: impl Fn(&mut Value) + Send + Sync + 'static) -> Processor {
    let real = Processor::firehose_transform();
    Processor::new(move |event| {
        let mut response: Value = serde_json::from_slice(&real.invoke(event)?).unwrap();
        edit(&mut response);
        Ok(serde_json::to_vec(&response).unwrap())
    })
}

#[tokio::test]
async fn unconvertible_records_go_to_format_conversion_failed() {
    let lake = Lake::new();
    // The second record of each batch comes back Ok with a timestamp the SerDe cannot read.
    let bad_row = json!({"record_key": "bad", "event_at": "yesterday", "Track_Name": "x"}).to_string() + "\n";
    let bad_data = b64(bad_row.as_bytes());
    let firehose = local_firehose::start(FirehoseConfig {
        processor: edited(move |response| {
            let r = &mut response["records"][1];
            r["result"] = json!("Ok");
            r["data"] = json!(bad_data);
            r["metadata"] = json!({"partitionKeys": {"source": "search", "dt": "2026-11-24"}});
        }),
        ..lake.config()
    })
    .await
    .unwrap();
    let lines: Vec<Vec<u8>> = (0..10).map(envelope_line).collect();
    send_all(&client(&firehose), firehose.stream_name(), &lines).await;
    let stats = firehose.shutdown().await.unwrap();
    assert!(stats.is_accounted(), "{stats:?}");

    let docs = lake.error_docs("format-conversion-failed");
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(
        fields(doc),
        [
            "arrivalTimestamp",
            "attemptEndingTimestamp",
            "attemptsMade",
            "dataCatalogTable",
            "lastErrorCode",
            "lastErrorMessage",
            "rawData"
        ]
    );
    assert_eq!(doc["lastErrorCode"], "DataFormatConversion.MalformedData");
    assert!(
        doc["lastErrorMessage"].as_str().unwrap().contains("event_at"),
        "{doc}"
    );
    assert_eq!(unb64(doc["rawData"].as_str().unwrap()), bad_row.as_bytes());
    let table = &doc["dataCatalogTable"];
    assert_eq!(
        fields(table),
        ["catalogId", "databaseName", "region", "tableName", "versionId"]
    );
    assert_eq!(table["tableName"], schemas::delivery::settings().glue_table);
    assert_eq!(stats.errored["format-conversion-failed"], 1);
    assert_eq!(stats.delivered + stats.dropped + 1, 10);
}

#[tokio::test]
async fn a_missing_record_id_fails_the_whole_invocation_after_retries() {
    let lake = Lake::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let firehose = local_firehose::start(FirehoseConfig {
        processor: edited(move |response| {
            counter.fetch_add(1, Ordering::SeqCst);
            response["records"].as_array_mut().unwrap().pop();
        }),
        ..lake.config()
    })
    .await
    .unwrap();
    let lines: Vec<Vec<u8>> = (0..5).map(envelope_line).collect();
    send_all(&client(&firehose), firehose.stream_name(), &lines).await;
    let stats = firehose.shutdown().await.unwrap();

    let attempts = schemas::delivery::settings().processor_retries as usize + 1;
    assert_eq!(calls.load(Ordering::SeqCst), attempts);
    assert_eq!(
        (stats.invocations as usize, stats.invocations_failed as usize),
        (attempts, attempts)
    );
    let docs = lake.error_docs("processing-failed");
    assert_eq!(docs.len(), lines.len(), "every record of the batch fails");
    for doc in &docs {
        assert_eq!(doc["errorCode"], "Lambda.MissingRecordId");
        assert_eq!(doc["attemptsMade"], attempts);
    }
    let raw: BTreeSet<Vec<u8>> = docs
        .iter()
        .map(|d| unb64(d["rawData"].as_str().unwrap()))
        .collect();
    assert_eq!(raw, lines.iter().cloned().collect());
    assert!(lake.keys("processed/").is_empty());
    assert!(stats.is_accounted(), "{stats:?}");
}

#[tokio::test]
async fn duplicated_record_ids_and_bad_results_fail_with_their_codes_and_a_retry_can_succeed() {
    for (edit, code) in [
        (
            Box::new(|r: &mut Value| {
                let first = r["records"][0].clone();
                r["records"].as_array_mut().unwrap().push(first);
            }) as Box<dyn Fn(&mut Value) + Send + Sync>,
            "Lambda.DuplicatedRecordId",
        ),
        (
            Box::new(|r: &mut Value| r["records"][0]["result"] = json!("Fine")),
            "Lambda.JsonProcessingException",
        ),
    ] {
        let lake = Lake::new();
        let firehose = local_firehose::start(FirehoseConfig {
            processor: edited(edit),
            ..lake.config()
        })
        .await
        .unwrap();
        send_all(
            &client(&firehose),
            firehose.stream_name(),
            &[envelope_line(0), envelope_line(1)],
        )
        .await;
        let stats = firehose.shutdown().await.unwrap();
        let docs = lake.error_docs("processing-failed");
        assert_eq!(docs.len(), 2);
        assert!(docs.iter().all(|d| d["errorCode"] == code), "{docs:?}");
        assert!(stats.is_accounted());
    }

    // A function that fails once: Firehose retries, and the records are delivered.
    let lake = Lake::new();
    let failed_once = Arc::new(Mutex::new(false));
    let real = Processor::firehose_transform();
    let firehose = local_firehose::start(FirehoseConfig {
        processor: Processor::new(move |event| {
            let mut failed = failed_once.lock().unwrap();
            if !*failed {
                *failed = true;
                return Err("Task timed out after 300.00 seconds".into());
            }
            real.invoke(event)
        }),
        ..lake.config()
    })
    .await
    .unwrap();
    send_all(&client(&firehose), firehose.stream_name(), &[envelope_line(0)]).await;
    let stats = firehose.shutdown().await.unwrap();
    assert_eq!(
        (stats.invocations, stats.invocations_failed, stats.delivered),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn records_beyond_500_active_partitions_go_to_active_partition_exceeded() {
    let lake = Lake::new();
    let limit = local_firehose::DEFAULT_ACTIVE_PARTITION_LIMIT;
    // Every record gets a partition of its own: the dt of its record index.
    let firehose = local_firehose::start(FirehoseConfig {
        processor: edited(|response| {
            for r in response["records"].as_array_mut().unwrap() {
                let id = r["recordId"].as_str().unwrap().to_owned();
                r["metadata"]["partitionKeys"]["dt"] = json!(format!("p{id}"));
            }
        }),
        ..lake.config()
    })
    .await
    .unwrap();
    let total = limit + 20;
    let lines: Vec<Vec<u8>> = (0..total).map(|i| envelope_line(i * 5 + 3)).collect(); // all top_tracks: Ok
    send_all(&client(&firehose), firehose.stream_name(), &lines).await;
    let stats = firehose.shutdown().await.unwrap();
    assert_eq!(stats.delivered as usize, limit);
    assert_eq!(stats.delivered_per_partition.len(), limit);
    assert_eq!(stats.errored["activePartitionExceeded"] as usize, total - limit);
    let docs = lake.error_docs("activePartitionExceeded");
    assert_eq!(docs.len(), total - limit);
    assert!(docs[0]["rawData"].is_string());
    assert!(stats.is_accounted(), "{stats:?}");
}

/// What the processor saw of one invocation: decoded bytes and record ids.
type Batch = (usize, Vec<String>);

#[tokio::test]
async fn processor_batches_are_real_events_within_the_processor_buffer() {
    let lake = Lake::new();
    let buffer = 20_000;
    let seen: Arc<Mutex<Vec<Batch>>> = Arc::default();
    let log = seen.clone();
    let real = Processor::firehose_transform();
    let firehose = local_firehose::start(FirehoseConfig {
        buffering: BufferingOverrides {
            processor: Some(BufferHints {
                size_bytes: buffer,
                interval: Duration::from_secs(3600),
            }),
            ..lake.config().buffering
        },
        processor: Processor::new(move |event| {
            let parsed: Value = serde_json::from_slice(event).unwrap();
            assert!(parsed["invocationId"].is_string());
            assert!(parsed["deliveryStreamArn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:firehose:"));
            assert_eq!(parsed["region"], "us-east-1");
            let records = parsed["records"].as_array().unwrap();
            let bytes = records
                .iter()
                .map(|r| unb64(r["data"].as_str().unwrap()).len())
                .sum();
            assert!(records
                .iter()
                .all(|r| r["approximateArrivalTimestamp"].as_i64().unwrap() > 1_700_000_000_000));
            let ids = records
                .iter()
                .map(|r| r["recordId"].as_str().unwrap().to_owned())
                .collect();
            log.lock().unwrap().push((bytes, ids));
            real.invoke(event)
        }),
        ..lake.config()
    })
    .await
    .unwrap();
    let lines: Vec<Vec<u8>> = (0..100).map(envelope_line).collect();
    send_all(&client(&firehose), firehose.stream_name(), &lines).await;
    let stats = firehose.shutdown().await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 1, "more than one batch");
    assert!(
        seen.iter().all(|(bytes, _)| *bytes <= buffer),
        "batches within the processor buffer"
    );
    let ids: Vec<&String> = seen.iter().flat_map(|(_, ids)| ids).collect();
    assert_eq!(ids.len(), 100);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 100, "each record once");
    assert!(stats.is_accounted());
}

#[tokio::test]
async fn buffer_intervals_deliver_without_a_flush() {
    let lake = Lake::new();
    let soon = BufferHints {
        size_bytes: 64 * 1024 * 1024,
        interval: Duration::from_millis(100),
    };
    let firehose = local_firehose::start(FirehoseConfig {
        buffering: BufferingOverrides {
            processed: Some(soon),
            raw_backup: Some(soon),
            processor: Some(soon),
        },
        ..lake.config()
    })
    .await
    .unwrap();
    send_all(&client(&firehose), firehose.stream_name(), &[envelope_line(3)]).await;
    // Generous: this waits for background delivery, it does not measure it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while firehose.stats().delivered == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = firehose.stats();
    assert_eq!((stats.delivered, stats.records_backed_up), (1, 1), "{stats:?}");
    assert_eq!(lake.keys("processed/").len(), 1);
    firehose.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_flushes_every_buffer() {
    let lake = Lake::new();
    let firehose = local_firehose::start(lake.config()).await.unwrap();
    let lines: Vec<Vec<u8>> = (0..25).map(envelope_line).collect();
    send_all(&client(&firehose), firehose.stream_name(), &lines).await;
    assert!(
        lake.keys("").is_empty(),
        "nothing is written before a buffer fills"
    );
    let stats = firehose.shutdown().await.unwrap();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(
        stats.delivered as usize,
        lake.parquet().iter().map(|(_, b)| b.num_rows()).sum::<usize>()
    );
    assert_eq!(stats.records_backed_up, 25);
    let per_partition: BTreeMap<String, u64> = stats.delivered_per_partition.clone();
    for partition in per_partition.keys() {
        assert!(
            lake.keys(&format!("processed/{partition}/")).len() == 1,
            "{partition}"
        );
    }
    assert!(stats.is_accounted());
}

#[test]
fn parquet_columns_hold_the_transform_output() {
    // One converted row read back: lists, dates and timestamps survive the round trip.
    let converter = local_firehose::Converter::from_glue(schemas::glue::table());
    let line = fixture_lines("sources.envelopes.jsonl")[0].clone();
    let rows = expected_rows(std::slice::from_ref(&line));
    assert_eq!(rows.len(), 1);
    let event = firehose_transform::FirehoseEvent {
        invocation_id: "i".into(),
        delivery_stream_arn: "a".into(),
        region: "r".into(),
        records: vec![firehose_transform::FirehoseRecord {
            record_id: "0".into(),
            approximate_arrival_timestamp: 0,
            data: b64(&line),
        }],
    };
    let response: firehose_transform::FirehoseResponse =
        serde_json::from_str(firehose_transform::process(&event).response.get()).unwrap();
    let data = unb64(&response.records[0].data);
    let converted = converter.convert(&[data.as_slice()]);
    assert!(converted.failed.is_empty(), "{:?}", converted.failed);
    let body = local_firehose::convert::write_parquet(&converted.batch).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes_of(body))
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let json: Value = serde_json::from_slice(&data).unwrap();
    let artists = batch.column_by_name("artist_names").unwrap().as_list::<i32>();
    assert_eq!(
        artists.value(0).as_string::<i32>().value(0),
        json["artist_names"][0].as_str().unwrap()
    );
    let release = batch.column_by_name("album_release_date").unwrap();
    let release =
        arrow::util::display::ArrayFormatter::try_new(release.as_ref(), &Default::default()).unwrap();
    assert_eq!(
        release.value(0).to_string(),
        json["album_release_date"].as_str().unwrap()
    );
    let popularity = batch.column_by_name("popularity").unwrap();
    assert_eq!(popularity.is_null(0), json["popularity"].is_null());
}

fn bytes_of(body: Vec<u8>) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &body).unwrap();
    std::io::Seek::rewind(&mut file).unwrap();
    file
}
