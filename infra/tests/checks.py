"""The wiring assertions, as plain functions of the recorded resources, so that the same
assertions run on the real program (they must pass) and on deliberately mis-wired variants
(they must raise). Expected values come from the checked-in files, read here independently of
the program."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tracklake_infra import contracts

REPO = Path(__file__).resolve().parents[2]
DELIVERY = json.loads((REPO / "schemas" / "delivery.json").read_text())
GLUE_DEFINITION = json.loads((REPO / "schemas" / "glue" / "track_observations.json").read_text())

BUCKET = "aws:s3/bucket:Bucket"
FUNCTION = "aws:lambda/function:Function"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TABLE = "aws:glue/catalogTable:CatalogTable"
DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
QUEUE = "aws:sqs/queue:Queue"
SECRET = "aws:secretsmanager/secret:Secret"
NAMED_QUERY = "aws:athena/namedQuery:NamedQuery"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


# Firehose's defaults for a Lambda processor's parameters, which the program must leave out
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_ProcessorParameter.html).
PROCESSOR_DEFAULTS = {"BufferSizeInMBs": 1, "BufferIntervalInSeconds": 60, "NumberOfRetries": 3}


class World:
    """The recorded resources, looked up by type and logical name."""

    def __init__(self, resources) -> None:
        self.resources = list(resources)

    def all(self, typ: str) -> list:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str | None = None):
        found = [r for r in self.all(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def out(self, typ: str, name: str, key: str) -> Any:
        value = self.one(typ, name).outputs.get(key)
        assert value, f"{typ} {name} has no output {key}: the mocks must return it"
        return value


# How the engine marks a secret value (Pulumi's property-value signature for secrets).
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def unsecret(value: Any) -> Any:
    """The plain value of an input the SDK marked secret (secretString is one)."""
    if isinstance(value, dict) and SECRET_SIG in value.values():
        return value["value"]
    return value


def fixed_root(prefix: str) -> str:
    head = prefix.split("!{", 1)[0]
    return head[: head.rfind("/") + 1]


def check_every_resource_exists(w: World, sql_count: int) -> None:
    counts = {
        BUCKET: 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
        "aws:s3/bucketPolicy:BucketPolicy": 1,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
        DATABASE: 1,
        TABLE: 1,
        STREAM: 1,
        FUNCTION: 2,
        LOG_GROUP: 3,
        "aws:scheduler/schedule:Schedule": 1,
        QUEUE: 1,
        SECRET: 1,
        "aws:secretsmanager/secretVersion:SecretVersion": 1,
        ROLE: 4,
        ROLE_POLICY: 4,
        "aws:athena/workgroup:Workgroup": 1,
        NAMED_QUERY: sql_count,
        "aws:cloudwatch/dashboard:Dashboard": 1,
    }
    for typ, n in counts.items():
        assert len(w.all(typ)) == n, f"{typ}: {len(w.all(typ))} resources, expected {n}"
    assert len(w.all(ALARM)) >= 6


def check_bucket(w: World, raw_retention_days: int) -> None:
    bucket = w.out(BUCKET, "lake", "bucket")
    arn = w.out(BUCKET, "lake", "arn")
    sse = w.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["bucket"] == bucket
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    pab = w.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert pab.inputs["bucket"] == bucket
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert pab.inputs[flag] is True, flag
    policy = w.one("aws:s3/bucketPolicy:BucketPolicy")
    assert policy.inputs["bucket"] == bucket
    [deny] = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == sorted([arn, f"{arn}/*"])
    rules = w.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    raw = [r for r in rules if r.get("filter", {}).get("prefix") == fixed_root(DELIVERY["raw_backup_prefix"])]
    assert len(raw) == 1 and raw[0]["expiration"]["days"] == raw_retention_days, rules


def check_glue_table(w: World) -> None:
    bucket = w.out(BUCKET, "lake", "bucket")
    expected = json.loads(json.dumps(GLUE_DEFINITION["TableInput"]).replace(GLUE_DEFINITION["BucketPlaceholder"], bucket))
    table = w.one(TABLE).inputs
    assert table["name"] == DELIVERY["glue_table"] == expected["Name"]
    assert table["databaseName"] == w.out(DATABASE, "database", "name")
    sd = table["storageDescriptor"]
    assert [(c["name"], c["type"]) for c in sd["columns"]] == [
        (c["Name"], c["Type"]) for c in expected["StorageDescriptor"]["Columns"]
    ]
    assert [(k["name"], k["type"]) for k in table["partitionKeys"]] == [
        (k["Name"], k["Type"]) for k in expected["PartitionKeys"]
    ]
    assert sd["serDeInfo"]["serializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["serDeInfo"]["serializationLibrary"] == expected["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert sd["inputFormat"] == expected["StorageDescriptor"]["InputFormat"]
    assert sd["location"] == f"s3://{bucket}/processed/" == expected["StorageDescriptor"]["Location"]
    assert table["parameters"] == expected["Parameters"]
    assert table["parameters"]["projection.enabled"] == "true"
    assert "{bucket}" not in json.dumps(table)


def check_stream(w: World, stack: str = "test") -> None:
    s3 = w.one(STREAM).inputs["extendedS3Configuration"]
    lake_arn = w.out(BUCKET, "lake", "arn")
    firehose_role = w.out(ROLE, "firehose-role", "arn")
    assert w.one(STREAM).inputs["name"] == f"tracklake-{stack}-track-observations"
    assert s3["bucketArn"] == lake_arn and s3["roleArn"] == firehose_role
    assert s3["prefix"] == DELIVERY["processed_prefix"]
    assert s3["errorOutputPrefix"] == DELIVERY["error_output_prefix"]
    assert (s3["bufferingSize"], s3["bufferingInterval"]) == (
        DELIVERY["buffering"]["size_mib"], DELIVERY["buffering"]["interval_seconds"])
    assert s3["compressionFormat"] == "UNCOMPRESSED"
    [processor] = s3["processingConfiguration"]["processors"]
    assert s3["processingConfiguration"]["enabled"] is True and processor["type"] == "Lambda"
    params = {p["parameterName"]: p["parameterValue"] for p in processor["parameters"]}
    assert params.pop("LambdaArn") == w.out(FUNCTION, "transform", "arn") + ":$LATEST"
    wanted = {"BufferSizeInMBs": DELIVERY["processor_buffering"]["size_mib"],
              "BufferIntervalInSeconds": DELIVERY["processor_buffering"]["interval_seconds"],
              "NumberOfRetries": DELIVERY["processor_retries"]}
    assert params == {k: str(v) for k, v in wanted.items() if v != PROCESSOR_DEFAULTS[k]}
    assert s3["dynamicPartitioningConfiguration"]["enabled"] is True
    conversion = s3["dataFormatConversionConfiguration"]
    assert conversion["enabled"] is True
    assert "openXJsonSerDe" in conversion["inputFormatConfiguration"]["deserializer"]
    assert "parquetSerDe" in conversion["outputFormatConfiguration"]["serializer"]
    schema = conversion["schemaConfiguration"]
    assert schema["databaseName"] == w.out(DATABASE, "database", "name")
    assert schema["tableName"] == w.out(TABLE, "table", "name") == DELIVERY["glue_table"]
    assert schema["roleArn"] == firehose_role and schema["versionId"] == "LATEST"
    assert s3["s3BackupMode"] == "Enabled"
    backup = s3["s3BackupConfiguration"]
    assert backup["bucketArn"] == lake_arn and backup["roleArn"] == firehose_role
    assert backup["prefix"] == DELIVERY["raw_backup_prefix"]
    assert backup["errorOutputPrefix"] == DELIVERY["raw_backup_error_output_prefix"]
    assert backup["compressionFormat"] == "GZIP"
    assert (backup["bufferingSize"], backup["bufferingInterval"]) == (
        DELIVERY["raw_backup_buffering"]["size_mib"], DELIVERY["raw_backup_buffering"]["interval_seconds"])
    logs = s3["cloudwatchLoggingOptions"]
    assert logs["enabled"] is True and logs["logGroupName"] == w.out(LOG_GROUP, "firehose-logs", "name")
    assert w.one(STREAM).inputs["serverSideEncryption"]["enabled"] is True


def check_functions(w: World, settings: dict[str, Any]) -> None:
    for name, binary, role in (("producer", "producer", "producer-role"),
                               ("transform", "firehose-transform", "transform-role")):
        f = w.one(FUNCTION, name).inputs
        assert f["runtime"] == "provided.al2023" and f["architectures"] == ["arm64"] and f["handler"] == "bootstrap"
        assert f["role"] == w.out(ROLE, role, "arn")
        assert Path(f["code"].path).parts[-2:] == (binary, "bootstrap.zip"), f["code"].path
        group = w.one(LOG_GROUP, f"{name}-logs").inputs
        assert group["name"] == f"/aws/lambda/{f['name']}"
        assert f["loggingConfig"]["logGroup"] == group["name"]
        assert group["retentionInDays"] == settings["log_retention_days"]
    env = w.one(FUNCTION, "producer").inputs["environment"]["variables"]
    assert env == {
        "TRACKLAKE_STREAM": w.out(STREAM, "stream", "name"),
        "TRACKLAKE_STATE_BUCKET": w.out(BUCKET, "lake", "bucket"),
        "TRACKLAKE_STATE_KEY": settings["state_key"],
        "TRACKLAKE_SECRET_ID": w.out(SECRET, "spotify-secret", "arn"),
        "TRACKLAKE_SOURCES": ",".join(settings["sources"]),
        "TRACKLAKE_SEARCH_QUERIES": json.dumps(settings["search_queries"]),
        "TRACKLAKE_MARKET": settings["market"],
        "TRACKLAKE_REQUEST_BUDGET": str(settings["request_budget"]),
        **{name: str(settings[key]) for name, key in (
            ("TRACKLAKE_SEARCH_MAX_RESULTS", "search_max_results"),
            ("TRACKLAKE_PARTITION_BUDGET", "partition_budget"),
            ("TRACKLAKE_PACING_WINDOW_SECS", "pacing_window_secs"),
            ("TRACKLAKE_FIREHOSE_MAX_ATTEMPTS", "firehose_max_attempts"),
        ) if settings.get(key) is not None},
        **({"TRACKLAKE_MIN_INTERVAL_SECS": json.dumps(settings["min_interval_secs"])}
           if settings.get("min_interval_secs") else {}),
    }
    # Every variable the program sets is one the producer reads (schemas/names.json). Never set:
    # the two Spotify bases (tests and the local sandbox only) and the CLI's own (the client id,
    # which the secret holds for the Lambda, the Firehose target, the state and secrets files).
    # Set only when the stack sets them: the tunables whose defaults fit the stream this program
    # creates (its buffering in schemas/delivery.json, the default partition quota).
    shared = contracts.PRODUCER_ENV
    never = {"API_BASE", "ACCOUNTS_BASE", "CLIENT_ID", "FIREHOSE_TARGET", "STATE_FILE", "SECRETS_FILE"}
    optional = {"FIREHOSE_MAX_ATTEMPTS", "SEARCH_MAX_RESULTS", "MIN_INTERVAL_SECS", "PARTITION_BUDGET",
                "PACING_WINDOW_SECS"}
    assert never | optional <= set(shared)
    always = {v for k, v in shared.items() if k not in never | optional}
    assert always <= set(env) <= always | {shared[k] for k in optional}


def check_schedule_and_secret(w: World, settings: dict[str, Any]) -> None:
    schedule = w.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == f"rate({settings['schedule_rate']})"
    target = schedule["target"]
    assert target["arn"] == w.out(FUNCTION, "producer", "arn")
    assert target["roleArn"] == w.out(ROLE, "scheduler-role", "arn")
    assert (target.get("deadLetterConfig") or {}).get("arn") == w.out(QUEUE, "schedule-dlq", "arn")
    assert target["retryPolicy"] == {"maximumRetryAttempts": 0, "maximumEventAgeInSeconds": 60}
    async_config = w.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert async_config["functionName"] == w.out(FUNCTION, "producer", "name")
    assert async_config["maximumRetryAttempts"] == 0
    secret = w.one(SECRET).inputs
    assert secret["name"] == f"tracklake/{settings.get('stack', 'test')}/spotify"
    version = w.one("aws:secretsmanager/secretVersion:SecretVersion").inputs
    assert version["secretId"] == w.one(SECRET).outputs["arn"]
    assert json.loads(unsecret(version["secretString"])) == {"client_id": settings["spotify_client_id"]}


def policy_resources(w: World, role: str) -> set[str]:
    """The resources one role's inline policy names, after checking it is attached to that role."""
    [policy] = [p for p in w.all(ROLE_POLICY) if p.inputs["role"] == w.out(ROLE, role, "name")]
    doc = json.loads(policy.inputs["policy"])
    resources: set[str] = set()
    for s in doc["Statement"]:
        assert s["Effect"] == "Allow"
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert all(a != "*" and not a.endswith(":*") for a in actions), actions
        rs = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        assert "*" not in rs, s
        resources.update(rs)
    return resources


def check_iam(w: World, settings: dict[str, Any]) -> None:
    lake = w.out(BUCKET, "lake", "arn")
    logs = lambda name: w.out(LOG_GROUP, name, "arn") + ":*"  # noqa: E731
    transform = w.out(FUNCTION, "transform", "arn")
    producer = w.out(FUNCTION, "producer", "arn")
    db, table = w.out(DATABASE, "database", "name"), w.out(TABLE, "table", "name")
    glue = f"arn:aws:glue:{w.one(STREAM).inputs['extendedS3Configuration']['dataFormatConversionConfiguration']['schemaConfiguration']['region']}:"
    roots = sorted({fixed_root(DELIVERY[k]) for k in
                    ("processed_prefix", "error_output_prefix", "raw_backup_prefix", "raw_backup_error_output_prefix")})
    account = w.one(STREAM).inputs["extendedS3Configuration"]["dataFormatConversionConfiguration"]["schemaConfiguration"]["catalogId"]
    expected = {
        "transform-role": {logs("transform-logs")},
        "producer-role": {
            w.out(STREAM, "stream", "arn"),
            f"{lake}/{settings['state_key']}",
            f"{lake}/{settings['state_key']}.lock",
            lake,
            w.out(SECRET, "spotify-secret", "arn"),
            logs("producer-logs"),
        },
        "firehose-role": {lake, *[f"{lake}/{r}*" for r in roots], transform, f"{transform}:*",
                          f"{glue}{account}:catalog", f"{glue}{account}:database/{db}",
                          f"{glue}{account}:table/{db}/{table}", logs("firehose-logs")},
        "scheduler-role": {producer, f"{producer}:*", w.out(QUEUE, "schedule-dlq", "arn")},
    }
    for role, resources in expected.items():
        assert policy_resources(w, role) == resources, role


def check_athena(w: World, queries: list) -> None:
    bucket = w.out(BUCKET, "lake", "bucket")
    config = w.one("aws:athena/workgroup:Workgroup").inputs["configuration"]
    assert config["enforceWorkgroupConfiguration"] is True
    assert config["bytesScannedCutoffPerQuery"] >= 10_000_000
    result = config["resultConfiguration"]
    assert result["outputLocation"] == f"s3://{bucket}/athena-results/"
    assert result["encryptionConfiguration"]["encryptionOption"] in ("SSE_S3", "SSE_KMS", "CSE_KMS")
    named = w.all(NAMED_QUERY)
    assert len(named) == len(queries)
    by_name = {q.inputs["name"]: q.inputs for q in named}
    workgroup = w.out("aws:athena/workgroup:Workgroup", "workgroup", "name")
    for q in queries:
        assert by_name[q.name]["query"] == q.sql
        assert by_name[q.name]["description"] == q.question
        assert by_name[q.name]["database"] == w.out(DATABASE, "database", "name")
        assert by_name[q.name]["workgroup"] == workgroup


def check_alarms(w: World, settings: dict[str, Any]) -> None:
    alarms = {a.name: a.inputs for a in w.all(ALARM)}
    producer = w.out(FUNCTION, "producer", "name")
    stream = w.out(STREAM, "stream", "name")
    errors = alarms["alarm-producer-errors"]
    assert (errors["namespace"], errors["metricName"], errors["dimensions"]) == (
        "AWS/Lambda", "Errors", {"FunctionName": producer})
    lost = alarms["alarm-producer-records-lost"]["metricQueries"]
    assert {q["metric"]["metricName"] for q in lost if "metric" in q} == {"RecordsFailed", "RecordsRejected"}
    assert alarms["alarm-firehose-delivery-failed"]["dimensions"] == {"DeliveryStreamName": stream}
    fresh = alarms["alarm-data-freshness"]
    metrics = {q["id"]: q["metric"] for q in fresh["metricQueries"] if "metric" in q}
    assert metrics["delivered"]["metricName"] == "RecordsDelivered"
    assert metrics["delivered"]["dimensions"] == {"FunctionName": producer}
    assert metrics["delivered"]["period"] * fresh["evaluationPeriods"] == settings["freshness_hours"] * 3600
    assert fresh["treatMissingData"] == "notBreaching"
    topic = w.out("aws:sns/topic:Topic", "alarms", "arn")
    assert all(a["alarmActions"] == [topic] for a in alarms.values())


def check_all(w: World, settings: dict[str, Any], queries: list) -> None:
    check_every_resource_exists(w, len(queries))
    check_bucket(w, settings["raw_retention_days"])
    check_glue_table(w)
    check_stream(w)
    check_functions(w, settings)
    check_schedule_and_secret(w, settings)
    check_iam(w, settings)
    check_athena(w, queries)
    check_alarms(w, settings)
