"""Monitoring: the alarms, the SNS topic they notify (and its e-mail subscription), and the
dashboard of the producer's, the transform's and Firehose's metrics."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from .. import contracts
from ..config import Settings
from ..names import Names
from .base import Component, Context

# The Lambdas' EMF metrics (producer/src/metrics.rs, firehose-transform/src/summary.rs), named in
# schemas/names.json.
P = contracts.PRODUCER_METRICS
T = contracts.TRANSFORM_METRICS
PRODUCER_NAMESPACE = P["NAMESPACE"]
TRANSFORM_NAMESPACE = T["NAMESPACE"]
# Alarm period of the per-run metrics: shorter than any sensible schedule, so one bad run alarms.
ALARM_PERIOD_SECONDS = 300
# The freshness alarm counts delivered records per hour.
FRESHNESS_PERIOD_SECONDS = 3600
# EMF metric of a producer run that found no refresh token in the secret yet (it ends cleanly).
AWAITING_AUTHORIZATION_METRIC = P["AWAITING_AUTHORIZATION"]
ALARM_KEYS = ("producer-errors", "producer-records-lost", "producer-reauthorization", "firehose-delivery-failed",
              "firehose-error-output", "schedule-dead-letters", "data-freshness")


class Monitoring(Component):
    """`tracklake:index:Monitoring`: one alarm per key of ALARM_KEYS, the topic they notify, the
    dashboard."""

    TYPE = "Monitoring"

    def __init__(self, name: str, ctx: Context, producer: aws.lambda_.Function, transform: aws.lambda_.Function,
                 stream: aws.kinesis.FirehoseDeliveryStream, dead_letter_queue: aws.sqs.Queue,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(name, opts)
        settings, names = ctx.settings, ctx.names
        # Not encrypted with the AWS-managed SNS key on purpose: CloudWatch alarms cannot publish to a
        # topic under that key (its key policy does not admit them), and alarm texts hold no data.
        self.topic = topic = self.keep(aws.sns.Topic("alarms", name=names.alarm_topic, opts=self.child(named=True)))
        if settings.alarm_email:
            self.keep(aws.sns.TopicSubscription("alarms-email", topic=topic.arn, protocol="email",
                                                endpoint=settings.alarm_email, opts=self.child()))
        self.alarms = _alarms(self, settings, names, producer, transform, stream, dead_letter_queue, topic)
        self.dashboard = dashboard = self.keep(aws.cloudwatch.Dashboard(
            "dashboard",
            dashboard_name=names.dashboard,
            dashboard_body=_dashboard_body(producer, transform, stream, ctx.region),
            opts=self.child(named=True),
        ))
        self.register_outputs({"topic": topic.arn, "dashboard": dashboard.dashboard_name})


def _alarms(component: Component, settings: Settings, names: Names, producer: aws.lambda_.Function,
            transform: aws.lambda_.Function, stream: aws.kinesis.FirehoseDeliveryStream, dlq: aws.sqs.Queue,
            topic: aws.sns.Topic) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """The alarms. Each one states how it treats missing data: a new stack, and a stack waiting for
    the user's refresh token, has no data or only AwaitingAuthorization, and must not alarm."""
    actions = [topic.arn]

    def alarm(key: str, description: str, **kwargs) -> aws.cloudwatch.MetricAlarm:
        kwargs.setdefault("evaluation_periods", 1)
        return component.keep(aws.cloudwatch.MetricAlarm(
            f"alarm-{key}", name=names.alarm(key), alarm_description=description,
            alarm_actions=actions, ok_actions=actions, opts=component.child(named=True), **kwargs,
        ))

    def over_zero(namespace, metric, dims, statistic="Sum", period=ALARM_PERIOD_SECONDS):
        return dict(namespace=namespace, metric_name=metric, dimensions=dims, statistic=statistic, period=period,
                    comparison_operator="GreaterThanThreshold", threshold=0)

    def query(id_, namespace, metric, dims, stat, period=ALARM_PERIOD_SECONDS):
        # Only the expression is the alarm's series: a query without ReturnData returns data (API
        # default true), and PutMetricAlarm takes exactly one query that does.
        return {"id": id_, "metric": {"namespace": namespace, "metric_name": metric, "dimensions": dims,
                                       "stat": stat, "period": period}, "return_data": False}

    producer_dims = {P["DIMENSION"]: producer.name}
    # The EMF metrics use Lambda's own dimension name, so one dimension map serves both.
    transform_dims = {T["DIMENSION"]: transform.name}
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
                query("failed", PRODUCER_NAMESPACE, P["RECORDS_FAILED"], producer_dims, "Sum"),
                query("rejected", PRODUCER_NAMESPACE, P["RECORDS_REJECTED"], producer_dims, "Sum"),
                {"id": "lost", "expression": "FILL(failed, 0) + FILL(rejected, 0)", "label": "records lost",
                 "return_data": True},
            ],
        ),
        "producer-reauthorization": alarm(
            "producer-reauthorization",
            "Spotify refused the refresh token: authorize again (infra/README.md, 'Authorize').",
            treat_missing_data="notBreaching",
            **over_zero(PRODUCER_NAMESPACE, P["REAUTHORIZATION_REQUIRED"], producer_dims, statistic="Maximum")),
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
                query("refused", TRANSFORM_NAMESPACE, T["RECORDS_PROCESSING_FAILED"], transform_dims, "Sum"),
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
                query("delivered", PRODUCER_NAMESPACE, P["RECORDS_DELIVERED"], producer_dims, "Sum", FRESHNESS_PERIOD_SECONDS),
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
        widget("Producer records", [[PRODUCER_NAMESPACE, m, P["DIMENSION"], p] for m in
                                    (P["RECORDS_PULLED"], P["RECORDS_DELIVERED"], P["RECORDS_RESENT"], P["RECORDS_REJECTED"], P["RECORDS_FAILED"])], 0),
        widget("Producer runs", [[PRODUCER_NAMESPACE, m, P["DIMENSION"], p] for m in
                                 (P["RUNS_FAILED"], P["QUOTA_STOPS"], P["REAUTHORIZATION_REQUIRED"], AWAITING_AUTHORIZATION_METRIC,
                                  P["SPOTIFY_REQUESTS"])]
               + [["AWS/Lambda", "Errors", "FunctionName", p]], 6),
        widget("Transform", [[TRANSFORM_NAMESPACE, m, T["DIMENSION"], t] for m in
                             (T["RECORDS"], T["RECORDS_OK"], T["RECORDS_DROPPED"], T["RECORDS_PROCESSING_FAILED"])]
               + [["AWS/Lambda", "Errors", "FunctionName", t]], 12),
        widget("Firehose", [["AWS/Firehose", m, "DeliveryStreamName", s] for m in
                            ("IncomingRecords", "DeliveryToS3.Records", "BackupToS3.Records", "FailedConversion.Records")], 18),
        widget("Firehose freshness (s)", [["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", s,
                                           {"stat": "Maximum"}]], 24),
    ]})
