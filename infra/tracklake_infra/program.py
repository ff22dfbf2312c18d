"""The whole pipeline: lake bucket, Glue table, Firehose stream, both Lambdas, the schedule, the
secret, Athena and the alarms. `build()` declares every resource and returns them, so the tests
(infra/tests) can run it under Pulumi's mocks and inspect the wiring."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from . import artifacts, contracts, iam
from .config import Settings
from .names import Names

RUNTIME = "provided.al2023"
HANDLER = "bootstrap"
PRODUCER_NAMESPACE = "tracklake/producer"
TRANSFORM_NAMESPACE = "tracklake/firehose-transform"
ATHENA_RESULTS_PREFIX = "athena-results/"
# Firehose writes its own delivery errors to these streams of its log group.
FIREHOSE_LOG_STREAMS = ("DestinationDelivery", "BackupDelivery")
# Dynamic partitioning: how long Firehose retries a failed S3 delivery (0-7,200 s, Firehose API).
PARTITIONING_RETRY_SECONDS = 300
# At most one producer run at a time, from the platform's side: neither the scheduler nor Lambda
# starts a second run of one tick. The scheduler does not retry an invocation it could not deliver
# and gives up on it after its minimum event age (EventBridge Scheduler API, RetryPolicy:
# MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds 60-86,400;
# https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html), to the
# dead-letter queue; the next tick does that tick's work (the state makes runs resumable).
SCHEDULE_MAX_RETRIES = 0
SCHEDULE_MAX_EVENT_AGE_SECONDS = 60
# The scheduler invokes asynchronously, and Lambda retries a failed asynchronous run twice by
# default; here it never does, and drops an event it could not start within a minute (Lambda API,
# PutFunctionEventInvokeConfig: MaximumRetryAttempts 0-2, MaximumEventAgeInSeconds 60-21,600;
# https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html), so a
# late run never starts beside the next tick's. Two runs that still meet (a manual
# `aws lambda invoke` during a scheduled one) are kept apart by the producer's lock object in S3.
# Reserved concurrency of 1 would also do it, but an account must keep 100 unreserved executions
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html) and new accounts
# start with a lower concurrency quota than that
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): `pulumi up` would fail.
ASYNC_MAX_RETRIES = 0
ASYNC_MAX_EVENT_AGE_SECONDS = 60
# The secret's placeholder version carries its own staging label. As the secret's first version
# it also gets AWSCURRENT, so the producer reads it; put again later (after a `pulumi refresh`
# found it gone, or a replacement) it gets only this label and leaves AWSCURRENT, the user's
# refresh token, alone. A version with a label is also never deprecated and removed, as
# unlabelled ones are after many token rotations (Secrets Manager API, PutSecretValue:
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
SECRET_PLACEHOLDER_STAGE = "TRACKLAKE_PLACEHOLDER"
# Suffix of the producer's lock object, next to its state object.
STATE_LOCK_SUFFIX = ".lock"
# A resource with a fixed physical name cannot be replaced create-first: the new one's name is
# still taken. Pulumi deletes first with this option
# (https://www.pulumi.com/docs/iac/concepts/options/deletebeforereplace/).
NAMED = pulumi.ResourceOptions(delete_before_replace=True)


def named(opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """Options of a resource the program gives a physical name."""
    return pulumi.ResourceOptions.merge(NAMED, opts) if opts else NAMED
# SQS keeps a message at most 14 days (SQS API: MessageRetentionPeriod).
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# Alarm period of the per-run metrics: shorter than any sensible schedule, so one bad run alarms.
ALARM_PERIOD_SECONDS = 300
# The freshness alarm counts delivered records per hour.
FRESHNESS_PERIOD_SECONDS = 3600
# EMF metric of a producer run that found no refresh token in the secret yet (it ends cleanly):
# producer/src/metrics.rs.
AWAITING_AUTHORIZATION_METRIC = "AwaitingAuthorization"
ALARM_KEYS = ("producer-errors", "producer-records-lost", "producer-reauthorization", "firehose-delivery-failed",
              "firehose-error-output", "schedule-dead-letters", "data-freshness")
# The roles, one per principal, with their descriptions.
ROLE_KEYS = {
    "transform": "tracklake firehose-transform Lambda",
    "producer": "tracklake producer Lambda",
    "firehose": "tracklake Firehose delivery stream",
    "scheduler": "tracklake producer schedule",
}


@dataclass
class Pipeline:
    """Every resource, by role, for the stack outputs and the tests."""

    bucket: aws.s3.Bucket
    database: aws.glue.CatalogDatabase
    table: aws.glue.CatalogTable
    stream: aws.kinesis.FirehoseDeliveryStream
    producer: aws.lambda_.Function
    transform: aws.lambda_.Function
    secret: aws.secretsmanager.Secret
    schedule: aws.scheduler.Schedule
    dead_letter_queue: aws.sqs.Queue
    workgroup: aws.athena.Workgroup
    roles: dict[str, aws.iam.Role]
    policies: dict[str, aws.iam.RolePolicy]
    named_queries: list[aws.athena.NamedQuery]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard
    names: Names
    all: list[pulumi.Resource] = field(default_factory=list)


# Firehose's defaults for a Lambda processor (Firehose API reference, ProcessorParameter:
# https://docs.aws.amazon.com/firehose/latest/APIReference/API_ProcessorParameter.html, and
# https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html). The provider leaves a
# parameter equal to its default out of what it reads back, so a program that sets one sees a
# change to the stream on every `pulumi preview`: only values that differ are set.
PROCESSOR_DEFAULT_RETRIES = 3
PROCESSOR_DEFAULT_BUFFER_MB = 1
PROCESSOR_DEFAULT_INTERVAL_SECONDS = 60
# The transform runs as its unpublished version. Named explicitly, the ARN Firehose stores is the
# one the program sends, whether or not Firehose qualifies a bare function ARN itself.
LAMBDA_LATEST_QUALIFIER = ":$LATEST"


def lambda_processor_parameters(function_arn: Any, delivery: dict[str, Any]) -> list[dict[str, Any]]:
    """The Lambda processor's parameters: the function, and only the buffering and retry
    settings of schemas/delivery.json that are not Firehose's defaults (as strings, the
    processor buffer in MB)."""
    buffering = delivery["processor_buffering"]
    wanted = (
        ("BufferSizeInMBs", buffering["size_mib"], PROCESSOR_DEFAULT_BUFFER_MB),
        ("BufferIntervalInSeconds", buffering["interval_seconds"], PROCESSOR_DEFAULT_INTERVAL_SECONDS),
        ("NumberOfRetries", delivery["processor_retries"], PROCESSOR_DEFAULT_RETRIES),
    )
    parameters = [{"parameter_name": "LambdaArn",
                   "parameter_value": pulumi.Output.concat(function_arn, LAMBDA_LATEST_QUALIFIER)}]
    parameters += [{"parameter_name": name, "parameter_value": str(value)}
                   for name, value, default in wanted if float(value) != float(default)]
    return parameters


def create_stream(
    name: str,
    settings: Settings,
    delivery: dict[str, Any],
    bucket: aws.s3.Bucket,
    role: aws.iam.Role,
    processor: aws.lambda_.Function,
    database: aws.glue.CatalogDatabase,
    table: aws.glue.CatalogTable,
    log_group: aws.cloudwatch.LogGroup,
    account_id: pulumi.Output[str],
    region: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
    physical_name: str,
) -> aws.kinesis.FirehoseDeliveryStream:
    """The Direct PUT stream: Lambda processor -> JSON to Parquet with the Glue table ->
    dynamic partitions from the Lambda's keys, with the source records backed up raw (gzip)."""
    processor_parameters = lambda_processor_parameters(processor.arn, delivery)
    return aws.kinesis.FirehoseDeliveryStream(
        "stream",
        name=physical_name,
        destination="extended_s3",
        # Direct PUT: records at rest in Firehose encrypted with an AWS-owned key (no KMS cost).
        server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"},
        extended_s3_configuration={
            "bucket_arn": bucket.arn,
            "role_arn": role.arn,
            "prefix": delivery["processed_prefix"],
            "error_output_prefix": delivery["error_output_prefix"],
            "buffering_size": delivery["buffering"]["size_mib"],
            "buffering_interval": delivery["buffering"]["interval_seconds"],
            # Record format conversion requires UNCOMPRESSED here; Parquet compresses (snappy).
            "compression_format": "UNCOMPRESSED",
            "processing_configuration": {
                "enabled": True,
                "processors": [{"type": "Lambda", "parameters": processor_parameters}],
            },
            "dynamic_partitioning_configuration": {"enabled": True, "retry_duration": PARTITIONING_RETRY_SECONDS},
            "data_format_conversion_configuration": {
                "enabled": True,
                "input_format_configuration": {"deserializer": {"open_x_json_ser_de": {}}},
                "output_format_configuration": {"serializer": {"parquet_ser_de": {"compression": "SNAPPY"}}},
                "schema_configuration": {
                    "database_name": database.name,
                    "table_name": table.name,
                    "role_arn": role.arn,
                    "catalog_id": account_id,
                    "region": region,
                    # LATEST: a table change (schemas/ + pulumi up) applies without a new stream.
                    "version_id": "LATEST",
                },
            },
            "s3_backup_mode": "Enabled",
            "s3_backup_configuration": {
                "bucket_arn": bucket.arn,
                "role_arn": role.arn,
                "prefix": delivery["raw_backup_prefix"],
                "error_output_prefix": delivery["raw_backup_error_output_prefix"],
                "buffering_size": delivery["raw_backup_buffering"]["size_mib"],
                "buffering_interval": delivery["raw_backup_buffering"]["interval_seconds"],
                "compression_format": "GZIP",
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": log_group.name,
                    "log_stream_name": FIREHOSE_LOG_STREAMS[1],
                },
            },
            "cloudwatch_logging_options": {
                "enabled": True,
                "log_group_name": log_group.name,
                "log_stream_name": FIREHOSE_LOG_STREAMS[0],
            },
        },
        opts=opts,
    )


def build(settings: Settings) -> Pipeline:
    """Declares the stack. Raises before declaring anything when a Lambda zip is missing, is not
    one Lambda can run on the stack's architecture, a checked-in contract is malformed, or the
    stack's name cannot name its resources."""
    names = Names.of(pulumi.get_project(), pulumi.get_stack())
    names.check_all(alarm_keys=ALARM_KEYS, role_keys=tuple(ROLE_KEYS))
    producer_zip = contracts.lambda_zip(settings.artifacts_dir, contracts.PRODUCER_BIN, pulumi.get_stack())
    transform_zip = contracts.lambda_zip(settings.artifacts_dir, contracts.TRANSFORM_BIN, pulumi.get_stack())
    for path in (producer_zip, transform_zip):
        artifacts.check_lambda_zip(path, settings.lambda_architecture, pulumi.get_stack())
    delivery = contracts.delivery_settings()
    queries = contracts.named_queries()
    created: list[pulumi.Resource] = []

    def keep(resource):
        created.append(resource)
        return resource

    account_id = aws.get_caller_identity_output().account_id
    region = aws.get_region_output().region
    partition = aws.get_partition_output().partition

    def arn(service: str, resource: Any) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:", partition, f":{service}:", region, ":", account_id, ":", resource)

    # ---- S3: the lake -------------------------------------------------------------------------
    bucket = keep(aws.s3.Bucket(
        "lake",
        bucket=pulumi.Output.all(account_id, region).apply(lambda a: names.bucket(a[0], a[1])),
        force_destroy=settings.force_destroy,
        opts=NAMED,
    ))
    keep(aws.s3.BucketServerSideEncryptionConfiguration(
        "lake-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
    ))
    public_access = keep(aws.s3.BucketPublicAccessBlock(
        "lake-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    ))
    keep(aws.s3.BucketOwnershipControls("lake-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}))
    keep(aws.s3.BucketPolicy(
        "lake-tls-only",
        bucket=bucket.id,
        policy=pulumi.Output.json_dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }],
        }),
        # S3 refuses a bucket policy while the public access block is being set up.
        opts=pulumi.ResourceOptions(depends_on=[public_access]),
    ))
    raw_root = contracts.fixed_root(delivery["raw_backup_prefix"])
    raw_errors_root = contracts.fixed_root(delivery["raw_backup_error_output_prefix"])
    keep(aws.s3.BucketLifecycleConfiguration(
        "lake-lifecycle",
        bucket=bucket.id,
        rules=[
            {"id": "expire-raw-backup", "status": "Enabled", "filter": {"prefix": raw_root},
             "expiration": {"days": settings.raw_retention_days}},
            {"id": "expire-raw-backup-errors", "status": "Enabled", "filter": {"prefix": raw_errors_root},
             "expiration": {"days": settings.raw_retention_days}},
            {"id": "expire-athena-results", "status": "Enabled", "filter": {"prefix": ATHENA_RESULTS_PREFIX},
             "expiration": {"days": settings.athena_results_retention_days}},
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {"prefix": ""},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ],
    ))

    # ---- Glue: the table, from schemas/glue/track_observations.json ----------------------------
    database = keep(aws.glue.CatalogDatabase("database", name=names.glue_database, opts=NAMED))
    table_input = bucket.bucket.apply(contracts.glue_table_input)
    sd = table_input.apply(lambda t: t["StorageDescriptor"])
    table = keep(aws.glue.CatalogTable(
        "table",
        name=delivery["glue_table"],
        database_name=database.name,
        description=table_input.apply(lambda t: t.get("Description")),
        table_type=table_input.apply(lambda t: t["TableType"]),
        parameters=table_input.apply(lambda t: t["Parameters"]),
        partition_keys=table_input.apply(
            lambda t: [{"name": k["Name"], "type": k["Type"], "comment": k.get("Comment")} for k in t["PartitionKeys"]]
        ),
        storage_descriptor={
            "location": sd.apply(lambda s: s["Location"]),
            "input_format": sd.apply(lambda s: s["InputFormat"]),
            "output_format": sd.apply(lambda s: s["OutputFormat"]),
            "ser_de_info": {
                "serialization_library": sd.apply(lambda s: s["SerdeInfo"]["SerializationLibrary"]),
                "parameters": sd.apply(lambda s: s["SerdeInfo"].get("Parameters", {})),
            },
            "columns": sd.apply(
                lambda s: [{"name": c["Name"], "type": c["Type"], "comment": c.get("Comment") or None} for c in s["Columns"]]
            ),
        },
        opts=NAMED,
    ))

    # ---- Log groups ---------------------------------------------------------------------------
    producer_name = names.producer_function
    transform_name = names.transform_function
    producer_logs = keep(aws.cloudwatch.LogGroup("producer-logs", name=names.lambda_log_group(producer_name),
                                                 retention_in_days=settings.log_retention_days, opts=NAMED))
    transform_logs = keep(aws.cloudwatch.LogGroup("transform-logs", name=names.lambda_log_group(transform_name),
                                                  retention_in_days=settings.log_retention_days, opts=NAMED))
    firehose_logs = keep(aws.cloudwatch.LogGroup("firehose-logs", name=names.firehose_log_group,
                                                 retention_in_days=settings.log_retention_days, opts=NAMED))
    for stream_name in FIREHOSE_LOG_STREAMS:
        keep(aws.cloudwatch.LogStream(f"firehose-logs-{stream_name}", name=stream_name,
                                      log_group_name=firehose_logs.name, opts=NAMED))

    # ---- Secret: the Spotify credentials (docs/lambda-contracts.md#secret) --------------------
    secret = keep(aws.secretsmanager.Secret(
        "spotify-secret",
        name=names.secret,
        description="Spotify client credentials and refresh token of tracklake (JSON: client_id, client_secret, refresh_token)",
        recovery_window_in_days=settings.secret_recovery_days,
        opts=NAMED,
    ))
    keep(aws.secretsmanager.SecretVersion(
        "spotify-secret-placeholder",
        secret_id=secret.id,
        secret_string=json.dumps({"client_id": settings.spotify_client_id}),
        # The user's authorization and the producer's token rotation write the real value
        # (PutSecretValue, moving AWSCURRENT); a later `pulumi up` must not put the placeholder
        # back, nor see the moved labels as a change.
        version_stages=[SECRET_PLACEHOLDER_STAGE],
        opts=pulumi.ResourceOptions(ignore_changes=["secretString", "versionStages"]),
    ))

    # ---- IAM: one role per function, one for Firehose, one for the scheduler -------------------
    lambda_trust = iam.assume_role("lambda.amazonaws.com")
    trust = {
        "transform": lambda_trust,
        "producer": lambda_trust,
        "firehose": iam.assume_role("firehose.amazonaws.com", {"StringEquals": {"sts:ExternalId": account_id}}),
        "scheduler": iam.assume_role("scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account_id}}),
    }
    roles = {
        key: keep(aws.iam.Role(f"{key}-role", name=names.role(key), description=description,
                               assume_role_policy=trust[key], opts=NAMED))
        for key, description in ROLE_KEYS.items()
    }
    policies: dict[str, aws.iam.RolePolicy] = {}
    policies["transform"] = keep(aws.iam.RolePolicy(
        "transform-policy", role=roles["transform"].id,
        policy=iam.document(iam.log_writer("OwnLogs", transform_logs.arn)),
    ))

    # ---- Lambda functions -----------------------------------------------------------------------
    transform = keep(aws.lambda_.Function(
        "transform",
        name=transform_name,
        description="Normalizes Spotify envelopes into track_observation records for Firehose",
        runtime=RUNTIME,
        architectures=[settings.lambda_architecture],
        handler=HANDLER,
        code=pulumi.FileArchive(str(transform_zip)),
        role=roles["transform"].arn,
        timeout=settings.transform_timeout_seconds,
        memory_size=settings.transform_memory_mb,
        logging_config={"log_format": "Text", "log_group": transform_logs.name},
        opts=named(pulumi.ResourceOptions(depends_on=[transform_logs, policies["transform"]])),
    ))

    # Firehose: the bucket's lake prefixes only, the transform, the Glue table, its own logs.
    object_roots = sorted({
        contracts.fixed_root(delivery["processed_prefix"]),
        contracts.fixed_root(delivery["error_output_prefix"]),
        raw_root,
        raw_errors_root,
    })
    catalog_arn = arn("glue", "catalog")
    database_arn = arn("glue", pulumi.Output.concat("database/", database.name))
    table_arn = arn("glue", pulumi.Output.concat("table/", database.name, "/", table.name))
    policies["firehose"] = keep(aws.iam.RolePolicy(
        "firehose-policy", role=roles["firehose"].id,
        policy=iam.document(
            iam.statement("LakeBucket", ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], [bucket.arn]),
            iam.statement("LakeObjects", ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                          [pulumi.Output.concat(bucket.arn, "/", root, "*") for root in object_roots]),
            iam.statement("Transform", ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                          [transform.arn, pulumi.Output.concat(transform.arn, ":*")]),
            iam.statement("GlueTable", ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                          [catalog_arn, database_arn, table_arn]),
            iam.statement("OwnLogs", ["logs:PutLogEvents"], [pulumi.Output.concat(firehose_logs.arn, ":*")]),
        ),
    ))
    stream = keep(create_stream(
        "stream", settings, delivery, bucket, roles["firehose"], transform, database, table,
        firehose_logs, account_id, region,
        # Firehose checks its role on creation: the policy must exist first.
        named(pulumi.ResourceOptions(depends_on=[policies["firehose"]])),
        physical_name=names.stream,
    ))

    state_object = pulumi.Output.concat(bucket.arn, "/", settings.state_key)
    lock_object = pulumi.Output.concat(bucket.arn, "/", settings.state_key, STATE_LOCK_SUFFIX)
    policies["producer"] = keep(aws.iam.RolePolicy(
        "producer-policy", role=roles["producer"].id,
        policy=iam.document(
            iam.statement("Deliver", ["firehose:PutRecordBatch"], [stream.arn]),
            iam.statement("State", ["s3:GetObject", "s3:PutObject"], [state_object]),
            # The lock object: created with If-None-Match (PutObject), read when it is held
            # (GetObject), deleted at the end of the run (DeleteObject, on this key only).
            iam.statement("StateLock", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [lock_object]),
            # Without ListBucket, S3 answers a missing state object (the first run) with 403, not
            # 404; limited to the state folder.
            iam.statement("StateListing", ["s3:ListBucket"], [bucket.arn],
                          {"StringLike": {"s3:prefix": [f"{settings.state_prefix}*"]}}),
            iam.statement("Secret", ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"], [secret.arn]),
            iam.log_writer("OwnLogs", producer_logs.arn),
        ),
    ))
    producer = keep(aws.lambda_.Function(
        "producer",
        name=producer_name,
        description="Pulls Spotify track data and delivers it to Firehose",
        runtime=RUNTIME,
        architectures=[settings.lambda_architecture],
        handler=HANDLER,
        code=pulumi.FileArchive(str(producer_zip)),
        role=roles["producer"].arn,
        timeout=settings.producer_timeout_seconds,
        memory_size=settings.producer_memory_mb,
        logging_config={"log_format": "Text", "log_group": producer_logs.name},
        environment={"variables": {
            "TRACKLAKE_STREAM": stream.name,
            "TRACKLAKE_STATE_BUCKET": bucket.bucket,
            "TRACKLAKE_STATE_KEY": settings.state_key,
            "TRACKLAKE_SECRET_ID": secret.arn,
            "TRACKLAKE_SOURCES": ",".join(settings.sources),
            "TRACKLAKE_SEARCH_QUERIES": json.dumps(settings.search_queries),
            "TRACKLAKE_MARKET": settings.market,
            "TRACKLAKE_REQUEST_BUDGET": str(settings.request_budget),
        }},
        opts=named(pulumi.ResourceOptions(depends_on=[producer_logs, policies["producer"]])),
    ))

    # No retry of a failed run either: the next tick is the retry, so a failing run (e.g. a
    # refresh token Spotify refused) is not repeated within minutes.
    keep(aws.lambda_.FunctionEventInvokeConfig(
        "producer-async", function_name=producer.name, maximum_retry_attempts=ASYNC_MAX_RETRIES,
        maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS,
    ))

    # ---- EventBridge Scheduler ----------------------------------------------------------------
    dlq = keep(aws.sqs.Queue("schedule-dlq", name=names.dead_letter_queue, message_retention_seconds=DLQ_RETENTION_SECONDS,
                             sqs_managed_sse_enabled=True, opts=NAMED))
    policies["scheduler"] = keep(aws.iam.RolePolicy(
        "scheduler-policy", role=roles["scheduler"].id,
        policy=iam.document(
            iam.statement("InvokeProducer", ["lambda:InvokeFunction"], [producer.arn, pulumi.Output.concat(producer.arn, ":*")]),
            iam.statement("DeadLetters", ["sqs:SendMessage"], [dlq.arn]),
        ),
    ))
    schedule = keep(aws.scheduler.Schedule(
        "producer-schedule",
        name=names.schedule,
        description="Runs the tracklake producer",
        schedule_expression=settings.schedule_expression,
        flexible_time_window={"mode": "OFF"},
        target={
            "arn": producer.arn,
            "role_arn": roles["scheduler"].arn,
            "input": "{}",
            # An invocation the scheduler could not deliver is not retried (see
            # SCHEDULE_MAX_RETRIES); it lands in the dead-letter queue and its alarm.
            "retry_policy": {"maximum_retry_attempts": SCHEDULE_MAX_RETRIES,
                             "maximum_event_age_in_seconds": SCHEDULE_MAX_EVENT_AGE_SECONDS},
            "dead_letter_config": {"arn": dlq.arn},
        },
        opts=named(pulumi.ResourceOptions(depends_on=[policies["scheduler"]])),
    ))

    # ---- Athena -------------------------------------------------------------------------------
    workgroup = keep(aws.athena.Workgroup(
        "workgroup",
        name=names.workgroup,
        description="tracklake queries: encrypted results, per-query scan cutoff",
        force_destroy=True,
        configuration={
            "enforce_workgroup_configuration": True,
            "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": settings.athena_bytes_scanned_cutoff,
            "engine_version": {"selected_engine_version": "Athena engine version 3"},
            "result_configuration": {
                "output_location": pulumi.Output.concat("s3://", bucket.bucket, "/", ATHENA_RESULTS_PREFIX),
                "encryption_configuration": {"encryption_option": "SSE_S3"},
            },
        },
        opts=NAMED,
    ))
    saved_queries = [
        keep(aws.athena.NamedQuery(
            f"query-{q.name}",
            name=q.name,
            description=q.question,
            database=database.name,
            workgroup=workgroup.name,
            query=q.sql,
        ))
        for q in queries
    ]

    # ---- CloudWatch: alarms and dashboard -----------------------------------------------------
    # Not encrypted with the AWS-managed SNS key on purpose: CloudWatch alarms cannot publish to a
    # topic under that key (its key policy does not admit them), and alarm texts hold no data.
    topic = keep(aws.sns.Topic("alarms", name=names.alarm_topic, opts=NAMED))
    if settings.alarm_email:
        keep(aws.sns.TopicSubscription("alarms-email", topic=topic.arn, protocol="email", endpoint=settings.alarm_email))
    alarms = _alarms(settings, names, producer, transform, stream, dlq, topic, keep)
    dashboard = keep(aws.cloudwatch.Dashboard(
        "dashboard",
        dashboard_name=names.dashboard,
        dashboard_body=_dashboard_body(producer, transform, stream, region),
        opts=NAMED,
    ))

    pulumi.export("lakeBucket", bucket.bucket)
    pulumi.export("deliveryStream", stream.name)
    pulumi.export("secretArn", secret.arn)
    pulumi.export("glueDatabase", database.name)
    pulumi.export("glueTable", table.name)
    pulumi.export("athenaWorkgroup", workgroup.name)
    pulumi.export("producerFunction", producer.name)
    pulumi.export("transformFunction", transform.name)
    pulumi.export("deadLetterQueue", dlq.url)
    pulumi.export("alarmTopic", topic.arn)

    return Pipeline(
        bucket=bucket, database=database, table=table, stream=stream, producer=producer,
        transform=transform, secret=secret, schedule=schedule, dead_letter_queue=dlq,
        workgroup=workgroup, roles=roles, policies=policies, named_queries=saved_queries,
        alarms=alarms, dashboard=dashboard, names=names, all=created,
    )


def _alarms(settings, names, producer, transform, stream, dlq, topic, keep) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """The alarms. Each one states how it treats missing data: a new stack, and a stack waiting for
    the user's refresh token, has no data or only AwaitingAuthorization, and must not alarm."""
    actions = [topic.arn]

    def alarm(key: str, description: str, **kwargs) -> aws.cloudwatch.MetricAlarm:
        kwargs.setdefault("evaluation_periods", 1)
        return keep(aws.cloudwatch.MetricAlarm(
            f"alarm-{key}", name=names.alarm(key), alarm_description=description,
            alarm_actions=actions, ok_actions=actions, opts=NAMED, **kwargs,
        ))

    def over_zero(namespace, metric, dims, statistic="Sum", period=ALARM_PERIOD_SECONDS):
        return dict(namespace=namespace, metric_name=metric, dimensions=dims, statistic=statistic, period=period,
                    comparison_operator="GreaterThanThreshold", threshold=0)

    def query(id_, namespace, metric, dims, stat, period=ALARM_PERIOD_SECONDS):
        # Only the expression is the alarm's series: a query without ReturnData returns data (API
        # default true), and PutMetricAlarm takes exactly one query that does.
        return {"id": id_, "metric": {"namespace": namespace, "metric_name": metric, "dimensions": dims,
                                       "stat": stat, "period": period}, "return_data": False}

    producer_dims = {"FunctionName": producer.name}
    transform_dims = {"FunctionName": transform.name}
    stream_dims = {"DeliveryStreamName": stream.name}
    hours = settings.freshness_hours
    return {
        # Crashes, timeouts and error returns. A run without a refresh token succeeds (it reports
        # AwaitingAuthorization), so this stays quiet until the user has authorized.
        "producer-errors": alarm(
            "producer-errors", "The producer Lambda failed (crash, timeout or error return).",
            treat_missing_data="notBreaching", **over_zero("AWS/Lambda", "Errors", producer_dims)),
        "producer-records-lost": alarm(
            "producer-records-lost",
            "Firehose rejected records or the producer gave up on them (RecordsFailed + RecordsRejected).",
            comparison_operator="GreaterThanThreshold", threshold=0, treat_missing_data="notBreaching",
            metric_queries=[
                query("failed", PRODUCER_NAMESPACE, "RecordsFailed", producer_dims, "Sum"),
                query("rejected", PRODUCER_NAMESPACE, "RecordsRejected", producer_dims, "Sum"),
                {"id": "lost", "expression": "FILL(failed, 0) + FILL(rejected, 0)", "label": "records lost",
                 "return_data": True},
            ],
        ),
        "producer-reauthorization": alarm(
            "producer-reauthorization",
            "Spotify refused the refresh token: authorize again (infra/README.md, 'Authorize').",
            treat_missing_data="notBreaching",
            **over_zero(PRODUCER_NAMESPACE, "ReauthorizationRequired", producer_dims, statistic="Maximum")),
        "firehose-delivery-failed": alarm(
            "firehose-delivery-failed", "Firehose failed to deliver to S3 (DeliveryToS3.Success below 1).",
            namespace="AWS/Firehose", metric_name="DeliveryToS3.Success", dimensions=stream_dims,
            statistic="Minimum", period=ALARM_PERIOD_SECONDS, comparison_operator="LessThanThreshold", threshold=1,
            treat_missing_data="notBreaching"),
        # Records Firehose writes under the error output prefix instead of the table. Firehose's
        # metrics (https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html):
        # FailedConversion.Records (Parquet conversion failed: format-conversion-failed/),
        # PartitionCountExceeded (1 while over the active partition limit), ExecuteProcessing.Success
        # (share of successful transform invocations; failed ones end in processing-failed/ once
        # Firehose's retries are spent). Records the transform itself answers ProcessingFailed
        # have no Firehose metric: the transform counts them (RecordsProcessingFailed).
        "firehose-error-output": alarm(
            "firehose-error-output",
            "Firehose routed records to the error output (errors/<type>/ in the lake bucket): the transform "
            "refused records or could not be invoked (a failed invocation may have succeeded on Firehose's "
            "retry), Parquet conversion failed, or the active partition limit was exceeded.",
            comparison_operator="GreaterThanThreshold", threshold=0, treat_missing_data="notBreaching",
            metric_queries=[
                query("conversion", "AWS/Firehose", "FailedConversion.Records", stream_dims, "Sum"),
                query("partitions", "AWS/Firehose", "PartitionCountExceeded", stream_dims, "Maximum"),
                query("invocations", "AWS/Firehose", "ExecuteProcessing.Success", stream_dims, "Minimum"),
                query("refused", TRANSFORM_NAMESPACE, "RecordsProcessingFailed", transform_dims, "Sum"),
                {"id": "errors", "label": "records to the error output",
                 "expression": "FILL(conversion, 0) + FILL(partitions, 0) + FILL(refused, 0)"
                               " + IF(FILL(invocations, 1) < 1, 1, 0)",
                 "return_data": True},
            ],
        ),
        "schedule-dead-letters": alarm(
            "schedule-dead-letters", "Scheduled producer invocations could not be delivered and went to the dead-letter queue.",
            treat_missing_data="notBreaching",
            **over_zero("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dlq.name}, statistic="Maximum")),
        # Runs that delivered nothing for `freshness_hours` while not waiting for authorization.
        # Every run reports both metrics (zero or not); hours without runs count as zero. No data at
        # all (a new stack before its first run) is not an alarm: the producer-errors and
        # schedule-dead-letters alarms cover runs that fail or never start.
        "data-freshness": alarm(
            "data-freshness", f"The producer delivered no records for {hours} hour(s).",
            comparison_operator="LessThanOrEqualToThreshold", threshold=0,
            evaluation_periods=hours, datapoints_to_alarm=hours, treat_missing_data="notBreaching",
            metric_queries=[
                query("delivered", PRODUCER_NAMESPACE, "RecordsDelivered", producer_dims, "Sum", FRESHNESS_PERIOD_SECONDS),
                query("waiting", PRODUCER_NAMESPACE, AWAITING_AUTHORIZATION_METRIC, producer_dims, "Maximum",
                      FRESHNESS_PERIOD_SECONDS),
                {"id": "fresh", "label": "records delivered, or waiting for authorization",
                 "expression": "FILL(delivered, 0) + FILL(waiting, 0)", "return_data": True},
            ],
        ),
    }


def _dashboard_body(producer, transform, stream, region) -> pulumi.Output[str]:
    def widget(title, metrics, y):
        return {"type": "metric", "x": 0, "y": y, "width": 24, "height": 6,
                "properties": {"title": title, "region": region, "stat": "Sum", "period": 300, "view": "timeSeries",
                               "metrics": metrics}}

    p, t, s = producer.name, transform.name, stream.name
    return pulumi.Output.json_dumps({"widgets": [
        widget("Producer records", [[PRODUCER_NAMESPACE, m, "FunctionName", p] for m in
                                    ("RecordsPulled", "RecordsDelivered", "RecordsResent", "RecordsRejected", "RecordsFailed")], 0),
        widget("Producer runs", [[PRODUCER_NAMESPACE, m, "FunctionName", p] for m in
                                 ("RunsFailed", "QuotaStops", "ReauthorizationRequired", AWAITING_AUTHORIZATION_METRIC,
                                  "SpotifyRequests")]
               + [["AWS/Lambda", "Errors", "FunctionName", p]], 6),
        widget("Transform", [[TRANSFORM_NAMESPACE, m, "FunctionName", t] for m in
                             ("Records", "RecordsOk", "RecordsDropped", "RecordsProcessingFailed")]
               + [["AWS/Lambda", "Errors", "FunctionName", t]], 12),
        widget("Firehose", [["AWS/Firehose", m, "DeliveryStreamName", s] for m in
                            ("IncomingRecords", "DeliveryToS3.Records", "BackupToS3.Records", "FailedConversion.Records")], 18),
        widget("Firehose freshness (s)", [["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", s,
                                           {"stat": "Maximum"}]], 24),
    ]})
