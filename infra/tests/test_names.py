"""Two stacks in one account and region: every physical name derives from the stack, is valid
for its service, and a resource that carries a fixed name is replaced delete-first.

The names are checked against the AWS service models botocore ships (length and pattern of the
API member that takes the name) and, where a model states no rule, against the rule on the
service's documentation page, written out here independently of the program."""

from __future__ import annotations

import re

import botocore.session
import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings

import checks
from conftest import configure

import tracklake_infra
from tracklake_infra import names as names_module

# Type -> (input key of the physical name, botocore service, operation, member path).
NAME_MEMBERS = {
    checks.STREAM: ("name", "firehose", "CreateDeliveryStream", ("DeliveryStreamName",)),
    checks.FUNCTION: ("name", "lambda", "CreateFunction", ("FunctionName",)),
    checks.LOG_GROUP: ("name", "logs", "CreateLogGroup", ("logGroupName",)),
    "aws:cloudwatch/logStream:LogStream": ("name", "logs", "CreateLogStream", ("logStreamName",)),
    checks.SECRET: ("name", "secretsmanager", "CreateSecret", ("Name",)),
    checks.DATABASE: ("name", "glue", "CreateDatabase", ("DatabaseInput", "Name")),
    checks.TABLE: ("name", "glue", "CreateTable", ("TableInput", "Name")),
    "aws:athena/workgroup:Workgroup": ("name", "athena", "CreateWorkGroup", ("Name",)),
    checks.ALARM: ("name", "cloudwatch", "PutMetricAlarm", ("AlarmName",)),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", "cloudwatch", "PutDashboard", ("DashboardName",)),
    "aws:scheduler/schedule:Schedule": ("name", "scheduler", "CreateSchedule", ("Name",)),
    checks.ROLE: ("name", "iam", "CreateRole", ("RoleName",)),
    checks.QUEUE: ("name", "sqs", "CreateQueue", ("QueueName",)),
    "aws:sns/topic:Topic": ("name", "sns", "CreateTopic", ("Name",)),
    checks.BUCKET: ("bucket", "s3", "CreateBucket", ("Bucket",)),
}

# Rules the service models leave out, from each service's documentation.
DOCUMENTED = {
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    checks.BUCKET: r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9-]{1,61}[a-z0-9](?<!-s3alias)(?<!--ol-s3)",
    # https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html: a bare name, 64 at most
    checks.FUNCTION: r"[a-zA-Z0-9_-]{1,64}",
    # https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
    checks.DATABASE: r"[a-z0-9_]{1,255}",
    checks.TABLE: r"[a-z0-9_]{1,255}",
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
    "aws:cloudwatch/dashboard:Dashboard": r"[A-Za-z0-9_-]{1,255}",
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
    checks.QUEUE: r"[A-Za-z0-9_-]{1,80}",
    # https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
    "aws:sns/topic:Topic": r"[A-Za-z0-9_-]{1,256}",
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
    checks.SECRET: r"[A-Za-z0-9/_+=.@-]{1,512}",
}

# Glue's model pattern (any single-line string) uses UTF-16 surrogate ranges Python's re reads
# differently; the Athena rule above is the stricter one.
SKIP_MODEL_PATTERN = {checks.DATABASE, checks.TABLE}

_session = botocore.session.get_session()


def model_rule(service: str, operation: str, path: tuple[str, ...]) -> dict:
    shape = _session.get_service_model(service).operation_model(operation).input_shape
    for member in path:
        shape = shape.members[member]
    return shape.metadata


def physical_id(r) -> tuple | None:
    """What AWS keys the resource by within one account and region, or None when the program
    gives it no name (autonamed, or identified by an id AWS assigns: named queries, policies)."""
    if r.typ not in NAME_MEMBERS:
        return None
    key = NAME_MEMBERS[r.typ][0]
    if key not in r.inputs:
        return None
    scope = {"aws:cloudwatch/logStream:LogStream": "logGroupName", checks.TABLE: "databaseName"}.get(r.typ)
    return (r.typ, r.inputs[scope] if scope else None, r.inputs[key])


def deploy_stack(mocks, zips, stack: str, recorded: dict):
    """Runs the program as stack `stack`; resolves once its resources are registered."""
    before = len(mocks.resources)
    pulumi_settings._set_stack(stack)
    try:
        configure(zips)
        pipeline = tracklake_infra.build(tracklake_infra.load())
    finally:
        pulumi_settings._set_stack("test")
    return pulumi.Output.all(*[r.urn for r in pipeline.all]).apply(
        lambda _: recorded.__setitem__(stack, list(mocks.resources[before:])))


@pulumi.runtime.test
def test_two_stacks_share_no_physical_name(mocks, zips):
    recorded: dict = {}
    first = deploy_stack(mocks, zips, "dev", recorded)
    second = deploy_stack(mocks, zips, "prod", recorded)

    def check(_):
        # Both stacks' resources, in one account and region: no physical name twice.
        ids = [physical_id(r) for r in mocks.resources if physical_id(r)]
        duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
        assert duplicates == []
        assert len(ids) >= 40
        named = {r.typ for r in mocks.resources if physical_id(r)}
        assert {checks.STREAM, checks.FUNCTION, checks.SECRET, checks.DATABASE, checks.LOG_GROUP,
                checks.BUCKET, checks.ROLE, checks.QUEUE, checks.ALARM} <= named
    return pulumi.Output.all(first, second).apply(check)


@pulumi.runtime.test
def test_every_physical_name_is_valid_for_its_service(mocks, zips):
    recorded: dict = {}

    def check(_):
        checked = 0
        for r in recorded["a-long-stack-name-12345"]:
            if not physical_id(r):
                continue
            key, service, operation, path = NAME_MEMBERS[r.typ]
            name = r.inputs[key]
            rule = model_rule(service, operation, path)
            assert rule.get("min", 1) <= len(name) <= rule.get("max", 10**6), (r.name, name, rule)
            if "pattern" in rule and r.typ not in SKIP_MODEL_PATTERN:
                assert re.fullmatch(rule["pattern"], name), (r.name, name, rule["pattern"])
            if r.typ in DOCUMENTED:
                assert re.fullmatch(DOCUMENTED[r.typ], name), (r.name, name, DOCUMENTED[r.typ])
            checked += 1
        assert checked >= 20
    return deploy_stack(mocks, zips, "a-long-stack-name-12345", recorded).apply(check)


@pulumi.runtime.test
def test_the_names_follow_the_scheme(mocks, zips):
    recorded: dict = {}

    def check(_):
        by = {(r.typ, r.name): r.inputs for r in recorded["dev"]}
        assert by[(checks.STREAM, "stream")]["name"] == "tracklake-dev-track-observations"
        assert by[(checks.FUNCTION, "producer")]["name"] == "tracklake-dev-producer"
        assert by[(checks.FUNCTION, "transform")]["name"] == "tracklake-dev-firehose-transform"
        assert by[(checks.LOG_GROUP, "producer-logs")]["name"] == "/aws/lambda/tracklake-dev-producer"
        assert by[(checks.LOG_GROUP, "firehose-logs")]["name"] == "/aws/kinesisfirehose/tracklake-dev-track-observations"
        assert by[(checks.SECRET, "spotify-secret")]["name"] == "tracklake/dev/spotify"
        assert by[(checks.DATABASE, "database")]["name"] == "tracklake_dev"
        assert by[(checks.BUCKET, "lake")]["bucket"] == "tracklake-dev-123456789012-eu-west-1"
        assert by[("aws:scheduler/schedule:Schedule", "producer-schedule")]["name"] == "tracklake-dev-producer"
        assert by[(checks.ROLE, "firehose-role")]["name"] == "tracklake-dev-firehose-role"
    return deploy_stack(mocks, zips, "dev", recorded).apply(check)


@pulumi.runtime.test
def test_a_resource_with_a_fixed_name_is_replaced_delete_first(mocks, zips):
    """Create-before-delete (Pulumi's default replacement) fails on a fixed name: the old resource
    still holds it. Named queries are exempt: Athena keys them by an id it assigns."""
    recorded: dict = {}

    def check(_):
        fixed = [r.name for r in recorded["dev"] if physical_id(r)]
        assert len(fixed) >= 20
        create_first = [n for n in fixed if not mocks.options[n].delete_before_replace]
        assert create_first == []
    return deploy_stack(mocks, zips, "dev", recorded).apply(check)


@pytest.mark.parametrize("stack", ["Dev", "dev_1", "1dev", "a" * 40])
def test_a_stack_name_that_cannot_name_every_resource_is_refused(stack):
    with pytest.raises(names_module.NameRuleError, match="stack"):
        names_module.Names.of("tracklake", stack)


def test_a_stack_name_too_long_for_the_bucket_is_refused_when_the_region_is_known():
    names = names_module.Names.of("tracklake", "a" * 30)
    with pytest.raises(names_module.NameRuleError, match="S3 bucket.*stack name"):
        names.bucket("123456789012", "ap-southeast-1")


@pulumi.runtime.test
def test_no_stack_setting_fixes_a_physical_name(mocks, zips):
    """The settings that used to fix the secret's and the database's names are gone: set, they
    change nothing (so two stacks cannot be configured into a collision)."""
    recorded: dict = {}
    pulumi_settings._set_stack("dev")
    try:
        configure(zips, secretName="tracklake/spotify", glueDatabase="tracklake")
        pipeline = tracklake_infra.build(tracklake_infra.load())
    finally:
        pulumi_settings._set_stack("test")

    def check(_):
        w = checks.World(mocks.resources)
        assert w.one(checks.SECRET).inputs["name"] == "tracklake/dev/spotify"
        assert w.one(checks.DATABASE).inputs["name"] == "tracklake_dev"
        recorded["ok"] = True
    return pulumi.Output.all(*[r.urn for r in pipeline.all]).apply(check)


def test_a_bad_stack_name_stops_the_program_before_anything_is_declared(mocks, zips):
    pulumi_settings._set_stack("Dev")
    try:
        configure(zips)
        with pytest.raises(names_module.NameRuleError, match="stack name 'Dev'"):
            tracklake_infra.build(tracklake_infra.load())
    finally:
        pulumi_settings._set_stack("test")
    assert mocks.resources == []
