//! Records as the transformation Lambda really emits them (its sample envelopes run through
//! `firehose_transform::process`), written to the lake under the partition keys it returns, read
//! back through the Glue table and the named queries.

use base64::Engine;
use local_athena::LocalAthena;
use serde_json::Value;

use crate::lake::{batch, write_parquet};
use crate::queries::rows;

#[tokio::test]
async fn the_transforms_records_load_dedupe_and_answer_the_named_queries() {
    // 60 envelopes of every source, and the first 10 resent (as a producer retry would).
    let lines = (0..60)
        .chain(0..10)
        .map(firehose_transform::sample::envelope_line);
    let event = firehose_transform::sample::event(lines);
    let response: Value = serde_json::from_str(firehose_transform::process(&event).response.get()).unwrap();
    let mut partitions: std::collections::BTreeMap<(String, String), Vec<Value>> = Default::default();
    for r in response["records"].as_array().unwrap() {
        assert_eq!(r["result"], "Ok", "{r}");
        let data = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let record: Value = serde_json::from_slice(&data).unwrap();
        let keys = &r["metadata"]["partitionKeys"];
        let key = (
            keys["source"].as_str().unwrap().to_owned(),
            keys["dt"].as_str().unwrap().to_owned(),
        );
        partitions.entry(key).or_default().push(record);
    }
    let lake = tempfile::tempdir().unwrap();
    for (n, ((source, dt), records)) in partitions.iter().enumerate() {
        let dir = lake.path().join(format!("processed/source={source}/dt={dt}"));
        write_parquet(&dir, n, &batch(&records.iter().collect::<Vec<_>>()));
    }
    let athena = LocalAthena::open(lake.path()).await.unwrap();
    let counts = rows(
        &athena
            .query("SELECT (SELECT count(*) FROM track_observations) AS raw, (SELECT count(*) FROM track_observations_dedup) AS unique_keys")
            .await
            .unwrap(),
    );
    assert_eq!(counts, vec![vec!["70".to_string(), "60".to_string()]]);
    // Every column reads (types as the Glue table says), partition keys included.
    let r = rows(
        &athena
            .query("SELECT * FROM track_observations_dedup WHERE source = 'recently_played'")
            .await
            .unwrap(),
    );
    assert_eq!(r.len(), 12);
    for q in athena.queries() {
        athena
            .run_named(&q.name)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.name));
    }
    // The sample envelopes carry no popularity (a 2026 app): the trend is empty, not zeros.
    assert!(rows(&athena.run_named("popularity_trend").await.unwrap()).is_empty());
}
