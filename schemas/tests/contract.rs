//! Tests of the schemas crate. Index:
//! - `glue_*`: the checked-in Glue definition is current and typed as Athena expects;
//! - `evolution_*`: every released schema version stays readable; breaking changes are named;
//! - `record_*` / `validate_*`: the generated Rust record and the validator agree with the schema;
//! - `arrow_*`: the Parquet schema; `envelope_*`: the raw envelope.

use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use schemas::evolution::check_backward_compatible;
use schemas::{glue, Source, Timestamp, TrackObservation};
use serde_json::json;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn glue_definition_checked_in_is_current() {
    let path = repo_root().join(glue::GLUE_TABLE_PATH);
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == glue::table_definition_text(),
        "{} is stale or missing: it no longer matches schemas/track_observation.avsc and \
         schemas/delivery.json. Regenerate it with `{}` and commit the result.",
        glue::GLUE_TABLE_PATH,
        glue::REGENERATE_COMMAND
    );
}

#[test]
fn glue_columns_have_hive_types_and_no_partition_keys() {
    let cols = glue::columns();
    let ty = |n: &str| {
        cols.iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("no column {n}"))
            .hive_type
            .to_string()
    };
    assert_eq!(ty("event_at"), "timestamp");
    assert_eq!(ty("observed_at"), "timestamp");
    assert_eq!(ty("added_at"), "timestamp");
    assert_eq!(ty("album_release_date"), "date");
    assert_eq!(ty("duration_ms"), "int");
    assert_eq!(ty("popularity"), "int");
    assert_eq!(ty("explicit"), "boolean");
    assert_eq!(ty("artist_ids"), "array<string>");
    assert_eq!(ty("artist_names"), "array<string>");
    assert_eq!(cols.len(), schemas::FIELD_NAMES.len());
    for key in ["source", "dt"] {
        assert!(
            cols.iter().all(|c| c.name != key),
            "{key} must be a partition key, not a column"
        );
    }
    let def = glue::generate();
    let keys: Vec<&str> = def
        .table_input
        .partition_keys
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(keys, ["source", "dt"]);
    let params = &def.table_input.parameters;
    assert_eq!(params["projection.enabled"], "true");
    assert_eq!(
        params["projection.source.values"],
        "recently_played,top_tracks,saved_tracks,playlist,search,streaming_history"
    );
    assert_eq!(params["projection.dt.type"], "date");
    assert_eq!(
        params["storage.location.template"],
        "s3://{bucket}/processed/source=${source}/dt=${dt}/"
    );
    assert!(cols.iter().all(|c| c.comment.chars().count() <= 255));
}

fn released_versions() -> Vec<(String, Schema)> {
    let dir = repo_root().join("schemas/versions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("schemas/versions exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
        .collect();
    files.sort_by_key(|p| version_number(p));
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let schema = Schema::parse_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            (name, schema)
        })
        .collect()
}

fn version_number(path: &Path) -> u32 {
    let name = path.file_name().unwrap().to_string_lossy();
    let v = name
        .trim_start_matches("track_observation.v")
        .trim_end_matches(".avsc");
    v.parse()
        .unwrap_or_else(|_| panic!("{name}: versions are named track_observation.vN.avsc"))
}

#[test]
fn evolution_current_schema_reads_every_released_version() {
    let versions = released_versions();
    assert!(!versions.is_empty(), "schemas/versions holds no released schema");
    let current = schemas::avro_schema();
    for (name, earlier) in &versions {
        if let Err(e) = check_backward_compatible(name, earlier, current) {
            panic!("breaking schema change: {e}");
        }
        // Beyond the rule check: write a datum with the old schema and read it with the new one.
        let datum = sample_datum(earlier);
        let mut writer = apache_avro::Writer::new(earlier, Vec::new()).unwrap();
        writer.append_value(datum).unwrap();
        let bytes = writer.into_inner().unwrap();
        let reader = apache_avro::Reader::builder(&bytes[..])
            .reader_schema(current)
            .build()
            .unwrap();
        let read: Vec<_> = reader
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: data written with it cannot be read: {e}"));
        assert_eq!(read.len(), 1);
    }
}

#[test]
fn evolution_current_schema_is_released() {
    let (name, latest) = released_versions().pop().unwrap();
    assert!(
        latest.canonical_form() == schemas::avro_schema().canonical_form(),
        "schemas/track_observation.avsc differs from the latest released version {name}: copy it to \
         schemas/versions/track_observation.v{}.avsc so the next change is checked against it",
        released_versions().len() + 1
    );
}

fn current_with(edit: impl FnOnce(&mut serde_json::Value)) -> Schema {
    let mut json: serde_json::Value = serde_json::from_str(schemas::SCHEMA_JSON).unwrap();
    edit(&mut json);
    Schema::parse_str(&json.to_string()).unwrap()
}

fn fields_mut(schema: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    schema["fields"].as_array_mut().unwrap()
}

#[test]
fn evolution_rejects_new_field_without_default_naming_it() {
    let next = current_with(|s| fields_mut(s).push(json!({"name": "energy", "type": "double"})));
    let err = check_backward_compatible("v1", schemas::avro_schema(), &next)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`energy`") && err.contains("without a default"),
        "{err}"
    );
}

#[test]
fn evolution_rejects_changed_type_naming_it() {
    let next = current_with(|s| {
        let f = fields_mut(s)
            .iter_mut()
            .find(|f| f["name"] == "track_name")
            .unwrap();
        f["type"] = json!("int");
    });
    let err = check_backward_compatible("v1", schemas::avro_schema(), &next)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`track_name`") && err.contains("changed type"),
        "{err}"
    );
}

#[test]
fn evolution_rejects_removed_field_naming_it() {
    let next = current_with(|s| fields_mut(s).retain(|f| f["name"] != "isrc"));
    let err = check_backward_compatible("v1", schemas::avro_schema(), &next)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`isrc`") && err.contains("removed"), "{err}");
}

#[test]
fn evolution_accepts_nullable_field_with_default() {
    let next = current_with(|s| {
        fields_mut(s).push(json!({"name": "energy", "type": ["null", "double"], "default": null}))
    });
    check_backward_compatible("v1", schemas::avro_schema(), &next).unwrap();
}

/// A value of every field, for any version of the schema.
fn sample_datum(schema: &Schema) -> Avro {
    match schema {
        Schema::Null => Avro::Null,
        Schema::Boolean => Avro::Boolean(true),
        Schema::Int => Avro::Int(7),
        Schema::Long => Avro::Long(7),
        Schema::Double => Avro::Double(0.5),
        Schema::String => Avro::String("x".into()),
        Schema::Date => Avro::Date(10_000),
        Schema::TimestampMillis => Avro::TimestampMillis(1_764_000_000_000),
        Schema::Array(a) => Avro::Array(vec![sample_datum(&a.items)]),
        Schema::Union(u) => {
            let (i, s) = u
                .variants()
                .iter()
                .enumerate()
                .find(|(_, s)| **s != Schema::Null)
                .unwrap();
            Avro::Union(i as u32, Box::new(sample_datum(s)))
        }
        Schema::Record(r) => Avro::Record(
            r.fields
                .iter()
                .map(|f| (f.name.clone(), sample_datum(&f.schema)))
                .collect(),
        ),
        other => panic!("sample_datum: extend for {other:?}"),
    }
}

fn full_record() -> TrackObservation {
    let at = Timestamp::parse("2026-11-24T08:15:30.123Z").unwrap();
    TrackObservation {
        record_key: "k".into(),
        event_at: at,
        observed_at: at,
        added_at: Some(at),
        user_id: Some("u".into()),
        context_id: Some("p".into()),
        position: Some(3),
        snapshot_id: Some("s".into()),
        added_by: Some("a".into()),
        play_context_type: Some("playlist".into()),
        play_context_uri: Some("spotify:playlist:p".into()),
        track_id: Some("t".into()),
        track_uri: Some("spotify:track:t".into()),
        track_name: "Jóga".into(),
        duration_ms: Some(305_000),
        explicit: Some(false),
        popularity: Some(61),
        isrc: Some("GBAAA9700001".into()),
        is_local: Some(false),
        disc_number: Some(1),
        track_number: Some(2),
        album_id: Some("al".into()),
        album_name: Some("Homogenic".into()),
        album_type: Some("album".into()),
        album_release_date: chrono::NaiveDate::from_ymd_opt(1997, 9, 22),
        album_release_date_precision: Some("day".into()),
        album_total_tracks: Some(10),
        album_image_url: Some("https://i.scdn.co/image/x".into()),
        artist_ids: vec![Some("ar".into()), None],
        artist_names: vec!["Björk".into(), "Local".into()],
        primary_artist_id: Some("ar".into()),
        primary_artist_name: Some("Björk".into()),
        ms_played: Some(183_000),
        skipped: Some(true),
        reason_start: Some("clickrow".into()),
        reason_end: Some("fwdbtn".into()),
        shuffle: Some(false),
        offline: Some(false),
        incognito_mode: Some(false),
        platform: Some("android".into()),
        conn_country: Some("IS".into()),
        export_file: Some("Streaming_History_Audio_1997_0.json".into()),
    }
}

#[test]
fn record_generated_struct_matches_schema_fields() {
    let json = serde_json::to_value(full_record()).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    let mut expected: Vec<&str> = schemas::FIELD_NAMES.to_vec();
    expected.sort();
    assert_eq!(keys, expected);
    let names: Vec<&str> = schemas::fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, schemas::FIELD_NAMES);
}

#[test]
fn record_full_and_minimal_validate() {
    let full = full_record();
    let value = schemas::validate(&serde_json::to_value(&full).unwrap()).unwrap();
    assert!(value.validate(schemas::avro_schema()));
    let mut minimal = full.clone();
    minimal.user_id = None;
    minimal.popularity = None;
    minimal.album_release_date = None;
    minimal.track_id = None;
    minimal.added_at = None;
    let json = serde_json::to_value(&minimal).unwrap();
    assert_eq!(
        json["popularity"],
        serde_json::Value::Null,
        "missing popularity is null, never 0"
    );
    schemas::validate(&json).unwrap();
    // The JSON round-trips into the typed record.
    let back: TrackObservation = serde_json::from_value(json).unwrap();
    assert_eq!(back, minimal);
}

#[test]
fn record_json_uses_forms_firehose_openx_serde_reads() {
    let json = serde_json::to_value(full_record()).unwrap();
    assert_eq!(json["event_at"], "2026-11-24T08:15:30.123Z");
    assert_eq!(json["album_release_date"], "1997-09-22");
}

#[test]
fn validate_names_the_field_that_breaks_it() {
    let good = serde_json::to_value(full_record()).unwrap();
    let with = |k: &str, v: serde_json::Value| {
        let mut r = good.clone();
        r[k] = v;
        schemas::validate(&r).unwrap_err().to_string()
    };
    assert!(with("duration_ms", json!("long")).contains("`duration_ms` should be an integer"));
    assert!(with("duration_ms", json!(1u64 << 40)).contains("within 32 bits"));
    assert!(with("track_name", json!(null)).contains("`track_name` must not be null"));
    assert!(with("event_at", json!("noon")).contains("`event_at` should be a timestamp"));
    assert!(with("artist_names", json!(["a", 1])).contains("`artist_names[1]`"));
    assert!(with("bogus", json!(1)).contains("`bogus` is not in the track_observation schema"));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("track_name");
    assert!(schemas::validate(&missing)
        .unwrap_err()
        .to_string()
        .contains("`track_name`"));
    assert_eq!(
        schemas::validate(&json!([1])).unwrap_err(),
        schemas::ValidationError::NotAnObject
    );
}

#[test]
fn arrow_schema_follows_avro_types_and_nullability() {
    use arrow_schema::{DataType, TimeUnit};
    let s = schemas::arrow::arrow_schema();
    assert_eq!(s.fields().len(), schemas::FIELD_NAMES.len());
    let f = |n: &str| s.field_with_name(n).unwrap().clone();
    assert_eq!(
        f("event_at").data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert!(!f("event_at").is_nullable());
    assert_eq!(f("added_at").data_type(), f("event_at").data_type());
    assert!(f("added_at").is_nullable());
    assert_eq!(f("album_release_date").data_type(), &DataType::Date32);
    assert!(f("popularity").is_nullable());
    assert_eq!(f("duration_ms").data_type(), &DataType::Int32);
    let DataType::List(item) = f("artist_ids").data_type().clone() else {
        panic!("artist_ids is a list")
    };
    assert!(item.is_nullable() && item.data_type() == &DataType::Utf8);
}

#[test]
fn record_source_enum_matches_partition_key_values() {
    let keys = schemas::partition_keys();
    let values: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(keys[0].values, values);
    for s in Source::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
}

#[test]
fn envelope_keeps_spotify_object_byte_for_byte() {
    let line = br#"{"v":1,"source":"search","observed_at":"2026-11-24T08:00:00Z","context":{"query":"bj\u00f6rk","rank":1},"spotify":{"id":"x", "name":"B\u00f6"}}"#;
    let env: schemas::RawEnvelope = serde_json::from_slice(line).unwrap();
    assert_eq!(env.source, Source::Search);
    assert_eq!(env.spotify.get(), r#"{"id":"x", "name":"B\u00f6"}"#);
    assert_eq!(env.context.query.as_deref(), Some("björk"));
    let out = env.to_line();
    assert_eq!(out.last(), Some(&b'\n'));
    assert!(String::from_utf8(out)
        .unwrap()
        .contains(r#""spotify":{"id":"x", "name":"B\u00f6"}"#));
}

/// `write_json` (the transform's fast writer) must write exactly what serde_json writes.
fn assert_same_json(record: &TrackObservation) {
    use schemas::json_line::WriteJson as _;
    let mut fast = Vec::new();
    record.write_json(&mut fast);
    let reference = serde_json::to_vec(record).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&reference),
        "TrackObservation::write_json and serde_json disagree"
    );
}

#[test]
fn record_write_json_is_serde_json_byte_for_byte() {
    let full = full_record();
    assert_same_json(&full);
    let mut minimal = full.clone();
    minimal.added_at = None;
    minimal.user_id = None;
    minimal.popularity = None;
    minimal.album_release_date = None;
    minimal.artist_ids = vec![];
    minimal.artist_names = vec![];
    assert_same_json(&minimal);
    let mut odd = full.clone();
    odd.track_name =
        "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7f} \u{2028} 😀".into();
    odd.artist_names = vec!["\"".into(), "\\".into(), String::new(), "\u{1f}".into()];
    odd.position = Some(i32::MIN);
    odd.duration_ms = Some(i32::MAX);
    odd.explicit = Some(true);
    odd.event_at = Timestamp::parse("0001-01-01T00:00:00Z").unwrap();
    odd.observed_at = Timestamp::parse("9999-12-31T23:59:59.999Z").unwrap();
    assert_same_json(&odd);
    for (y, m, d) in [
        (1, 1, 1),
        (9999, 12, 31),
        (0, 2, 29),
        (-5, 6, 7),
        (10_000, 1, 1),
        (123, 4, 5),
    ] {
        odd.album_release_date = chrono::NaiveDate::from_ymd_opt(y, m, d);
        assert!(odd.album_release_date.is_some());
        assert_same_json(&odd);
    }
}

proptest::proptest! {
    #[test]
    fn record_write_json_matches_serde_json_for_any_text(name in "\\PC*", raw in proptest::collection::vec(proptest::prelude::any::<char>(), 0..40)) {
        let mut record = full_record();
        record.track_name = name;
        record.album_name = Some(raw.iter().collect());
        record.artist_names = vec![raw.iter().rev().collect()];
        assert_same_json(&record);
    }
}

#[test]
fn record_key_of_an_export_play_depends_on_track_end_and_time_played() {
    use schemas::record_key::{record_key, Identity};
    let at = |t: &str| Timestamp::parse(t).unwrap();
    let key = |track, ended, ms| {
        record_key(
            Source::StreamingHistory,
            None,
            Identity::ExportPlay {
                track,
                ended_at: at(ended),
                ms_played: ms,
            },
        )
    };
    let base = key("spotify:track:a", "2024-03-01T17:45:02Z", 183_000);
    assert_eq!(base, key("spotify:track:a", "2024-03-01T17:45:02Z", 183_000));
    assert_eq!(base.len(), 32);
    assert_ne!(base, key("spotify:track:b", "2024-03-01T17:45:02Z", 183_000));
    assert_ne!(base, key("spotify:track:a", "2024-03-01T17:45:03Z", 183_000));
    assert_ne!(base, key("spotify:track:a", "2024-03-01T17:45:02Z", 183_001));
    // The same play seen through the Web API is another source, so another key: the named
    // queries pair the two by the matching rule, not by key.
    let api = record_key(
        Source::RecentlyPlayed,
        None,
        Identity::Event {
            track_uri: "spotify:track:a",
            event_at: at("2024-03-01T17:45:02Z"),
        },
    );
    assert_ne!(base, api);
}
