"""The producer: the Lambda that pulls from Spotify and delivers to Firehose, the secret with the
Spotify credentials, its state and lock objects in the lake bucket, and the schedule that runs it
(with the schedule's dead-letter queue)."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .. import iam
from .. import contracts
from .base import Component, Context

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
# The producer's environment variables, named in schemas/names.json.
ENV = contracts.PRODUCER_ENV
SECRET_PLACEHOLDER_STAGE = "TRACKLAKE_PLACEHOLDER"
# Suffix of the producer's lock object, next to its state object.
STATE_LOCK_SUFFIX = ".lock"
# SQS keeps a message at most 14 days (SQS API: MessageRetentionPeriod).
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


class Producer(Component):
    """`tracklake:index:Producer`: the function and its log group, role, secret and
    asynchronous-invocation settings; the schedule with its role and dead-letter queue."""

    TYPE = "Producer"

    def __init__(self, name: str, ctx: Context, code: Path, bucket: aws.s3.Bucket,
                 stream: aws.kinesis.FirehoseDeliveryStream, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        settings, names = ctx.settings, ctx.names
        function_name = names.producer_function
        self.log_group = logs = self.keep(aws.cloudwatch.LogGroup(
            "producer-logs", name=names.lambda_log_group(function_name), retention_in_days=settings.log_retention_days,
            opts=self.child(named=True)))

        # The Spotify credentials (docs/lambda-contracts.md#secret).
        self.secret = secret = self.keep(aws.secretsmanager.Secret(
            "spotify-secret",
            name=names.secret,
            description="Spotify client credentials and refresh token of tracklake (JSON: client_id, client_secret, refresh_token)",
            recovery_window_in_days=settings.secret_recovery_days,
            opts=self.child(named=True),
        ))
        self.keep(aws.secretsmanager.SecretVersion(
            "spotify-secret-placeholder",
            secret_id=secret.id,
            secret_string=json.dumps({"client_id": settings.spotify_client_id}),
            # The user's authorization and the producer's token rotation write the real value
            # (PutSecretValue, moving AWSCURRENT); a later `pulumi up` must not put the placeholder
            # back, nor see the moved labels as a change.
            version_stages=[SECRET_PLACEHOLDER_STAGE],
            opts=self.child(ignore_changes=["secretString", "versionStages"]),
        ))

        self.role = role = self.service_role("producer", ctx, "lambda.amazonaws.com")
        state_object = pulumi.Output.concat(bucket.arn, "/", settings.state_key)
        lock_object = pulumi.Output.concat(bucket.arn, "/", settings.state_key, STATE_LOCK_SUFFIX)
        self.policy = policy = self.keep(aws.iam.RolePolicy(
            "producer-policy", role=role.id,
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
                iam.statement("Secret", ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                              [secret.arn]),
                iam.log_writer("OwnLogs", logs.arn),
            ),
            opts=self.child(),
        ))
        self.function = function = self.rust_lambda(
            "producer", ctx,
            name=function_name,
            description="Pulls Spotify track data and delivers it to Firehose",
            code=code,
            role=role,
            timeout=settings.producer_timeout_seconds,
            memory_size=settings.producer_memory_mb,
            log_group=logs,
            policy=policy,
            environment={
                ENV["STREAM"]: stream.name,
                ENV["STATE_BUCKET"]: bucket.bucket,
                ENV["STATE_KEY"]: settings.state_key,
                ENV["SECRET_ID"]: secret.arn,
                ENV["SOURCES"]: ",".join(settings.sources),
                ENV["SEARCH_QUERIES"]: json.dumps(settings.search_queries),
                ENV["MARKET"]: settings.market,
                ENV["REQUEST_BUDGET"]: str(settings.request_budget),
                **{ENV[key]: value for key, value in settings.producer_options().items()},
            },
        )
        # No retry of a failed run either: the next tick is the retry, so a failing run (e.g. a
        # refresh token Spotify refused) is not repeated within minutes.
        self.keep(aws.lambda_.FunctionEventInvokeConfig(
            "producer-async", function_name=function.name, maximum_retry_attempts=ASYNC_MAX_RETRIES,
            maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS, opts=self.child(),
        ))

        # The schedule (EventBridge Scheduler), its role and its dead-letter queue.
        self.dead_letter_queue = dlq = self.keep(aws.sqs.Queue(
            "schedule-dlq", name=names.dead_letter_queue, message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True, opts=self.child(named=True)))
        self.scheduler_role = scheduler_role = self.service_role(
            "scheduler", ctx, "scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ctx.account_id}})
        self.scheduler_policy = scheduler_policy = self.keep(aws.iam.RolePolicy(
            "scheduler-policy", role=scheduler_role.id,
            policy=iam.document(
                iam.statement("InvokeProducer", ["lambda:InvokeFunction"],
                              [function.arn, pulumi.Output.concat(function.arn, ":*")]),
                iam.statement("DeadLetters", ["sqs:SendMessage"], [dlq.arn]),
            ),
            opts=self.child(),
        ))
        self.schedule = schedule = self.keep(aws.scheduler.Schedule(
            "producer-schedule",
            name=names.schedule,
            description="Runs the tracklake producer",
            schedule_expression=settings.schedule_expression,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": function.arn,
                "role_arn": scheduler_role.arn,
                "input": "{}",
                # An invocation the scheduler could not deliver is not retried (see
                # SCHEDULE_MAX_RETRIES); it lands in the dead-letter queue and its alarm.
                "retry_policy": {"maximum_retry_attempts": SCHEDULE_MAX_RETRIES,
                                 "maximum_event_age_in_seconds": SCHEDULE_MAX_EVENT_AGE_SECONDS},
                "dead_letter_config": {"arn": dlq.arn},
            },
            opts=self.child(named=True, depends_on=[scheduler_policy]),
        ))
        self.register_outputs({"function": function.name, "secret": secret.arn, "schedule": schedule.name,
                               "deadLetterQueue": dlq.url})
