//! Adding records to a partition file without storing one twice: the file's `record_key`s are
//! read, only records with a key it lacks are added, and the result replaces the file at once, so
//! an interrupted run leaves either the old file or the new one, and running again adds what is
//! still missing. [`merge_bytes`] is the merge itself, over a file's bytes, for any store (an S3
//! PUT replaces an object at once); [`merge`] applies it to a file of the local lake (written
//! beside it, then renamed).

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int32Array, ListBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use schemas::{Timestamp, TrackObservation};

use crate::writer_properties;

/// The suffix of a partition file being written: not [`crate::PARQUET_EXTENSION`], so no reader
/// of the lake takes a half-written file for part of the table.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Why a partition file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("cannot write {path}: check the lake folder's permissions and free space")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a Parquet file of the lake's schema: move it out of the lake (it is left \
         unchanged) and run again"
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    #[error("the records for {path} do not fit the lake's schema (nothing was written to it)")]
    Records {
        path: PathBuf,
        #[source]
        source: ArrowError,
    },
    #[error("cannot write Parquet to {path} (the file is unchanged)")]
    Parquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
}

/// What a merge did with the records it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Records whose key the file did not hold: now in it.
    pub added: usize,
    /// Records whose key the file already held (or that came twice in the same call).
    pub present: usize,
}

/// Adds to the Parquet file `file` (created with its folder if missing) every record whose
/// `record_key` it does not hold yet. The file is written with the schema of
/// `schemas::arrow::arrow_schema()` and the lake's [`writer_properties`].
pub fn merge(file: &Path, records: &[TrackObservation]) -> Result<Merged, LakeError> {
    let existing = match std::fs::read(file) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(LakeError::Io {
                path: file.to_path_buf(),
                source,
            })
        }
    };
    let (merged, bytes) = merge_bytes(file, existing, records)?;
    if let Some(bytes) = bytes {
        write_atomically(file, &bytes)?;
    }
    Ok(merged)
}

/// The merge over bytes: `existing` is the partition file's content (`None`: there is none yet),
/// `location` names it in errors (a path, or an `s3://` URL). Returns what the merge did and the
/// new file's content, `None` when no record was new (the file stays as it is).
pub fn merge_bytes(
    location: &Path,
    existing: Option<Vec<u8>>,
    records: &[TrackObservation],
) -> Result<(Merged, Option<Vec<u8>>), LakeError> {
    let schema = Arc::new(schemas::arrow::arrow_schema());
    let (mut batches, held) = match existing {
        Some(bytes) => read_existing(location, bytes)?,
        None => (Vec::new(), HashSet::new()),
    };
    let mut seen = HashSet::with_capacity(records.len());
    let new: Vec<&TrackObservation> = records
        .iter()
        .filter(|r| !held.contains(&r.record_key) && seen.insert(r.record_key.as_str()))
        .collect();
    let merged = Merged {
        added: new.len(),
        present: records.len() - new.len(),
    };
    if new.is_empty() {
        return Ok((merged, None));
    }
    let records_error = |source| LakeError::Records {
        path: location.to_path_buf(),
        source,
    };
    let batch = to_batch(&schema, &new).map_err(records_error)?;
    let all = if batches.is_empty() {
        batch // a new file: nothing to concatenate (and copy) it with
    } else {
        batches.push(batch);
        arrow::compute::concat_batches(&schema, &batches).map_err(records_error)?
    };
    Ok((merged, Some(to_parquet(location, &all)?)))
}

/// Changes rows of the partition file `file` in place: `change` sees every row and says whether
/// it changed it. It may fill or correct columns, never the `record_key` (what [`merge`] and the
/// queries' play rule know a row by). Returns how many rows changed; the file is replaced at once
/// (written beside it, then renamed), and left as it is when no row changed.
pub fn rewrite(file: &Path, change: impl FnMut(&mut TrackObservation) -> bool) -> Result<usize, LakeError> {
    let bytes = std::fs::read(file).map_err(|source| LakeError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let (changed, bytes) = rewrite_bytes(file, bytes, change)?;
    if let Some(bytes) = bytes {
        write_atomically(file, &bytes)?;
    }
    Ok(changed)
}

/// The rewrite over bytes, for any store: the rows changed and the new file's content, `None`
/// when no row changed.
pub fn rewrite_bytes(
    location: &Path,
    bytes: Vec<u8>,
    mut change: impl FnMut(&mut TrackObservation) -> bool,
) -> Result<(usize, Option<Vec<u8>>), LakeError> {
    let (batches, _) = read_existing(location, bytes)?;
    let mut rows = to_rows(location, &batches)?;
    let mut changed = 0;
    for row in &mut rows {
        let key = row.record_key.clone();
        if change(row) {
            changed += 1;
        }
        // A row is known by its key: a change of key would store the row twice on the next merge.
        row.record_key = key;
    }
    if changed == 0 {
        return Ok((0, None));
    }
    let schema = Arc::new(schemas::arrow::arrow_schema());
    let refs: Vec<&TrackObservation> = rows.iter().collect();
    let batch = to_batch(&schema, &refs).map_err(|source| LakeError::Records {
        path: location.to_path_buf(),
        source,
    })?;
    Ok((changed, Some(to_parquet(location, &batch)?)))
}

/// The rows of `batches` as records, through Arrow's JSON writer and the record's own reader: the
/// schema's one definition on both sides.
fn to_rows(location: &Path, batches: &[RecordBatch]) -> Result<Vec<TrackObservation>, LakeError> {
    let unreadable = |detail: String| LakeError::Unreadable {
        path: location.to_path_buf(),
        source: ParquetError::General(detail),
    };
    let mut json = arrow::json::LineDelimitedWriter::new(Vec::new());
    for batch in batches {
        let batch = with_utc_as_offset(batch).map_err(|e| unreadable(e.to_string()))?;
        json.write(&batch).map_err(|e| unreadable(e.to_string()))?;
    }
    json.finish().map_err(|e| unreadable(e.to_string()))?;
    json.into_inner()
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice(line)
                .map_err(|e| unreadable(format!("a row is not a track_observation: {e}")))
        })
        .collect()
}

/// The batch with its timestamps' zone written `+00:00` instead of `UTC`: the same instants, in
/// a zone Arrow formats without the named-zone database (chrono-tz, a dependency for this alone).
fn with_utc_as_offset(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        match field.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, Some(_)) => {
                let times = column
                    .as_primitive_opt::<TimestampMillisecondType>()
                    .ok_or_else(|| {
                        ArrowError::SchemaError(format!("{} is not a millisecond timestamp", field.name()))
                    })?
                    .clone()
                    .with_timezone("+00:00");
                fields.push(field.as_ref().clone().with_data_type(times.data_type().clone()));
                columns.push(Arc::new(times) as ArrayRef);
            }
            _ => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// One batch as a Parquet file of the lake's settings.
fn to_parquet(location: &Path, batch: &RecordBatch) -> Result<Vec<u8>, LakeError> {
    let parquet = |source| LakeError::Parquet {
        path: location.to_path_buf(),
        source,
    };
    let props = writer_properties(batch).map_err(parquet)?;
    let mut writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(parquet)?;
    writer.write(batch).map_err(parquet)?;
    writer.into_inner().map_err(parquet)
}

/// The records as one batch of `schema`, a column at a time from the records' fields. A field of
/// the schema without a column here is an error (a field added to the Avro schema needs one).
fn to_batch(schema: &SchemaRef, records: &[&TrackObservation]) -> Result<RecordBatch, ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| column(field, records))
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// The column of `field` for `rows`. `RecordBatch::try_new` then checks its type and nulls
/// against the schema.
fn column(field: &Field, rows: &[&TrackObservation]) -> Result<ArrayRef, ArrowError> {
    type Row = TrackObservation;
    let strings = |get: fn(&Row) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| get(r)).collect::<StringArray>())
    };
    let ints = |get: fn(&Row) -> Option<i32>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| get(r)).collect::<Int32Array>())
    };
    let bools = |get: fn(&Row) -> Option<bool>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| get(r)).collect::<BooleanArray>())
    };
    let times = |get: fn(&Row) -> Option<Timestamp>| -> Result<ArrayRef, ArrowError> {
        let DataType::Timestamp(TimeUnit::Millisecond, zone) = field.data_type() else {
            return Err(ArrowError::SchemaError(format!(
                "{} is not a millisecond timestamp",
                field.name()
            )));
        };
        let millis: TimestampMillisecondArray = rows.iter().map(|r| get(r).map(Timestamp::millis)).collect();
        Ok(Arc::new(millis.with_timezone_opt(zone.clone())))
    };
    let list = |fill: fn(&mut StringBuilder, &Row)| -> Result<ArrayRef, ArrowError> {
        let DataType::List(item) = field.data_type() else {
            return Err(ArrowError::SchemaError(format!("{} is not a list", field.name())));
        };
        let mut builder = ListBuilder::new(StringBuilder::new()).with_field(item.clone());
        for row in rows {
            fill(builder.values(), row);
            builder.append(true);
        }
        Ok(Arc::new(builder.finish()))
    };
    Ok(match field.name().as_str() {
        "record_key" => strings(|r| Some(&r.record_key)),
        "event_at" => times(|r| Some(r.event_at))?,
        "observed_at" => times(|r| Some(r.observed_at))?,
        "added_at" => times(|r| r.added_at)?,
        "user_id" => strings(|r| r.user_id.as_deref()),
        "context_id" => strings(|r| r.context_id.as_deref()),
        "position" => ints(|r| r.position),
        "snapshot_id" => strings(|r| r.snapshot_id.as_deref()),
        "added_by" => strings(|r| r.added_by.as_deref()),
        "play_context_type" => strings(|r| r.play_context_type.as_deref()),
        "play_context_uri" => strings(|r| r.play_context_uri.as_deref()),
        "track_id" => strings(|r| r.track_id.as_deref()),
        "track_uri" => strings(|r| r.track_uri.as_deref()),
        "track_name" => strings(|r| Some(&r.track_name)),
        "duration_ms" => ints(|r| r.duration_ms),
        "explicit" => bools(|r| r.explicit),
        "popularity" => ints(|r| r.popularity),
        "isrc" => strings(|r| r.isrc.as_deref()),
        "is_local" => bools(|r| r.is_local),
        "disc_number" => ints(|r| r.disc_number),
        "track_number" => ints(|r| r.track_number),
        "album_id" => strings(|r| r.album_id.as_deref()),
        "album_name" => strings(|r| r.album_name.as_deref()),
        "album_type" => strings(|r| r.album_type.as_deref()),
        "album_release_date" => Arc::new(
            rows.iter()
                .map(|r| r.album_release_date.map(Date32Type::from_naive_date))
                .collect::<Date32Array>(),
        ),
        "album_release_date_precision" => strings(|r| r.album_release_date_precision.as_deref()),
        "album_total_tracks" => ints(|r| r.album_total_tracks),
        "album_image_url" => strings(|r| r.album_image_url.as_deref()),
        "artist_ids" => list(|b, r| r.artist_ids.iter().for_each(|id| b.append_option(id.as_deref())))?,
        "artist_names" => list(|b, r| r.artist_names.iter().for_each(|name| b.append_value(name)))?,
        "primary_artist_id" => strings(|r| r.primary_artist_id.as_deref()),
        "primary_artist_name" => strings(|r| r.primary_artist_name.as_deref()),
        "ms_played" => ints(|r| r.ms_played),
        "skipped" => bools(|r| r.skipped),
        "reason_start" => strings(|r| r.reason_start.as_deref()),
        "reason_end" => strings(|r| r.reason_end.as_deref()),
        "shuffle" => bools(|r| r.shuffle),
        "offline" => bools(|r| r.offline),
        "incognito_mode" => bools(|r| r.incognito_mode),
        "platform" => strings(|r| r.platform.as_deref()),
        "conn_country" => strings(|r| r.conn_country.as_deref()),
        "export_file" => strings(|r| r.export_file.as_deref()),
        other => {
            return Err(ArrowError::SchemaError(format!(
                "no column is built for the field {other}"
            )))
        }
    })
}

/// The batches of the file `bytes` (named `file` in errors) and its keys.
fn read_existing(file: &Path, bytes: Vec<u8>) -> Result<(Vec<RecordBatch>, HashSet<String>), LakeError> {
    let (mut batches, mut keys) = (Vec::new(), HashSet::new());
    let unreadable = |source| LakeError::Unreadable {
        path: file.to_path_buf(),
        source,
    };
    let expected = schemas::arrow::arrow_schema();
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(unreadable)?;
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(e.into()))?;
        if batch.schema().fields() != expected.fields() {
            return Err(unreadable(ParquetError::General(
                "its columns are not those of schemas/track_observation.avsc".into(),
            )));
        }
        let column = batch
            .column_by_name("record_key")
            .and_then(|c| c.as_string_opt::<i32>())
            .expect("the lake's schema has a string record_key");
        keys.extend(column.iter().flatten().map(str::to_owned));
        batches.push(batch);
    }
    Ok((batches, keys))
}

/// Writes `bytes` beside `file`, makes them durable, and renames them over `file`.
fn write_atomically(file: &Path, bytes: &[u8]) -> Result<(), LakeError> {
    let mut partial = file.as_os_str().to_owned();
    partial.push(PARTIAL_SUFFIX);
    let partial = PathBuf::from(partial);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LakeError::Io { path, source }
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut out = File::create(&partial).map_err(io(&partial))?;
    out.write_all(bytes).map_err(io(&partial))?;
    out.sync_all().map_err(io(&partial))?;
    std::fs::rename(&partial, file).map_err(io(file))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{Source, Timestamp};

    fn observation(key: &str) -> TrackObservation {
        let at = Timestamp::parse("2024-03-01T17:45:02Z").unwrap();
        TrackObservation {
            record_key: key.to_owned(),
            event_at: at,
            observed_at: at,
            added_at: None,
            user_id: None,
            context_id: None,
            position: None,
            snapshot_id: None,
            added_by: None,
            play_context_type: None,
            play_context_uri: None,
            track_id: None,
            track_uri: None,
            track_name: format!("track {key}"),
            duration_ms: None,
            explicit: None,
            popularity: None,
            isrc: None,
            is_local: None,
            disc_number: None,
            track_number: None,
            album_id: None,
            album_name: None,
            album_type: None,
            album_release_date: None,
            album_release_date_precision: None,
            album_total_tracks: None,
            album_image_url: None,
            artist_ids: vec![None],
            artist_names: vec!["artist".into()],
            primary_artist_id: None,
            primary_artist_name: Some("artist".into()),
            ms_played: Some(1000),
            skipped: None,
            reason_start: None,
            reason_end: None,
            shuffle: None,
            offline: None,
            incognito_mode: None,
            platform: None,
            conn_country: None,
            export_file: None,
        }
    }

    fn keys_of(file: &Path) -> Vec<String> {
        let (batches, _) = read_existing(file, std::fs::read(file).unwrap()).unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let c = b.column_by_name("record_key").unwrap().as_string::<i32>().clone();
                c.iter().flatten().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn a_merge_adds_only_keys_the_file_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::partition_dir(dir.path(), Source::StreamingHistory, "2024-03-01").join("x.parquet");
        let first = merge(&file, &[observation("a"), observation("b"), observation("a")]).unwrap();
        assert_eq!(first, Merged { added: 2, present: 1 });
        let again = merge(&file, &[observation("b"), observation("c")]).unwrap();
        assert_eq!(again, Merged { added: 1, present: 1 });
        assert_eq!(keys_of(&file), ["a", "b", "c"]);
        let none = merge(&file, &[observation("c")]).unwrap();
        assert_eq!(none, Merged { added: 0, present: 1 });
        let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.parquet"], "no partial file is left behind");
    }

    #[test]
    fn a_file_that_is_not_parquet_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.parquet");
        std::fs::write(&file, b"not parquet").unwrap();
        let err = merge(&file, &[observation("a")]).unwrap_err();
        assert!(matches!(err, LakeError::Unreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("x.parquet"), "{err}");
        assert_eq!(std::fs::read(&file).unwrap(), b"not parquet");
    }

    #[test]
    fn a_rewrite_changes_the_rows_it_is_asked_to_and_keeps_every_other_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::partition_dir(dir.path(), Source::StreamingHistory, "2024-03-01").join("x.parquet");
        let mut full = observation("a");
        full.album_release_date = chrono::NaiveDate::from_ymd_opt(1998, 5, 1);
        full.artist_ids = vec![Some("id1".into()), None];
        full.artist_names = vec!["one".into(), "two".into()];
        full.observed_at = Timestamp::parse("2026-12-07T10:00:00.123Z").unwrap();
        full.skipped = Some(true);
        merge(&file, &[full.clone(), observation("b")]).unwrap();
        let before = std::fs::read(&file).unwrap();

        let unchanged = rewrite(&file, |_| false).unwrap();
        assert_eq!(unchanged, 0);
        assert_eq!(std::fs::read(&file).unwrap(), before, "no change, no new file");

        let changed = rewrite(&file, |row| {
            if row.record_key != "b" {
                return false;
            }
            row.duration_ms = Some(200_000);
            row.record_key = "not b".into();
            true
        })
        .unwrap();
        assert_eq!(changed, 1);
        assert_eq!(keys_of(&file), ["a", "b"], "keys and order stay");
        let mut rows = Vec::new();
        rewrite(&file, |row| {
            rows.push(row.clone());
            false
        })
        .unwrap();
        assert_eq!(
            rows[0], full,
            "every value of an untouched row survives the rewrite"
        );
        let mut b = observation("b");
        b.duration_ms = Some(200_000);
        assert_eq!(rows[1], b);
    }
}
