"""The Firehose Direct PUT stream: the transform Lambda as processor, JSON to Parquet with the
Glue table, dynamic partitions, a raw backup; with its role and its own log group."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from .. import contracts, iam
from ..config import Settings
from .base import Component, Context

# Firehose writes its own delivery errors to these streams of its log group.
FIREHOSE_LOG_STREAMS = ("DestinationDelivery", "BackupDelivery")
# Dynamic partitioning: how long Firehose retries a failed S3 delivery (0-7,200 s, Firehose API).
PARTITIONING_RETRY_SECONDS = 300
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
        name,
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


class Stream(Component):
    """`tracklake:index:Stream`: the delivery stream, its log group and log streams, and a role
    limited to the lake's prefixes, the transform, the Glue table and its own logs."""

    TYPE = "Stream"

    def __init__(self, name: str, ctx: Context, bucket: aws.s3.Bucket, transform: aws.lambda_.Function,
                 database: aws.glue.CatalogDatabase, table: aws.glue.CatalogTable,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        settings, names, delivery = ctx.settings, ctx.names, ctx.delivery
        self.log_group = logs = self.keep(aws.cloudwatch.LogGroup(
            "firehose-logs", name=names.firehose_log_group, retention_in_days=settings.log_retention_days,
            opts=self.child(named=True)))
        for stream_name in FIREHOSE_LOG_STREAMS:
            self.keep(aws.cloudwatch.LogStream(f"firehose-logs-{stream_name}", name=stream_name,
                                               log_group_name=logs.name, opts=self.child(named=True)))
        self.role = role = self.service_role(
            "firehose", ctx, "firehose.amazonaws.com", {"StringEquals": {"sts:ExternalId": ctx.account_id}})
        object_roots = sorted({
            contracts.fixed_root(delivery[prefix])
            for prefix in ("processed_prefix", "error_output_prefix", "raw_backup_prefix", "raw_backup_error_output_prefix")
        })
        catalog_arn = ctx.arn("glue", "catalog")
        database_arn = ctx.arn("glue", pulumi.Output.concat("database/", database.name))
        table_arn = ctx.arn("glue", pulumi.Output.concat("table/", database.name, "/", table.name))
        self.policy = policy = self.keep(aws.iam.RolePolicy(
            "firehose-policy", role=role.id,
            policy=iam.document(
                iam.statement("LakeBucket", ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                              [bucket.arn]),
                iam.statement("LakeObjects", ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                              [pulumi.Output.concat(bucket.arn, "/", root, "*") for root in object_roots]),
                iam.statement("Transform", ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                              [transform.arn, pulumi.Output.concat(transform.arn, ":*")]),
                iam.statement("GlueTable", ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                              [catalog_arn, database_arn, table_arn]),
                iam.statement("OwnLogs", ["logs:PutLogEvents"], [pulumi.Output.concat(logs.arn, ":*")]),
            ),
            opts=self.child(),
        ))
        self.stream = stream = self.keep(create_stream(
            "stream", settings, delivery, bucket, role, transform, database, table, logs, ctx.account_id, ctx.region,
            # Firehose checks its role on creation: the policy must exist first.
            self.child(named=True, depends_on=[policy]),
            physical_name=names.stream,
        ))
        self.register_outputs({"stream": stream.name, "arn": stream.arn})
