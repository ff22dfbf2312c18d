"""Querying the lake: the Athena workgroup (encrypted results in the lake bucket, a per-query
scan cutoff) and one saved query per sql/*.sql."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .. import contracts
from .base import Component, Context
from .lake import ATHENA_RESULTS_PREFIX


class Queries(Component):
    """`tracklake:index:Queries`: the Athena workgroup and its named queries."""

    TYPE = "Queries"

    def __init__(self, name: str, ctx: Context, bucket: aws.s3.Bucket, database: aws.glue.CatalogDatabase,
                 queries: list[contracts.NamedQuery], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.workgroup = workgroup = self.keep(aws.athena.Workgroup(
            "workgroup",
            name=ctx.names.workgroup,
            description="tracklake queries: encrypted results, per-query scan cutoff",
            force_destroy=True,
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": ctx.settings.athena_bytes_scanned_cutoff,
                "engine_version": {"selected_engine_version": "Athena engine version 3"},
                "result_configuration": {
                    "output_location": pulumi.Output.concat("s3://", bucket.bucket, "/", ATHENA_RESULTS_PREFIX),
                    "encryption_configuration": {"encryption_option": "SSE_S3"},
                },
            },
            opts=self.child(named=True),
        ))
        self.named_queries = [
            self.keep(aws.athena.NamedQuery(
                f"query-{q.name}",
                name=q.name,
                description=q.question,
                database=database.name,
                workgroup=workgroup.name,
                query=q.sql,
                opts=self.child(),
            ))
            for q in queries
        ]
        self.register_outputs({"workgroup": workgroup.name})
