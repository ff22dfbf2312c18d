//! The table from the Glue definition, partition pruning, empty and missing lakes, bad queries.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use local_athena::{AthenaError, GlueTable, LocalAthena};

use crate::queries::rows;
use crate::scenario;

#[test]
fn glue_columns_map_to_the_arrow_schema_of_the_parquet_files() {
    let table = GlueTable::track_observations().expect("the checked-in definition reads");
    assert_eq!(table.name, "track_observations");
    assert_eq!(table.partition_keys, ["source", "dt"]);
    let files = schemas::arrow::arrow_schema();
    assert_eq!(table.columns.fields().len(), files.fields().len());
    for (glue, file) in table.columns.fields().iter().zip(files.fields()) {
        assert_eq!(glue.name(), file.name());
        // Hive has no NOT NULL: the table's fields are all nullable, list items too.
        let expected = match file.data_type() {
            DataType::List(item) => {
                DataType::List(Arc::new(Field::new(item.name(), item.data_type().clone(), true)))
            }
            other => other.clone(),
        };
        assert_eq!(glue.data_type(), &expected, "column {}", glue.name());
        assert!(glue.is_nullable());
    }
}

#[test]
fn a_glue_type_without_an_arrow_mapping_is_a_clear_error() {
    // The definition is typed in `schemas`: an unknown type stops it from parsing at all.
    let mut def: serde_json::Value = serde_json::from_str(schemas::glue::TABLE_JSON).unwrap();
    def["TableInput"]["StorageDescriptor"]["Columns"][1]["Type"] = "map<string,int>".into();
    let err = serde_json::from_value::<schemas::glue::TableDefinition>(def)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column event_at") && err.contains("map<string,int>"),
        "{err}"
    );
}

#[tokio::test]
async fn partition_keys_come_from_the_folders() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let r = rows(
        &athena
            .query("SELECT source, count(*) AS n FROM track_observations WHERE dt = '2026-11-23' GROUP BY source ORDER BY source")
            .await
            .unwrap(),
    );
    assert_eq!(r, vec![vec!["recently_played".to_string(), "4".to_string()]]);
}

/// A partition folder holding a file that is not Parquet: a query that reads it fails, so a query
/// that succeeds never opened it.
fn lake_with_corrupt_partition() -> tempfile::TempDir {
    let lake = scenario::lake();
    let bad = lake.path().join("processed/source=search/dt=2026-11-20");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join(
            "tracklake-track-observations-1-2026-11-20-10-00-00-deadbeef-0000-0000-0000-000000000000.parquet",
        ),
        b"this is not a parquet file",
    )
    .unwrap();
    lake
}

#[tokio::test]
async fn a_filter_on_partition_keys_prunes_the_other_partitions() {
    let lake = lake_with_corrupt_partition();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    // The whole table reads the corrupt file and fails: the file is in the table.
    let err = athena
        .query("SELECT count(*) FROM track_observations")
        .await
        .unwrap_err();
    assert!(matches!(err, AthenaError::Engine { .. }), "{err}");
    // Filters on source or dt never open it, on the table and through the dedupe view.
    for sql in [
        "SELECT count(*) FROM track_observations WHERE source = 'recently_played'",
        "SELECT count(*) FROM track_observations WHERE dt <> '2026-11-20'",
        "SELECT count(*) FROM track_observations_dedup WHERE source = 'recently_played'",
    ] {
        let r = athena.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(!rows(&r).is_empty());
    }
    // The named queries that filter on source run on this lake too.
    for name in [
        "listening_by_hour",
        "top_tracks",
        "top_list_movement",
        "playlist_churn",
    ] {
        athena
            .run_named(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn explain_shows_only_the_files_of_the_selected_partition() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let plan = rows(
        &athena
            .query("EXPLAIN SELECT track_name FROM track_observations WHERE source = 'saved_tracks'")
            .await
            .unwrap(),
    );
    let text: String = plan.iter().flatten().cloned().collect::<Vec<_>>().join("\n");
    assert!(text.contains("source=saved_tracks"), "{text}");
    for other in ["source=recently_played", "source=top_tracks", "source=playlist"] {
        assert!(!text.contains(other), "{other} in the plan:\n{text}");
    }
}

#[tokio::test]
async fn a_lake_without_processed_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = LocalAthena::open(&dir.path().join("nowhere"))
        .await
        .err()
        .expect("no lake");
    let text = err.to_string();
    assert!(matches!(err, AthenaError::LakeNotFound { .. }));
    assert!(
        text.contains("no lake at") && text.contains("processed"),
        "{text}"
    );
}

#[tokio::test]
async fn an_empty_lake_is_an_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("processed")).unwrap();
    let athena = LocalAthena::open(dir.path()).await.expect("open");
    let r = rows(
        &athena
            .query("SELECT count(*) FROM track_observations")
            .await
            .unwrap(),
    );
    assert_eq!(r, vec![vec!["0".to_string()]]);
    for q in athena.queries() {
        athena
            .run_named(&q.name)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.name));
    }
}

#[tokio::test]
async fn files_other_than_parquet_are_not_part_of_the_table() {
    let lake = scenario::lake();
    let dir = lake.path().join("processed/source=saved_tracks/dt=2026-11-24");
    std::fs::write(dir.join("upload-in-progress.tmp"), b"partial").unwrap();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let r = rows(
        &athena
            .query("SELECT count(*) FROM track_observations WHERE source = 'saved_tracks'")
            .await
            .unwrap(),
    );
    assert_eq!(r, vec![vec!["1".to_string()]]);
}

#[tokio::test]
async fn a_bad_query_gives_a_clear_error() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let err = athena
        .query("SELECT no_such_column FROM track_observations")
        .await
        .map_err(crate::chain)
        .unwrap_err();
    assert!(err.contains("no_such_column"), "{err}");
    let err = athena.query("SELEC 1").await.map_err(crate::chain).unwrap_err();
    assert!(err.contains("SELEC"), "{err}");
    let err = athena
        .query("SELECT * FROM no_such_table")
        .await
        .map_err(crate::chain)
        .unwrap_err();
    assert!(err.contains("no_such_table"), "{err}");
}

#[tokio::test]
async fn an_unknown_query_name_lists_the_named_queries() {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let err = athena.run_named("top_trakcs").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AthenaError::UnknownQuery { .. }));
    assert!(text.contains("top_trakcs"), "{text}");
    for name in [
        "dedupe",
        "listening_by_hour",
        "top_tracks",
        "top_artists",
        "new_discoveries",
        "top_list_movement",
        "playlist_churn",
        "popularity_trend",
    ] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
}

#[tokio::test]
async fn a_session_keeps_the_metadata_of_every_file_for_the_next_query() {
    let dir = scenario::lake();
    let files = walk_parquet(dir.path());
    let athena = LocalAthena::open(dir.path()).await.expect("open");
    athena
        .query("SELECT max(track_name) FROM track_observations")
        .await
        .expect("a query over every file");
    let cache = athena
        .session()
        .runtime_env()
        .cache_manager
        .get_file_metadata_cache();
    let entries = cache.list_entries();
    assert_eq!(
        entries.len(),
        files,
        "one cached footer per Parquet file of the lake"
    );
    // The limit holds at least 10,000 files of the size these are (see the constant's comment).
    let per_file = entries.values().map(|e| e.size_bytes).sum::<usize>() / entries.len();
    assert!(
        local_athena::PARQUET_METADATA_CACHE_BYTES / per_file >= 10_000,
        "{per_file} bytes per file: the cache holds only {} files",
        local_athena::PARQUET_METADATA_CACHE_BYTES / per_file
    );
    assert_eq!(cache.cache_limit(), local_athena::PARQUET_METADATA_CACHE_BYTES);
}

fn walk_parquet(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            if p.is_dir() {
                walk_parquet(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "parquet"))
            }
        })
        .sum()
}
