"""tracklake's CrossGuard policies: data encrypted at rest, no public S3 access, no wildcard IAM.

Each validate function is a plain function of (args, report_violation), so the tests in
infra/tests call them directly on the mocked program's resources. Property names are the
engine's (camelCase), as CrossGuard passes them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Optional

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy
from pulumi_policy.proxy import UnknownValueError

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


# ---- values not known during `pulumi preview` ---------------------------------------------------
# In a preview, an input computed from another resource (a bucket's id, any ARN, a policy document
# holding ARNs) is not known yet. CrossGuard hands it over as a sentinel string, inside a proxy
# that raises UnknownValueError when it is read; a policy that lets that escape is skipped whole
# (an advisory "can't run policy during preview"), so the broken settings that *are* known would
# pass the preview unseen. The policies read through `_get`/`_items` instead: known violations
# are reported, and what could not be decided is named once, at the end, as that advisory
# (`pulumi up` runs the policies again on known values).
UNKNOWN_SENTINELS = frozenset({
    proxy.UNKNOWN_BOOLEAN_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_STRING_VALUE, proxy.UNKNOWN_ARRAY_VALUE,
    proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE, proxy.UNKNOWN_OBJECT_VALUE,
})


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown until the resource exists>"


UNKNOWN: Any = _Unknown()


def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def _get(value: Any, *path: Any) -> Any:
    """value[path[0]][path[1]]...: None where absent, UNKNOWN where not known during preview."""
    for key in path:
        if value is None or value is UNKNOWN:
            return value
        try:
            if isinstance(value, Mapping):
                value = value.get(key)
            elif isinstance(value, Sequence) and not isinstance(value, str) and isinstance(key, int):
                value = value[key] if key < len(value) else None
            else:
                return UNKNOWN if _is_unknown(value) else None
        except UnknownValueError:
            return UNKNOWN
    return UNKNOWN if _is_unknown(value) else value


def _items(value: Any) -> Any:
    """The elements of a list (UNKNOWN for each one not known), [] when absent, UNKNOWN when the
    list itself is not known."""
    if _is_unknown(value):
        return UNKNOWN
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        return [value]
    return [_get(value, i) for i in range(len(value))]


class Undecided:
    """What a policy could not decide during a preview."""

    def __init__(self, policy: str):
        self.policy = policy
        self.what: list[str] = []

    def add(self, what: str) -> None:
        self.what.append(what)

    def raise_if_any(self) -> None:
        if self.what:
            error = UnknownValueError(proxy.UNKNOWN_STRING_VALUE, [])
            error.message = (f"{'; '.join(self.what)} cannot be known before the resources exist; "
                             f"`pulumi up` checks {self.policy} again with the real values")
            raise error


# ---- encryption ---------------------------------------------------------------------------------

def _bucket_names(resources) -> dict[Any, Any]:
    """Bucket name (UNKNOWN-keyed by URN when not known) -> bucket resource."""
    names = {}
    for r in resources:
        if r.resource_type in (BUCKET, BUCKET_V2):
            name = _get(r.props, "bucket")
            names[r.urn if name is UNKNOWN else (name or r.name)] = r
    return names


def _configured_buckets(resources, types, verdict) -> tuple[set, bool]:
    """The bucket names that a good configuration of `types` covers (verdict True), and whether
    some configuration may cover buckets not decided yet (its bucket or its verdict unknown)."""
    covered, pending = set(), False
    for r in resources:
        if r.resource_type not in types:
            continue
        good, bucket = verdict(r), _get(r.props, "bucket")
        if good is UNKNOWN or (good and bucket is UNKNOWN):
            pending = True
        elif good:
            covered.add(bucket)
    return covered, pending


def _encrypts(r) -> Any:
    """True/False, or UNKNOWN when a rule's algorithm is not known yet."""
    rules = _items(_get(r.props, "rules"))
    if rules is UNKNOWN:
        return UNKNOWN
    algorithms = {_get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in rules}
    if algorithms & ENCRYPTED_SSE_ALGORITHMS:
        return True
    return UNKNOWN if UNKNOWN in algorithms else False


def validate_encryption(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has default encryption; the Firehose stream, SQS queues and Athena results
    are encrypted at rest."""
    resources = list(args.resources)
    undecided = Undecided("encryption-at-rest")
    encrypted_buckets, pending = _configured_buckets(resources, BUCKET_SSE, _encrypts)
    for name, bucket in _bucket_names(resources).items():
        inline = _get(bucket.props, "serverSideEncryptionConfiguration")
        if name in encrypted_buckets or (inline and inline is not UNKNOWN):
            continue
        if pending or inline is UNKNOWN:
            undecided.add(f"the default encryption of bucket {bucket.name}")
        else:
            shown = bucket.name if name == bucket.urn else name
            report_violation(f"S3 bucket {shown} has no default server-side encryption configuration", bucket.urn)
    for r in resources:
        if r.resource_type == FIREHOSE:
            enabled = _get(r.props, "serverSideEncryption", "enabled")
            if enabled is UNKNOWN:
                undecided.add(f"the encryption of Firehose stream {r.name}")
            elif not enabled:
                report_violation(f"Firehose stream {r.name} does not encrypt records at rest (serverSideEncryption)", r.urn)
        if r.resource_type == QUEUE:
            flags = [_get(r.props, "sqsManagedSseEnabled"), _get(r.props, "kmsMasterKeyId")]
            if any(f and f is not UNKNOWN for f in flags):
                continue
            if UNKNOWN in flags:
                undecided.add(f"the encryption of SQS queue {r.name}")
            else:
                report_violation(f"SQS queue {r.name} is not encrypted (sqsManagedSseEnabled or kmsMasterKeyId)", r.urn)
        if r.resource_type == WORKGROUP:
            option = _get(r.props, "configuration", "resultConfiguration", "encryptionConfiguration", "encryptionOption")
            if option is UNKNOWN:
                undecided.add(f"the result encryption of Athena workgroup {r.name}")
            elif not option:
                report_violation(f"Athena workgroup {r.name} does not encrypt query results", r.urn)
    undecided.raise_if_any()


# ---- public access ------------------------------------------------------------------------------

def validate_public_access(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has a public access block with all four switches on."""
    resources = list(args.resources)
    undecided = Undecided("s3-no-public-access")
    for r in resources:
        if r.resource_type == PUBLIC_ACCESS_BLOCK:
            flags = {flag: _get(r.props, flag) for flag in PUBLIC_ACCESS_FLAGS}
            off = [flag for flag, on in flags.items() if on is not True and on is not UNKNOWN]
            if off:
                report_violation(f"public access block {r.name} leaves {', '.join(off)} off", r.urn)
            elif UNKNOWN in flags.values():
                undecided.add(f"the switches of public access block {r.name}")

    def all_on(r) -> Any:
        flags = [_get(r.props, flag) for flag in PUBLIC_ACCESS_FLAGS]
        return True if all(f is True for f in flags) else UNKNOWN if UNKNOWN in flags else False

    blocked, pending = _configured_buckets(resources, (PUBLIC_ACCESS_BLOCK,), all_on)
    for name, bucket in _bucket_names(resources).items():
        if name not in blocked:
            if pending:
                undecided.add(f"the public access block of bucket {bucket.name}")
            else:
                shown = bucket.name if name == bucket.urn else name
                report_violation(f"S3 bucket {shown} has no public access block with all four settings on", bucket.urn)
        acl = _get(bucket.props, "acl")
        if acl is UNKNOWN:
            undecided.add(f"the ACL of bucket {bucket.name}")
        elif acl in ("public-read", "public-read-write"):
            report_violation(f"S3 bucket {bucket.name if name == bucket.urn else name} has a public ACL", bucket.urn)
    undecided.raise_if_any()


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
    undecided = Undecided("iam-no-wildcards")
    documents: list[Any] = []
    if args.resource_type in (ROLE_POLICY, POLICY, USER_POLICY, GROUP_POLICY):
        documents.append(_get(args.props, "policy"))
    elif args.resource_type == ROLE:
        inline = _items(_get(args.props, "inlinePolicies"))
        if inline is UNKNOWN:
            undecided.add(f"the inline policies of role {args.name}")
        else:
            documents.extend(_get(p, "policy") for p in inline)
        managed = _items(_get(args.props, "managedPolicyArns"))
        for arn in [] if managed is UNKNOWN else managed:
            if arn is not UNKNOWN and str(arn).endswith(("/AdministratorAccess", "/PowerUserAccess")):
                report_violation(f"role {args.name} has the managed policy {arn}")
    for doc in documents:
        if doc is UNKNOWN:
            # A document that holds an ARN of a resource not created yet is unknown as a whole.
            undecided.add(f"the policy document of {args.resource_type.split(':')[-1]} {args.name}")
            continue
        for finding in wildcard_findings(doc):
            report_violation(f"{args.resource_type.split(':')[-1]} {args.name}: {finding}")
    undecided.raise_if_any()


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


def run_all(resources: Iterable[Any], make_resource_args: Callable[[Any], ResourceValidationArgs],
            advisories: Optional[list[str]] = None) -> list[str]:
    """Runs every policy over `resources` (PolicyResource objects) and returns the violations,
    each prefixed with its policy name: the test harness for the pack. As CrossGuard does, a
    policy that raises UnknownValueError (preview) becomes an advisory, collected in
    `advisories` when given (else the error propagates)."""
    resources = list(resources)
    violations: list[str] = []

    def run(policy, validate_args) -> None:
        def report(message: str, urn: str | None = None, _name=policy.name) -> None:
            violations.append(f"{_name}: {message}")

        try:
            policy.validate(validate_args, report)
        except UnknownValueError as e:
            if advisories is None:
                raise
            advisories.append(f"{policy.name}: {e.message}")

    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            run(policy, StackValidationArgs(resources))
        else:
            for r in resources:
                run(policy, make_resource_args(r))
    return violations
