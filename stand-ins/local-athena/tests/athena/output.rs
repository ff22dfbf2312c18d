//! Table, CSV and JSON output.

use local_athena::{format_batches, LocalAthena, OutputFormat};

use crate::scenario;

const SQL: &str = "SELECT track_name, popularity, artist_names FROM track_observations_dedup \
                   WHERE source = 'top_tracks' AND context_id = 'medium_term' \
                   UNION ALL SELECT 'Demo tape', CAST(NULL AS INTEGER), artist_names FROM track_observations \
                   WHERE source = 'recently_played' AND is_local";

async fn result() -> Vec<arrow::array::RecordBatch> {
    let lake = scenario::lake();
    let athena = LocalAthena::open(lake.path()).await.expect("open");
    let mut b = athena
        .query(&format!("SELECT * FROM ({SQL}) ORDER BY track_name DESC"))
        .await
        .unwrap();
    b.retain(|b| b.num_rows() > 0);
    b
}

#[tokio::test]
async fn table_output_is_aligned_with_null_shown() {
    let text = format_batches(&result().await, OutputFormat::Table).unwrap();
    let expected = "\
+------------+------------+------------------+
| track_name | popularity | artist_names     |
+------------+------------+------------------+
| Hold On    | 66         | [Band of Horses] |
| Demo tape  | NULL       | [Unknown]        |
+------------+------------+------------------+";
    assert_eq!(text, expected);
}

#[tokio::test]
async fn csv_output_has_a_header_and_empty_nulls() {
    let text = format_batches(&result().await, OutputFormat::Csv).unwrap();
    assert_eq!(
        text,
        "track_name,popularity,artist_names\nHold On,66,[Band of Horses]\nDemo tape,,[Unknown]\n"
    );
}

#[tokio::test]
async fn json_output_is_an_array_of_objects_with_explicit_nulls() {
    let text = format_batches(&result().await, OutputFormat::Json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"track_name": "Hold On", "popularity": 66, "artist_names": ["Band of Horses"]},
            {"track_name": "Demo tape", "popularity": null, "artist_names": ["Unknown"]}
        ])
    );
}

#[tokio::test]
async fn an_empty_result_keeps_its_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("processed")).unwrap();
    let athena = LocalAthena::open(dir.path()).await.unwrap();
    let b = athena.run_named("top_tracks").await.unwrap();
    let csv = format_batches(&b, OutputFormat::Csv).unwrap();
    assert_eq!(
        csv,
        "rank,track_id,track_name,artist_name,plays,minutes_played,last_played_at\n"
    );
    assert_eq!(format_batches(&b, OutputFormat::Json).unwrap(), "[]\n");
    assert!(format_batches(&b, OutputFormat::Table)
        .unwrap()
        .contains("| rank | track_id |"));
}
