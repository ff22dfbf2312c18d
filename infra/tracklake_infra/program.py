"""The whole pipeline, as components (tracklake_infra/components/, one module each): the lake
bucket, the Glue catalog, the transform Lambda, the Firehose stream, the producer with its secret
and schedule, Athena, and the alarms. `build()` declares them and returns every resource, so the
tests (infra/tests) can run it under Pulumi's mocks and inspect the wiring."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import artifacts, contracts
from .components import Catalog, Component, Context, Lake, Monitoring, Producer, Queries, Stream, Transform
from .components.base import ROLE_KEYS
from .components.monitoring import ALARM_KEYS
from .config import Settings
from .names import Names


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
    components: list[Component] = field(default_factory=list)
    # The components and every resource in them.
    all: list[pulumi.Resource] = field(default_factory=list)


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

    ctx = Context(
        settings=settings,
        names=names,
        delivery=delivery,
        account_id=aws.get_caller_identity_output().account_id,
        region=aws.get_region_output().region,
        partition=aws.get_partition_output().partition,
    )
    lake = Lake("lake", ctx)
    catalog = Catalog("catalog", ctx, lake.bucket)
    transform = Transform("transform", ctx, transform_zip)
    stream = Stream("stream", ctx, lake.bucket, transform.function, catalog.database, catalog.table)
    producer = Producer("producer", ctx, producer_zip, lake.bucket, stream.stream)
    athena = Queries("queries", ctx, lake.bucket, catalog.database, queries)
    monitoring = Monitoring("monitoring", ctx, producer.function, transform.function, stream.stream,
                            producer.dead_letter_queue)
    components: list[Component] = [lake, catalog, transform, stream, producer, athena, monitoring]

    pulumi.export("lakeBucket", lake.bucket.bucket)
    pulumi.export("deliveryStream", stream.stream.name)
    pulumi.export("secretArn", producer.secret.arn)
    pulumi.export("glueDatabase", catalog.database.name)
    pulumi.export("glueTable", catalog.table.name)
    pulumi.export("athenaWorkgroup", athena.workgroup.name)
    pulumi.export("producerFunction", producer.function.name)
    pulumi.export("transformFunction", transform.function.name)
    pulumi.export("deadLetterQueue", producer.dead_letter_queue.url)
    pulumi.export("alarmTopic", monitoring.topic.arn)

    return Pipeline(
        bucket=lake.bucket, database=catalog.database, table=catalog.table, stream=stream.stream,
        producer=producer.function, transform=transform.function, secret=producer.secret,
        schedule=producer.schedule, dead_letter_queue=producer.dead_letter_queue, workgroup=athena.workgroup,
        roles={"transform": transform.role, "producer": producer.role, "firehose": stream.role,
               "scheduler": producer.scheduler_role},
        policies={"transform": transform.policy, "producer": producer.policy, "firehose": stream.policy,
                  "scheduler": producer.scheduler_policy},
        named_queries=athena.named_queries, alarms=monitoring.alarms, dashboard=monitoring.dashboard, names=names,
        components=components, all=[r for c in components for r in (c, *c.children)],
    )
