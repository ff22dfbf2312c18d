"""The firehose-transform Lambda Firehose invokes on every batch, with its role and log group."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from .. import iam
from .base import Component, Context


class Transform(Component):
    """`tracklake:index:Transform`: the function, its log group, and a role that may write only
    to that log group."""

    TYPE = "Transform"

    def __init__(self, name: str, ctx: Context, code: Path, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        settings, names = ctx.settings, ctx.names
        function_name = names.transform_function
        self.log_group = logs = self.keep(aws.cloudwatch.LogGroup(
            "transform-logs", name=names.lambda_log_group(function_name), retention_in_days=settings.log_retention_days,
            opts=self.child(named=True)))
        self.role = role = self.service_role("transform", ctx, "lambda.amazonaws.com")
        self.policy = policy = self.keep(aws.iam.RolePolicy(
            "transform-policy", role=role.id,
            policy=iam.document(iam.log_writer("OwnLogs", logs.arn)),
            opts=self.child(),
        ))
        self.function = function = self.rust_lambda(
            "transform", ctx,
            name=function_name,
            description="Normalizes Spotify envelopes into track_observation records for Firehose",
            code=code,
            role=role,
            timeout=settings.transform_timeout_seconds,
            memory_size=settings.transform_memory_mb,
            log_group=logs,
            policy=policy,
        )
        self.register_outputs({"function": function.name, "arn": function.arn})
