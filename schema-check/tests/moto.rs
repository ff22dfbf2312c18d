//! `schema check` against moto's Glue (started by each test on a free loopback port): the real
//! `aws-sdk-glue` client creates the table from the checked-in definition with `CreateTable`,
//! drifts it with `UpdateTable`, and the check must name every difference.

use aws_sdk_glue::types::DatabaseInput;
use moto_server::MotoServer;
use schema_check::{
    check, check_and_print, CheckArgs, CheckError, Difference, Field, FieldKind, ParameterScope, TableShape,
    EXIT_DRIFT, EXIT_ERROR,
};

const DATABASE: &str = "tracklake";
const BUCKET: &str = "tracklake-lake-test";

fn client(moto: &MotoServer) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::new(&moto.sdk_config())
}

/// The table as checked in (`schemas/glue/track_observations.json`, read from disk as `infra/`
/// reads it), for `BUCKET`.
fn checked_in() -> TableShape {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../",
        "schemas/glue/track_observations.json"
    );
    let text = std::fs::read_to_string(path).expect("the checked-in Glue definition");
    TableShape::from_definition(&schemas::glue::parse(&text).unwrap(), BUCKET)
}

async fn deploy(glue: &aws_sdk_glue::Client) {
    glue.create_database()
        .database_input(DatabaseInput::builder().name(DATABASE).build().unwrap())
        .send()
        .await
        .expect("CreateDatabase on moto");
    glue.create_table()
        .database_name(DATABASE)
        .table_input(checked_in().to_table_input())
        .send()
        .await
        .expect("CreateTable on moto");
}

#[tokio::test]
async fn deployed_from_the_checked_in_definition_is_clean_and_each_drift_is_reported() {
    let moto = MotoServer::start();
    let glue = client(&moto);
    deploy(&glue).await;

    let report = check(&glue, &CheckArgs::new(DATABASE)).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.bucket, BUCKET, "bucket taken from the deployed location");
    assert_eq!(report.expected.columns.len(), checked_in().columns.len());

    // Drift the table the way a console edit or a half-applied change would.
    let mut drifted = checked_in();
    let col = |name: &str, d: &mut TableShape| d.columns.iter().position(|c| c.name == name).unwrap();
    let i = col("popularity", &mut drifted);
    drifted.columns[i].hive_type = "string".into();
    let i = col("isrc", &mut drifted);
    drifted.columns.remove(i);
    drifted.columns.push(Field {
        name: "mood".into(),
        hive_type: "string".into(),
    });
    drifted.partition_keys[1].hive_type = "date".into();
    drifted.serde_library = Some("org.openx.data.jsonserde.JsonSerDe".into());
    drifted.serde_parameters.clear();
    drifted
        .parameters
        .insert("projection.dt.range".into(), "2020-01-01,NOW".into());
    drifted.parameters.remove("storage.location.template");
    glue.update_table()
        .database_name(DATABASE)
        .table_input(drifted.to_table_input())
        .send()
        .await
        .expect("UpdateTable on moto");

    let report = check(&glue, &CheckArgs::new(DATABASE)).await.unwrap();
    let text = report.to_string();
    let expected = vec![
        Difference::Type {
            kind: FieldKind::Column,
            name: "popularity".into(),
            expected: "int".into(),
            actual: "string".into(),
        },
        Difference::Missing {
            kind: FieldKind::Column,
            name: "isrc".into(),
            hive_type: "string".into(),
        },
        Difference::Unexpected {
            kind: FieldKind::Column,
            name: "mood".into(),
            hive_type: "string".into(),
        },
        Difference::Type {
            kind: FieldKind::PartitionKey,
            name: "dt".into(),
            expected: "string".into(),
            actual: "date".into(),
        },
        Difference::Setting {
            name: "SerDe library",
            expected: Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe".into()),
            actual: Some("org.openx.data.jsonserde.JsonSerDe".into()),
        },
        Difference::Parameter {
            scope: ParameterScope::Serde,
            key: "serialization.format".into(),
            expected: Some("1".into()),
            actual: None,
        },
        Difference::Parameter {
            scope: ParameterScope::Table,
            key: "projection.dt.range".into(),
            expected: Some("2006-01-01,NOW".into()),
            actual: Some("2020-01-01,NOW".into()),
        },
        Difference::Parameter {
            scope: ParameterScope::Table,
            key: "storage.location.template".into(),
            expected: Some(format!("s3://{BUCKET}/processed/source=${{source}}/dt=${{dt}}/")),
            actual: None,
        },
    ];
    assert_eq!(report.differences, expected, "{text}");
    assert!(text.contains("differs from schemas/ in 8 place(s)"), "{text}");
    assert!(
        text.contains("column `popularity` has type `string`, schemas/ says `int`"),
        "{text}"
    );
    assert!(text.contains("pulumi up"), "{text}");
}

#[tokio::test]
async fn a_bucket_other_than_the_deployed_one_is_drift_in_every_location() {
    let moto = MotoServer::start();
    let glue = client(&moto);
    deploy(&glue).await;
    let mut args = CheckArgs::new(DATABASE);
    args.bucket = Some("another-bucket".into());
    let report = check(&glue, &args).await.unwrap();
    let keys: Vec<String> = report
        .differences
        .iter()
        .map(|d| match d {
            Difference::Setting { name, .. } => name.to_string(),
            Difference::Parameter { key, .. } => key.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(keys, ["location", "storage.location.template"]);
}

#[tokio::test]
async fn a_missing_table_says_how_to_deploy_it() {
    let moto = MotoServer::start();
    let glue = client(&moto);
    glue.create_database()
        .database_input(DatabaseInput::builder().name(DATABASE).build().unwrap())
        .send()
        .await
        .unwrap();
    let err = check(&glue, &CheckArgs::new(DATABASE)).await.unwrap_err();
    assert!(matches!(err, CheckError::TableNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("pulumi up"), "{err}");
}

#[tokio::test]
async fn exit_status_is_0_clean_1_drift_2_cannot_check() {
    let moto = MotoServer::start();
    let glue = client(&moto);
    let args = CheckArgs::new(DATABASE);
    let run = |glue: aws_sdk_glue::Client, args: CheckArgs| async move {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = check_and_print(&glue, &args, &mut out, &mut err).await;
        (
            status,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    };

    let (status, _, err) = run(glue.clone(), args.clone()).await;
    assert_eq!(status, EXIT_ERROR, "no database yet: {err}");
    assert!(err.starts_with("error: "), "{err}");

    deploy(&glue).await;
    let (status, out, err) = run(glue.clone(), args.clone()).await;
    assert_eq!((status, err.as_str()), (0, ""), "{out}");
    assert!(
        out.contains(&format!(
            "matches schemas/ ({} columns, 2 partition keys",
            checked_in().columns.len()
        )),
        "{out}"
    );

    let mut drifted = checked_in();
    drifted.columns.pop();
    glue.update_table()
        .database_name(DATABASE)
        .table_input(drifted.to_table_input())
        .send()
        .await
        .unwrap();
    let (status, out, _) = run(glue, args).await;
    assert_eq!(status, EXIT_DRIFT, "{out}");
    assert!(
        out.contains("column `export_file` (string) is in schemas/ but not in the deployed table"),
        "{out}"
    );
}
