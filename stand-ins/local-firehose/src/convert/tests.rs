//! Tests of the converter.

use super::columns::{ColumnBuilder, Room, SIZING_SAMPLE};
use super::dates::{date_days, iso_millis, timestamp_millis};
use super::json::Loose;
use super::writer::write_row_groups;
use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, TimestampMillisecondType};
use chrono::{NaiveDate, NaiveDateTime};
use lake_layout::dictionary_pays;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

fn converter() -> Converter {
    Converter::new(vec![
        GlueColumn {
            name: "id".into(),
            hive_type: HiveType::String,
        },
        GlueColumn {
            name: "n".into(),
            hive_type: HiveType::Int,
        },
        GlueColumn {
            name: "at".into(),
            hive_type: HiveType::Timestamp,
        },
        GlueColumn {
            name: "tags".into(),
            hive_type: HiveType::parse("array<string>").unwrap(),
        },
    ])
}

#[test]
fn openx_rules_keys_lowercased_unknown_dropped_missing_null() {
    let c = converter();
    let out = c.convert(&[
        br#"{"ID":"a","N":"7","extra":{"x":1},"at":"2026-11-24T08:15:30.123Z"}"#.as_slice(),
        br#"{"id":"b","at":1795507200}"#.as_slice(),
        br#"{"id":"c","at":1795507200123,"tags":["x",null]}"#.as_slice(),
        br#"{"id":"d","at":"2026-11-24 08:15:30"}"#.as_slice(),
    ]);
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    let b = &out.batch;
    assert_eq!(b.num_rows(), 4);
    let ids = b.column(0).as_string::<i32>();
    assert_eq!(ids.value(0), "a");
    let n = b.column(1).as_primitive::<Int32Type>();
    assert_eq!(n.value(0), 7);
    assert!(n.is_null(1));
    let at = b.column(2).as_primitive::<TimestampMillisecondType>();
    assert_eq!(at.value(0), 1_795_508_130_123);
    assert_eq!(at.value(1), 1_795_507_200_000);
    assert_eq!(at.value(2), 1_795_507_200_123);
    assert_eq!(at.value(3), 1_795_508_130_000);
    let tags = b.column(3).as_list::<i32>();
    assert!(tags.is_null(0));
    assert_eq!(tags.value(2).len(), 2);
}

#[test]
fn unconvertible_values_fail_only_their_record() {
    let c = converter();
    let out = c.convert(&[
        br#"{"id":"ok"}"#.as_slice(),
        br#"{"n":"seven"}"#.as_slice(),
        br#"{"n":3000000000}"#.as_slice(),
        br#"{"at":"yesterday"}"#.as_slice(),
        br#"[1,2]"#.as_slice(),
        b"not json".as_slice(),
        br#"{"id":{"nested":true}}"#.as_slice(),
        br#"{"tags":"x"}"#.as_slice(),
        b"  \n".as_slice(),
        // Two bad columns, the later one first in the record: the error names the first in
        // table order.
        br#"{"at":"never","n":"seven"}"#.as_slice(),
        // A good record after failed ones gets nothing of theirs.
        br#"{"id":"last"}"#.as_slice(),
    ]);
    assert_eq!(out.batch.num_rows(), 2);
    let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(out.failed.iter().all(|(_, e)| e.code == MALFORMED_DATA));
    assert!(
        out.failed[0].1.message.contains("column n (int)"),
        "{}",
        out.failed[0].1
    );
    assert!(
        out.failed[8].1.message.contains("column n (int)"),
        "{}",
        out.failed[8].1
    );
    let id = out.batch.column(0).as_string::<i32>();
    assert_eq!((id.value(0), id.value(1)), ("ok", "last"));
    for column in 1..4 {
        assert!(
            out.batch.column(column).is_null(1),
            "column {column} of the last record"
        );
    }
}

#[test]
fn fast_timestamp_and_date_paths_agree_with_chrono() {
    let chrono_millis = |s: &str| {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
            .ok()
            .map(|t| t.and_utc().timestamp_millis())
    };
    for s in [
        "2026-11-24T08:15:30Z",
        "2026-11-24T08:15:30.1Z",
        "2026-11-24T08:15:30.123Z",
        "2026-11-24T08:15:30.123456789Z",
        "2026-11-24 08:15:30",
        "2026-11-24 08:15:30.5",
        "1969-12-31T23:59:59.999Z",
        "2024-02-29T00:00:00Z",
    ] {
        assert_eq!(iso_millis(s), chrono_millis(s), "{s}");
        assert!(iso_millis(s).is_some(), "{s} takes the fast path");
    }
    // Shapes the fast path leaves to chrono, or that neither accepts.
    for s in [
        "2026-11-24T08:15:30",
        "2026-11-24 08:15:30Z",
        "2025-02-29T00:00:00Z",
        "2026-11-24T25:00:00Z",
        "2026-11-24T08:15:30.Z",
        "2026-11-24T08:15:30.1234567891Z",
        "2026-1x-24T08:15:30Z",
    ] {
        assert_eq!(iso_millis(s), None, "{s}");
        assert_eq!(timestamp_millis(&Loose::Str(s.into())), chrono_millis(s), "{s}");
    }
    for s in ["2026-11-24", "1970-01-01", "1969-12-31", "2024-02-29"] {
        let chrono_days = (NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
            - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32;
        assert_eq!(date_days(s), Some(chrono_days), "{s}");
    }
    assert_eq!(date_days("2025-02-29"), None);
    assert_eq!(date_days("2026-11-xx"), None);
}

#[test]
fn keys_out_of_column_order_still_land_in_their_columns() {
    let c = converter();
    let out = c.convert(&[br#"{"tags":["t"],"at":0,"n":2,"id":"z"}"#.as_slice()]);
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    let b = &out.batch;
    assert_eq!(b.column(0).as_string::<i32>().value(0), "z");
    assert_eq!(b.column(1).as_primitive::<Int32Type>().value(0), 2);
    assert_eq!(b.column(3).as_list::<i32>().value(0).len(), 1);
}

/// Records of every kind (good, failing, arrays, NULLs) so that threads split a mixed input.
fn mixed_records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match i % 7 {
            0 => format!(r#"{{"id":"r{i}","n":{i},"tags":["a{i}","b"]}}"#),
            1 => format!(r#"{{"id":"r{i}","n":"not a number"}}"#),
            2 => format!(r#"{{"at":"2026-11-24T08:15:{:02}.5Z","tags":[]}}"#, i % 60),
            3 => "not json".to_owned(),
            _ => format!(r#"{{"ID":"r{i}","at":{}}}"#, 1_795_507_200 + i),
        })
        .map(String::into_bytes)
        .collect()
}

#[test]
fn threads_give_the_same_batch_and_failures_as_one() {
    let records = mixed_records(3 * MIN_RECORDS_PER_THREAD + 17);
    let one = converter().convert(&records);
    let three = converter().with_threads(3).convert(&records);
    assert_eq!(one.batch, three.batch);
    assert_eq!(one.failed, three.failed);
    assert_eq!(one.batch.num_rows() + one.failed.len(), records.len());
    // Failure indices point at the input records, across the threads' chunks.
    let last = one.failed.last().expect("some records fail").0;
    assert!(last > 2 * MIN_RECORDS_PER_THREAD, "{last}");
    assert_eq!(records[last], b"not json".to_vec());
}

/// The batch and failures of reading every record into cells with `read_record`, the path
/// that settles the records the direct path stops at.
fn convert_by_cells(c: &Converter, records: &[Vec<u8>]) -> Converted {
    let (mut slots, mut cells) = (Vec::new(), Vec::new());
    let mut follows = vec![usize::MAX; c.columns.len() + 1];
    let mut builders: Vec<ColumnBuilder> = c
        .columns
        .iter()
        .map(|col| ColumnBuilder::new(&col.hive_type, &Room::default()))
        .collect();
    let mut failed = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match c.read_record(record, &mut slots, &mut cells, &mut follows) {
            Ok(()) => builders
                .iter_mut()
                .zip(cells.drain(..))
                .for_each(|(b, cell)| b.append(cell)),
            Err(e) => failed.push((i, e)),
        }
    }
    let arrays = builders.iter_mut().map(|b| b.finish()).collect();
    let batch = RecordBatch::try_new(c.schema(), arrays).unwrap();
    Converted { batch, failed }
}

/// Records the direct path appends, and records it stops in, most after appending part of
/// the row (a bad value after good ones, a bad item after good ones or first, a repeated key,
/// text after the object), with records that convert among them.
fn unusual_records() -> Vec<Vec<u8>> {
    [
        r#"{"id":"a","n":1,"at":"2026-11-24T08:15:30Z","tags":["x","y"]}"#,
        r#"{"tags":["x"],"at":1795507200,"N":"2","Id":"b\u00e9"}"#,
        r#"{"id":"c","n":2,"at":"tomorrow"}"#,
        r#"{"id":"d"}"#,
        r#"{"id":"e","tags":["x","y",{"o":1}],"n":3}"#,
        r#"{"id":"f","tags":["z"]}"#,
        r#"{"id":"g","id":"h","n":4}"#,
        r#"{"id":"i","n":5,"n":6}"#,
        r#"{"id":"j","n":7,"at":0,"tags":null} {"id":"k"}"#,
        r#"{"id":"l","tags":[null,"w"],"n":"8","extra":[1,{"a":2}]}"#,
        r#"{"id":"m","n":"seven","n":9}"#,
        r#"{"id":"n","tags":["x"],"tags":["y","z"]}"#,
        r#"[1,2]"#,
        "  ",
        r#"{"id":"o","n":10"#,
        r#"{"id":"p","n":11}"#,
        r#"{"tags":["x",{"o":1}],"id":"q"}"#,
        r#"{"id":"r","tags":["w"]}"#,
    ]
    .iter()
    .map(|r| r.as_bytes().to_vec())
    .collect()
}

#[test]
fn the_direct_path_gives_what_reading_cells_gives() {
    let mut records = unusual_records();
    records.extend(mixed_records(50));
    let c = converter();
    let direct = c.convert(&records);
    let by_cells = convert_by_cells(&c, &records);
    assert_eq!(direct.batch, by_cells.batch);
    assert_eq!(direct.failed, by_cells.failed);
    let ids = direct.batch.column(0).as_string::<i32>();
    let first: Vec<&str> = (0..10).map(|r| ids.value(r)).collect();
    assert_eq!(first, ["a", "bé", "d", "f", "h", "i", "l", "m", "n", "p"]);
    let tags = direct.batch.column(3).as_list::<i32>();
    assert_eq!(tags.value(3).len(), 1, "f's tags, after e's began items");
    assert_eq!(tags.value(8).len(), 2, "n's later tags win");
    let r = tags.value(10);
    assert_eq!(
        (ids.value(10), r.as_string::<i32>().value(0), r.len()),
        ("r", "w", 1),
        "r's tags hold nothing of q's, whose list failed first in its row"
    );
}

/// `n` copies of `originals` cut short, with a byte replaced or a piece repeated, each
/// followed by the first original, which converts.
fn mangled(originals: &[Vec<u8>], n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut records = Vec::new();
    for _ in 0..n {
        let mut r = originals[rng.usize(..originals.len())].clone();
        let at = rng.usize(..r.len());
        match rng.u8(..3) {
            0 => r.truncate(at),
            1 => {
                let bytes = b"\"{}[],:0-.tfn \\x9eE";
                r[at] = bytes[rng.usize(..bytes.len())];
            }
            _ => {
                let piece = r[at..rng.usize(at..=r.len())].to_vec();
                r.splice(at..at, piece);
            }
        }
        records.push(r);
        records.push(originals[0].clone());
    }
    records
}

#[test]
fn the_direct_path_agrees_on_mangled_records() {
    // The direct path stops at any point of a row in these; each time, the row it began must
    // vanish and the general path must settle the record as it would alone. Over the test
    // table, and over one with a column of each other type the direct path appends itself.
    let originals: Vec<Vec<u8>> = unusual_records()
        .into_iter()
        .chain(mixed_records(14))
        .filter(|r| r.len() > 2)
        .collect();
    let wide = Converter::new(
        [
            ("id", "string"),
            ("b", "boolean"),
            ("big", "bigint"),
            ("d", "date"),
            ("x", "double"),
            ("t", "tinyint"),
            ("at", "timestamp"),
            ("arr", "array<bigint>"),
        ]
        .iter()
        .map(|(name, ty)| GlueColumn {
            name: (*name).into(),
            hive_type: HiveType::parse(ty).unwrap(),
        })
        .collect(),
    );
    let wide_originals: Vec<Vec<u8>> = [
        r#"{"id":"a","b":true,"big":12345678901,"d":"2021-11-12","x":1.5,"t":7,"at":"2026-11-24 08:15:30.5","arr":[1,2]}"#,
        r#"{"ID":5,"B":"false","big":"77","d":"1998-01-01","x":"2.5","t":"-8","at":1795507200,"arr":[]}"#,
        r#"{"id":null,"b":null,"big":-1,"d":null,"x":3,"t":300,"at":"2026-11-24T08:15:30Z","arr":[null,5]}"#,
        r#"{"arr":[1,"x",{"a":1}],"b":1,"id":"q","at":"bad"}"#,
    ]
    .iter()
    .map(|r| r.as_bytes().to_vec())
    .collect();
    for (c, originals) in [(converter(), &originals), (wide, &wide_originals)] {
        let records = mangled(originals, 3_000, 7);
        let direct = c.convert(&records);
        let by_cells = convert_by_cells(&c, &records);
        assert_eq!(direct.failed, by_cells.failed);
        assert_eq!(direct.batch, by_cells.batch);
        let failed = direct.failed.len();
        assert!(failed > 1_000 && failed < 3_000, "{failed} of 6,000 failed");
    }
}

fn read_back(body: Vec<u8>) -> (Vec<RecordBatch>, usize) {
    use std::io::Write;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&body).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let groups = reader.metadata().num_row_groups();
    (reader.build().unwrap().collect::<Result<_, _>>().unwrap(), groups)
}

#[test]
fn parallel_parquet_holds_the_batch_in_row_groups_of_the_limit() {
    let c = converter().with_threads(3);
    let batch = c.convert(&mixed_records(5_000)).batch;
    let (single, groups) = read_back(write_parquet(&batch).unwrap());
    assert_eq!(groups, 1);
    assert_eq!(
        arrow::compute::concat_batches(&c.schema(), &single).unwrap(),
        batch
    );

    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1_000))
        .build();
    let (batches, groups) = read_back(write_row_groups(&batch, 3, props).unwrap());
    assert_eq!(groups, batch.num_rows().div_ceil(1_000));
    let back = arrow::compute::concat_batches(&c.schema(), &batches).unwrap();
    assert_eq!(back, batch);
    // The footer carries the Arrow schema, as ArrowWriter's does (UTC timestamps stay UTC).
    assert_eq!(back.schema(), c.schema());

    let (empty, groups) = read_back(c.write_parquet(&batch.slice(0, 0)).unwrap());
    assert_eq!(
        (empty.iter().map(RecordBatch::num_rows).sum::<usize>(), groups),
        (0, 0)
    );
}

#[test]
fn columns_of_unique_strings_are_written_plain_and_repeated_ones_with_a_dictionary() {
    // id: unique per record; tags: one unique and one repeated value per record; n and at:
    // not strings, left to parquet-rs's own choice.
    let records: Vec<Vec<u8>> = (0..20_000)
        .map(|i| {
            format!(
                r#"{{"id":"record-{i:08}","n":{},"tags":["t{i}","common"]}}"#,
                i % 7
            )
            .into_bytes()
        })
        .collect();
    let c = converter();
    let batch = c.convert(&records).batch;
    let body = c.write_parquet(&batch).unwrap();
    let (back, _) = read_back(body.clone());
    assert_eq!(arrow::compute::concat_batches(&c.schema(), &back).unwrap(), batch);

    use parquet::file::reader::FileReader;
    use std::io::Write;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&body).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    let group = reader.metadata().row_group(0).clone();
    let dictionary = |name: &str| {
        let chunk = group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        chunk.dictionary_page_offset().is_some()
    };
    assert!(!dictionary("id"), "a column of unique values needs no dictionary");
    assert!(
        dictionary("tags.list.item"),
        "half the tags repeat: a dictionary pays"
    );
    assert!(
        dictionary("n"),
        "parquet-rs keeps its dictionary for non-string columns"
    );

    // The judgment itself, as parquet-java makes it: ids + dictionary < plain.
    let strings = |values: Vec<String>| arrow::array::StringArray::from(values);
    assert!(!dictionary_pays(&strings(
        (0..5_000).map(|i| format!("{i:032}")).collect()
    )));
    assert!(dictionary_pays(&strings(
        (0..5_000).map(|i| format!("{:032}", i % 50)).collect()
    )));
    // A value in 1,500 distinct ones (36 bytes each with the length): after 64 KiB (1,820
    // values) a dictionary would be 86% of plain, so the full first page decides, one way
    // or the other.
    assert!(dictionary_pays(&strings(
        (0..50_000).map(|i| format!("{:032}", i % 1_500)).collect()
    )));
    assert!(!dictionary_pays(&strings(
        (0..50_000)
            .map(|i| format!("{:032}", if i < 2_000 { i % 1_500 } else { i }))
            .collect()
    )));
    assert!(!dictionary_pays(&strings(Vec::new())), "nothing to encode");
}

#[test]
fn buffers_sized_from_a_sample_still_hold_longer_records_after_it() {
    // The sample sees short values; the records after it are a hundred times longer.
    let records: Vec<Vec<u8>> = (0..2 * SIZING_SAMPLE)
        .map(|i| {
            let id = if i < SIZING_SAMPLE {
                "x".repeat(3)
            } else {
                "y".repeat(300)
            };
            format!(r#"{{"id":"{id}","tags":["{id}","{id}","{id}"]}}"#).into_bytes()
        })
        .collect();
    let out = converter().convert(&records);
    assert!(out.failed.is_empty());
    let ids = out.batch.column(0).as_string::<i32>();
    assert_eq!(ids.value(0).len(), 3);
    assert_eq!(ids.value(2 * SIZING_SAMPLE - 1).len(), 300);
    let tags = out.batch.column(3).as_list::<i32>();
    assert_eq!(tags.value(2 * SIZING_SAMPLE - 1).len(), 3);
}

#[test]
fn arrays_are_read_item_by_item_and_a_later_duplicate_key_wins() {
    let c = converter();
    let out = c.convert(&[
        br#"{"id":"a","tags":["x",null,"y"],"n":"seven","n":7}"#.as_slice(),
        br#"{"id":"b","tags":["x",{"o":1},"z"],"n":1}"#.as_slice(),
        br#"{"id":["not","a","string"]}"#.as_slice(),
        br#"{"id":"c","tags":[[1],"z"]}"#.as_slice(),
        br#"{"id":"d","tags":[]}"#.as_slice(),
    ]);
    let failed: Vec<(usize, &str)> = out.failed.iter().map(|(i, e)| (*i, e.message.as_str())).collect();
    assert_eq!(
        failed,
        vec![
            (1, "column tags (array<string>): cannot read an object as string"),
            (2, "column id (string): cannot read an array as string"),
            (3, "column tags (array<string>): cannot read an array as string"),
        ]
    );
    let b = &out.batch;
    assert_eq!(b.num_rows(), 2);
    assert_eq!(b.column(1).as_primitive::<Int32Type>().value(0), 7);
    let tags = b.column(3).as_list::<i32>();
    let first = tags.value(0);
    let first = first.as_string::<i32>();
    assert_eq!(
        (first.len(), first.value(0), first.is_null(1), first.value(2)),
        (3, "x", true, "y")
    );
    assert!(
        tags.is_valid(1) && tags.value(1).is_empty(),
        "[] is an empty list, not NULL"
    );
}
