//! Delivery as Firehose does it, in one task that owns every buffer:
//!
//! 1. each received record is appended to the source-record backup buffer (written gzip, as
//!    received, under the raw backup prefix) and to the processor buffer;
//! 2. the processor buffer is sent to the transformation function in batches within the
//!    processor buffer size (and Lambda's 6 MB request limit), as a real transformation event;
//!    the answer is validated (see [`crate::processor`]); `Dropped` records end there,
//!    `ProcessingFailed` ones and those of a failed invocation go to `processing-failed`;
//! 3. `Ok` records are partitioned by their `metadata.partitionKeys` into the processed prefix;
//!    a record that would open partition number `active_partition_limit + 1` goes to
//!    `activePartitionExceeded`, one without a key the prefix needs to `partitioning-failed`
//!    (a name of ours: Firehose documents the folder of the first only);
//! 4. a partition buffer that reaches the buffering size or interval is converted to Parquet
//!    with the Glue columns; records that do not convert go to `format-conversion-failed`;
//! 5. error documents are written one JSON document per line, one object per error type and step.
//!
//! A failed object write is retried a few times, then queued and retried at the next flush, so
//! no record is lost; its records stay counted as in flight until the write succeeds. Each
//! written object tells the [`Journal`] which records it finished; a flush seals the journal's
//! open segment.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::convert::Converter;
use crate::journal::Journal;
use crate::naming::{object_name, Template, Values};
use crate::processor::{self, Event, EventRecord, InvocationError, Outcome, Processor};
use crate::store::ObjectStore;
use crate::{BufferHints, DeliveryStats, FirehoseConfig, FirehoseError};

/// Error output types [Firehose developer guide: data transformation and record format
/// conversion failure handling, dynamic partitioning buffering].
pub const PROCESSING_FAILED: &str = "processing-failed";
pub const FORMAT_CONVERSION_FAILED: &str = "format-conversion-failed";
pub const ACTIVE_PARTITION_EXCEEDED: &str = "activePartitionExceeded";
pub const PARTITIONING_FAILED: &str = "partitioning-failed";
/// The error codes of the last two (ours; Firehose does not document them).
pub const ACTIVE_PARTITIONS_LIMIT_EXCEEDED: &str = "DynamicPartitioning.ActivePartitionsLimitExceeded";
pub const MISSING_PARTITION_KEY: &str = "DynamicPartitioning.MissingPartitionKey";
/// Attempts at one object write before it is queued for the next flush.
const WRITE_ATTEMPTS: u32 = 3;
const WRITE_RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Per-record overhead of the transformation event's JSON beyond its base64 data, generously.
const EVENT_RECORD_OVERHEAD: usize = 160;
/// Bounds of the background check of buffer intervals.
const TICK_MIN: Duration = Duration::from_millis(10);
const TICK_MAX: Duration = Duration::from_secs(1);

/// One record as received.
#[derive(Debug)]
pub struct Incoming {
    /// The journal's number of the record (set when it is journaled).
    pub seq: u64,
    pub id: String,
    pub arrival_ms: i64,
    pub data: Vec<u8>,
}

/// Work for the delivery task.
pub enum Msg {
    Records(Vec<Incoming>),
    /// Deliver the buffers whose interval has passed.
    Tick,
    /// Deliver every buffer, then answer.
    Flush(oneshot::Sender<Result<(), FirehoseError>>),
    Stop,
}

#[derive(Default)]
struct Buffer {
    records: Vec<Arc<Incoming>>,
    bytes: usize,
    /// Size of the transformation event so far (processor buffer only).
    event_bytes: usize,
    opened: Option<Instant>,
}

impl Buffer {
    fn push(&mut self, record: Arc<Incoming>) {
        self.bytes += record.data.len();
        self.event_bytes += record.data.len().div_ceil(3) * 4 + record.id.len() + EVENT_RECORD_OVERHEAD;
        self.opened.get_or_insert_with(Instant::now);
        self.records.push(record);
    }

    fn take(&mut self) -> Vec<Arc<Incoming>> {
        self.bytes = 0;
        self.event_bytes = 0;
        self.opened = None;
        std::mem::take(&mut self.records)
    }

    fn due(&self, hints: &BufferHints) -> bool {
        self.opened.is_some_and(|t| t.elapsed() >= hints.interval)
    }
}

/// A record the processor answered `Ok`.
struct Transformed {
    source: Arc<Incoming>,
    data: Vec<u8>,
}

struct Partition {
    keys: BTreeMap<String, String>,
    rows: Vec<Transformed>,
    bytes: usize,
    opened: Instant,
}

/// An object to write and what its success means for the counters.
struct PendingObject {
    key: String,
    body: Vec<u8>,
    kind: ObjectKind,
    records: u64,
    /// The journal numbers of the records this object finishes a step of.
    seqs: Vec<u64>,
}

enum ObjectKind {
    RawBackup,
    Parquet { partition: String },
    ErrorOutput { error_type: String },
}

/// `processing-failed` document [Firehose developer guide, "Handle failure in data transformation"].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcessingFailedDoc<'a> {
    attempts_made: u32,
    arrival_timestamp: i64,
    error_code: &'a str,
    error_message: &'a str,
    attempt_ending_timestamp: i64,
    raw_data: String,
    lambda_arn: &'a str,
}

/// `format-conversion-failed` document [Firehose developer guide, "Handling errors for data
/// format conversion"]. `sequenceNumber` only exists for a Kinesis stream source.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FormatConversionFailedDoc<'a> {
    attempts_made: u32,
    arrival_timestamp: i64,
    last_error_code: &'a str,
    last_error_message: &'a str,
    attempt_ending_timestamp: i64,
    raw_data: String,
    data_catalog_table: &'a CatalogTable,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct CatalogTable {
    catalog_id: String,
    database_name: String,
    table_name: String,
    region: String,
    version_id: String,
}

/// Documents of a dynamic partitioning failure: the processing-failed fields minus the Lambda.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartitioningFailedDoc<'a> {
    attempts_made: u32,
    arrival_timestamp: i64,
    error_code: &'a str,
    error_message: &'a str,
    attempt_ending_timestamp: i64,
    raw_data: String,
    partition_keys: &'a BTreeMap<String, String>,
}

/// Error documents of one step, per error type: (oldest arrival, lines, journal numbers).
#[derive(Default)]
struct ErrorBatch {
    by_type: BTreeMap<&'static str, (i64, Vec<u8>, Vec<u64>)>,
}

impl ErrorBatch {
    fn add(&mut self, error_type: &'static str, source: &Incoming, doc: &impl Serialize) {
        let entry = self
            .by_type
            .entry(error_type)
            .or_insert((source.arrival_ms, Vec::new(), Vec::new()));
        entry.0 = entry.0.min(source.arrival_ms);
        serde_json::to_writer(&mut entry.1, doc).expect("error documents serialize");
        entry.1.push(b'\n');
        entry.2.push(source.seq);
    }
}

/// Runs CPU-heavy work (the transformation, the conversion) so that, on a multi-threaded
/// runtime, the HTTP side keeps answering meanwhile; on a current-thread runtime it just runs.
pub(crate) fn cpu<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub struct Pipeline {
    stream: String,
    stream_arn: String,
    region: String,
    lambda_arn: String,
    catalog: CatalogTable,
    retries: u32,
    processed_hints: BufferHints,
    raw_hints: BufferHints,
    processor_hints: BufferHints,
    processed_prefix: Template,
    error_prefix: Template,
    raw_prefix: Template,
    active_partition_limit: usize,
    converter: Converter,
    processor: Processor,
    store: Arc<dyn ObjectStore>,
    stats: Arc<Mutex<DeliveryStats>>,
    journal: Arc<Journal>,
    raw: Buffer,
    batch: Buffer,
    partitions: HashMap<String, Partition>,
    pending: Vec<PendingObject>,
}

impl Pipeline {
    pub fn new(
        config: &FirehoseConfig,
        store: Arc<dyn ObjectStore>,
        stats: Arc<Mutex<DeliveryStats>>,
        journal: Arc<Journal>,
    ) -> Result<Self, FirehoseError> {
        let s = &config.settings;
        let error_prefix = Template::parse(&s.error_output_prefix)?;
        if !error_prefix.uses_error_output_type() || error_prefix.partition_keys().next().is_some() {
            return Err(FirehoseError::Settings {
                message: format!(
                    "error_output_prefix `{}` must contain !{{firehose:error-output-type}} and no partition key",
                    s.error_output_prefix
                ),
            });
        }
        let processed_prefix = Template::parse(&s.processed_prefix)?;
        let (processed_hints, raw_hints, processor_hints) = config.hints();
        Ok(Self {
            stream: s.stream_name.clone(),
            stream_arn: config.stream_arn(),
            region: config.region.clone(),
            lambda_arn: config.lambda_arn(),
            catalog: CatalogTable {
                catalog_id: crate::LOCAL_ACCOUNT_ID.into(),
                database_name: config.glue_database.clone(),
                table_name: config.glue_table.table_input.name.clone(),
                region: config.region.clone(),
                // The stream reads the table with VersionId LATEST.
                version_id: "LATEST".into(),
            },
            retries: s.processor_retries,
            processed_hints,
            raw_hints,
            processor_hints,
            processed_prefix,
            error_prefix,
            raw_prefix: Template::parse(&s.raw_backup_prefix)?,
            active_partition_limit: config.active_partition_limit,
            // Conversion is the delivery's heaviest work: use every core, as Firehose's fleet would.
            converter: Converter::from_glue(&config.glue_table)
                .with_threads(std::thread::available_parallelism().map_or(1, |n| n.get())),
            processor: config.processor.clone(),
            store,
            stats,
            journal,
            raw: Buffer::default(),
            batch: Buffer::default(),
            partitions: HashMap::new(),
            pending: Vec::new(),
        })
    }

    /// How often the buffers' intervals are checked.
    pub fn tick_interval(&self) -> Duration {
        let shortest = [&self.processed_hints, &self.raw_hints, &self.processor_hints]
            .iter()
            .map(|h| h.interval)
            .min()
            .unwrap_or(TICK_MAX);
        (shortest / 4).clamp(TICK_MIN, TICK_MAX)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, DeliveryStats> {
        self.stats.lock().expect("stats lock")
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Records(records) => self.receive(records).await,
                Msg::Tick => self.tick().await,
                Msg::Flush(done) => {
                    let _ = done.send(self.flush().await);
                }
                Msg::Stop => break,
            }
        }
    }

    async fn receive(&mut self, records: Vec<Incoming>) {
        {
            let mut stats = self.stats();
            stats.records_received += records.len() as u64;
            stats.in_flight += records.len() as u64;
        }
        for record in records {
            let record = Arc::new(record);
            self.raw.push(record.clone());
            if self.raw.bytes >= self.raw_hints.size_bytes {
                self.deliver_raw().await;
            }
            // Invoke before the batch would outgrow the processor buffer or Lambda's request.
            let grows_to = self.batch.bytes + record.data.len();
            let event_grows_to =
                self.batch.event_bytes + record.data.len().div_ceil(3) * 4 + EVENT_RECORD_OVERHEAD;
            if !self.batch.records.is_empty()
                && (grows_to > self.processor_hints.size_bytes
                    || event_grows_to > processor::MAX_INVOCATION_BYTES)
            {
                self.invoke().await;
            }
            self.batch.push(record);
            if self.batch.bytes >= self.processor_hints.size_bytes {
                self.invoke().await;
            }
        }
    }

    async fn tick(&mut self) {
        self.journal.seal_if_old();
        if self.raw.due(&self.raw_hints) {
            self.deliver_raw().await;
        }
        if self.batch.due(&self.processor_hints) {
            self.invoke().await;
        }
        let interval = self.processed_hints.interval;
        let due: Vec<String> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.opened.elapsed() >= interval)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.deliver_partition(&key).await;
        }
    }

    async fn flush(&mut self) -> Result<(), FirehoseError> {
        let retry = std::mem::take(&mut self.pending);
        for object in retry {
            self.put(object).await;
        }
        self.deliver_raw().await;
        self.invoke().await;
        let mut keys: Vec<String> = self.partitions.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.deliver_partition(&key).await;
        }
        self.journal.seal();
        match self.pending.first() {
            None => Ok(()),
            Some(first) => Err(FirehoseError::Write {
                key: first.key.clone(),
                message: format!(
                    "{} object(s) could not be written to {}",
                    self.pending.len(),
                    self.store.describe()
                ),
            }),
        }
    }

    async fn deliver_raw(&mut self) {
        let records = self.raw.take();
        let Some(oldest) = records.iter().map(|r| r.arrival_ms).min() else {
            return;
        };
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for r in &records {
            gz.write_all(&r.data).expect("writing to memory");
        }
        let body = gz.finish().expect("writing to memory");
        let values = Values {
            oldest_arrival: at(oldest),
            error_output_type: None,
            partition_keys: None,
        };
        let key = format!(
            "{}{}",
            self.raw_prefix.evaluate(&values),
            object_name(&self.stream, at(oldest), ".gz")
        );
        self.put(PendingObject {
            key,
            body,
            kind: ObjectKind::RawBackup,
            records: records.len() as u64,
            seqs: records.iter().map(|r| r.seq).collect(),
        })
        .await;
    }

    /// Sends the processor batch to the transformation function and routes each answer.
    async fn invoke(&mut self) {
        let records = self.batch.take();
        if records.is_empty() {
            return;
        }
        let event = Event {
            invocation_id: crate::naming::uuid_v4(),
            delivery_stream_arn: &self.stream_arn,
            region: &self.region,
            records: records
                .iter()
                .map(|r| EventRecord {
                    record_id: &r.id,
                    approximate_arrival_timestamp: r.arrival_ms,
                    data: b64(&r.data),
                })
                .collect(),
        };
        let event = serde_json::to_vec(&event).expect("the event serializes");
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            let answer = cpu(|| self.processor.invoke(&event))
                .map_err(|message| InvocationError {
                    code: processor::FUNCTION_ERROR,
                    message,
                })
                .and_then(|response| processor::validate(&ids, &response));
            let mut stats = self.stats();
            stats.invocations += 1;
            match answer {
                Ok(outcomes) => break Ok(outcomes),
                Err(e) => {
                    stats.invocations_failed += 1;
                    tracing::warn!(code = e.code, message = %e.message, attempt = attempts, "transformation invocation failed");
                    if attempts > self.retries {
                        break Err(e);
                    }
                }
            }
        };
        let mut errors = ErrorBatch::default();
        let ended = now_ms();
        match result {
            Err(e) => {
                for r in &records {
                    errors.add(
                        PROCESSING_FAILED,
                        r,
                        &ProcessingFailedDoc {
                            attempts_made: attempts,
                            arrival_timestamp: r.arrival_ms,
                            error_code: e.code,
                            error_message: &e.message,
                            attempt_ending_timestamp: ended,
                            raw_data: b64(&r.data),
                            lambda_arn: &self.lambda_arn,
                        },
                    );
                }
            }
            Ok(outcomes) => {
                let mut full = Vec::new();
                for (record, outcome) in records.into_iter().zip(outcomes) {
                    let result = match &outcome {
                        Outcome::Ok { .. } => "Ok",
                        Outcome::Dropped => "Dropped",
                        Outcome::ProcessingFailed => "ProcessingFailed",
                    };
                    *self.stats().transformed.entry(result.into()).or_default() += 1;
                    match outcome {
                        Outcome::Dropped => {
                            {
                                let mut stats = self.stats();
                                stats.dropped += 1;
                                stats.in_flight -= 1;
                            }
                            self.journal.done([record.seq]);
                        }
                        Outcome::ProcessingFailed => errors.add(
                            PROCESSING_FAILED,
                            &record,
                            &ProcessingFailedDoc {
                                attempts_made: attempts,
                                arrival_timestamp: record.arrival_ms,
                                error_code: processor::PROCESSING_FAILED_STATUS,
                                error_message: processor::PROCESSING_FAILED_MESSAGE,
                                attempt_ending_timestamp: ended,
                                raw_data: b64(&record.data),
                                lambda_arn: &self.lambda_arn,
                            },
                        ),
                        Outcome::Ok { data, partition_keys } => {
                            if let Some(key) = self.partition(record, data, partition_keys, &mut errors) {
                                full.push(key);
                            }
                        }
                    }
                }
                for key in full {
                    self.deliver_partition(&key).await;
                }
            }
        }
        self.write_errors(errors).await;
    }

    /// Puts an `Ok` record in its partition buffer; returns the partition when it is full.
    fn partition(
        &mut self,
        source: Arc<Incoming>,
        data: Vec<u8>,
        keys: BTreeMap<String, String>,
        errors: &mut ErrorBatch,
    ) -> Option<String> {
        let id = match self.processed_prefix.partition(&keys) {
            Ok(id) => id,
            Err(missing) => {
                let message =
                    format!("partition key `{missing}` of the prefix is missing from metadata.partitionKeys");
                errors.add(
                    PARTITIONING_FAILED,
                    &source,
                    &PartitioningFailedDoc {
                        attempts_made: 1,
                        arrival_timestamp: source.arrival_ms,
                        error_code: MISSING_PARTITION_KEY,
                        error_message: &message,
                        attempt_ending_timestamp: now_ms(),
                        raw_data: b64(&data),
                        partition_keys: &keys,
                    },
                );
                return None;
            }
        };
        if !self.partitions.contains_key(&id) && self.partitions.len() >= self.active_partition_limit {
            let message = format!(
                "the stream already has {} active partitions, its limit",
                self.active_partition_limit
            );
            errors.add(
                ACTIVE_PARTITION_EXCEEDED,
                &source,
                &PartitioningFailedDoc {
                    attempts_made: 1,
                    arrival_timestamp: source.arrival_ms,
                    error_code: ACTIVE_PARTITIONS_LIMIT_EXCEEDED,
                    error_message: &message,
                    attempt_ending_timestamp: now_ms(),
                    raw_data: b64(&data),
                    partition_keys: &keys,
                },
            );
            return None;
        }
        let partition = self.partitions.entry(id.clone()).or_insert_with(|| Partition {
            keys,
            rows: Vec::new(),
            bytes: 0,
            opened: Instant::now(),
        });
        partition.bytes += data.len();
        partition.rows.push(Transformed { source, data });
        (partition.bytes >= self.processed_hints.size_bytes).then_some(id)
    }

    /// Converts one partition's buffer to Parquet and writes it; failed rows go to the error output.
    async fn deliver_partition(&mut self, id: &str) {
        let Some(partition) = self.partitions.remove(id) else {
            return;
        };
        let rows = partition.rows;
        let converted = cpu(|| {
            self.converter
                .convert(&rows.iter().map(|r| r.data.as_slice()).collect::<Vec<_>>())
        });
        let mut errors = ErrorBatch::default();
        let ended = now_ms();
        let mut failed = vec![false; rows.len()];
        for (i, e) in &converted.failed {
            failed[*i] = true;
            let row = &rows[*i];
            errors.add(
                FORMAT_CONVERSION_FAILED,
                &row.source,
                &FormatConversionFailedDoc {
                    attempts_made: 1,
                    arrival_timestamp: row.source.arrival_ms,
                    last_error_code: e.code,
                    last_error_message: &e.message,
                    attempt_ending_timestamp: ended,
                    raw_data: b64(&row.data),
                    data_catalog_table: &self.catalog,
                },
            );
        }
        let delivered: Vec<&Transformed> = rows
            .iter()
            .zip(&failed)
            .filter(|(_, f)| !**f)
            .map(|(r, _)| r)
            .collect();
        if let Some(oldest) = delivered.iter().map(|r| r.source.arrival_ms).min() {
            match cpu(|| self.converter.write_parquet(&converted.batch)) {
                Ok(body) => {
                    let values = Values {
                        oldest_arrival: at(oldest),
                        error_output_type: None,
                        partition_keys: Some(&partition.keys),
                    };
                    let key = format!(
                        "{}{}",
                        self.processed_prefix.evaluate(&values),
                        object_name(&self.stream, at(oldest), ".parquet")
                    );
                    self.put(PendingObject {
                        key,
                        body,
                        kind: ObjectKind::Parquet {
                            partition: id.trim_end_matches('/').to_owned(),
                        },
                        records: delivered.len() as u64,
                        seqs: delivered.iter().map(|r| r.source.seq).collect(),
                    })
                    .await;
                }
                Err(e) => {
                    // Not expected (the batch matches the schema); keep the records in the error output.
                    let message = format!("writing Parquet failed: {e}");
                    for row in delivered {
                        errors.add(
                            FORMAT_CONVERSION_FAILED,
                            &row.source,
                            &FormatConversionFailedDoc {
                                attempts_made: 1,
                                arrival_timestamp: row.source.arrival_ms,
                                last_error_code: "DataFormatConversion.SerializationFailed",
                                last_error_message: &message,
                                attempt_ending_timestamp: ended,
                                raw_data: b64(&row.data),
                                data_catalog_table: &self.catalog,
                            },
                        );
                    }
                }
            }
        }
        self.write_errors(errors).await;
    }

    async fn write_errors(&mut self, errors: ErrorBatch) {
        for (error_type, (oldest, body, seqs)) in errors.by_type {
            let values = Values {
                oldest_arrival: at(oldest),
                error_output_type: Some(error_type),
                partition_keys: None,
            };
            let key = format!(
                "{}{}",
                self.error_prefix.evaluate(&values),
                object_name(&self.stream, at(oldest), "")
            );
            self.put(PendingObject {
                key,
                body,
                kind: ObjectKind::ErrorOutput {
                    error_type: error_type.to_owned(),
                },
                records: seqs.len() as u64,
                seqs,
            })
            .await;
        }
    }

    /// Writes an object, retrying briefly; counts its records on success, queues it on failure.
    async fn put(&mut self, object: PendingObject) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.store.put(&object.key, object.body.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    self.stats().write_failures += 1;
                    tracing::warn!(error = %e, attempt, "object write failed");
                    if attempt >= WRITE_ATTEMPTS {
                        self.pending.push(object);
                        return;
                    }
                    tokio::time::sleep(WRITE_RETRY_PAUSE * attempt).await;
                }
            }
        }
        self.journal.done(object.seqs.iter().copied());
        let mut stats = self.stats();
        match object.kind {
            ObjectKind::RawBackup => {
                stats.records_backed_up += object.records;
                stats.objects.raw_backup += 1;
            }
            ObjectKind::Parquet { partition } => {
                stats.delivered += object.records;
                stats.in_flight -= object.records;
                *stats.delivered_per_partition.entry(partition).or_default() += object.records;
                stats.objects.parquet += 1;
            }
            ObjectKind::ErrorOutput { error_type } => {
                stats.in_flight -= object.records;
                *stats.errored.entry(error_type).or_default() += object.records;
                stats.objects.error_output += 1;
            }
        }
    }
}
