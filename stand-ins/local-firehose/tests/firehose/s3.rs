use local_firehose::{FirehoseConfig, Output};
use moto_server::MotoServer;

use crate::support::{client, flush_only, send_all};

const BUCKET: &str = "tracklake-lake-test";

#[tokio::test]
async fn delivers_into_an_s3_bucket() {
    let moto = MotoServer::start();
    // The store reads the standard AWS configuration chain, as `tracklake firehose` would; this
    // is the only test of the binary that reads these variables.
    moto.set_credentials_in_environment();
    let s3 = moto.create_bucket(BUCKET).await;

    // Its own journal folder: the default one, under the system's temporary folder, is shared by
    // every local Firehose of this bucket name on the machine.
    let state = tempfile::tempdir().unwrap();
    let firehose = local_firehose::start(FirehoseConfig {
        output: Output::S3 {
            bucket: BUCKET.into(),
            endpoint: Some(moto.endpoint()),
        },
        buffering: flush_only(),
        state_dir: Some(state.path().to_owned()),
        ..FirehoseConfig::default()
    })
    .await
    .unwrap();
    let lines: Vec<Vec<u8>> = (0..10).map(firehose_transform::sample::envelope_line).collect();
    send_all(&client(&firehose), firehose.stream_name(), &lines).await;
    let stats = firehose.shutdown().await.unwrap();
    assert!(stats.is_accounted(), "{stats:?}");
    assert_eq!(stats.write_failures, 0);

    let listed = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    let parquet: Vec<&&str> = keys
        .iter()
        .filter(|k| k.starts_with("processed/source="))
        .collect();
    assert_eq!(parquet.len() as u64, stats.objects.parquet, "{keys:?}");
    assert!(parquet.iter().all(|k| k.ends_with(".parquet")));
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("raw/")).count(),
        1,
        "{keys:?}"
    );
    let body = s3
        .get_object()
        .bucket(BUCKET)
        .key(*parquet[0])
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..4], b"PAR1");
}
