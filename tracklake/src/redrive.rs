//! `tracklake redrive`: sends the records of the error output through the stream again, once the
//! cause is fixed (docs/firehose.md#redrive).
//!
//! 1. Reads the error objects (`errors/<type>/...`, one JSON document per line) of the lake folder
//!    or the S3 bucket, and beside each its ledger `redriven/<key>`: the documents of that object
//!    an earlier redrive already sent.
//! 2. Recovers each document's original record: `processing-failed` holds it in `rawData`; the
//!    other types hold the transform's output, so the original is looked up in the raw backup by
//!    the `record_key` the current transform computes for each backed-up record.
//! 3. Sends each original once (several documents may hold the same record) through the
//!    producer's sink: to an in-process local Firehose for the lake folder, else to the configured
//!    stream.
//! 4. Only after the stream accepted them (and, locally, after the local Firehose wrote them)
//!    appends the sent documents to the object's ledger, then deletes an error object all of whose
//!    documents are in its ledger. Killed at any point, a re-run resends at most the documents not
//!    yet in a ledger, and loses none.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use firehose_transform::normalize::{normalize_bytes, Verdict};
use local_firehose::pipeline;
use producer::sink::FirehoseSink;

/// Where the ledgers live: `redriven/<error object key>`. Outside `errors/`, so that tools which
/// watch the error output (and the next redrive's listing) do not take a ledger for new errors.
pub const REDRIVEN_PREFIX: &str = "redriven/";
/// How far before a record's arrival its raw backup object may be named. Firehose names an
/// object after its oldest record and holds a backup buffer at most 900 s (docs/firehose.md#redrive);
/// a day leaves room for a local Firehose that only flushed at the end of a long run.
const RAW_LOOKBACK: TimeDelta = TimeDelta::hours(24);
/// Objects named per reason in the report; the counts are always complete.
const EXAMPLES_PER_REASON: usize = 3;

/// An error output type, as the folder under the error prefix names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum ErrorType {
    #[value(name = "processing-failed")]
    ProcessingFailed,
    #[value(name = "format-conversion-failed")]
    FormatConversionFailed,
    #[value(name = "activePartitionExceeded")]
    ActivePartitionExceeded,
    #[value(name = "partitioning-failed")]
    PartitioningFailed,
}

impl ErrorType {
    const ALL: [ErrorType; 4] = [
        ErrorType::ProcessingFailed,
        ErrorType::FormatConversionFailed,
        ErrorType::ActivePartitionExceeded,
        ErrorType::PartitioningFailed,
    ];

    pub fn folder(self) -> &'static str {
        match self {
            ErrorType::ProcessingFailed => pipeline::PROCESSING_FAILED,
            ErrorType::FormatConversionFailed => pipeline::FORMAT_CONVERSION_FAILED,
            ErrorType::ActivePartitionExceeded => pipeline::ACTIVE_PARTITION_EXCEEDED,
            ErrorType::PartitioningFailed => pipeline::PARTITIONING_FAILED,
        }
    }

    /// `rawData` is the record as the producer sent it (processing failed before the
    /// transform's output existed); for the other types it is the transform's output.
    fn holds_original(self) -> bool {
        self == ErrorType::ProcessingFailed
    }
}

#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// Error output type to redrive; repeat for several. Default: all of them.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<ErrorType>,
    /// Only error objects of this UTC date (YYYY-MM-DD, the date folder under errors/<type>/)
    /// and later.
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Read and report what would be sent; send nothing and mark nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The lake folder (default: [local] lake of the config, TRACKLAKE_LAKE, ./lake). Its
    /// records go through an in-process local Firehose back into the same folder.
    #[arg(long, value_name = "DIR", conflicts_with = "bucket")]
    pub lake: Option<PathBuf>,
    /// Read the error output of this S3 bucket instead (AWS SDK configuration, or
    /// AWS_ENDPOINT_URL_S3 / --s3-endpoint for an S3-compatible store), and send to the
    /// configured stream ([firehose] stream, TRACKLAKE_STREAM; AWS_ENDPOINT_URL_FIREHOSE).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// Endpoint of an S3-compatible store holding --bucket (addressed path-style).
    #[arg(long, value_name = "URL", requires = "bucket")]
    pub s3_endpoint: Option<String>,
    /// Config file, as for `run`.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// The store's own error (an I/O error or the S3 SDK's), kept as the cause.
type StoreCause = Box<dyn std::error::Error + Send + Sync>;

/// What can stop a redrive before it could account for every document.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("no lake at {0}: pass the lake folder with --lake (the folder holding errors/ and raw/), or --bucket for S3")]
    NoLake(String),
    #[error("cannot list {prefix} in {store}; check that the lake folder or bucket exists and is readable")]
    List {
        store: String,
        prefix: String,
        #[source]
        source: StoreCause,
    },
    #[error("cannot read {key} in {store}; check the permissions, then redrive again")]
    Read {
        store: String,
        key: String,
        #[source]
        source: StoreCause,
    },
    #[error(
        "cannot write {key} in {store}; its documents stay unmarked, so the next redrive sends them again"
    )]
    Write {
        store: String,
        key: String,
        #[source]
        source: StoreCause,
    },
    #[error("cannot delete {key} in {store}; its ledger already marks every document, so the next redrive only deletes it")]
    Delete {
        store: String,
        key: String,
        #[source]
        source: StoreCause,
    },
}

/// Why a document was not sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LeftReason {
    NotADocument,
    UndecodableRawData,
    NoRecordKey,
    OriginalNotFound,
    Rejected(String),
    SendFailed(String),
    NotDelivered,
    NotSent,
}

impl fmt::Display for LeftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeftReason::NotADocument => f.write_str("the line is not an error document (JSON with rawData)"),
            LeftReason::UndecodableRawData => f.write_str("rawData is not base64"),
            LeftReason::NoRecordKey => {
                f.write_str("rawData is not a transformed record with a record_key, so its original cannot be looked up")
            }
            LeftReason::OriginalNotFound => f.write_str(
                "original not found in the raw backup (no backed-up record near its arrival that the current transform keeps has its record_key)",
            ),
            LeftReason::Rejected(why) => write!(f, "refused before sending: {why}"),
            LeftReason::SendFailed(code) => write!(f, "the stream did not accept it ({code}); redrive again"),
            LeftReason::NotSent => {
                f.write_str("not sent: the redrive stopped before its round (see the error above); redrive again")
            }
            LeftReason::NotDelivered => f.write_str(
                "the local Firehose could not write the redriven records; nothing was marked, redrive again",
            ),
        }
    }
}

/// The lake folder or the bucket: whole objects by key.
enum Store {
    Dir(PathBuf),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
    },
}

impl Store {
    fn describe(&self) -> String {
        match self {
            Store::Dir(root) => root.display().to_string(),
            Store::S3 { bucket, .. } => format!("s3://{bucket}"),
        }
    }

    /// Every key under `prefix`, sorted; files being written (hidden temporary names) left out.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, RedriveError> {
        let fail = |source: StoreCause| RedriveError::List {
            store: self.describe(),
            prefix: prefix.to_owned(),
            source,
        };
        let mut keys: Vec<String> = Vec::new();
        match self {
            Store::Dir(root) => {
                let start = root.join(prefix);
                let mut files = Vec::new();
                if start.is_dir() {
                    walk(&start, &mut files).map_err(|e| fail(e.into()))?;
                }
                keys.extend(files.into_iter().filter_map(|p| {
                    let rel = p.strip_prefix(root).ok()?;
                    Some(rel.to_string_lossy().replace('\\', "/"))
                }));
            }
            Store::S3 { client, bucket } => {
                let mut token = None;
                loop {
                    let page = client
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_continuation_token(token.take())
                        .send()
                        .await
                        .map_err(|e| fail(e.into()))?;
                    keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
                    match page.next_continuation_token() {
                        Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                        _ => break,
                    }
                }
            }
        }
        keys.retain(|k| !k.rsplit('/').next().unwrap_or("").starts_with('.'));
        keys.sort();
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RedriveError> {
        let fail = |source: StoreCause| RedriveError::Read {
            store: self.describe(),
            key: key.to_owned(),
            source,
        };
        match self {
            Store::Dir(root) => match std::fs::read(root.join(key)) {
                Ok(body) => Ok(Some(body)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(fail(e.into())),
            },
            Store::S3 { client, bucket } => match client.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => {
                    let body = out.body.collect().await.map_err(|e| fail(e.into()))?;
                    Ok(Some(body.into_bytes().to_vec()))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) => Err(fail(e.into())),
            },
        }
    }

    /// Writes a whole object; in a folder through a temporary file renamed into place, so a
    /// killed redrive never leaves half a ledger.
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), RedriveError> {
        let fail = |source: StoreCause| RedriveError::Write {
            store: self.describe(),
            key: key.to_owned(),
            source,
        };
        match self {
            Store::Dir(root) => {
                let path = root.join(key);
                let dir = path.parent().unwrap_or(root);
                std::fs::create_dir_all(dir).map_err(|e| fail(e.into()))?;
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("ledger");
                let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
                let written = std::fs::write(&tmp, &body).and_then(|()| std::fs::rename(&tmp, &path));
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(fail(e.into()));
                }
                Ok(())
            }
            Store::S3 { client, bucket } => client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| fail(e.into())),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), RedriveError> {
        let fail = |source: StoreCause| RedriveError::Delete {
            store: self.describe(),
            key: key.to_owned(),
            source,
        };
        match self {
            Store::Dir(root) => match std::fs::remove_file(root.join(key)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(fail(e.into())),
            },
            Store::S3 { client, bucket } => client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| fail(e.into())),
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The fixed folder of a prefix, above its first `!{` expression (`errors/`, `raw/`).
fn root_of(prefix: &str) -> &str {
    let fixed = &prefix[..prefix.find("!{").unwrap_or(prefix.len())];
    &fixed[..fixed.rfind('/').map_or(0, |i| i + 1)]
}

/// The `yyyy/MM/dd[/HH]` folders right after `root` in `key`, as a UTC time; `None` when the key
/// does not have them (such an object is never filtered out).
fn folder_time(key: &str, root: &str, with_hour: bool) -> Option<DateTime<Utc>> {
    let mut parts = key.strip_prefix(root)?.split('/');
    let mut next = || parts.next()?.parse::<u32>().ok();
    let (y, m, d) = (next()?, next()?, next()?);
    let h = if with_hour { next()? } else { 0 };
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)?;
    let time: NaiveDateTime = date.and_hms_opt(h, 0, 0)?;
    Some(time.and_utc())
}

/// Lines of an object, without their `\n`; empty lines are skipped.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
}

/// One error object and the documents of it an earlier redrive sent.
struct ErrorObject {
    key: String,
    error_type: ErrorType,
    docs: Vec<Vec<u8>>,
    ledger_body: Vec<u8>,
    ledger: HashSet<Vec<u8>>,
}

/// A document not redriven yet, and what became of it.
struct Pending {
    object: usize,
    line: Vec<u8>,
    arrival_ms: Option<i64>,
    state: DocState,
}

enum DocState {
    Original(Vec<u8>),
    NeedsLookup(String),
    /// Index of its original in the send list; `duplicate` when another document sent it.
    Queued {
        index: usize,
        duplicate: bool,
    },
    Left(LeftReason),
}

/// Per error type, what the redrive did.
#[derive(Default)]
struct TypeReport {
    objects: usize,
    documents: usize,
    already: usize,
    sent: usize,
    duplicates: usize,
    left: BTreeMap<LeftReason, (usize, BTreeSet<String>)>,
}

impl TypeReport {
    fn left_total(&self) -> usize {
        self.left.values().map(|(n, _)| n).sum()
    }
}

fn decode_document(error_type: ErrorType, line: &[u8]) -> (Option<i64>, DocState) {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(line) else {
        return (None, DocState::Left(LeftReason::NotADocument));
    };
    let arrival = doc.get("arrivalTimestamp").and_then(serde_json::Value::as_i64);
    let Some(raw) = doc.get("rawData").and_then(serde_json::Value::as_str) else {
        return (arrival, DocState::Left(LeftReason::NotADocument));
    };
    let Ok(data) = base64::engine::general_purpose::STANDARD.decode(raw) else {
        return (arrival, DocState::Left(LeftReason::UndecodableRawData));
    };
    if error_type.holds_original() {
        return (arrival, DocState::Original(data));
    }
    let key = serde_json::from_slice::<serde_json::Value>(&data)
        .ok()
        .and_then(|v| v.get("record_key")?.as_str().map(str::to_owned));
    match key {
        Some(key) => (arrival, DocState::NeedsLookup(key)),
        None => (arrival, DocState::Left(LeftReason::NoRecordKey)),
    }
}

/// Finds, in the raw backup objects named within `[from, to]`, the backed-up record whose
/// current transform has each wanted `record_key`. The first one found wins: later ones with the
/// same key are resends of the same observation.
async fn lookup_originals(
    store: &Store,
    raw_root: &str,
    wanted: &HashSet<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<String, Vec<u8>>, RedriveError> {
    let mut found = HashMap::new();
    for key in store.list(raw_root).await? {
        if found.len() == wanted.len() {
            break;
        }
        if folder_time(&key, raw_root, true).is_some_and(|t| t + TimeDelta::hours(1) <= from || t > to) {
            continue;
        }
        let Some(body) = store.get(&key).await? else {
            continue;
        };
        let mut text = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(body.as_slice()).read_to_end(&mut text) {
            tracing::warn!(key, error = %e, "skipping a raw backup object that is not gzip");
            continue;
        }
        for line in text.split_inclusive(|b| *b == b'\n') {
            if let Ok(Verdict::Keep(obs, _)) = normalize_bytes(line) {
                if wanted.contains(&obs.record_key) && !found.contains_key(&obs.record_key) {
                    found.insert(obs.record_key.clone(), line.to_vec());
                }
            }
        }
    }
    Ok(found)
}

async fn open_store(args: &RedriveArgs, lake: &Path) -> Store {
    match &args.bucket {
        None => Store::Dir(lake.to_path_buf()),
        Some(bucket) => Store::S3 {
            client: s3_client(args.s3_endpoint.as_deref()).await,
            bucket: bucket.clone(),
        },
    }
}

/// An S3 client from the AWS SDK configuration, or for the S3-compatible store at `endpoint`
/// (also `tracklake import --target aws`'s).
pub(crate) async fn s3_client(endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared);
    // An S3-compatible store on a host name of its own cannot serve bucket subdomains.
    let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint).force_path_style(true);
    } else if env_endpoint {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

pub async fn run(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let config = crate::load_config(args.config.as_deref())?;
    let lake = args.lake.clone().unwrap_or_else(|| config.local.lake.clone());
    let store = open_store(&args, &lake).await;
    if let Store::Dir(root) = &store {
        if !root.is_dir() {
            return Err(RedriveError::NoLake(root.display().to_string()).into());
        }
    }
    Ok(redrive(&args, &config, &store).await?)
}

async fn redrive(
    args: &RedriveArgs,
    config: &crate::config::Config,
    store: &Store,
) -> Result<ExitCode, RedriveError> {
    let settings = schemas::delivery::settings();
    let error_root = root_of(&settings.error_output_prefix);
    let raw_root = root_of(&settings.raw_backup_prefix);
    let types: BTreeSet<ErrorType> = if args.types.is_empty() {
        ErrorType::ALL.into_iter().collect()
    } else {
        args.types.iter().copied().collect()
    };

    // 1. The error objects, their ledgers, and the documents not yet redriven.
    let mut objects = Vec::new();
    let mut pending = Vec::new();
    let mut reports: BTreeMap<ErrorType, TypeReport> =
        types.iter().map(|t| (*t, TypeReport::default())).collect();
    for &error_type in &types {
        let folder = format!("{error_root}{}/", error_type.folder());
        for key in store.list(&folder).await? {
            if let (Some(from), Some(at)) = (args.from, folder_time(&key, &folder, false)) {
                if at.date_naive() < from {
                    continue;
                }
            }
            let Some(body) = store.get(&key).await? else {
                continue;
            };
            let ledger_body = store
                .get(&format!("{REDRIVEN_PREFIX}{key}"))
                .await?
                .unwrap_or_default();
            let ledger: HashSet<Vec<u8>> = lines(&ledger_body).map(<[u8]>::to_vec).collect();
            let docs: Vec<Vec<u8>> = lines(&body).map(<[u8]>::to_vec).collect();
            let report = reports.get_mut(&error_type).expect("a report per type");
            report.objects += 1;
            report.documents += docs.len();
            for line in &docs {
                if ledger.contains(line) {
                    report.already += 1;
                    continue;
                }
                let (arrival_ms, state) = decode_document(error_type, line);
                pending.push(Pending {
                    object: objects.len(),
                    line: line.clone(),
                    arrival_ms,
                    state,
                });
            }
            objects.push(ErrorObject {
                key,
                error_type,
                docs,
                ledger_body,
                ledger,
            });
        }
    }

    // 2. Originals of transformed records, from the raw backup around their arrival.
    let wanted: HashSet<String> = pending
        .iter()
        .filter_map(|p| match &p.state {
            DocState::NeedsLookup(key) => Some(key.clone()),
            _ => None,
        })
        .collect();
    if !wanted.is_empty() {
        let arrivals = pending
            .iter()
            .filter(|p| matches!(p.state, DocState::NeedsLookup(_)))
            .map(|p| p.arrival_ms);
        // A document without its arrival time widens the search to the whole backup.
        let (mut from, mut to) = (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC);
        for arrival in arrivals {
            match arrival.and_then(DateTime::from_timestamp_millis) {
                Some(at) => {
                    from = from.min(at - RAW_LOOKBACK);
                    to = to.max(at);
                }
                None => {
                    from = DateTime::<Utc>::MIN_UTC;
                    to = DateTime::<Utc>::MAX_UTC;
                    break;
                }
            }
        }
        let found = lookup_originals(store, raw_root, &wanted, from, to).await?;
        for p in &mut pending {
            if let DocState::NeedsLookup(key) = &p.state {
                p.state = match found.get(key) {
                    Some(original) => DocState::Original(original.clone()),
                    None => DocState::Left(LeftReason::OriginalNotFound),
                };
            }
        }
    }

    // 3. Each original once.
    let mut originals: Vec<Vec<u8>> = Vec::new();
    let mut index_of: HashMap<Vec<u8>, usize> = HashMap::new();
    for p in &mut pending {
        if let DocState::Original(original) = &p.state {
            p.state = match index_of.get(original) {
                Some(&index) => DocState::Queued {
                    index,
                    duplicate: true,
                },
                None => {
                    index_of.insert(original.clone(), originals.len());
                    originals.push(original.clone());
                    DocState::Queued {
                        index: originals.len() - 1,
                        duplicate: false,
                    }
                }
            };
        }
    }

    // 4. Send in rounds, each opening at most the pacing budget of dt partitions, so that the
    //    redrive itself never pushes records into activePartitionExceeded; each round is marked
    //    as soon as the stream has it, so an interrupted redrive resends at most one round.
    let pacing = &config.producer.sources.pacing;
    let rounds = rounds(&originals, pacing.partition_budget);
    let mut outcome: Vec<Option<LeftReason>> = vec![None; originals.len()];
    let mut docs_of: Vec<Vec<usize>> = vec![Vec::new(); originals.len()];
    for (d, p) in pending.iter().enumerate() {
        if let DocState::Queued { index, .. } = p.state {
            docs_of[index].push(d);
        }
    }
    let mut ledgers: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = objects
        .iter()
        .map(|o| {
            let mut body = o.ledger_body.clone();
            if !body.is_empty() && !body.ends_with(b"\n") {
                body.push(b'\n');
            }
            (body, o.ledger.clone())
        })
        .collect();
    let mut delivery = String::new();
    let mut resent_failed = 0;
    if !args.dry_run && !originals.is_empty() {
        let local = match &args.bucket {
            Some(_) => None,
            None => {
                let Store::Dir(lake) = store else {
                    unreachable!("no bucket means the lake folder")
                };
                match crate::local::start_firehose(lake).await {
                    Ok(firehose) => Some(firehose),
                    Err(e) => {
                        crate::report_error(&e);
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        };
        let sink = match &local {
            Some(firehose) => FirehoseSink::local(
                &firehose.endpoint(),
                firehose.stream_name(),
                config.producer.firehose.sink_config(),
            ),
            None => {
                FirehoseSink::from_env(
                    config.producer.firehose.stream.clone(),
                    config.producer.firehose.sink_config(),
                )
                .await
            }
        };
        for (r, round) in rounds.iter().enumerate() {
            if r > 0 && local.is_none() {
                // The stream delivers a partition's buffer within the window; then it is closed.
                eprintln!(
                    "pacing: waiting {} s for the partitions of round {r} to close before round {} of {}",
                    pacing.window_secs,
                    r + 1,
                    rounds.len()
                );
                tokio::time::sleep(pacing.window()).await;
            }
            let report = sink
                .send_all(round.iter().map(|&i| originals[i].clone()).collect())
                .await;
            for rejected in &report.rejected {
                outcome[round[rejected.index]] = Some(LeftReason::Rejected(rejected.reason.to_string()));
            }
            for failed in &report.failed {
                outcome[round[failed.index]] = Some(LeftReason::SendFailed(failed.error_code.clone()));
            }
            let mut stop = false;
            if let Some(fatal) = report.fatal {
                let context = format!("sending to stream {} stopped", sink.stream_name());
                crate::report_error(&anyhow::Error::new(fatal).context(context));
                stop = true;
            }
            if let Some(firehose) = &local {
                // Accepted is not yet written for the in-process stream: mark only what it
                // wrote. The flush also closes the round's partitions.
                if let Err(e) = firehose.flush().await {
                    let context = format!("the local Firehose could not write to {}", store.describe());
                    crate::report_error(&anyhow::Error::new(e).context(context));
                    round
                        .iter()
                        .for_each(|&i| outcome[i] = Some(LeftReason::NotDelivered));
                    stop = true;
                }
            }
            let mut touched = BTreeSet::new();
            for &i in round.iter().filter(|&&i| outcome[i].is_none()) {
                for &d in &docs_of[i] {
                    let p = &pending[d];
                    let (body, set) = &mut ledgers[p.object];
                    body.extend_from_slice(&p.line);
                    body.push(b'\n');
                    set.insert(p.line.clone());
                    touched.insert(p.object);
                }
            }
            for o in touched {
                store
                    .put(
                        &format!("{REDRIVEN_PREFIX}{}", objects[o].key),
                        ledgers[o].0.clone(),
                    )
                    .await?;
            }
            if stop {
                for &i in rounds[r + 1..].iter().flatten() {
                    outcome[i] = Some(LeftReason::NotSent);
                }
                break;
            }
        }
        if let Some(firehose) = local {
            match firehose.shutdown().await {
                Ok(stats) => {
                    resent_failed = stats.errored_total();
                    delivery = crate::local::render_delivery(&stats, &store_path(store));
                }
                // Every round was flushed already: what is marked was written.
                Err(e) => crate::report_error(
                    &anyhow::Error::new(e).context("the local Firehose's last flush failed"),
                ),
            }
        }
    }

    // 5. Account for each document, then delete the error objects whose every document is in
    //    their ledger (written above, before any deletion).
    for p in &pending {
        let error_type = objects[p.object].error_type;
        let report = reports.get_mut(&error_type).expect("a report per type");
        let left = match &p.state {
            DocState::Queued { index, duplicate } => match &outcome[*index] {
                None => {
                    if *duplicate {
                        report.duplicates += 1;
                    } else {
                        report.sent += 1;
                    }
                    continue;
                }
                Some(reason) => reason.clone(),
            },
            DocState::Left(reason) => reason.clone(),
            DocState::Original(_) | DocState::NeedsLookup(_) => {
                unreachable!("every document is resolved by now")
            }
        };
        let entry = report.left.entry(left).or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES_PER_REASON {
            entry.1.insert(objects[p.object].key.clone());
        }
    }
    if !args.dry_run {
        for (object, (_, ledger)) in objects.iter().zip(&ledgers) {
            if object.docs.iter().all(|d| ledger.contains(d)) {
                store.delete(&object.key).await?;
            }
        }
    }

    // 6. The report.
    let left: usize = reports.values().map(TypeReport::left_total).sum();
    let records = outcome.iter().filter(|o| o.is_none()).count();
    print!("{}", render(&store.describe(), args.dry_run, &reports, records));
    if !originals.is_empty() {
        println!(
            "  in {} round(s) of at most {} dt partitions (pacing budget)",
            rounds.len(),
            pacing.partition_budget
        );
    }
    if !delivery.is_empty() {
        print!("{delivery}");
    }
    if resent_failed > 0 {
        println!(
            "WARNING: {resent_failed} redriven record(s) went to the error output again: the cause is not fixed yet (see errors/)"
        );
    }
    Ok(if left == 0 && resent_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The dt partition the current transform puts an original in, if it keeps it.
fn partition_of(original: &[u8]) -> Option<String> {
    match normalize_bytes(original) {
        Ok(Verdict::Keep(obs, source)) => Some(format!(
            "source={}/dt={}",
            source.as_str(),
            obs.event_at.utc_date()
        )),
        _ => None,
    }
}

/// Indices of `originals` in rounds that each open at most `budget` partitions, partition by
/// partition (a record the transform will not keep opens none).
fn rounds(originals: &[Vec<u8>], budget: usize) -> Vec<Vec<usize>> {
    let budget = budget.max(1);
    let mut keyed: Vec<(Option<String>, usize)> = originals
        .iter()
        .enumerate()
        .map(|(i, o)| (partition_of(o), i))
        .collect();
    keyed.sort();
    let mut rounds = Vec::new();
    let mut current = Vec::new();
    let mut open = HashSet::new();
    for (partition, i) in keyed {
        if let Some(partition) = partition {
            if !open.contains(&partition) && open.len() >= budget {
                rounds.push(std::mem::take(&mut current));
                open.clear();
            }
            open.insert(partition);
        }
        current.push(i);
    }
    if !current.is_empty() {
        rounds.push(current);
    }
    rounds
}

fn store_path(store: &Store) -> PathBuf {
    match store {
        Store::Dir(root) => root.clone(),
        Store::S3 { bucket, .. } => PathBuf::from(format!("s3://{bucket}")),
    }
}

fn render(store: &str, dry_run: bool, reports: &BTreeMap<ErrorType, TypeReport>, records: usize) -> String {
    let mut out = String::new();
    let verb = if dry_run { "would send" } else { "sent" };
    let _ = writeln!(
        out,
        "redrive of the error output in {store}{}",
        if dry_run {
            " (dry run: nothing sent, nothing marked)"
        } else {
            ""
        }
    );
    for (error_type, r) in reports {
        let _ = writeln!(
            out,
            "  {}: {} object(s), {} document(s) read: {verb} {}, duplicates of a record sent with another document {}, already redriven before {}, left {}",
            error_type.folder(),
            r.objects,
            r.documents,
            r.sent,
            r.duplicates,
            r.already,
            r.left_total()
        );
        for (reason, (n, examples)) in &r.left {
            let shown: Vec<&str> = examples.iter().map(String::as_str).collect();
            let _ = writeln!(out, "    left {n}: {reason} (in {})", shown.join(", "));
        }
    }
    let left: usize = reports.values().map(TypeReport::left_total).sum();
    let _ = writeln!(out, "  records {verb}: {records}; documents left: {left}");
    if left > 0 {
        let _ = writeln!(
            out,
            "  the documents left stay in the error output; fix their cause and redrive again"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_roots_and_date_folders() {
        assert_eq!(
            root_of("errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"),
            "errors/"
        );
        assert_eq!(root_of("raw/!{timestamp:yyyy/MM/dd/HH}/"), "raw/");
        let t = folder_time("raw/2026/11/24/08/x.gz", "raw/", true).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T08:00:00+00:00");
        let d = folder_time(
            "errors/processing-failed/2026/11/24/x",
            "errors/processing-failed/",
            false,
        )
        .unwrap();
        assert_eq!(d.date_naive(), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert!(folder_time("raw/odd/x.gz", "raw/", true).is_none());
    }

    #[test]
    fn rounds_open_at_most_the_budget_of_partitions_each() {
        let originals: Vec<Vec<u8>> = (0..20)
            .map(firehose_transform::sample::envelope_line)
            .chain([b"not an envelope\n".to_vec()])
            .collect();
        let partitions: HashSet<String> = originals.iter().filter_map(|o| partition_of(o)).collect();
        assert!(partitions.len() > 4, "{partitions:?}");
        let rounds = rounds(&originals, 3);
        let mut seen: Vec<usize> = rounds.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..originals.len()).collect::<Vec<_>>(),
            "every record once"
        );
        for round in &rounds {
            let open: HashSet<String> = round
                .iter()
                .filter_map(|&i| partition_of(&originals[i]))
                .collect();
            assert!(open.len() <= 3, "{open:?}");
        }
        assert_eq!(rounds.len(), partitions.len().div_ceil(3));
    }

    #[test]
    fn documents_decode_per_type() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let pf = format!(r#"{{"arrivalTimestamp":5,"rawData":"{}"}}"#, b64("{\"v\":1}\n"));
        match decode_document(ErrorType::ProcessingFailed, pf.as_bytes()) {
            (Some(5), DocState::Original(data)) => assert_eq!(data, b"{\"v\":1}\n"),
            _ => panic!("processing-failed holds the original"),
        }
        let fc = format!(r#"{{"rawData":"{}"}}"#, b64(r#"{"record_key":"abc"}"#));
        assert!(matches!(
            decode_document(ErrorType::FormatConversionFailed, fc.as_bytes()),
            (None, DocState::NeedsLookup(k)) if k == "abc"
        ));
        let bad = r#"{"rawData":"%%%"}"#;
        assert!(matches!(
            decode_document(ErrorType::ActivePartitionExceeded, bad.as_bytes()),
            (_, DocState::Left(LeftReason::UndecodableRawData))
        ));
        assert!(matches!(
            decode_document(ErrorType::ProcessingFailed, b"not json"),
            (_, DocState::Left(LeftReason::NotADocument))
        ));
    }
}
