"""The lake: the S3 bucket Firehose writes to, locked down (encryption, no public access, TLS
only), with the lifecycle of its raw backups and Athena results."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .. import contracts
from .base import Component, Context

# Where the Athena workgroup writes query results, in the lake bucket.
ATHENA_RESULTS_PREFIX = "athena-results/"
# Multipart uploads never completed are removed after this many days.
INCOMPLETE_UPLOAD_DAYS = 7


class Lake(Component):
    """`tracklake:index:Lake`: the bucket and its encryption, public access block, ownership,
    TLS-only policy and lifecycle."""

    TYPE = "Lake"

    def __init__(self, name: str, ctx: Context, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        settings, names, delivery = ctx.settings, ctx.names, ctx.delivery
        self.bucket = bucket = self.keep(aws.s3.Bucket(
            "lake",
            bucket=pulumi.Output.all(ctx.account_id, ctx.region).apply(lambda a: names.bucket(a[0], a[1])),
            force_destroy=settings.force_destroy,
            opts=self.child(named=True),
        ))
        self.keep(aws.s3.BucketServerSideEncryptionConfiguration(
            "lake-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
            opts=self.child(),
        ))
        public_access = self.keep(aws.s3.BucketPublicAccessBlock(
            "lake-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self.child(),
        ))
        self.keep(aws.s3.BucketOwnershipControls("lake-ownership", bucket=bucket.id,
                                                 rule={"object_ownership": "BucketOwnerEnforced"}, opts=self.child()))
        self.keep(aws.s3.BucketPolicy(
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
            opts=self.child(depends_on=[public_access]),
        ))
        self.raw_root = raw_root = contracts.fixed_root(delivery["raw_backup_prefix"])
        self.raw_errors_root = raw_errors_root = contracts.fixed_root(delivery["raw_backup_error_output_prefix"])
        self.keep(aws.s3.BucketLifecycleConfiguration(
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
                 "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS}},
            ],
            opts=self.child(),
        ))
        self.register_outputs({"bucket": bucket.bucket, "arn": bucket.arn})
