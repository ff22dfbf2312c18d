"""The program's API requests against AWS's own rules: botocore's service models
(aws_requests.py) and the documented constraints the models do not carry (aws_rules.py).

The real program's requests must pass every rule; each rule also gets broken variants of those
same requests (one setting changed the way a person could get it wrong) that must fail it, so no
rule can pass vacuously. Nothing here compares the program with schemas/delivery.json."""

from __future__ import annotations

import copy
import json
import shutil
from typing import Callable

import pulumi
import pytest

import aws_requests
import aws_rules
from aws_requests import InvalidRequest, UnknownInput
from conftest import MOCKS, REGION
from elf_builder import EM_AARCH64, make_elf, write_zip
from test_program import deploy


def _requests(w) -> list[aws_requests.Request]:
    return aws_requests.validated_requests(w.resources, REGION)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The real program's requests, collected once per module (the variants deep-copy them)."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    for binary in ("producer", "firehose-transform"):
        write_zip(artifacts / binary / "bootstrap.zip", make_elf(EM_AARCH64))
    MOCKS.resources.clear()
    MOCKS.options.clear()
    box: dict = {}

    @pulumi.runtime.test
    def run():
        return deploy(MOCKS, artifacts).apply(lambda w: box.update(world=w, requests=_requests(w)))

    run()
    return box


def one(requests, operation: str, resource: str = ""):
    found = [r for r in requests if r.operation == operation and resource in r.resource]
    assert len(found) >= 1, f"no {operation} {resource}"
    return found[0]


def stream(requests) -> dict:
    return one(requests, "CreateDeliveryStream").params["ExtendedS3DestinationConfiguration"]


def processor_params(requests) -> list[dict]:
    return stream(requests)["ProcessingConfiguration"]["Processors"][0]["Parameters"]


def set_processor(requests, name: str, value: str) -> None:
    params = processor_params(requests)
    for p in params:
        if p["ParameterName"] == name:
            p["ParameterValue"] = value
            return
    params.append({"ParameterName": name, "ParameterValue": value})


def function(requests, binary: str) -> aws_requests.Request:
    """The CreateFunction of the function built from `binary` (by its zip's folder)."""
    [f] = [r for r in requests if r.operation == "CreateFunction" and r.extra["code_path"].parent.name == binary]
    return f


def role_request(requests, user: str) -> aws_requests.Request:
    """The CreateRole of the role that `user` ("firehose", "scheduler" or a binary) runs with."""
    if user == "firehose":
        arn = stream(requests)["RoleARN"]
    elif user == "scheduler":
        arn = one(requests, "CreateSchedule").params["Target"]["RoleArn"]
    else:
        arn = function(requests, user).params["Role"]
    [role] = [r for r in requests if r.operation == "CreateRole" and r.arn == arn]
    return role


def policy_of(requests, user: str) -> tuple[aws_requests.Request, dict]:
    name = role_request(requests, user).params["RoleName"]
    [policy] = [r for r in requests if r.operation == "PutRolePolicy" and r.params["RoleName"] == name]
    return policy, json.loads(policy.params["PolicyDocument"])


def edit_policy(requests, user: str, edit: Callable[[list[dict]], None]) -> None:
    policy, doc = policy_of(requests, user)
    edit(doc["Statement"])
    policy.params["PolicyDocument"] = json.dumps(doc)


def drop_actions(requests, user: str, prefix: str) -> None:
    def edit(statements):
        for s in statements:
            s["Action"] = [a for a in s["Action"] if not a.startswith(prefix)]
        statements[:] = [s for s in statements if s["Action"]]
    edit_policy(requests, user, edit)


def add_action(requests, user: str, action: str) -> None:
    edit_policy(requests, user, lambda statements: statements[0]["Action"].append(action))


def alarm(requests, kind: str) -> dict:
    """The first single-metric alarm ("single") or metric-math alarm ("math")."""
    alarms = [r.params for r in requests if r.operation == "PutMetricAlarm"]
    return next(a for a in alarms if ("Metrics" in a) == (kind == "math"))


def expression_query(requests) -> dict:
    return next(m for m in alarm(requests, "math")["Metrics"] if "Expression" in m)


def set_prefix(field: str, value):
    return lambda q: stream(q).__setitem__(field, value)


# Every broken variant: (rule that must fire, what is broken, the change to the real requests).
BROKEN: list[tuple[str, str, Callable[[list], None]]] = [
    # Firehose: buffering, compression, format conversion
    ("firehose-format-conversion-buffer", "S3 buffer of 1 MiB with format conversion",
     lambda q: stream(q)["BufferingHints"].__setitem__("SizeInMBs", 1)),
    ("firehose-format-conversion-buffer", "no buffering hints (5 MiB default) with format conversion",
     lambda q: stream(q).pop("BufferingHints")),
    ("firehose-format-conversion-uncompressed", "GZIP S3 compression with format conversion",
     lambda q: stream(q).__setitem__("CompressionFormat", "GZIP")),
    ("firehose-format-conversion-schema", "format conversion names a table the program does not create",
     lambda q: stream(q)["DataFormatConversionConfiguration"]["SchemaConfiguration"].__setitem__("TableName", "track_obs")),
    ("firehose-format-conversion-schema", "format conversion without a serializer",
     lambda q: stream(q)["DataFormatConversionConfiguration"]["OutputFormatConfiguration"].__setitem__("Serializer", {})),
    ("firehose-buffering-hints-pair", "buffer size without interval",
     lambda q: stream(q)["BufferingHints"].pop("IntervalInSeconds")),
    # Firehose: dynamic partitioning
    ("firehose-dynamic-partitioning-buffer", "dynamic partitioning with a 32 MiB buffer (conversion off)",
     lambda q: (stream(q)["BufferingHints"].__setitem__("SizeInMBs", 32),
                stream(q)["DataFormatConversionConfiguration"].__setitem__("Enabled", False))),
    ("firehose-dynamic-partitioning-retry", "dynamic partitioning without retry options",
     lambda q: stream(q)["DynamicPartitioningConfiguration"].pop("RetryOptions")),
    ("firehose-dynamic-partitioning-error-prefix", "dynamic partitioning without an error prefix",
     lambda q: stream(q).pop("ErrorOutputPrefix")),
    ("firehose-dynamic-partitioning-prefix-keys", "dynamic partitioning with a prefix of timestamps only",
     set_prefix("Prefix", "processed/dt=!{timestamp:yyyy-MM-dd}/")),
    ("firehose-partition-keys-need-their-source", "partition keys in the prefix, dynamic partitioning off",
     lambda q: stream(q)["DynamicPartitioningConfiguration"].__setitem__("Enabled", False)),
    ("firehose-partition-keys-need-their-source", "partitionKeyFromQuery without a MetadataExtraction processor",
     set_prefix("Prefix", "processed/source=!{partitionKeyFromQuery:source}/")),
    ("firehose-partition-keys-need-their-source", "partitionKeyFromLambda without a Lambda processor",
     lambda q: stream(q)["ProcessingConfiguration"].__setitem__("Enabled", False)),
    ("firehose-partition-keys-need-their-source", "a partition key in the raw backup prefix",
     lambda q: stream(q)["S3BackupConfiguration"].__setitem__("Prefix", "raw/!{partitionKeyFromLambda:source}/")),
    # Firehose: prefixes
    ("firehose-prefix-expression-syntax", "misspelt partitionKeyFromLambda",
     set_prefix("Prefix", "processed/source=!{partitionKeyFromLamda:source}/dt=!{partitionKeyFromLambda:dt}/")),
    ("firehose-prefix-expression-syntax", "partition key namespace in the wrong case",
     set_prefix("Prefix", "processed/source=!{PartitionKeyFromLambda:source}/dt=!{partitionKeyFromLambda:dt}/")),
    ("firehose-prefix-expression-syntax", "unclosed expression",
     set_prefix("Prefix", "processed/source=!{partitionKeyFromLambda:source/dt=!{partitionKeyFromLambda:dt}/")),
    ("firehose-prefix-expression-syntax", "unknown firehose value",
     set_prefix("ErrorOutputPrefix", "errors/!{firehose:error-type}/")),
    ("firehose-prefix-expression-syntax", "empty timestamp",
     set_prefix("ErrorOutputPrefix", "errors/!{firehose:error-output-type}/!{timestamp:}/")),
    ("firehose-error-prefix-has-error-output-type", "error prefix without !{firehose:error-output-type}",
     set_prefix("ErrorOutputPrefix", "errors/!{timestamp:yyyy/MM/dd}/")),
    ("firehose-error-prefix-has-error-output-type", "backup error prefix without !{firehose:error-output-type}",
     lambda q: stream(q)["S3BackupConfiguration"].__setitem__("ErrorOutputPrefix", "raw-errors/")),
    ("firehose-error-prefix-without-partition-keys", "error prefix that uses a partition key",
     set_prefix("ErrorOutputPrefix", "errors/!{firehose:error-output-type}/source=!{partitionKeyFromLambda:source}/")),
    ("firehose-prefix-without-error-output-type", "error output type in the data prefix",
     set_prefix("Prefix", "processed/!{firehose:error-output-type}/source=!{partitionKeyFromLambda:source}/")),
    ("firehose-backup-configuration", "backup enabled without its configuration",
     lambda q: stream(q).pop("S3BackupConfiguration")),
    # Firehose: the Lambda processor
    ("firehose-lambda-processor-parameters", "6 MB processor buffer",
     lambda q: set_processor(q, "BufferSizeInMBs", "6")),
    ("firehose-lambda-processor-parameters", "0.1 MB processor buffer",
     lambda q: set_processor(q, "BufferSizeInMBs", "0.1")),
    ("firehose-lambda-processor-parameters", "negative processor interval",
     lambda q: set_processor(q, "BufferIntervalInSeconds", "-5")),
    ("firehose-lambda-processor-parameters", "processor interval of 1,000 s",
     lambda q: set_processor(q, "BufferIntervalInSeconds", "1000")),
    ("firehose-lambda-processor-parameters", "301 processor retries",
     lambda q: set_processor(q, "NumberOfRetries", "301")),
    ("firehose-lambda-processor-parameters", "retries that are not a number",
     lambda q: set_processor(q, "NumberOfRetries", "three")),
    ("firehose-lambda-processor-parameters", "processor without LambdaArn",
     lambda q: processor_params(q).pop(0)),
    ("firehose-lambda-processor-parameters", "processor pointing at another function",
     lambda q: set_processor(q, "LambdaArn", "arn:aws:lambda:eu-west-1:123456789012:function:someone-else")),
    ("firehose-lambda-processor-parameters", "a processor parameter given twice",
     lambda q: processor_params(q).append(dict(processor_params(q)[-1]))),
    ("firehose-processor-timeout", "transform timeout of 6 minutes",
     lambda q: function(q, "firehose-transform").params.__setitem__("Timeout", 360)),
    # Glue and Athena
    ("glue-column-types", "a column of type text",
     lambda q: one(q, "CreateTable").params["TableInput"]["StorageDescriptor"]["Columns"][0].__setitem__("Type", "text")),
    ("glue-column-types", "an array with two element types",
     lambda q: one(q, "CreateTable").params["TableInput"]["StorageDescriptor"]["Columns"][0].__setitem__("Type", "array<string,int>")),
    ("glue-column-types", "a struct field without a type",
     lambda q: one(q, "CreateTable").params["TableInput"]["StorageDescriptor"]["Columns"][0].__setitem__("Type", "struct<a>")),
    ("glue-column-types", "a partition key of type datetime",
     lambda q: one(q, "CreateTable").params["TableInput"]["PartitionKeys"][0].__setitem__("Type", "datetime")),
    ("glue-column-names", "a partition key that is also a column",
     lambda q: one(q, "CreateTable").params["TableInput"]["PartitionKeys"][0].__setitem__(
         "Name", one(q, "CreateTable").params["TableInput"]["StorageDescriptor"]["Columns"][0]["Name"])),
    ("glue-column-names", "an upper-case column name",
     lambda q: one(q, "CreateTable").params["TableInput"]["StorageDescriptor"]["Columns"][0].__setitem__("Name", "TrackId")),
    ("glue-table-in-a-created-database", "table in another database",
     lambda q: one(q, "CreateTable").params.__setitem__("DatabaseName", "default")),
    ("athena-named-query-references", "named query on another database",
     lambda q: one(q, "CreateNamedQuery").params.__setitem__("Database", "default")),
    ("athena-named-query-references", "named query without the workgroup",
     lambda q: one(q, "CreateNamedQuery").params.pop("WorkGroup")),
    ("athena-result-location", "results in a bucket of someone else",
     lambda q: one(q, "CreateWorkGroup").params["Configuration"]["ResultConfiguration"].__setitem__(
         "OutputLocation", "s3://elsewhere/athena-results/")),
    ("athena-result-location", "results location without a trailing slash",
     lambda q: one(q, "CreateWorkGroup").params["Configuration"]["ResultConfiguration"].__setitem__(
         "OutputLocation", one(q, "CreateWorkGroup").params["Configuration"]["ResultConfiguration"]["OutputLocation"].rstrip("/"))),
    # Lambda
    ("lambda-memory", "12 GB of memory", lambda q: one(q, "CreateFunction").params.__setitem__("MemorySize", 12288)),
    ("lambda-timeout", "a 20 minute producer", lambda q: function(q, "producer").params.__setitem__("Timeout", 1200)),
    ("lambda-architecture", "two architectures",
     lambda q: one(q, "CreateFunction").params.__setitem__("Architectures", ["arm64", "x86_64"])),
    ("lambda-os-only-runtime-bootstrap", "a managed runtime for a Rust binary",
     lambda q: one(q, "CreateFunction").params.__setitem__("Runtime", "python3.12")),
    ("lambda-os-only-runtime-bootstrap", "a zip without bootstrap at its root",
     lambda q: one(q, "CreateFunction").extra.__setitem__("zip_entries", ["target/bootstrap"])),
    ("lambda-log-group-declared", "a log group nobody declares",
     lambda q: one(q, "CreateFunction").params["LoggingConfig"].__setitem__("LogGroup", "/aws/lambda/other")),
    # Scheduler
    ("scheduler-expression", "rate of 0 minutes", lambda q: one(q, "CreateSchedule").params.__setitem__("ScheduleExpression", "rate(0 minutes)")),
    ("scheduler-expression", "plural unit for 1", lambda q: one(q, "CreateSchedule").params.__setitem__("ScheduleExpression", "rate(1 hours)")),
    ("scheduler-expression", "seconds", lambda q: one(q, "CreateSchedule").params.__setitem__("ScheduleExpression", "rate(30 seconds)")),
    ("scheduler-expression", "five-field cron", lambda q: one(q, "CreateSchedule").params.__setitem__("ScheduleExpression", "cron(0/15 * * * *)")),
    ("scheduler-expression", "cron without ?", lambda q: one(q, "CreateSchedule").params.__setitem__("ScheduleExpression", "cron(0 * * * * *)")),
    ("scheduler-flexible-window", "OFF with a window",
     lambda q: one(q, "CreateSchedule").params["FlexibleTimeWindow"].__setitem__("MaximumWindowInMinutes", 5)),
    ("scheduler-flexible-window", "FLEXIBLE without a window",
     lambda q: one(q, "CreateSchedule").params.__setitem__("FlexibleTimeWindow", {"Mode": "FLEXIBLE"})),
    ("scheduler-retry-policy", "186 retries",
     lambda q: one(q, "CreateSchedule").params["Target"]["RetryPolicy"].__setitem__("MaximumRetryAttempts", 186)),
    ("scheduler-retry-policy", "event age of 30 s",
     lambda q: one(q, "CreateSchedule").params["Target"]["RetryPolicy"].__setitem__("MaximumEventAgeInSeconds", 30)),
    ("scheduler-target-wiring", "target is not the producer",
     lambda q: one(q, "CreateSchedule").params["Target"].__setitem__("Arn", "arn:aws:lambda:eu-west-1:123456789012:function:x")),
    ("scheduler-target-wiring", "dead letters to an unknown queue",
     lambda q: one(q, "CreateSchedule").params["Target"]["DeadLetterConfig"].__setitem__("Arn", "arn:aws:sqs:eu-west-1:1:q")),
    # Secrets Manager
    ("secrets-recovery-window", "recovery window of 3 days", lambda q: one(q, "DeleteSecret").params.__setitem__("RecoveryWindowInDays", 3)),
    ("secrets-recovery-window", "recovery window of 31 days", lambda q: one(q, "DeleteSecret").params.__setitem__("RecoveryWindowInDays", 31)),
    ("secrets-name", "a space in the name", lambda q: one(q, "CreateSecret").params.__setitem__("Name", "tracklake spotify")),
    ("secrets-name", "name ending like an ARN suffix", lambda q: one(q, "CreateSecret").params.__setitem__("Name", "tracklake/spotify-abcdef")),
    # CloudWatch
    ("cloudwatch-alarm-period", "period of 90 s", lambda q: alarm(q, "single").__setitem__("Period", 90)),
    ("cloudwatch-alarm-period", "metric math period of 45 s",
     lambda q: alarm(q, "math")["Metrics"][0]["MetricStat"].__setitem__("Period", 45)),
    ("cloudwatch-alarm-evaluation-range", "two days of 5-minute periods",
     lambda q: alarm(q, "single").__setitem__("EvaluationPeriods", 576)),
    ("cloudwatch-alarm-evaluation-range", "more datapoints than periods",
     lambda q: alarm(q, "single").__setitem__("DatapointsToAlarm", alarm(q, "single").get("EvaluationPeriods", 1) + 1)),
    ("cloudwatch-treat-missing-data", "treat missing data as 'notbreaching'",
     lambda q: alarm(q, "single").__setitem__("TreatMissingData", "notbreaching")),
    ("cloudwatch-alarm-metric-shape", "metric math with a MetricName too",
     lambda q: alarm(q, "math").__setitem__("MetricName", "Errors")),
    ("cloudwatch-alarm-metric-shape", "Statistic and ExtendedStatistic together",
     lambda q: alarm(q, "single").__setitem__("ExtendedStatistic", "p99")),
    ("cloudwatch-metric-math", "every query returns data",
     lambda q: [m.__setitem__("ReturnData", True) for m in alarm(q, "math")["Metrics"]]),
    ("cloudwatch-metric-math", "an upper-case metric id",
     lambda q: alarm(q, "math")["Metrics"][0].__setitem__("Id", "Failed")),
    ("cloudwatch-metric-math", "expression on an unknown id",
     lambda q: expression_query(q).__setitem__("Expression", "FILL(nosuchquery, 0)")),
    ("cloudwatch-dashboard-body", "dashboard body that is not JSON",
     lambda q: one(q, "PutDashboard").params.__setitem__("DashboardBody", "{widgets: []")),
    ("cloudwatch-dashboard-body", "metric widget without a region",
     lambda q: one(q, "PutDashboard").params.__setitem__("DashboardBody", json.dumps(
         {"widgets": [{"type": "metric", "properties": {"metrics": [["AWS/Lambda", "Errors"]]}}]}))),
    ("logs-retention-values", "retention of 10 days", lambda q: one(q, "PutRetentionPolicy").params.__setitem__("retentionInDays", 10)),
    # S3
    ("s3-bucket-name", "upper-case bucket name", lambda q: one(q, "CreateBucket").params.__setitem__("Bucket", "Tracklake-Lake")),
    ("s3-bucket-name", "bucket name with two dots", lambda q: one(q, "CreateBucket").params.__setitem__("Bucket", "tracklake..lake")),
    ("s3-bucket-name", "bucket name of 64 characters", lambda q: one(q, "CreateBucket").params.__setitem__("Bucket", "a" * 64)),
    ("s3-lifecycle-rules", "two lifecycle rules with one ID",
     lambda q: one(q, "PutBucketLifecycleConfiguration").params["LifecycleConfiguration"]["Rules"][1].__setitem__(
         "ID", one(q, "PutBucketLifecycleConfiguration").params["LifecycleConfiguration"]["Rules"][0]["ID"])),
    ("s3-lifecycle-rules", "a lifecycle rule without an action",
     lambda q: one(q, "PutBucketLifecycleConfiguration").params["LifecycleConfiguration"]["Rules"][0].pop("Expiration")),
    # IAM
    ("iam-firehose-role-actions", "logs:PutLogEvents removed from the Firehose role",
     lambda q: drop_actions(q, "firehose", "logs:")),
    ("iam-firehose-role-actions", "s3:DeleteObject granted to Firehose", lambda q: add_action(q, "firehose", "s3:DeleteObject")),
    ("iam-lambda-role-actions", "a role nobody uses",
     lambda q: q.append(aws_requests.Request("iam", "CreateRole", {
         **one(q, "CreateRole").params, "RoleName": "spare"}, "spare", "arn:aws:iam::123456789012:role/spare"))),
    ("iam-firehose-role-actions", "Glue actions removed from the Firehose role",
     lambda q: drop_actions(q, "firehose", "glue:")),
    ("iam-firehose-role-actions", "lambda:GetFunctionConfiguration removed from the Firehose role",
     lambda q: drop_actions(q, "firehose", "lambda:GetFunctionConfiguration")),
    ("iam-lambda-role-actions", "s3:ListBucket removed from the producer role",
     lambda q: drop_actions(q, "producer", "s3:ListBucket")),
    ("iam-lambda-role-actions", "secretsmanager:PutSecretValue removed from the producer",
     lambda q: drop_actions(q, "producer", "secretsmanager:PutSecretValue")),
    ("iam-lambda-role-actions", "secretsmanager:DeleteSecret granted to the producer",
     lambda q: add_action(q, "producer", "secretsmanager:DeleteSecret")),
    ("iam-lambda-role-actions", "logs:CreateLogGroup granted to the transform",
     lambda q: add_action(q, "firehose-transform", "logs:CreateLogGroup")),
    ("iam-scheduler-role-actions", "the scheduler loses lambda:InvokeFunction",
     lambda q: drop_actions(q, "scheduler", "lambda:")),
    ("iam-scheduler-role-actions", "the scheduler may also send SNS messages",
     lambda q: add_action(q, "scheduler", "sns:Publish")),
    ("iam-no-wildcard-action", "s3:* on the producer", lambda q: add_action(q, "producer", "s3:*")),
    ("iam-no-wildcard-action", "* on the transform", lambda q: add_action(q, "firehose-transform", "*")),
    ("iam-no-wildcard-action", "glue:GetTable* on Firehose", lambda q: add_action(q, "firehose", "glue:GetTable*")),
    ("iam-inline-policy-size", "an oversized policy",
     lambda q: edit_policy(q, "firehose-transform", lambda s: s[0].__setitem__("Sid", "x" * 11000))),
    ("iam-no-managed-policies", "a managed policy attached",
     lambda q: q.append(aws_requests.Request("iam", "AttachRolePolicy", {
         "RoleName": one(q, "CreateRole").params["RoleName"],
         "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}, "extra"))),
    ("iam-role-trusts-its-service", "the Firehose role trusts Lambda",
     lambda q: one(q, "CreateRole", " firehose-role").params.__setitem__(
         "AssumeRolePolicyDocument", one(q, "CreateRole", " transform-role").params["AssumeRolePolicyDocument"])),
]


def test_the_real_program_passes_every_rule(real):
    violations = aws_rules.check(real["requests"])
    assert violations == [], "\n".join(map(str, violations))


def test_every_rule_has_a_broken_variant_and_cites_an_aws_page():
    covered = {name for name, _, _ in BROKEN}
    assert covered == {r.name for r in aws_rules.RULES}, sorted({r.name for r in aws_rules.RULES} - covered)
    for r in aws_rules.RULES:
        assert r.source.startswith("https://docs.aws.amazon.com/"), r


@pytest.mark.parametrize("rule,what,breaks", BROKEN, ids=[f"{r}: {w}" for r, w, _ in BROKEN])
def test_a_broken_variant_fails_its_rule(real, rule, what, breaks):
    requests = copy.deepcopy(real["requests"])
    breaks(requests)
    violations = aws_rules.check(requests)
    assert any(v.rule == rule for v in violations), (what, [str(v) for v in violations])


def _crates_copy(tmp_path):
    """A copy of the two Lambda crates' manifests and sources, to edit."""
    repo = tmp_path / "repo"
    for binary in ("producer", "firehose-transform"):
        source = aws_rules.crate_of_binary(aws_rules.REPO, binary)
        shutil.copytree(source, repo / source.name, ignore=shutil.ignore_patterns("target", "tests", "benches"))
    return repo


def test_the_producer_sdk_calls_are_read_from_its_source():
    crate = aws_rules.crate_of_binary(aws_rules.REPO, "producer")
    calls = aws_rules.sdk_calls(crate)
    assert {("s3", "GetObject"), ("s3", "PutObject"), ("firehose", "PutRecordBatch"),
            ("secretsmanager", "GetSecretValue")} <= set(calls), calls
    assert all(path.startswith("producer/src/") for where in calls.values() for path in where)
    actions = aws_rules.actions_of_calls(calls)
    assert {"s3:GetObject", "s3:ListBucket", "firehose:PutRecordBatch"} <= actions
    assert aws_rules.actions_of_calls([("s3", "HeadObject"), ("s3", "DeleteObjects")]) == {
        "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"}


def test_a_call_added_to_the_producer_needs_its_action(real, tmp_path):
    """A new SDK call in the producer's source (not in a test module) fails the role until the
    policy grants its action; the same call inside `#[cfg(test)] mod` does not count."""
    repo = _crates_copy(tmp_path)
    (repo / "producer" / "src" / "extra.rs").write_text(
        "#[cfg(test)]\nmod tests { fn t(c: &aws_sdk_firehose::Client) { c.delete_delivery_stream(); } }\n")
    assert aws_rules.check(real["requests"], repo=repo, only="iam-lambda-role-actions") == \
        aws_rules.check(real["requests"], only="iam-lambda-role-actions")
    (repo / "producer" / "src" / "extra.rs").write_text(
        "pub async fn f(c: &aws_sdk_secretsmanager::Client) { let _ = c.describe_secret().send().await; }\n")
    violations = aws_rules.check(real["requests"], repo=repo, only="iam-lambda-role-actions")
    assert any("secretsmanager:DescribeSecret" in v.message and "does not allow" in v.message for v in violations), violations


def test_a_call_removed_from_the_producer_makes_its_action_extra(real, tmp_path):
    repo = _crates_copy(tmp_path)
    source = repo / "producer" / "src" / "auth" / "secrets_manager.rs"
    text = source.read_text()
    assert ".put_secret_value()" in text
    source.write_text(text.replace(".put_secret_value()", ".put_secret_value_removed()"))
    violations = aws_rules.check(real["requests"], repo=repo, only="iam-lambda-role-actions")
    assert any("secretsmanager:PutSecretValue" in v.message and "never call" in v.message for v in violations), violations


# ---- the translation and botocore's models --------------------------------------------------------

@pulumi.runtime.test
def test_every_request_satisfies_botocores_service_model(mocks, zips):
    def check(w):
        requests = _requests(w)
        operations = {r.operation for r in requests}
        assert {"CreateDeliveryStream", "CreateTable", "CreateDatabase", "CreateWorkGroup", "CreateNamedQuery",
                "CreateFunction", "CreateSchedule", "CreateSecret", "PutMetricAlarm", "PutDashboard",
                "CreateRole", "PutRolePolicy", "CreateBucket", "PutBucketPolicy"} <= operations, operations
    return deploy(mocks, zips).apply(check)


MODEL_BREAKS = [
    ("S3 buffer above 128 MiB", "SizeInMBs", lambda q: stream(q)["BufferingHints"].__setitem__("SizeInMBs", 256)),
    ("unknown compression", "CompressionFormat", lambda q: stream(q).__setitem__("CompressionFormat", "ZSTD")),
    ("processor parameter name in the wrong case", "ParameterName",
     lambda q: processor_params(q)[0].__setitem__("ParameterName", "LambdaARN")),
    ("bucket ARN that is a name", "BucketARN", lambda q: stream(q).__setitem__("BucketARN", "my-bucket")),
    ("retry duration above 7,200 s", "DurationInSeconds",
     lambda q: stream(q)["DynamicPartitioningConfiguration"]["RetryOptions"].__setitem__("DurationInSeconds", 9000)),
    ("scheduler retries above 185", "MaximumRetryAttempts",
     lambda q: one(q, "CreateSchedule").params["Target"]["RetryPolicy"].__setitem__("MaximumRetryAttempts", 200)),
    ("Lambda memory below 128 MB", "MemorySize", lambda q: one(q, "CreateFunction").params.__setitem__("MemorySize", 64)),
    ("unknown architecture", "Architectures", lambda q: one(q, "CreateFunction").params.__setitem__("Architectures", ["arm"])),
    ("missing role", "Role", lambda q: one(q, "CreateFunction").params.pop("Role")),
    ("comparison operator misspelt", "ComparisonOperator",
     lambda q: alarm(q, "single").__setitem__("ComparisonOperator", "GreaterThan")),
    ("Athena cutoff below 10 MB", "BytesScannedCutoffPerQuery",
     lambda q: one(q, "CreateWorkGroup").params["Configuration"].__setitem__("BytesScannedCutoffPerQuery", 1000)),
    ("a float where an integer goes", "EvaluationPeriods", lambda q: alarm(q, "single").__setitem__("EvaluationPeriods", 1.5)),
    ("an API member that does not exist", "Unknown parameter",
     lambda q: one(q, "CreateSchedule").params.__setitem__("Timezone", "UTC")),
]


@pytest.mark.parametrize("what,expected,breaks", MODEL_BREAKS, ids=[m[0] for m in MODEL_BREAKS])
def test_botocores_model_rejects_a_broken_request(real, what, expected, breaks):
    requests = copy.deepcopy(real["requests"])
    breaks(requests)
    errors = []
    for r in requests:
        try:
            aws_requests.validate(r)
        except InvalidRequest as e:
            errors.append(str(e))
    assert len(errors) == 1 and expected in errors[0], (what, errors)


STREAM_TYPE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
INPUT_BREAKS = [
    (STREAM_TYPE, "extendedS3Configuration", "dynamicPartitioningConfiguraton"),
    (STREAM_TYPE, "extendedS3Configuration", "bufferSize"),
    (STREAM_TYPE, "extendedS3Configuration.processingConfiguration.processors.0", "parameter"),
    (STREAM_TYPE, "extendedS3Configuration.processingConfiguration.processors.0.parameters.0", "parameterNme"),
    (STREAM_TYPE, "extendedS3Configuration.dataFormatConversionConfiguration.schemaConfiguration", "tableArn"),
    ("aws:lambda/function:Function", "", "memory"),
    ("aws:scheduler/schedule:Schedule", "target.retryPolicy", "maximumRetries"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "metricQueries.0.metric", "statistic"),
    ("aws:glue/catalogTable:CatalogTable", "storageDescriptor", "serdeInfo"),
    ("aws:athena/workgroup:Workgroup", "configuration", "enforceWorkGroupConfiguration"),
]


def _resolve(node, path: str):
    for part in filter(None, path.split(".")):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


@pytest.mark.parametrize("typ,path,key", INPUT_BREAKS, ids=[f"{t.split(':')[-1]}.{p}.{k}" for t, p, k in INPUT_BREAKS])
def test_an_unknown_or_misspelt_input_raises(real, typ, path, key):
    resources = copy.deepcopy(real["world"].resources)
    for r in (x for x in resources if x.typ == typ):
        try:
            node = _resolve(r.inputs, path)
        except (KeyError, IndexError):
            continue
        node[key] = 1
        break
    else:
        raise AssertionError(f"no {typ} has {path}")
    with pytest.raises(UnknownInput, match=key):
        aws_requests.to_requests(resources, REGION)


def test_an_untranslated_resource_type_raises(real):
    resources = copy.deepcopy(real["world"].resources)
    resources[0].typ = "aws:lambda/functionUrl:FunctionUrl"
    with pytest.raises(UnknownInput, match="does not translate"):
        aws_requests.to_requests(resources, REGION)


def test_the_provider_names_become_api_names(real):
    """Spot checks of the mapping where the provider's names differ from the API's."""
    s = stream(real["requests"])
    assert set(s["BufferingHints"]) == {"SizeInMBs", "IntervalInSeconds"}
    assert "DurationInSeconds" in s["DynamicPartitioningConfiguration"]["RetryOptions"]
    assert s["DataFormatConversionConfiguration"]["SchemaConfiguration"]["RoleARN"].startswith("arn:aws:iam::")
    assert one(real["requests"], "CreateDeliveryStream").params["DeliveryStreamEncryptionConfigurationInput"] == {
        "KeyType": "AWS_OWNED_CMK"}
    math = alarm(real["requests"], "math")["Metrics"]
    assert math[0]["MetricStat"]["Metric"]["Dimensions"][0]["Name"] in ("FunctionName", "DeliveryStreamName")
    assert isinstance(alarm(real["requests"], "single")["EvaluationPeriods"], int)
