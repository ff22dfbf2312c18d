"""tracklake's CrossGuard policies: data encrypted at rest, no public S3 access, no wildcard IAM.

Each validate function is a plain function of (args, report_violation), so the tests in
infra/tests call them directly on the mocked program's resources. Property names are the
engine's (camelCase), as CrossGuard passes them."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
QUEUE = "aws:sqs/queue:Queue"
WORKGROUP = "aws:athena/workgroup:Workgroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ENCRYPTED_SSE_ALGORITHMS = {"AES256", "aws:kms", "aws:kms:dsse"}
# Actions that AWS does not let a policy scope to a resource, so `"Resource": "*"` is the only
# form (Service Authorization Reference). None is used by tracklake today; the list keeps the
# policy usable if one is added, e.g. metrics written with PutMetricData instead of EMF.
ACTIONS_WITHOUT_RESOURCE_SCOPE = frozenset({"cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords"})


# ---- encryption ---------------------------------------------------------------------------------

def _bucket_names(resources) -> dict[str, Any]:
    return {r.props.get("bucket") or r.name: r for r in resources if r.resource_type in (BUCKET, BUCKET_V2)}


def validate_encryption(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has default encryption; the Firehose stream, SQS queues and Athena results
    are encrypted at rest."""
    resources = list(args.resources)
    encrypted_buckets = set()
    for r in resources:
        if r.resource_type in BUCKET_SSE:
            algorithms = {
                (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
                for rule in r.props.get("rules") or []
            }
            if algorithms & ENCRYPTED_SSE_ALGORITHMS:
                encrypted_buckets.add(r.props.get("bucket"))
    for name, bucket in _bucket_names(resources).items():
        inline = bucket.props.get("serverSideEncryptionConfiguration")
        if name not in encrypted_buckets and not inline:
            report_violation(f"S3 bucket {name} has no default server-side encryption configuration", bucket.urn)
    for r in resources:
        if r.resource_type == FIREHOSE and not (r.props.get("serverSideEncryption") or {}).get("enabled"):
            report_violation(f"Firehose stream {r.name} does not encrypt records at rest (serverSideEncryption)", r.urn)
        if r.resource_type == QUEUE and not (r.props.get("sqsManagedSseEnabled") or r.props.get("kmsMasterKeyId")):
            report_violation(f"SQS queue {r.name} is not encrypted (sqsManagedSseEnabled or kmsMasterKeyId)", r.urn)
        if r.resource_type == WORKGROUP:
            result = ((r.props.get("configuration") or {}).get("resultConfiguration") or {})
            if not (result.get("encryptionConfiguration") or {}).get("encryptionOption"):
                report_violation(f"Athena workgroup {r.name} does not encrypt query results", r.urn)


# ---- public access ------------------------------------------------------------------------------

def validate_public_access(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has a public access block with all four switches on."""
    resources = list(args.resources)
    blocked = set()
    for r in resources:
        if r.resource_type == PUBLIC_ACCESS_BLOCK:
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if r.props.get(flag) is not True]
            if off:
                report_violation(f"public access block {r.name} leaves {', '.join(off)} off", r.urn)
            else:
                blocked.add(r.props.get("bucket"))
    for name, bucket in _bucket_names(resources).items():
        if name not in blocked:
            report_violation(f"S3 bucket {name} has no public access block with all four settings on", bucket.urn)
        if bucket.props.get("acl") in ("public-read", "public-read-write"):
            report_violation(f"S3 bucket {name} has a public ACL", bucket.urn)


# ---- IAM ----------------------------------------------------------------------------------------

def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def wildcard_findings(document: Any) -> list[str]:
    """What is too broad in an IAM policy document (JSON text or dict): Allow statements with a
    `*` or `service:*` action, NotAction, or a `*` resource."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return ["the policy is not valid JSON"]
    findings = []
    for i, s in enumerate(_as_list((document or {}).get("Statement"))):
        if s.get("Effect") != "Allow":
            continue
        sid = s.get("Sid") or f"statement {i}"
        actions = [str(a) for a in _as_list(s.get("Action"))]
        if "NotAction" in s:
            findings.append(f"{sid}: NotAction allows everything else")
        for a in actions:
            if a == "*" or a.endswith(":*"):
                findings.append(f"{sid}: wildcard action {a}")
        resources = [str(r) for r in _as_list(s.get("Resource"))]
        if "NotResource" in s:
            findings.append(f"{sid}: NotResource allows every other resource")
        if "*" in resources and not set(actions) <= ACTIONS_WITHOUT_RESOURCE_SCOPE:
            findings.append(f"{sid}: wildcard resource * for {', '.join(actions)}")
    return findings


def validate_no_wildcard_iam(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No IAM policy allows `*` actions or `*` resources (where AWS allows a narrower one)."""
    documents: list[Any] = []
    if args.resource_type in (ROLE_POLICY, POLICY, USER_POLICY, GROUP_POLICY):
        documents.append(args.props.get("policy"))
    elif args.resource_type == ROLE:
        documents.extend(p.get("policy") for p in args.props.get("inlinePolicies") or [])
        for arn in args.props.get("managedPolicyArns") or []:
            if str(arn).endswith(("/AdministratorAccess", "/PowerUserAccess")):
                report_violation(f"role {args.name} has the managed policy {arn}")
    for doc in documents:
        for finding in wildcard_findings(doc):
            report_violation(f"{args.resource_type.split(':')[-1]} {args.name}: {finding}")


POLICIES = [
    StackValidationPolicy(
        name="encryption-at-rest",
        description="S3 buckets, the Firehose stream, SQS queues and Athena results are encrypted at rest.",
        validate=validate_encryption,
    ),
    StackValidationPolicy(
        name="s3-no-public-access",
        description="Every S3 bucket blocks public ACLs and policies.",
        validate=validate_public_access,
    ),
    ResourceValidationPolicy(
        name="iam-no-wildcards",
        description="IAM policies name their actions and resources: no `*` action, no `*` resource.",
        validate=validate_no_wildcard_iam,
    ),
]


def run_all(resources: Iterable[Any], make_resource_args: Callable[[Any], ResourceValidationArgs]) -> list[str]:
    """Runs every policy over `resources` (PolicyResource objects) and returns the violations,
    each prefixed with its policy name: the test harness for the pack."""
    resources = list(resources)
    violations: list[str] = []
    for policy in POLICIES:
        def report(message: str, urn: str | None = None, _name=policy.name) -> None:
            violations.append(f"{_name}: {message}")

        if isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(resources), report)
        else:
            for r in resources:
                policy.validate(make_resource_args(r), report)
    return violations

