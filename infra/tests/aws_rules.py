"""AWS's documented rules that botocore's service models do not carry, checked on the API
requests of aws_requests.py. Each rule is a function registered with the AWS page it comes
from; each limit is a named constant citing its page. Nothing here reads the project's own
configuration (schemas/, config.py): the requests are judged by AWS's rules alone, so a setting
broken in the program and in its configuration alike still fails.

`check(requests)` returns the violations, `[]` for a sound program."""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import botocore.session

from aws_requests import Request

REPO = Path(__file__).resolve().parents[2]
_SESSION = botocore.session.get_session()

# ---- Firehose ------------------------------------------------------------------------------------
FIREHOSE_PREFIXES = "https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html"
FIREHOSE_FORMAT_CONVERSION = "https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html"
FIREHOSE_ENABLE_CONVERSION = "https://docs.aws.amazon.com/firehose/latest/dev/enable-record-format-conversion.html"
FIREHOSE_DYNAMIC_PARTITIONING = "https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html"
FIREHOSE_PARTITION_ERRORS = "https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-error-handling.html"
FIREHOSE_PARTITION_KEYS = "https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-partitioning-keys.html"
FIREHOSE_PARTITION_PREFIX = "https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-s3bucketprefix.html"
FIREHOSE_PROCESSOR_PARAMETER = "https://docs.aws.amazon.com/firehose/latest/APIReference/API_ProcessorParameter.html"
FIREHOSE_TRANSFORMATION = "https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html"
FIREHOSE_BUFFERING_HINTS = "https://docs.aws.amazon.com/firehose/latest/APIReference/API_BufferingHints.html"
FIREHOSE_RETRY_OPTIONS = "https://docs.aws.amazon.com/firehose/latest/APIReference/API_RetryOptions.html"
FIREHOSE_EXTENDED_S3 = "https://docs.aws.amazon.com/firehose/latest/APIReference/API_ExtendedS3DestinationConfiguration.html"
FIREHOSE_ACCESS = "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html"

# With record format conversion or dynamic partitioning on, the S3 buffer is at least 64 MiB.
FORMAT_CONVERSION_MIN_BUFFER_MIB = 64  # FIREHOSE_FORMAT_CONVERSION
DYNAMIC_PARTITIONING_MIN_BUFFER_MIB = 64  # FIREHOSE_DYNAMIC_PARTITIONING
# BufferingHints: 1-128 MiB, 0-900 s, and one is given only with the other (FIREHOSE_BUFFERING_HINTS).
BUFFERING_DEFAULT_SIZE_MIB = 5
# Format conversion writes compressed Parquet/ORC itself; S3 compression must stay off.
FORMAT_CONVERSION_COMPRESSION = "UNCOMPRESSED"  # FIREHOSE_ENABLE_CONVERSION
# How long Firehose retries delivery to a partition: 0-7,200 s (FIREHOSE_RETRY_OPTIONS).
PARTITIONING_RETRY_RANGE_SECONDS = (0, 7200)
# The namespaces of `!{namespace:value}` prefix expressions, and the `firehose` values (FIREHOSE_PREFIXES).
PREFIX_NAMESPACES = ("firehose", "timestamp", "partitionKeyFromQuery", "partitionKeyFromLambda")
FIREHOSE_NAMESPACE_VALUES = ("error-output-type", "random-string")
PARTITION_KEY_NAMESPACES = ("partitionKeyFromQuery", "partitionKeyFromLambda")
# Lambda processor parameters: the buffer Firehose hands the function is 0.2-3 MB and its
# interval 0-900 s (FIREHOSE_TRANSFORMATION, FIREHOSE_PROCESSOR_PARAMETER); retries 0-300
# (FIREHOSE_RETRIES).
FIREHOSE_RETRIES = "https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html"
PROCESSOR_BUFFER_MB = (0.2, 3.0)
PROCESSOR_RETRIES = (0, 300)
PROCESSOR_INTERVAL_SECONDS = (0, 900)
# Firehose waits at most 5 minutes for a transformation Lambda (FIREHOSE_TRANSFORMATION).
PROCESSOR_MAX_TIMEOUT_SECONDS = 300

# ---- Glue / Athena -------------------------------------------------------------------------------
ATHENA_DATA_TYPES = "https://docs.aws.amazon.com/athena/latest/ug/data-types.html"
ATHENA_NAMES = "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html"
ATHENA_CREATE_NAMED_QUERY = "https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateNamedQuery.html"
ATHENA_RESULT_CONFIGURATION = "https://docs.aws.amazon.com/athena/latest/APIReference/API_ResultConfiguration.html"
GLUE_CREATE_TABLE = "https://docs.aws.amazon.com/glue/latest/webapi/API_CreateTable.html"
# The Hive types Athena reads from a Glue table (ATHENA_DATA_TYPES).
HIVE_PRIMITIVE_TYPES = ("boolean", "tinyint", "smallint", "int", "integer", "bigint", "float", "double",
                        "string", "date", "timestamp", "binary")
HIVE_PARAMETRIZED_TYPES = {"decimal": 2, "char": 1, "varchar": 1}
# Table, column and database names: lower-case letters, digits and underscore (ATHENA_NAMES).
ATHENA_NAME = re.compile(r"^[a-z0-9_]+$")

# ---- Lambda --------------------------------------------------------------------------------------
LAMBDA_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
LAMBDA_TIMEOUT = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html"
LAMBDA_ARCHITECTURES = "https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html"
LAMBDA_OS_ONLY = "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-provided.html"
LAMBDA_LOGS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html"
LAMBDA_MEMORY_MB = (128, 10240)  # LAMBDA_MEMORY
LAMBDA_MAX_TIMEOUT_SECONDS = 900  # LAMBDA_TIMEOUT
LAMBDA_ARCHITECTURE_VALUES = ("arm64", "x86_64")  # LAMBDA_ARCHITECTURES: exactly one
# OS-only runtimes run the executable `bootstrap` at the root of the package (LAMBDA_OS_ONLY).
OS_ONLY_RUNTIMES = ("provided.al2023", "provided.al2")
OS_ONLY_ENTRYPOINT = "bootstrap"

# ---- EventBridge Scheduler ------------------------------------------------------------------------
SCHEDULE_TYPES = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html"
# A rate of 1 takes the singular unit, any other the plural (stated for EventBridge rate expressions).
RATE_EXPRESSIONS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html"
SCHEDULER_FLEXIBLE_WINDOW = "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_FlexibleTimeWindow.html"
SCHEDULER_RETRY_POLICY = "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html"
SCHEDULER_ROLE = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html"
SCHEDULER_DLQ = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html"
SCHEDULE_RATE_UNITS = ("minute", "minutes", "hour", "hours", "day", "days")  # SCHEDULE_TYPES
SCHEDULE_FLEXIBLE_WINDOW_MINUTES = (1, 1440)  # SCHEDULER_FLEXIBLE_WINDOW
SCHEDULE_RETRY_ATTEMPTS = (0, 185)  # SCHEDULER_RETRY_POLICY
SCHEDULE_EVENT_AGE_SECONDS = (60, 86400)  # SCHEDULER_RETRY_POLICY

# ---- Secrets Manager -----------------------------------------------------------------------------
SECRETS_DELETE = "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html"
SECRETS_CREATE = "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html"
SECRET_RECOVERY_DAYS = (7, 30)  # SECRETS_DELETE
# Name characters; and a name must not end in a hyphen and six characters, which Secrets
# Manager's ARN suffix looks like (SECRETS_CREATE).
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
SECRET_NAME_ARN_LOOKALIKE = re.compile(r"-[A-Za-z0-9]{6}$")

# ---- CloudWatch ----------------------------------------------------------------------------------
CW_PUT_METRIC_ALARM = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
CW_MISSING_DATA = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data"
CW_METRIC_DATA_QUERY = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html"
CW_DASHBOARD_BODY = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"
LOGS_RETENTION = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html"
# Periods: 10, 20, 30 (high resolution) or a multiple of 60 (CW_PUT_METRIC_ALARM).
ALARM_SHORT_PERIODS = (10, 20, 30)
ALARM_PERIOD_MULTIPLE = 60
# Period x EvaluationPeriods: at most one day, or 7 days for periods of an hour or more.
ALARM_MAX_EVALUATION_SECONDS = 86_400
ALARM_MAX_EVALUATION_SECONDS_LONG_PERIOD = 604_800
ALARM_LONG_PERIOD_SECONDS = 3600
TREAT_MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")  # CW_MISSING_DATA
METRIC_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")  # CW_METRIC_DATA_QUERY
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)  # LOGS_RETENTION

# ---- S3 ------------------------------------------------------------------------------------------
S3_BUCKET_NAMES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
S3_LIFECYCLE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html"
# 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit;
# no two adjacent dots, no IP address, none of the reserved prefixes and suffixes (S3_BUCKET_NAMES).
S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# A lifecycle configuration holds at most 1,000 rules, each with a unique ID and an action (S3_LIFECYCLE).
S3_LIFECYCLE_MAX_RULES = 1000
S3_LIFECYCLE_ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
                        "AbortIncompleteMultipartUpload")

# ---- IAM -----------------------------------------------------------------------------------------
IAM_ACTIONS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html"
IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
IAM_SERVICE_ROLES = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-service.html"
LAMBDA_EXECUTION_ROLE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"
S3_ACTIONS = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html"
S3_GET_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"
# The inline policies of one role total at most 10,240 characters (IAM_QUOTAS).
ROLE_INLINE_POLICY_MAX_CHARS = 10_240
# What Firehose calls with its role (FIREHOSE_ACCESS): the S3 destination, the Lambda processor,
# the Glue table of format conversion, and its own CloudWatch log streams.
FIREHOSE_S3_ACTIONS = frozenset({"s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                                 "s3:ListBucketMultipartUploads", "s3:PutObject"})
FIREHOSE_LAMBDA_ACTIONS = frozenset({"lambda:InvokeFunction", "lambda:GetFunctionConfiguration"})
FIREHOSE_GLUE_ACTIONS = frozenset({"glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"})
FIREHOSE_LOG_ACTIONS = frozenset({"logs:PutLogEvents"})
# A Lambda function writes its logs into an existing group (LAMBDA_LOGS; the group is declared,
# so CreateLogGroup is not needed).
LAMBDA_LOG_ACTIONS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
# The scheduler invokes a Lambda target and sends undeliverable events to the DLQ.
SCHEDULER_LAMBDA_ACTIONS = frozenset({"lambda:InvokeFunction"})  # SCHEDULER_ROLE
SCHEDULER_DLQ_ACTIONS = frozenset({"sqs:SendMessage"})  # SCHEDULER_DLQ
# SDK operations whose IAM action has another name (S3_ACTIONS, "Actions defined by Amazon S3").
OPERATION_ACTIONS = {
    ("s3", "HeadObject"): {"s3:GetObject"},
    ("s3", "ListObjectsV2"): {"s3:ListBucket"},
    ("s3", "ListObjects"): {"s3:ListBucket"},
    ("s3", "HeadBucket"): {"s3:ListBucket"},
    ("s3", "DeleteObjects"): {"s3:DeleteObject"},
}
# GetObject of a key that does not exist answers 404 only with s3:ListBucket, else 403; the
# producer's first run reads a state object that is not there yet (S3_GET_OBJECT).
COMPANION_ACTIONS = {"s3:GetObject": {"s3:ListBucket"}}
# The Rust SDK crates whose botocore service name differs from the crate suffix.
SDK_CRATE_SERVICES = {"cloudwatchlogs": "logs", "eventbridge": "events", "sfn": "stepfunctions"}
# Trust: the service principal of each service that assumes a role.
SERVICE_PRINCIPALS = {"firehose": "firehose.amazonaws.com", "lambda": "lambda.amazonaws.com",
                      "scheduler": "scheduler.amazonaws.com"}


# ---- the rule registry ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    message: str
    source: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message} (AWS: {self.source})"


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    check: Callable[["Program"], Iterable[tuple[Request, str]]]


RULES: list[Rule] = []


def rule(name: str, source: str):
    def register(fn):
        RULES.append(Rule(name, source, fn))
        return fn
    return register


class Program:
    """The requests, with the look-ups the rules share."""

    def __init__(self, requests: Iterable[Request], repo: Path = REPO):
        self.requests = list(requests)
        self.repo = repo

    def ops(self, operation: str) -> list[Request]:
        return [r for r in self.requests if r.operation == operation]

    def arns(self, operation: str) -> set[str]:
        return {r.arn for r in self.ops(operation) if r.arn}


def check(requests: Iterable[Request], repo: Path = REPO, only: Optional[str] = None) -> list[Violation]:
    program = Program(requests, repo)
    found = []
    for r in RULES:
        if only and r.name != only:
            continue
        for request, message in r.check(program):
            found.append(Violation(r.name, str(request), message, r.source))
    return found


# ---- Firehose rules ------------------------------------------------------------------------------

def _destinations(p: Program):
    """(request, destination config, is the main destination) of every S3 destination."""
    for r in p.ops("CreateDeliveryStream"):
        d = r.params.get("ExtendedS3DestinationConfiguration")
        if d:
            yield r, d, True
            if d.get("S3BackupConfiguration"):
                yield r, d["S3BackupConfiguration"], False


def _enabled(config: Optional[dict]) -> bool:
    # Firehose treats a present configuration without Enabled as enabled (API default true).
    return bool(config) and config.get("Enabled", True) is not False


def _buffer_mib(d: dict) -> int:
    return (d.get("BufferingHints") or {}).get("SizeInMBs", BUFFERING_DEFAULT_SIZE_MIB)


_EXPR = re.compile(r"!\{([^}]*)\}")


def expressions(prefix: Optional[str]) -> list[tuple[str, str]]:
    """The (namespace, value) pairs of a prefix's `!{namespace:value}` expressions."""
    out = []
    for body in _EXPR.findall(prefix or ""):
        namespace, _, value = body.partition(":")
        out.append((namespace, value))
    return out


@rule("firehose-format-conversion-buffer", FIREHOSE_FORMAT_CONVERSION)
def _format_conversion_buffer(p: Program):
    for r, d, main in _destinations(p):
        if main and _enabled(d.get("DataFormatConversionConfiguration")) and _buffer_mib(d) < FORMAT_CONVERSION_MIN_BUFFER_MIB:
            yield r, (f"record format conversion needs an S3 buffer of at least {FORMAT_CONVERSION_MIN_BUFFER_MIB} MiB; "
                      f"BufferingHints.SizeInMBs is {_buffer_mib(d)}")


@rule("firehose-format-conversion-uncompressed", FIREHOSE_ENABLE_CONVERSION)
def _format_conversion_compression(p: Program):
    for r, d, main in _destinations(p):
        compression = d.get("CompressionFormat", FORMAT_CONVERSION_COMPRESSION)
        if main and _enabled(d.get("DataFormatConversionConfiguration")) and compression != FORMAT_CONVERSION_COMPRESSION:
            yield r, (f"with record format conversion, CompressionFormat must be {FORMAT_CONVERSION_COMPRESSION} "
                      f"(the serializer compresses); it is {compression}")


@rule("firehose-format-conversion-schema", FIREHOSE_FORMAT_CONVERSION)
def _format_conversion_schema(p: Program):
    tables = {(t.params["DatabaseName"], t.params["TableInput"]["Name"]) for t in p.ops("CreateTable")}
    for r, d, main in _destinations(p):
        conversion = d.get("DataFormatConversionConfiguration")
        if not (main and _enabled(conversion)):
            continue
        schema = conversion.get("SchemaConfiguration") or {}
        missing = [k for k in ("DatabaseName", "TableName", "RoleARN") if not schema.get(k)]
        if missing:
            yield r, f"format conversion reads its schema from a Glue table; SchemaConfiguration lacks {missing}"
        elif (schema["DatabaseName"], schema["TableName"]) not in tables:
            yield r, f"format conversion names Glue table {schema['DatabaseName']}.{schema['TableName']}, which the program does not create"
        serializer = (conversion.get("OutputFormatConfiguration") or {}).get("Serializer") or {}
        deserializer = (conversion.get("InputFormatConfiguration") or {}).get("Deserializer") or {}
        if len(serializer) != 1 or len(deserializer) != 1:
            yield r, "format conversion needs exactly one deserializer (JSON) and one serializer (Parquet or ORC)"


@rule("firehose-buffering-hints-pair", FIREHOSE_BUFFERING_HINTS)
def _buffering_pair(p: Program):
    for r, d, _ in _destinations(p):
        hints = d.get("BufferingHints")
        if hints is not None and len({"SizeInMBs", "IntervalInSeconds"} & set(hints)) == 1:
            yield r, f"BufferingHints sets only {sorted(hints)}; give SizeInMBs and IntervalInSeconds together"


@rule("firehose-dynamic-partitioning-buffer", FIREHOSE_DYNAMIC_PARTITIONING)
def _partitioning_buffer(p: Program):
    for r, d, main in _destinations(p):
        if main and _enabled(d.get("DynamicPartitioningConfiguration")) and _buffer_mib(d) < DYNAMIC_PARTITIONING_MIN_BUFFER_MIB:
            yield r, (f"dynamic partitioning needs an S3 buffer of at least {DYNAMIC_PARTITIONING_MIN_BUFFER_MIB} MiB; "
                      f"BufferingHints.SizeInMBs is {_buffer_mib(d)}")


@rule("firehose-dynamic-partitioning-retry", FIREHOSE_RETRY_OPTIONS)
def _partitioning_retry(p: Program):
    low, high = PARTITIONING_RETRY_RANGE_SECONDS
    for r, d, main in _destinations(p):
        dp = d.get("DynamicPartitioningConfiguration")
        if main and _enabled(dp):
            seconds = (dp.get("RetryOptions") or {}).get("DurationInSeconds")
            if seconds is None or not low <= seconds <= high:
                yield r, f"dynamic partitioning: RetryOptions.DurationInSeconds must be set, {low}-{high}; it is {seconds}"


@rule("firehose-dynamic-partitioning-error-prefix", FIREHOSE_PARTITION_ERRORS)
def _partitioning_error_prefix(p: Program):
    for r, d, main in _destinations(p):
        if main and _enabled(d.get("DynamicPartitioningConfiguration")) and not d.get("ErrorOutputPrefix"):
            yield r, "dynamic partitioning needs an ErrorOutputPrefix for the records it cannot partition"


@rule("firehose-dynamic-partitioning-prefix-keys", FIREHOSE_PARTITION_PREFIX)
def _partitioning_prefix_keys(p: Program):
    for r, d, main in _destinations(p):
        if main and _enabled(d.get("DynamicPartitioningConfiguration")):
            if not any(ns in PARTITION_KEY_NAMESPACES for ns, _ in expressions(d.get("Prefix"))):
                yield r, f"dynamic partitioning: the Prefix {d.get('Prefix')!r} uses no partitionKeyFrom* expression"


def unqualified(function_arn: str) -> str:
    """A Lambda function ARN without its version or alias (`...:function:name:$LATEST`)."""
    return ":".join(function_arn.split(":")[:7])


def _processors(d: dict) -> list[dict]:
    config = d.get("ProcessingConfiguration")
    return list(config.get("Processors") or []) if _enabled(config) else []


def _parameters(processor: dict) -> dict[str, str]:
    return {x["ParameterName"]: x["ParameterValue"] for x in processor.get("Parameters") or []}


@rule("firehose-partition-keys-need-their-source", FIREHOSE_PARTITION_KEYS)
def _partition_key_sources(p: Program):
    for r, d, main in _destinations(p):
        used = {ns for ns, _ in expressions(d.get("Prefix")) if ns in PARTITION_KEY_NAMESPACES}
        if not used:
            continue
        if not main or not _enabled(d.get("DynamicPartitioningConfiguration")):
            yield r, f"the prefix uses {sorted(used)}, which only dynamic partitioning of the main destination provides"
            continue
        types = {x.get("Type") for x in _processors(d)}
        if "partitionKeyFromLambda" in used and "Lambda" not in types:
            yield r, "the prefix uses partitionKeyFromLambda but no Lambda processor returns partition keys"
        if "partitionKeyFromQuery" in used and "MetadataExtraction" not in types:
            yield r, "the prefix uses partitionKeyFromQuery but no MetadataExtraction processor (jq query) is configured"


@rule("firehose-prefix-expression-syntax", FIREHOSE_PREFIXES)
def _prefix_syntax(p: Program):
    for r, d, _ in _destinations(p):
        for field in ("Prefix", "ErrorOutputPrefix"):
            prefix = d.get(field) or ""
            if prefix.count("!{") != len(_EXPR.findall(prefix)) or "}" in _EXPR.sub("", prefix):
                yield r, f"{field} {prefix!r} has an unbalanced `!{{...}}` expression"
            for namespace, value in expressions(prefix):
                if namespace not in PREFIX_NAMESPACES:
                    yield r, f"{field} uses the namespace {namespace!r}; Firehose knows {list(PREFIX_NAMESPACES)}"
                elif not value:
                    yield r, f"{field} has an empty `!{{{namespace}:}}` expression"
                elif namespace == "firehose" and value not in FIREHOSE_NAMESPACE_VALUES:
                    yield r, f"{field}: `!{{firehose:{value}}}` is none of {list(FIREHOSE_NAMESPACE_VALUES)}"
                elif namespace in PARTITION_KEY_NAMESPACES and not re.fullmatch(r"[A-Za-z0-9_]+", value):
                    yield r, f"{field}: partition key name {value!r} is not a plain key name"


@rule("firehose-error-prefix-has-error-output-type", FIREHOSE_PREFIXES)
def _error_prefix_output_type(p: Program):
    for r, d, _ in _destinations(p):
        if expressions(d.get("Prefix")) and ("firehose", "error-output-type") not in expressions(d.get("ErrorOutputPrefix")):
            yield r, ("a Prefix with expressions needs an ErrorOutputPrefix with `!{firehose:error-output-type}`; "
                      f"ErrorOutputPrefix is {d.get('ErrorOutputPrefix')!r}")


@rule("firehose-error-prefix-without-partition-keys", FIREHOSE_PREFIXES)
def _error_prefix_no_keys(p: Program):
    for r, d, _ in _destinations(p):
        keys = [ns for ns, _ in expressions(d.get("ErrorOutputPrefix")) if ns in PARTITION_KEY_NAMESPACES]
        if keys:
            yield r, f"ErrorOutputPrefix uses {keys}: failed records have no partition keys to fill it"


@rule("firehose-prefix-without-error-output-type", FIREHOSE_PREFIXES)
def _prefix_no_error_type(p: Program):
    for r, d, _ in _destinations(p):
        if ("firehose", "error-output-type") in expressions(d.get("Prefix")):
            yield r, "`!{firehose:error-output-type}` belongs in ErrorOutputPrefix only, not in Prefix"


@rule("firehose-backup-configuration", FIREHOSE_EXTENDED_S3)
def _backup(p: Program):
    for r, d, main in _destinations(p):
        if main and d.get("S3BackupMode") == "Enabled" and not d.get("S3BackupConfiguration"):
            yield r, "S3BackupMode Enabled needs an S3BackupConfiguration"


@rule("firehose-lambda-processor-parameters", FIREHOSE_PROCESSOR_PARAMETER)
def _processor_parameters(p: Program):
    functions = p.arns("CreateFunction")
    for r, d, _ in _destinations(p):
        for processor in _processors(d):
            if processor.get("Type") != "Lambda":
                continue
            names = [x["ParameterName"] for x in processor.get("Parameters") or []]
            duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
            if duplicates:
                yield r, f"processor parameters {duplicates} are given more than once"
            params = _parameters(processor)
            arn = params.get("LambdaArn")
            if not arn:
                yield r, "a Lambda processor needs its LambdaArn parameter"
            elif unqualified(arn) not in functions:
                yield r, f"the processor's LambdaArn {arn} is not a function of the program"
            for name, (low, high), kind in (("NumberOfRetries", PROCESSOR_RETRIES, int),
                                            ("BufferSizeInMBs", PROCESSOR_BUFFER_MB, float),
                                            ("BufferIntervalInSeconds", PROCESSOR_INTERVAL_SECONDS, int)):
                if name not in params:
                    continue
                try:
                    value = kind(params[name])
                except ValueError:
                    yield r, f"processor parameter {name} is {params[name]!r}, not a number"
                    continue
                if not low <= value <= high:
                    yield r, f"processor parameter {name} is {params[name]}; Firehose accepts {low}-{high}"


@rule("firehose-processor-timeout", FIREHOSE_TRANSFORMATION)
def _processor_timeout(p: Program):
    functions = {f.arn: f for f in p.ops("CreateFunction")}
    for r, d, _ in _destinations(p):
        for processor in _processors(d):
            f = functions.get(unqualified(_parameters(processor).get("LambdaArn") or ""))
            if f and f.params.get("Timeout", 3) > PROCESSOR_MAX_TIMEOUT_SECONDS:
                yield r, (f"the processor {f.params['FunctionName']} has a {f.params['Timeout']} s timeout; Firehose "
                          f"waits at most {PROCESSOR_MAX_TIMEOUT_SECONDS} s for a transformation")


# ---- Glue and Athena rules -----------------------------------------------------------------------

def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [x.strip() for x in parts]


def hive_type_problem(t: str) -> Optional[str]:
    """Why `t` is not a Hive type Athena reads, or None."""
    t = t.strip()
    if t in HIVE_PRIMITIVE_TYPES:
        return None
    m = re.fullmatch(r"(\w+)\((.*)\)", t)
    if m and m.group(1) in HIVE_PARAMETRIZED_TYPES:
        args = [a.strip() for a in m.group(2).split(",")]
        ok = all(a.isdigit() for a in args) and 1 <= len(args) <= HIVE_PARAMETRIZED_TYPES[m.group(1)]
        return None if ok else f"{t}: bad parameters"
    m = re.fullmatch(r"(array|map|struct)<(.*)>", t)
    if not m:
        return f"{t!r} is not a Hive type"
    kind, inner = m.groups()
    parts = _split_top(inner)
    if kind == "array":
        return hive_type_problem(inner) if len(parts) == 1 else f"{t}: array takes one type"
    if kind == "map":
        if len(parts) != 2:
            return f"{t}: map takes a key and a value type"
        return hive_type_problem(parts[0]) or hive_type_problem(parts[1])
    for field in parts:
        name, sep, ftype = field.partition(":")
        if not sep or not re.fullmatch(r"\w+", name.strip()):
            return f"{t}: struct field {field!r} is not name:type"
        problem = hive_type_problem(ftype)
        if problem:
            return problem
    return None


@rule("glue-column-types", ATHENA_DATA_TYPES)
def _column_types(p: Program):
    for r in p.ops("CreateTable"):
        table = r.params["TableInput"]
        for c in (table.get("StorageDescriptor") or {}).get("Columns", []) + table.get("PartitionKeys", []):
            problem = hive_type_problem(c.get("Type", ""))
            if problem:
                yield r, f"column {c['Name']}: {problem}"


@rule("glue-column-names", ATHENA_NAMES)
def _column_names(p: Program):
    for r in p.ops("CreateTable"):
        table = r.params["TableInput"]
        columns = [c["Name"] for c in (table.get("StorageDescriptor") or {}).get("Columns", [])]
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        for name in [table["Name"], *columns, *keys]:
            if not ATHENA_NAME.match(name):
                yield r, f"name {name!r} is not lower-case letters, digits and underscores"
        repeated = sorted(n for n, c in Counter(columns + keys).items() if c > 1)
        if repeated:
            yield r, f"{repeated} appear more than once among the columns and partition keys"


@rule("glue-table-in-a-created-database", GLUE_CREATE_TABLE)
def _table_database(p: Program):
    databases = {d.params["DatabaseInput"]["Name"] for d in p.ops("CreateDatabase")}
    for r in p.ops("CreateTable"):
        if r.params["DatabaseName"] not in databases:
            yield r, f"database {r.params['DatabaseName']} is not created by the program"


@rule("athena-named-query-references", ATHENA_CREATE_NAMED_QUERY)
def _named_query_refs(p: Program):
    databases = {d.params["DatabaseInput"]["Name"] for d in p.ops("CreateDatabase")}
    workgroups = {w.params["Name"] for w in p.ops("CreateWorkGroup")}
    for r in p.ops("CreateNamedQuery"):
        if r.params.get("Database") not in databases:
            yield r, f"Database {r.params.get('Database')!r} is not a Glue database of the program"
        if r.params.get("WorkGroup") not in workgroups:
            yield r, f"WorkGroup {r.params.get('WorkGroup')!r} is not a workgroup of the program (else it lands in 'primary')"


@rule("athena-result-location", ATHENA_RESULT_CONFIGURATION)
def _result_location(p: Program):
    buckets = {b.params["Bucket"] for b in p.ops("CreateBucket")}
    for r in p.ops("CreateWorkGroup"):
        location = ((r.params.get("Configuration") or {}).get("ResultConfiguration") or {}).get("OutputLocation", "")
        m = re.fullmatch(r"s3://([^/]+)/(.*)", location)
        if not m or not location.endswith("/"):
            yield r, f"OutputLocation {location!r} is not an s3://bucket/folder/ location"
        elif m.group(1) not in buckets:
            yield r, f"OutputLocation is in bucket {m.group(1)}, which the program does not create"


# ---- Lambda rules --------------------------------------------------------------------------------

@rule("lambda-memory", LAMBDA_MEMORY)
def _memory(p: Program):
    low, high = LAMBDA_MEMORY_MB
    for r in p.ops("CreateFunction"):
        memory = r.params.get("MemorySize", 128)
        if not low <= memory <= high:
            yield r, f"MemorySize {memory} MB is outside {low}-{high} MB"


@rule("lambda-timeout", LAMBDA_TIMEOUT)
def _timeout(p: Program):
    for r in p.ops("CreateFunction"):
        if r.params.get("Timeout", 3) > LAMBDA_MAX_TIMEOUT_SECONDS:
            yield r, f"Timeout {r.params['Timeout']} s is above Lambda's {LAMBDA_MAX_TIMEOUT_SECONDS} s"


@rule("lambda-architecture", LAMBDA_ARCHITECTURES)
def _architecture(p: Program):
    for r in p.ops("CreateFunction"):
        arch = r.params.get("Architectures", ["x86_64"])
        if len(arch) != 1 or arch[0] not in LAMBDA_ARCHITECTURE_VALUES:
            yield r, f"Architectures {arch} must be exactly one of {list(LAMBDA_ARCHITECTURE_VALUES)}"


@rule("lambda-os-only-runtime-bootstrap", LAMBDA_OS_ONLY)
def _bootstrap(p: Program):
    for r in p.ops("CreateFunction"):
        if r.params.get("Runtime") not in OS_ONLY_RUNTIMES:
            yield r, f"runtime {r.params.get('Runtime')} is not an OS-only runtime {list(OS_ONLY_RUNTIMES)} for a Rust binary"
        elif OS_ONLY_ENTRYPOINT not in r.extra.get("zip_entries", []):
            yield r, f"the package has no `{OS_ONLY_ENTRYPOINT}` at its root: {r.extra.get('zip_entries')}"


@rule("lambda-log-group-declared", LAMBDA_LOGS)
def _log_group(p: Program):
    groups = {g.params["logGroupName"] for g in p.ops("CreateLogGroup")}
    for r in p.ops("CreateFunction"):
        group = (r.params.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{r.params['FunctionName']}"
        if group not in groups:
            yield r, f"log group {group} is not declared, so its retention is never set (Lambda creates it, kept forever)"


# ---- Scheduler rules -----------------------------------------------------------------------------

def schedule_expression_problem(expression: str) -> Optional[str]:
    m = re.fullmatch(r"rate\((\d+) (\w+)\)", expression)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value < 1 or unit not in SCHEDULE_RATE_UNITS:
            return f"{expression}: rate needs a positive whole number and a unit of {list(SCHEDULE_RATE_UNITS)}"
        if (value == 1) != (not unit.endswith("s")):
            return f"{expression}: use the singular unit for 1 and the plural otherwise ({RATE_EXPRESSIONS})"
        return None
    m = re.fullmatch(r"cron\((.*)\)", expression)
    if m:
        fields = m.group(1).split()
        if len(fields) != 6:
            return f"{expression}: cron takes six fields (minutes hours day-of-month month day-of-week year)"
        if "?" not in (fields[2], fields[4]):
            return f"{expression}: one of day-of-month and day-of-week must be '?'"
        return None
    if re.fullmatch(r"at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)", expression):
        return None
    return f"{expression!r} is none of rate(...), cron(...), at(...)"


@rule("scheduler-expression", SCHEDULE_TYPES)
def _schedule_expression(p: Program):
    for r in p.ops("CreateSchedule"):
        problem = schedule_expression_problem(r.params.get("ScheduleExpression", ""))
        if problem:
            yield r, problem


@rule("scheduler-flexible-window", SCHEDULER_FLEXIBLE_WINDOW)
def _flexible_window(p: Program):
    low, high = SCHEDULE_FLEXIBLE_WINDOW_MINUTES
    for r in p.ops("CreateSchedule"):
        window = r.params.get("FlexibleTimeWindow") or {}
        minutes = window.get("MaximumWindowInMinutes")
        if window.get("Mode") == "OFF" and minutes is not None:
            yield r, "FlexibleTimeWindow Mode OFF takes no MaximumWindowInMinutes"
        if window.get("Mode") == "FLEXIBLE" and (minutes is None or not low <= minutes <= high):
            yield r, f"FlexibleTimeWindow Mode FLEXIBLE needs MaximumWindowInMinutes {low}-{high}; it is {minutes}"


@rule("scheduler-retry-policy", SCHEDULER_RETRY_POLICY)
def _retry_policy(p: Program):
    for r in p.ops("CreateSchedule"):
        policy = (r.params.get("Target") or {}).get("RetryPolicy") or {}
        for key, (low, high) in (("MaximumRetryAttempts", SCHEDULE_RETRY_ATTEMPTS),
                                 ("MaximumEventAgeInSeconds", SCHEDULE_EVENT_AGE_SECONDS)):
            if key in policy and not low <= policy[key] <= high:
                yield r, f"RetryPolicy.{key} is {policy[key]}; the scheduler accepts {low}-{high}"


@rule("scheduler-target-wiring", SCHEDULER_DLQ)
def _schedule_target(p: Program):
    functions, queues = p.arns("CreateFunction"), p.arns("CreateQueue")
    for r in p.ops("CreateSchedule"):
        target = r.params.get("Target") or {}
        if unqualified(target.get("Arn", "")) not in functions:
            yield r, f"the target {target.get('Arn')} is not a function of the program"
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq is not None and dlq not in queues:
            yield r, f"the dead-letter queue {dlq} is not an SQS queue of the program"


# ---- Secrets Manager rules -----------------------------------------------------------------------

@rule("secrets-recovery-window", SECRETS_DELETE)
def _recovery_window(p: Program):
    low, high = SECRET_RECOVERY_DAYS
    for r in p.ops("DeleteSecret"):
        days = r.params.get("RecoveryWindowInDays")
        if days is not None and not low <= days <= high:
            yield r, f"RecoveryWindowInDays is {days}; Secrets Manager accepts {low}-{high} (or delete without recovery)"
        if days is not None and r.params.get("ForceDeleteWithoutRecovery"):
            yield r, "RecoveryWindowInDays and ForceDeleteWithoutRecovery exclude each other"


@rule("secrets-name", SECRETS_CREATE)
def _secret_name(p: Program):
    for r in p.ops("CreateSecret"):
        name = r.params.get("Name", "")
        if not SECRET_NAME.match(name):
            yield r, f"secret name {name!r} has characters outside letters, digits and /_+=.@-"
        elif SECRET_NAME_ARN_LOOKALIKE.search(name):
            yield r, f"secret name {name!r} ends in a hyphen and six characters, which ARN look-ups confuse with the ARN suffix"


# ---- CloudWatch rules ----------------------------------------------------------------------------

def _period_problem(period: Optional[int]) -> Optional[str]:
    if period is None:
        return None
    if period in ALARM_SHORT_PERIODS or (period > 0 and period % ALARM_PERIOD_MULTIPLE == 0):
        return None
    return f"period {period} s is neither {ALARM_SHORT_PERIODS} nor a multiple of {ALARM_PERIOD_MULTIPLE}"


@rule("cloudwatch-alarm-period", CW_PUT_METRIC_ALARM)
def _alarm_period(p: Program):
    for r in p.ops("PutMetricAlarm"):
        periods = [r.params.get("Period")] + [(m.get("MetricStat") or {}).get("Period") for m in r.params.get("Metrics", [])]
        for problem in filter(None, map(_period_problem, periods)):
            yield r, problem


@rule("cloudwatch-alarm-evaluation-range", CW_PUT_METRIC_ALARM)
def _evaluation_range(p: Program):
    for r in p.ops("PutMetricAlarm"):
        periods = [r.params.get("Period")] + [(m.get("MetricStat") or {}).get("Period") for m in r.params.get("Metrics", [])]
        period = max(x for x in periods if x) if any(periods) else None
        evaluations = r.params.get("EvaluationPeriods", 1)
        datapoints = r.params.get("DatapointsToAlarm", evaluations)
        if datapoints > evaluations:
            yield r, f"DatapointsToAlarm {datapoints} is more than EvaluationPeriods {evaluations}"
        if period:
            limit = (ALARM_MAX_EVALUATION_SECONDS_LONG_PERIOD if period >= ALARM_LONG_PERIOD_SECONDS
                     else ALARM_MAX_EVALUATION_SECONDS)
            if period * evaluations > limit:
                yield r, f"Period x EvaluationPeriods is {period * evaluations} s, above {limit} s"


@rule("cloudwatch-treat-missing-data", CW_MISSING_DATA)
def _missing_data(p: Program):
    for r in p.ops("PutMetricAlarm"):
        value = r.params.get("TreatMissingData", "missing")
        if value not in TREAT_MISSING_DATA:
            yield r, f"TreatMissingData {value!r} is none of {list(TREAT_MISSING_DATA)}"


@rule("cloudwatch-alarm-metric-shape", CW_PUT_METRIC_ALARM)
def _metric_shape(p: Program):
    for r in p.ops("PutMetricAlarm"):
        single = {k for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period")
                  if k in r.params}
        metrics = r.params.get("Metrics")
        if metrics and single:
            yield r, f"an alarm on Metrics (metric math) takes none of {sorted(single)}"
        if not metrics:
            if not {"MetricName", "Namespace", "Period"} <= single:
                yield r, "a single-metric alarm needs MetricName, Namespace and Period"
            if len({"Statistic", "ExtendedStatistic"} & single) != 1:
                yield r, "a single-metric alarm takes exactly one of Statistic and ExtendedStatistic"


@rule("cloudwatch-metric-math", CW_METRIC_DATA_QUERY)
def _metric_math(p: Program):
    for r in p.ops("PutMetricAlarm"):
        metrics = r.params.get("Metrics")
        if not metrics:
            continue
        ids = [m.get("Id", "") for m in metrics]
        for i in ids:
            if not METRIC_ID.match(i):
                yield r, f"metric id {i!r} must start with a lower-case letter (letters, digits, _)"
        if len(set(ids)) != len(ids):
            yield r, f"metric ids repeat: {ids}"
        returned = [m.get("Id") for m in metrics if m.get("ReturnData", True)]
        if len(returned) != 1:
            yield r, f"an alarm's Metrics must return exactly one series (ReturnData true); {returned} do"
        for m in metrics:
            if ("Expression" in m) == ("MetricStat" in m):
                yield r, f"metric {m.get('Id')} needs exactly one of Expression and MetricStat"
            for ref in re.findall(r"\b([a-z][a-zA-Z0-9_]*)\b", m.get("Expression", "")):
                if ref not in ids and ref.upper() != ref and not re.search(rf"\b{ref}\s*\(", m["Expression"]):
                    yield r, f"expression {m['Expression']!r} refers to {ref!r}, which is no metric id"


@rule("cloudwatch-dashboard-body", CW_DASHBOARD_BODY)
def _dashboard(p: Program):
    for r in p.ops("PutDashboard"):
        try:
            body = json.loads(r.params.get("DashboardBody", ""))
        except json.JSONDecodeError as e:
            yield r, f"DashboardBody is not JSON: {e}"
            continue
        widgets = body.get("widgets") if isinstance(body, dict) else None
        if not isinstance(widgets, list) or not widgets:
            yield r, "DashboardBody needs a non-empty `widgets` list"
            continue
        for i, w in enumerate(widgets):
            if w.get("type") == "metric":
                props = w.get("properties") or {}
                if not props.get("region") or not isinstance(props.get("metrics"), list):
                    yield r, f"metric widget {i} needs properties.region and properties.metrics"
                for m in props.get("metrics") or []:
                    names = [x for x in m if isinstance(x, str)]
                    if len(names) < 2 or len(names) % 2:
                        yield r, f"metric widget {i}: {m} is not [namespace, metric, dimension, value, ...]"


@rule("logs-retention-values", LOGS_RETENTION)
def _retention(p: Program):
    for r in p.ops("PutRetentionPolicy"):
        if r.params.get("retentionInDays") not in LOG_RETENTION_DAYS:
            yield r, f"retentionInDays {r.params.get('retentionInDays')} is none of {list(LOG_RETENTION_DAYS)}"


# ---- S3 rules ------------------------------------------------------------------------------------

@rule("s3-bucket-name", S3_BUCKET_NAMES)
def _bucket_name(p: Program):
    for r in p.ops("CreateBucket"):
        name = r.params["Bucket"]
        if (not S3_BUCKET_NAME.match(name) or ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
                or name.startswith(S3_RESERVED_PREFIXES) or name.endswith(S3_RESERVED_SUFFIXES)):
            yield r, f"bucket name {name!r} breaks S3's naming rules"


@rule("s3-lifecycle-rules", S3_LIFECYCLE)
def _lifecycle(p: Program):
    for r in p.ops("PutBucketLifecycleConfiguration"):
        rules = r.params["LifecycleConfiguration"]["Rules"]
        if len(rules) > S3_LIFECYCLE_MAX_RULES:
            yield r, f"{len(rules)} lifecycle rules, above {S3_LIFECYCLE_MAX_RULES}"
        ids = [x.get("ID") for x in rules]
        if len(set(ids)) != len(ids):
            yield r, f"lifecycle rule IDs repeat: {ids}"
        for x in rules:
            if not any(action in x for action in S3_LIFECYCLE_ACTIONS):
                yield r, f"lifecycle rule {x.get('ID')} has no action (expiration, transition or upload abort)"
            if "Filter" not in x and "Prefix" not in x:
                yield r, f"lifecycle rule {x.get('ID')} has no Filter"


# ---- IAM rules -----------------------------------------------------------------------------------

def _statements(document: str) -> list[dict]:
    doc = json.loads(document)
    statements = doc.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def role_actions(p: Program) -> dict[str, set[str]]:
    """Role name -> the actions its inline policies allow."""
    allowed: dict[str, set[str]] = {r.params["RoleName"]: set() for r in p.ops("CreateRole")}
    for policy in p.ops("PutRolePolicy"):
        for s in _statements(policy.params["PolicyDocument"]):
            if s.get("Effect") == "Allow":
                allowed.setdefault(policy.params["RoleName"], set()).update(_as_list(s.get("Action")))
    return allowed


@rule("iam-no-wildcard-action", IAM_ACTIONS)
def _wildcards(p: Program):
    for policy in p.ops("PutRolePolicy"):
        for s in _statements(policy.params["PolicyDocument"]):
            if s.get("Effect") != "Allow":
                continue
            if "NotAction" in s:
                yield policy, f"NotAction allows every other action of {s.get('Sid') or 'a statement'}"
            for action in _as_list(s.get("Action")):
                if "*" in action:
                    yield policy, f"wildcard action {action} in {s.get('Sid') or 'a statement'}"


@rule("iam-inline-policy-size", IAM_QUOTAS)
def _policy_size(p: Program):
    sizes: Counter = Counter()
    for policy in p.ops("PutRolePolicy"):
        sizes[policy.params["RoleName"]] += len(re.sub(r"\s", "", policy.params["PolicyDocument"]))
    for policy in p.ops("PutRolePolicy"):
        if sizes[policy.params["RoleName"]] > ROLE_INLINE_POLICY_MAX_CHARS:
            yield policy, f"the inline policies of {policy.params['RoleName']} total {sizes[policy.params['RoleName']]} characters"


@rule("iam-no-managed-policies", IAM_ACTIONS)
def _managed(p: Program):
    for r in p.ops("AttachRolePolicy"):
        yield r, f"managed policy {r.params['PolicyArn']}: its actions cannot be checked against what the role calls"


def _trusted_services(role: Request) -> set[str]:
    services = set()
    for s in _statements(role.params["AssumeRolePolicyDocument"]):
        if s.get("Effect") == "Allow" and "sts:AssumeRole" in _as_list(s.get("Action")):
            services.update(_as_list((s.get("Principal") or {}).get("Service")))
    return services


def crate_of_binary(repo: Path, binary: str) -> Path:
    """The workspace crate that builds `binary` (a [[bin]] or the package name)."""
    for manifest in sorted(repo.glob("*/Cargo.toml")):
        text = manifest.read_text()
        if re.search(rf'^name\s*=\s*"{re.escape(binary)}"\s*$', text, re.M):
            return manifest.parent
    raise AssertionError(f"no crate of the workspace builds the binary {binary}")


@functools.lru_cache(maxsize=None)
def _service_model(service: str):
    return _SESSION.get_service_model(service)


def _snake(operation: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", operation).lower()


def sdk_calls(crate: Path) -> dict[tuple[str, str], list[str]]:
    """(botocore service, operation) -> where the crate's non-test source calls it, found as
    `.operation_name()` of the AWS SDK crates in its [dependencies]."""
    manifest = (crate / "Cargo.toml").read_text()
    deps = manifest.split("[dependencies]", 1)[1].split("\n[", 1)[0] if "[dependencies]" in manifest else ""
    operations: dict[str, tuple[str, str]] = {}
    for suffix in re.findall(r"^aws-sdk-([a-z0-9]+)", deps, re.M):
        service = SDK_CRATE_SERVICES.get(suffix, suffix)
        for op in _service_model(service).operation_names:
            operations[_snake(op)] = (service, op)
    calls: dict[tuple[str, str], list[str]] = {}
    for path in sorted((crate / "src").rglob("*.rs")):
        text = re.split(r"#\[cfg\(test\)\]\s*mod ", path.read_text(), maxsplit=1)[0]
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("//", 1)[0]
            for name in re.findall(r"\.([a-z0-9_]+)\(\)", code):
                if name in operations:
                    calls.setdefault(operations[name], []).append(f"{path.relative_to(crate.parent)}:{n}")
    return calls


def actions_of_calls(calls: Iterable[tuple[str, str]]) -> set[str]:
    actions: set[str] = set()
    for service, op in calls:
        prefix = _service_model(service).signing_name
        actions |= OPERATION_ACTIONS.get((service, op), {f"{prefix}:{op}"})
    for action in list(actions):
        actions |= COMPANION_ACTIONS.get(action, set())
    return actions


def needed_actions(p: Program) -> dict[str, tuple[set[str], str, set[str]]]:
    """Role ARN -> (the actions AWS calls with it, who uses it, the service that assumes it)."""
    needed: dict[str, tuple[set[str], str, set[str]]] = {}

    def need(arn: Optional[str], actions: Iterable[str], user: str, service: str) -> None:
        if not arn:
            return
        have, users, services = needed.setdefault(arn, (set(), "", set()))
        have.update(actions)
        needed[arn] = (have, ", ".join(filter(None, [users, user])), services | {service})

    for r, d, main in _destinations(p):
        actions = set(FIREHOSE_S3_ACTIONS)
        if _enabled(d.get("CloudWatchLoggingOptions")):
            actions |= FIREHOSE_LOG_ACTIONS
        if main and any(x.get("Type") == "Lambda" for x in _processors(d)):
            actions |= FIREHOSE_LAMBDA_ACTIONS
        need(d.get("RoleARN"), actions, r.params["DeliveryStreamName"], "firehose")
        conversion = d.get("DataFormatConversionConfiguration")
        if main and _enabled(conversion):
            need((conversion.get("SchemaConfiguration") or {}).get("RoleARN"), FIREHOSE_GLUE_ACTIONS,
                 r.params["DeliveryStreamName"], "firehose")
    for f in p.ops("CreateFunction"):
        code = f.extra.get("code_path")
        calls = sdk_calls(crate_of_binary(p.repo, Path(code).parent.name)) if code else {}
        need(f.params.get("Role"), LAMBDA_LOG_ACTIONS | actions_of_calls(calls), f.params["FunctionName"], "lambda")
    for s in p.ops("CreateSchedule"):
        target = s.params.get("Target") or {}
        actions = set()
        if ":lambda:" in target.get("Arn", ""):
            actions |= SCHEDULER_LAMBDA_ACTIONS
        if (target.get("DeadLetterConfig") or {}).get("Arn"):
            actions |= SCHEDULER_DLQ_ACTIONS
        need(target.get("RoleArn"), actions, s.params["Name"], "scheduler")
    return needed


def _exact_actions(p: Program, service: str):
    """Each role that `service` assumes allows exactly what its users call with it."""
    allowed = role_actions(p)
    needed = needed_actions(p)
    for role in p.ops("CreateRole"):
        name = role.params["RoleName"]
        if role.arn not in needed:
            if service == "lambda":  # reported once, by one of the three rules
                yield role, f"no function, stream or schedule uses the role {name}"
            continue
        want, users, services = needed[role.arn]
        if service not in services:
            continue
        missing, extra = sorted(want - allowed.get(name, set())), sorted(allowed.get(name, set()) - want)
        if missing:
            yield role, f"{users} call(s) {missing}, which the role {name} does not allow"
        if extra:
            yield role, f"the role {name} allows {extra}, which {users} never call(s)"


@rule("iam-firehose-role-actions", FIREHOSE_ACCESS)
def _firehose_actions(p: Program):
    yield from _exact_actions(p, "firehose")


# A function's role: its log actions (LAMBDA_LOGS) and the actions of the SDK calls in its source
# (S3_ACTIONS and each service's "Actions defined by" page of the Service Authorization Reference).
@rule("iam-lambda-role-actions", LAMBDA_EXECUTION_ROLE)
def _lambda_actions(p: Program):
    yield from _exact_actions(p, "lambda")


@rule("iam-scheduler-role-actions", SCHEDULER_ROLE)
def _scheduler_actions(p: Program):
    yield from _exact_actions(p, "scheduler")


@rule("iam-role-trusts-its-service", IAM_SERVICE_ROLES)
def _trust(p: Program):
    roles = {r.arn: r for r in p.ops("CreateRole")}
    for arn, (_, users, services) in needed_actions(p).items():
        role = roles.get(arn)
        if role is None:
            yield next(iter(p.requests)), f"{users} use(s) the role {arn}, which the program does not create"
            continue
        trusted = _trusted_services(role)
        for service in services:
            if SERVICE_PRINCIPALS[service] not in trusted:
                yield role, f"{users} need(s) {SERVICE_PRINCIPALS[service]} to assume {role.params['RoleName']}; it trusts {sorted(trusted)}"
