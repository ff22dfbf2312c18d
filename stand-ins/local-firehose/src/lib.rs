//! The local Firehose: an Amazon Data Firehose delivery stream on a loopback address, faithful
//! to the documented behaviour of the cloud stream that `schemas/delivery.json` describes, so
//! that what works locally works in the cloud.
//!
//! | step | module |
//! |---|---|
//! | AWS JSON 1.1 API: PutRecord, PutRecordBatch (limits, fault switch), DescribeDeliveryStream, ListDeliveryStreams | [`api`] |
//! | buffering, source-record backup, processor batches, dynamic partitioning, error output | [`pipeline`] |
//! | the transformation event and Firehose's validation of the answer | [`processor`] |
//! | JSON to Parquet with the Glue table's columns (OpenX JSON SerDe rules, snappy) | [`convert`] |
//! | prefixes (`!{...}` expressions) and object names | [`naming`] |
//! | local folder or S3 output | [`store`] |
//! | acknowledged records kept on disk until delivered, replayed after a crash | [`journal`] |
//!
//! ```no_run
//! # async fn demo() -> Result<(), local_firehose::FirehoseError> {
//! let firehose = local_firehose::start(local_firehose::FirehoseConfig::default()).await?;
//! // Point the AWS SDK at it: AWS_ENDPOINT_URL_FIREHOSE=<endpoint>, any region and credentials.
//! println!("{} serves {}", firehose.endpoint(), firehose.stream_name());
//! let stats = firehose.shutdown().await?; // flushes every buffer into ./lake
//! assert!(stats.is_accounted());
//! # Ok(()) }
//! ```

pub mod api;
pub mod convert;
pub mod journal;
pub mod naming;
pub mod pipeline;
pub mod processor;
pub mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemas::delivery::{Buffering, DeliverySettings};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use convert::Converter;
pub use processor::Processor;

/// Firehose allows 500 active partitions per stream by default [Firehose developer guide,
/// "Buffer data for dynamic partitioning"]; records beyond go to the error output as
/// `activePartitionExceeded`. The quota can be raised (to 5,000) on request, hence configurable.
pub const DEFAULT_ACTIVE_PARTITION_LIMIT: usize = 500;
/// The account in every ARN the local stream reports (AWS's documentation placeholder).
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";
/// The Glue database of the table, when none is configured.
pub const DEFAULT_GLUE_DATABASE: &str = "tracklake";
/// The name of the transformation Lambda in the reported ARNs, when none is configured.
pub const DEFAULT_LAMBDA_NAME: &str = "tracklake-firehose-transform";
/// The hidden folder of a folder output that holds each stream's journal (see [`journal`]);
/// hidden so that readers of the lake, like Hive and Trino, skip it.
pub const STATE_FOLDER: &str = ".firehose";
/// Pending batches between the API and the delivery task; a full queue slows the callers down.
const QUEUE_DEPTH: usize = 64;
/// How long shutdown waits for open HTTP connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything that can go wrong running the local Firehose.
#[derive(Debug, thiserror::Error)]
pub enum FirehoseError {
    #[error("could not listen on {addr}; choose another address, or port 0 for a free one")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid delivery settings: {message}; fix schemas/delivery.json or the configuration")]
    Settings { message: String },
    #[error("could not write object {key}: {message}; it stays queued and is retried on the next flush")]
    Write { key: String, message: String },
    #[error("the local Firehose has stopped; start a new one")]
    Stopped,
    #[error("journal {}: {message}", path.display())]
    Journal { path: PathBuf, message: String },
    #[error("another local Firehose is delivering this stream (it holds {}/lock); stop it, or give this one another lake or state folder", path.display())]
    Busy { path: PathBuf },
}

/// Where delivered objects go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A local folder; object `k` is the file `<folder>/k`.
    LocalDir(PathBuf),
    /// An S3 bucket, through the usual AWS configuration; `endpoint` for S3-compatible stores.
    S3 {
        bucket: String,
        endpoint: Option<String>,
    },
}

/// Buffering hints in bytes, for tests and demos that cannot wait for the cloud's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferHints {
    /// Deliver when the buffer holds this many bytes of record data...
    pub size_bytes: usize,
    /// ...or when its oldest record has waited this long, whichever comes first.
    pub interval: Duration,
}

impl From<Buffering> for BufferHints {
    fn from(b: Buffering) -> Self {
        Self {
            size_bytes: b.size_mib as usize * 1024 * 1024,
            interval: Duration::from_secs(b.interval_seconds.into()),
        }
    }
}

/// Overrides of the buffering hints of the delivery settings; `None` keeps the settings' value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferingOverrides {
    /// The Parquet output, per partition (`buffering`).
    pub processed: Option<BufferHints>,
    /// The source-record backup (`raw_backup_buffering`).
    pub raw_backup: Option<BufferHints>,
    /// Batches for the transformation Lambda (`processor_buffering`).
    pub processor: Option<BufferHints>,
}

/// How to run the local Firehose. `Default` is the checked-in cloud stream writing to `./lake`.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// Where to listen. Default `127.0.0.1:0`: a free loopback port (see [`LocalFirehose::endpoint`]).
    pub addr: SocketAddr,
    /// Stream name, prefixes, buffering hints and processor retries. Default
    /// `schemas::delivery::settings()`, the same definition the cloud stream is built from.
    pub settings: DeliverySettings,
    /// The Glue table whose columns the Parquet output has and whose name error documents carry.
    /// Default `schemas::glue::table()`, the checked-in definition the cloud stream converts with.
    pub glue_table: schemas::glue::TableDefinition,
    /// The Glue database named in `format-conversion-failed` documents.
    pub glue_database: String,
    /// Where objects go. Default `Output::LocalDir("lake")`.
    pub output: Output,
    /// Fraction (0.0-1.0) of PutRecordBatch records answered `ServiceUnavailableException`
    /// (and of PutRecord calls failed with it). Default 0.
    pub fault_rate: f64,
    /// Seed of the fault switch's random numbers, so a run can be repeated.
    pub seed: u64,
    /// Buffering hints that replace the settings' (the cloud's are minutes long).
    pub buffering: BufferingOverrides,
    /// Active partitions before records go to `activePartitionExceeded`. Default 500.
    pub active_partition_limit: usize,
    /// The transformation function. Default: `firehose_transform`, in process, through its JSON
    /// contract. Tests plug faulty ones here.
    pub processor: Processor,
    /// The region in ARNs and transformation events. Default `us-east-1`.
    pub region: String,
    /// The transformation Lambda's function name, for `lambdaArn` in error documents.
    pub lambda_name: String,
    /// The folder of the stream's journal, lock and temporary files (see [`journal`]). Default
    /// `None`: `<output folder>/.firehose/<stream>` for a folder output, and
    /// `<system temp>/tracklake-firehose/<bucket>/<stream>` for S3 (which a reboot may clear).
    pub state_dir: Option<PathBuf>,
}

impl Default for FirehoseConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            settings: schemas::delivery::settings(),
            glue_table: schemas::glue::table().clone(),
            glue_database: DEFAULT_GLUE_DATABASE.into(),
            output: Output::LocalDir(PathBuf::from("lake")),
            fault_rate: 0.0,
            seed: 0,
            buffering: BufferingOverrides::default(),
            active_partition_limit: DEFAULT_ACTIVE_PARTITION_LIMIT,
            processor: Processor::default(),
            region: "us-east-1".into(),
            lambda_name: DEFAULT_LAMBDA_NAME.into(),
            state_dir: None,
        }
    }
}

impl FirehoseConfig {
    pub fn stream_arn(&self) -> String {
        format!(
            "arn:aws:firehose:{}:{LOCAL_ACCOUNT_ID}:deliverystream/{}",
            self.region, self.settings.stream_name
        )
    }

    pub fn lambda_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{LOCAL_ACCOUNT_ID}:function:{}:$LATEST",
            self.region, self.lambda_name
        )
    }

    /// See [`FirehoseConfig::state_dir`].
    pub fn state_dir(&self) -> PathBuf {
        let stream = &self.settings.stream_name;
        match (&self.state_dir, &self.output) {
            (Some(dir), _) => dir.clone(),
            (None, Output::LocalDir(dir)) => dir.join(STATE_FOLDER).join(stream),
            (None, Output::S3 { bucket, .. }) => std::env::temp_dir()
                .join("tracklake-firehose")
                .join(bucket)
                .join(stream),
        }
    }

    pub(crate) fn hints(&self) -> (BufferHints, BufferHints, BufferHints) {
        let s = &self.settings;
        (
            self.buffering.processed.unwrap_or(s.buffering.into()),
            self.buffering.raw_backup.unwrap_or(s.raw_backup_buffering.into()),
            self.buffering.processor.unwrap_or(s.processor_buffering.into()),
        )
    }
}

/// Objects written, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectCounts {
    pub raw_backup: u64,
    pub parquet: u64,
    pub error_output: u64,
}

/// What happened to the records. Every received record is, at any moment, exactly one of:
/// dropped by the processor, delivered to Parquet, written to an error output, or in flight
/// (buffered or awaiting its write); see [`DeliveryStats::is_accounted`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStats {
    /// Records accepted by PutRecord / PutRecordBatch.
    pub records_received: u64,
    /// Of those, records a previous process acknowledged and did not deliver, read back from the
    /// journal at start.
    pub records_recovered: u64,
    /// Records refused with `ServiceUnavailableException` by the fault switch (never received).
    pub records_refused: u64,
    /// Records written to the source-record backup.
    pub records_backed_up: u64,
    /// Records per processor result (`Ok`, `Dropped`, `ProcessingFailed`); records of a failed
    /// invocation are not here but under `errored["processing-failed"]`.
    pub transformed: BTreeMap<String, u64>,
    /// Processor invocations, and how many of them failed (each failed one is retried).
    pub invocations: u64,
    pub invocations_failed: u64,
    /// Records the processor dropped.
    pub dropped: u64,
    /// Records written to Parquet, and per partition (`source=playlist/dt=2026-11-24`).
    pub delivered: u64,
    pub delivered_per_partition: BTreeMap<String, u64>,
    /// Records written to the error output, per error output type.
    pub errored: BTreeMap<String, u64>,
    /// Records buffered or waiting for their object to be written.
    pub in_flight: u64,
    pub objects: ObjectCounts,
    /// Object writes that failed (and were queued for retry).
    pub write_failures: u64,
}

impl DeliveryStats {
    pub fn errored_total(&self) -> u64 {
        self.errored.values().sum()
    }

    /// True when every received record is dropped, delivered, errored or in flight.
    pub fn is_accounted(&self) -> bool {
        self.records_received == self.dropped + self.delivered + self.errored_total() + self.in_flight
    }
}

/// A running local Firehose.
pub struct LocalFirehose {
    addr: SocketAddr,
    stream: String,
    queue: mpsc::Sender<pipeline::Msg>,
    stats: Arc<Mutex<DeliveryStats>>,
    server: JoinHandle<()>,
    stop_server: Option<oneshot::Sender<()>>,
    pipeline: JoinHandle<()>,
    ticker: JoinHandle<()>,
    journal: Arc<journal::Journal>,
}

/// Starts the endpoint and the delivery task. Returns once the port is bound.
pub async fn start(config: FirehoseConfig) -> Result<LocalFirehose, FirehoseError> {
    if !(0.0..=1.0).contains(&config.fault_rate) {
        return Err(FirehoseError::Settings {
            message: format!("fault_rate {} is not between 0 and 1", config.fault_rate),
        });
    }
    let state_dir = config.state_dir();
    let (journal, recovered) = journal::Journal::open(&state_dir)?;
    let journal = Arc::new(journal);
    let store: Arc<dyn store::ObjectStore> = match &config.output {
        Output::LocalDir(dir) => Arc::new(store::LocalDir::new(dir.clone(), journal::tmp_dir(&state_dir))),
        Output::S3 { bucket, endpoint } => {
            Arc::new(store::S3Store::new(bucket.clone(), endpoint.clone()).await)
        }
    };
    let stats = Arc::new(Mutex::new(DeliveryStats::default()));
    let pipeline = pipeline::Pipeline::new(&config, store, stats.clone(), journal.clone())?;
    let tick = pipeline.tick_interval();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| FirehoseError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| FirehoseError::Bind {
        addr: config.addr,
        source,
    })?;
    let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
    let pipeline = tokio::spawn(pipeline.run(rx));
    if !recovered.is_empty() {
        stats.lock().expect("stats lock").records_recovered += recovered.len() as u64;
        queue
            .send(pipeline::Msg::Records(recovered))
            .await
            .map_err(|_| FirehoseError::Stopped)?;
    }
    let ticker = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match queue.try_send(pipeline::Msg::Tick) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
        })
    };
    let app = api::router(api::ApiState::new(
        &config,
        queue.clone(),
        stats.clone(),
        journal.clone(),
    ));
    let (stop_server, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "local Firehose server failed");
        }
    });
    tracing::info!(%addr, stream = %config.settings.stream_name, "local Firehose listening");
    Ok(LocalFirehose {
        addr,
        stream: config.settings.stream_name.clone(),
        queue,
        stats,
        server,
        stop_server: Some(stop_server),
        pipeline,
        ticker,
        journal,
    })
}

impl LocalFirehose {
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_FIREHOSE` or the SDK's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// Delivers every buffer now: backup, processor batch, every partition, error output.
    pub async fn flush(&self) -> Result<DeliveryStats, FirehoseError> {
        let (done, result) = oneshot::channel();
        self.queue
            .send(pipeline::Msg::Flush(done))
            .await
            .map_err(|_| FirehoseError::Stopped)?;
        result.await.map_err(|_| FirehoseError::Stopped)??;
        Ok(self.stats())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DeliveryStats {
        self.stats.lock().expect("stats lock").clone()
    }

    /// Stops taking requests, flushes every buffer and stops the delivery task.
    pub async fn shutdown(mut self) -> Result<DeliveryStats, FirehoseError> {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        let flushed = self.flush().await;
        self.ticker.abort();
        let _ = self.queue.send(pipeline::Msg::Stop).await;
        let _ = (&mut self.pipeline).await;
        // Records left unfinished (a failed final write) stay in the journal for the next start.
        self.journal.close();
        flushed
    }
}
