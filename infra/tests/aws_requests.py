"""The program's resources, as Pulumi's mocks recorded them, turned into the API requests AWS
would receive on `pulumi up` (CreateDeliveryStream, CreateTable, CreateFunction, PutRolePolicy,
...), and those requests checked against botocore's service models.

The Pulumi AWS provider takes camelCase inputs that mostly, but not always, follow the API's
member names (`bufferingSize` is `BufferingHints.SizeInMBs`, `dynamicPartitioningConfiguration
.retryDuration` is `RetryOptions.DurationInSeconds`). Each translation below names every input it
understands; an input it does not know raises `UnknownInput` instead of being dropped, so a
misspelt or new input cannot slip past the rules in aws_rules.py. Inputs that only steer the
provider (never sent to AWS, e.g. `forceDestroy`) are listed as such.

The requests are what the provider sends, as far as this layer can know without running it:
names the provider generates (autonaming) come from the mocks' outputs."""

from __future__ import annotations

import copy
import functools
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import botocore.session
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator, ValidationErrors

# How the engine marks a secret input (Pulumi's property-value signature for secrets).
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class UnknownInput(AssertionError):
    """An input of a resource that no translation knows: a misspelling, or a new input that
    needs a line here (and perhaps a rule in aws_rules.py)."""


class InvalidRequest(AssertionError):
    """A request that botocore's service model rejects."""


@dataclass
class Request:
    """One API call AWS would receive for one resource."""

    service: str  # botocore's service name: "firehose", "glue", "lambda", ...
    operation: str  # API operation: "CreateDeliveryStream"
    params: dict[str, Any]
    resource: str  # "<pulumi type> <logical name>", for messages
    arn: Optional[str] = None  # the resource's ARN (mock output), to follow references
    extra: dict[str, Any] = field(default_factory=dict)  # facts beside the request (code path)

    def __str__(self) -> str:
        return f"{self.service}:{self.operation} ({self.resource})"


# ---- reading inputs ------------------------------------------------------------------------------

def unsecret(value: Any) -> Any:
    if isinstance(value, dict) and SECRET_SIG in value.values():
        return value["value"]
    return value


def _set(out: dict, dotted: str, value: Any) -> None:
    """Sets `A.B.C` in nested dicts (the provider flattens some API structures)."""
    keys = dotted.split(".")
    for k in keys[:-1]:
        out = out.setdefault(k, {})
    out[keys[-1]] = value


# A field spec: pulumi input name -> API member (dotted path allowed), or (API member, converter),
# or None for provider-only inputs that AWS never receives.
Spec = dict[str, Any]


def struct(value: Any, path: str, spec: Spec) -> dict[str, Any]:
    """Translates one input object by `spec`; any key not in `spec` raises UnknownInput."""
    value = unsecret(value)
    if not isinstance(value, dict):
        raise UnknownInput(f"{path}: expected an object, got {value!r}")
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if raw is None:
            continue  # an unset optional input
        if key not in spec:
            raise UnknownInput(
                f"{path}.{key}: the Pulumi AWS provider input {key!r} is not one this layer knows "
                f"(known: {sorted(spec)}); fix the spelling, or map it in infra/tests/aws_requests.py")
        target = spec[key]
        if target is None:
            continue
        if isinstance(target, tuple):
            member, convert = target
            converted = convert(unsecret(raw), f"{path}.{key}")
            if converted is not None:
                _set(out, member, converted)
        else:
            _set(out, target, unsecret(raw))
    return out


def nested(spec: Spec) -> Callable[[Any, str], dict]:
    return lambda v, p: struct(v, p, spec)


def each(spec: Spec) -> Callable[[Any, str], list]:
    def convert(values: Any, path: str) -> list:
        if not isinstance(values, list):
            raise UnknownInput(f"{path}: expected a list, got {values!r}")
        return [struct(v, f"{path}[{i}]", spec) for i, v in enumerate(values)]
    return convert


def tags(values: Any, path: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (values or {}).items()]


def dimensions(values: Any, path: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in (values or {}).items()]


def json_text(value: Any, path: str) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# ---- translations, one per resource type ---------------------------------------------------------

FIREHOSE_CLOUDWATCH_LOGGING = {"enabled": "Enabled", "logGroupName": "LogGroupName", "logStreamName": "LogStreamName"}
FIREHOSE_PROCESSING = {
    "enabled": "Enabled",
    "processors": ("Processors", each({
        "type": "Type",
        "parameters": ("Parameters", each({"parameterName": "ParameterName", "parameterValue": "ParameterValue"})),
    })),
}
FIREHOSE_S3_COMMON = {
    "bucketArn": "BucketARN",
    "roleArn": "RoleARN",
    "prefix": "Prefix",
    "errorOutputPrefix": "ErrorOutputPrefix",
    "bufferingSize": "BufferingHints.SizeInMBs",
    "bufferingInterval": "BufferingHints.IntervalInSeconds",
    "compressionFormat": "CompressionFormat",
    "kmsKeyArn": "EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN",
    "cloudwatchLoggingOptions": ("CloudWatchLoggingOptions", nested(FIREHOSE_CLOUDWATCH_LOGGING)),
}
FIREHOSE_PARQUET = {
    "blockSizeBytes": "BlockSizeBytes", "compression": "Compression",
    "enableDictionaryCompression": "EnableDictionaryCompression", "maxPaddingBytes": "MaxPaddingBytes",
    "pageSizeBytes": "PageSizeBytes", "writerVersion": "WriterVersion",
}
FIREHOSE_ORC = {
    "blockSizeBytes": "BlockSizeBytes", "bloomFilterColumns": "BloomFilterColumns",
    "bloomFilterFalsePositiveProbability": "BloomFilterFalsePositiveProbability", "compression": "Compression",
    "dictionaryKeyThreshold": "DictionaryKeyThreshold", "enablePadding": "EnablePadding",
    "formatVersion": "FormatVersion", "paddingTolerance": "PaddingTolerance", "rowIndexStride": "RowIndexStride",
    "stripeSizeBytes": "StripeSizeBytes",
}
FIREHOSE_CONVERSION = {
    "enabled": "Enabled",
    "inputFormatConfiguration": ("InputFormatConfiguration", nested({"deserializer": ("Deserializer", nested({
        "openXJsonSerDe": ("OpenXJsonSerDe", nested({
            "caseInsensitive": "CaseInsensitive", "columnToJsonKeyMappings": "ColumnToJsonKeyMappings",
            "convertDotsInJsonKeysToUnderscores": "ConvertDotsInJsonKeysToUnderscores"})),
        "hiveJsonSerDe": ("HiveJsonSerDe", nested({"timestampFormats": "TimestampFormats"})),
    }))})),
    "outputFormatConfiguration": ("OutputFormatConfiguration", nested({"serializer": ("Serializer", nested({
        "parquetSerDe": ("ParquetSerDe", nested(FIREHOSE_PARQUET)),
        "orcSerDe": ("OrcSerDe", nested(FIREHOSE_ORC)),
    }))})),
    "schemaConfiguration": ("SchemaConfiguration", nested({
        "catalogId": "CatalogId", "databaseName": "DatabaseName", "region": "Region", "roleArn": "RoleARN",
        "tableName": "TableName", "versionId": "VersionId"})),
}
FIREHOSE_EXTENDED_S3 = {
    **FIREHOSE_S3_COMMON,
    "customTimeZone": "CustomTimeZone",
    "fileExtension": "FileExtension",
    "processingConfiguration": ("ProcessingConfiguration", nested(FIREHOSE_PROCESSING)),
    "s3BackupMode": "S3BackupMode",
    "s3BackupConfiguration": ("S3BackupConfiguration", nested(FIREHOSE_S3_COMMON)),
    "dataFormatConversionConfiguration": ("DataFormatConversionConfiguration", nested(FIREHOSE_CONVERSION)),
    "dynamicPartitioningConfiguration": ("DynamicPartitioningConfiguration", nested({
        "enabled": "Enabled", "retryDuration": "RetryOptions.DurationInSeconds"})),
}


def firehose_stream(r) -> list[Request]:
    inputs = dict(r.inputs)
    destination = inputs.pop("destination", None)
    if destination != "extended_s3":
        raise UnknownInput(f"{r.name}.destination is {destination!r}; only extended_s3 is translated here")
    sse = inputs.pop("serverSideEncryption", None) or {}
    params = struct(inputs, r.name, {
        "name": "DeliveryStreamName",
        "extendedS3Configuration": ("ExtendedS3DestinationConfiguration", nested(FIREHOSE_EXTENDED_S3)),
        "tags": ("Tags", tags),
        "versionId": None, "destinationId": None,  # provider state, never sent
    })
    params.setdefault("DeliveryStreamName", r.outputs["name"])
    params["DeliveryStreamType"] = "DirectPut"
    encryption = struct(sse, f"{r.name}.serverSideEncryption", {"enabled": "Enabled", "keyType": "KeyType", "keyArn": "KeyARN"})
    if encryption.pop("Enabled", False):
        params["DeliveryStreamEncryptionConfigurationInput"] = encryption
    return [Request("firehose", "CreateDeliveryStream", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


GLUE_COLUMN = {"name": "Name", "type": "Type", "comment": "Comment", "parameters": "Parameters"}


def glue_database(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "name": "DatabaseInput.Name", "description": "DatabaseInput.Description",
        "locationUri": "DatabaseInput.LocationUri", "parameters": "DatabaseInput.Parameters",
        "catalogId": "CatalogId", "tags": "Tags",
    })
    params.setdefault("DatabaseInput", {}).setdefault("Name", r.outputs["name"])
    return [Request("glue", "CreateDatabase", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def glue_table(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "name": "TableInput.Name", "databaseName": "DatabaseName", "catalogId": "CatalogId",
        "description": "TableInput.Description", "tableType": "TableInput.TableType",
        "parameters": "TableInput.Parameters", "owner": "TableInput.Owner",
        "retention": "TableInput.Retention",
        "viewOriginalText": "TableInput.ViewOriginalText", "viewExpandedText": "TableInput.ViewExpandedText",
        "partitionKeys": ("TableInput.PartitionKeys", each(GLUE_COLUMN)),
        "storageDescriptor": ("TableInput.StorageDescriptor", nested({
            "location": "Location", "inputFormat": "InputFormat", "outputFormat": "OutputFormat",
            "compressed": "Compressed", "numberOfBuckets": "NumberOfBuckets", "bucketColumns": "BucketColumns",
            "parameters": "Parameters", "storedAsSubDirectories": "StoredAsSubDirectories",
            "columns": ("Columns", each(GLUE_COLUMN)),
            "serDeInfo": ("SerdeInfo", nested({"name": "Name", "serializationLibrary": "SerializationLibrary",
                                                "parameters": "Parameters"})),
            "sortColumns": ("SortColumns", each({"column": "Column", "sortOrder": "SortOrder"})),
        })),
    })
    params.setdefault("TableInput", {}).setdefault("Name", r.outputs["name"])
    return [Request("glue", "CreateTable", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def lambda_function(r) -> list[Request]:
    inputs = dict(r.inputs)
    code = inputs.pop("code", None)
    concurrency = inputs.pop("reservedConcurrentExecutions", None)
    params = struct(inputs, r.name, {
        "name": "FunctionName", "runtime": "Runtime", "role": "Role", "handler": "Handler",
        "description": "Description", "timeout": "Timeout", "memorySize": "MemorySize", "publish": "Publish",
        "architectures": "Architectures", "packageType": "PackageType", "imageUri": "Code.ImageUri",
        "kmsKeyArn": "KMSKeyArn", "layers": "Layers", "codeSigningConfigArn": "CodeSigningConfigArn",
        "tags": "Tags",
        "environment": ("Environment", nested({"variables": "Variables"})),
        "loggingConfig": ("LoggingConfig", nested({
            "logFormat": "LogFormat", "logGroup": "LogGroup", "applicationLogLevel": "ApplicationLogLevel",
            "systemLogLevel": "SystemLogLevel"})),
        "tracingConfig": ("TracingConfig", nested({"mode": "Mode"})),
        "ephemeralStorage": ("EphemeralStorage", nested({"size": "Size"})),
        "deadLetterConfig": ("DeadLetterConfig", nested({"targetArn": "TargetArn"})),
        "snapStart": ("SnapStart", nested({"applyOn": "ApplyOn"})),
        # Provider-only: how to detect code changes, and whether to wait for the function.
        "sourceCodeHash": None, "skipDestroy": None, "replaceSecurityGroupsOnDestroy": None,
    })
    params.setdefault("FunctionName", r.outputs["name"])
    extra: dict[str, Any] = {}
    if code is not None:
        path = Path(getattr(code, "path", "") or "")
        if not path.is_file():
            raise UnknownInput(f"{r.name}.code: expected a FileArchive of a built zip, got {code!r}")
        with zipfile.ZipFile(path) as z:
            extra["zip_entries"] = z.namelist()
        params.setdefault("Code", {})["ZipFile"] = path.read_bytes()
        extra["code_path"] = path
    requests = [Request("lambda", "CreateFunction", params, f"{r.typ} {r.name}", r.outputs.get("arn"), extra)]
    if concurrency is not None:
        requests.append(Request("lambda", "PutFunctionConcurrency", {
            "FunctionName": params["FunctionName"], "ReservedConcurrentExecutions": concurrency,
        }, f"{r.typ} {r.name}", r.outputs.get("arn")))
    return requests


def lambda_event_invoke_config(r) -> list[Request]:
    destination = {"destination": "Destination"}
    params = struct(r.inputs, r.name, {
        "functionName": "FunctionName", "qualifier": "Qualifier",
        "maximumRetryAttempts": "MaximumRetryAttempts", "maximumEventAgeInSeconds": "MaximumEventAgeInSeconds",
        "destinationConfig": ("DestinationConfig", nested({
            "onSuccess": ("OnSuccess", nested(destination)), "onFailure": ("OnFailure", nested(destination))})),
    })
    return [Request("lambda", "PutFunctionEventInvokeConfig", params, f"{r.typ} {r.name}")]


def lambda_permission(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "action": "Action", "function": "FunctionName", "principal": "Principal", "sourceArn": "SourceArn",
        "sourceAccount": "SourceAccount", "statementId": "StatementId", "qualifier": "Qualifier",
        "principalOrgId": "PrincipalOrgID", "functionUrlAuthType": "FunctionUrlAuthType",
        "eventSourceToken": "EventSourceToken", "statementIdPrefix": None,
    })
    params.setdefault("StatementId", r.outputs.get("statementId") or f"{r.name}-statement")
    return [Request("lambda", "AddPermission", params, f"{r.typ} {r.name}")]


def schedule(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "name": "Name", "groupName": "GroupName", "description": "Description",
        "scheduleExpression": "ScheduleExpression", "scheduleExpressionTimezone": "ScheduleExpressionTimezone",
        "startDate": "StartDate", "endDate": "EndDate", "state": "State", "kmsKeyArn": "KmsKeyArn",
        "actionAfterCompletion": "ActionAfterCompletion",
        "flexibleTimeWindow": ("FlexibleTimeWindow", nested({
            "mode": "Mode", "maximumWindowInMinutes": "MaximumWindowInMinutes"})),
        "target": ("Target", nested({
            "arn": "Arn", "roleArn": "RoleArn", "input": "Input",
            "retryPolicy": ("RetryPolicy", nested({
                "maximumRetryAttempts": "MaximumRetryAttempts",
                "maximumEventAgeInSeconds": "MaximumEventAgeInSeconds"})),
            "deadLetterConfig": ("DeadLetterConfig", nested({"arn": "Arn"})),
        })),
        "namePrefix": None,
    })
    params.setdefault("Name", r.outputs["name"])
    return [Request("scheduler", "CreateSchedule", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def secret(r) -> list[Request]:
    inputs = dict(r.inputs)
    window = inputs.pop("recoveryWindowInDays", None)
    params = struct(inputs, r.name, {
        "name": "Name", "description": "Description", "kmsKeyId": "KmsKeyId", "tags": ("Tags", tags),
        "forceOverwriteReplicaSecret": "ForceOverwriteReplicaSecret",
        "replicas": ("AddReplicaRegions", each({"region": "Region", "kmsKeyId": "KmsKeyId"})),
        "namePrefix": None,
    })
    params.setdefault("Name", r.outputs["name"])
    requests = [Request("secretsmanager", "CreateSecret", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]
    # The window is sent on `pulumi destroy` (DeleteSecret); 0 means delete without recovery.
    delete: dict[str, Any] = {"SecretId": r.outputs.get("arn") or params["Name"]}
    if window is not None:
        if window == 0:
            delete["ForceDeleteWithoutRecovery"] = True
        else:
            delete["RecoveryWindowInDays"] = window
    requests.append(Request("secretsmanager", "DeleteSecret", delete, f"{r.typ} {r.name}", r.outputs.get("arn")))
    return requests


def secret_version(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "secretId": "SecretId", "secretString": "SecretString", "secretBinary": "SecretBinary",
        "versionStages": "VersionStages",
    })
    return [Request("secretsmanager", "PutSecretValue", params, f"{r.typ} {r.name}")]


METRIC = {"namespace": "Namespace", "metricName": "MetricName", "dimensions": ("Dimensions", dimensions)}


def metric_query(value: Any, path: str) -> dict:
    out = struct(value, path, {
        "id": "Id", "expression": "Expression", "label": "Label", "returnData": "ReturnData",
        "period": "Period", "accountId": "AccountId",
        "metric": ("MetricStat", nested({
            "namespace": "Metric.Namespace", "metricName": "Metric.MetricName",
            "dimensions": ("Metric.Dimensions", dimensions),
            "period": "Period", "stat": "Stat", "unit": "Unit"})),
    })
    return out


def metric_alarm(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "name": "AlarmName", "alarmDescription": "AlarmDescription", "actionsEnabled": "ActionsEnabled",
        "okActions": "OKActions", "alarmActions": "AlarmActions", "insufficientDataActions": "InsufficientDataActions",
        **METRIC, "statistic": "Statistic", "extendedStatistic": "ExtendedStatistic",
        "period": "Period", "unit": "Unit", "evaluationPeriods": "EvaluationPeriods",
        "datapointsToAlarm": "DatapointsToAlarm", "threshold": "Threshold",
        "comparisonOperator": "ComparisonOperator", "treatMissingData": "TreatMissingData",
        "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
        "thresholdMetricId": "ThresholdMetricId", "tags": ("Tags", tags),
        "metricQueries": ("Metrics", lambda v, p: [metric_query(q, f"{p}[{i}]") for i, q in enumerate(v)]),
    })
    params.setdefault("AlarmName", r.outputs["name"])
    return [Request("cloudwatch", "PutMetricAlarm", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def dashboard(r) -> list[Request]:
    params = struct(r.inputs, r.name, {"dashboardName": "DashboardName", "dashboardBody": "DashboardBody"})
    return [Request("cloudwatch", "PutDashboard", params, f"{r.typ} {r.name}")]


def log_group(r) -> list[Request]:
    inputs = dict(r.inputs)
    retention = inputs.pop("retentionInDays", None)
    params = struct(inputs, r.name, {
        "name": "logGroupName", "kmsKeyId": "kmsKeyId", "tags": "tags", "logGroupClass": "logGroupClass",
        "namePrefix": None, "skipDestroy": None,
    })
    params.setdefault("logGroupName", r.outputs["name"])
    requests = [Request("logs", "CreateLogGroup", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]
    if retention is not None:
        requests.append(Request("logs", "PutRetentionPolicy", {
            "logGroupName": params["logGroupName"], "retentionInDays": retention}, f"{r.typ} {r.name}"))
    return requests


def log_stream(r) -> list[Request]:
    params = struct(r.inputs, r.name, {"logGroupName": "logGroupName", "name": "logStreamName"})
    return [Request("logs", "CreateLogStream", params, f"{r.typ} {r.name}")]


def iam_role(r) -> list[Request]:
    inputs = dict(r.inputs)
    inline = inputs.pop("inlinePolicies", None) or []
    managed = inputs.pop("managedPolicyArns", None) or []
    params = struct(inputs, r.name, {
        "name": "RoleName", "assumeRolePolicy": ("AssumeRolePolicyDocument", json_text),
        "description": "Description", "path": "Path", "maxSessionDuration": "MaxSessionDuration",
        "permissionsBoundary": "PermissionsBoundary", "tags": ("Tags", tags),
        "namePrefix": None, "forceDetachPolicies": None,
    })
    params.setdefault("RoleName", r.outputs["name"])
    requests = [Request("iam", "CreateRole", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]
    for i, p in enumerate(inline):
        policy = struct(p, f"{r.name}.inlinePolicies[{i}]", {"name": "PolicyName", "policy": ("PolicyDocument", json_text)})
        requests.append(Request("iam", "PutRolePolicy", {"RoleName": params["RoleName"], **policy}, f"{r.typ} {r.name}"))
    for arn in managed:
        requests.append(Request("iam", "AttachRolePolicy", {"RoleName": params["RoleName"], "PolicyArn": arn},
                                f"{r.typ} {r.name}"))
    return requests


def iam_role_policy(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "role": "RoleName", "name": "PolicyName", "policy": ("PolicyDocument", json_text), "namePrefix": None})
    params.setdefault("PolicyName", r.outputs["name"])
    return [Request("iam", "PutRolePolicy", params, f"{r.typ} {r.name}")]


def athena_workgroup(r) -> list[Request]:
    inputs = dict(r.inputs)
    state = inputs.pop("state", None)
    params = struct(inputs, r.name, {
        "name": "Name", "description": "Description", "tags": ("Tags", tags),
        "forceDestroy": None,  # provider-only: delete the workgroup with its named queries
        "configuration": ("Configuration", nested({
            "enforceWorkgroupConfiguration": "EnforceWorkGroupConfiguration",
            "publishCloudwatchMetricsEnabled": "PublishCloudWatchMetricsEnabled",
            "bytesScannedCutoffPerQuery": "BytesScannedCutoffPerQuery",
            "requesterPaysEnabled": "RequesterPaysEnabled",
            "executionRole": "ExecutionRole",
            "engineVersion": ("EngineVersion", nested({"selectedEngineVersion": "SelectedEngineVersion",
                                                       "effectiveEngineVersion": None})),
            "resultConfiguration": ("ResultConfiguration", nested({
                "outputLocation": "OutputLocation", "expectedBucketOwner": "ExpectedBucketOwner",
                "encryptionConfiguration": ("EncryptionConfiguration", nested({
                    "encryptionOption": "EncryptionOption", "kmsKeyArn": "KmsKey"})),
                "aclConfiguration": ("AclConfiguration", nested({"s3AclOption": "S3AclOption"})),
            })),
        })),
    })
    params.setdefault("Name", r.outputs["name"])
    requests = [Request("athena", "CreateWorkGroup", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]
    if state is not None:
        requests.append(Request("athena", "UpdateWorkGroup", {"WorkGroup": params["Name"], "State": state},
                                f"{r.typ} {r.name}"))
    return requests


def athena_named_query(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "name": "Name", "description": "Description", "database": "Database", "query": "QueryString",
        "workgroup": "WorkGroup"})
    return [Request("athena", "CreateNamedQuery", params, f"{r.typ} {r.name}")]


def sqs_queue(r) -> list[Request]:
    as_text = lambda v, p: str(v).lower() if isinstance(v, bool) else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)  # noqa: E731
    params = struct(r.inputs, r.name, {
        "name": "QueueName", "namePrefix": None, "tags": "tags",
        "messageRetentionSeconds": ("Attributes.MessageRetentionPeriod", as_text),
        "sqsManagedSseEnabled": ("Attributes.SqsManagedSseEnabled", as_text),
        "kmsMasterKeyId": ("Attributes.KmsMasterKeyId", as_text),
        "visibilityTimeoutSeconds": ("Attributes.VisibilityTimeout", as_text),
        "delaySeconds": ("Attributes.DelaySeconds", as_text),
        "maxMessageSize": ("Attributes.MaximumMessageSize", as_text),
        "receiveWaitTimeSeconds": ("Attributes.ReceiveMessageWaitTimeSeconds", as_text),
        "fifoQueue": ("Attributes.FifoQueue", as_text),
        "redrivePolicy": ("Attributes.RedrivePolicy", as_text),
        "policy": ("Attributes.Policy", as_text),
    })
    params.setdefault("QueueName", r.outputs["name"])
    return [Request("sqs", "CreateQueue", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def sqs_queue_policy(r) -> list[Request]:
    params = struct(r.inputs, r.name, {"queueUrl": "QueueUrl", "policy": ("Attributes.Policy", json_text)})
    return [Request("sqs", "SetQueueAttributes", params, f"{r.typ} {r.name}")]


def sns_topic(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "name": "Name", "namePrefix": None, "kmsMasterKeyId": "Attributes.KmsMasterKeyId",
        "policy": ("Attributes.Policy", json_text), "displayName": "Attributes.DisplayName",
        "tags": ("Tags", tags)})
    params.setdefault("Name", r.outputs["name"])
    return [Request("sns", "CreateTopic", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def sns_subscription(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "topic": "TopicArn", "protocol": "Protocol", "endpoint": "Endpoint",
        "confirmationTimeoutInMinutes": None, "endpointAutoConfirms": None})
    return [Request("sns", "Subscribe", params, f"{r.typ} {r.name}")]


def s3_bucket(r, region: str) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "bucket": "Bucket", "bucketPrefix": None, "forceDestroy": None, "tags": None,
        "objectLockEnabled": "ObjectLockEnabledForBucket"})
    params.setdefault("Bucket", r.outputs["bucket"])
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    return [Request("s3", "CreateBucket", params, f"{r.typ} {r.name}", r.outputs.get("arn"))]


def s3_encryption(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "bucket": "Bucket", "expectedBucketOwner": "ExpectedBucketOwner",
        "rules": ("ServerSideEncryptionConfiguration.Rules", each({
            "bucketKeyEnabled": "BucketKeyEnabled",
            "applyServerSideEncryptionByDefault": ("ApplyServerSideEncryptionByDefault", nested({
                "sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"})),
        })),
    })
    return [Request("s3", "PutBucketEncryption", params, f"{r.typ} {r.name}")]


def s3_public_access_block(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "bucket": "Bucket", "skipDestroy": None,
        **{k: f"PublicAccessBlockConfiguration.{k[0].upper()}{k[1:]}" for k in
           ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")},
    })
    return [Request("s3", "PutPublicAccessBlock", params, f"{r.typ} {r.name}")]


def s3_ownership(r) -> list[Request]:
    params = struct(r.inputs, r.name, {
        "bucket": "Bucket",
        "rule": ("OwnershipControls.Rules", lambda v, p: [struct(v, p, {"objectOwnership": "ObjectOwnership"})]),
    })
    return [Request("s3", "PutBucketOwnershipControls", params, f"{r.typ} {r.name}")]


def s3_policy(r) -> list[Request]:
    params = struct(r.inputs, r.name, {"bucket": "Bucket", "policy": ("Policy", json_text)})
    return [Request("s3", "PutBucketPolicy", params, f"{r.typ} {r.name}")]


def s3_lifecycle(r) -> list[Request]:
    days = {"days": "Days", "date": "Date", "expiredObjectDeleteMarker": "ExpiredObjectDeleteMarker"}
    params = struct(r.inputs, r.name, {
        "bucket": "Bucket", "expectedBucketOwner": "ExpectedBucketOwner",
        "transitionDefaultMinimumObjectSize": "TransitionDefaultMinimumObjectSize",
        "rules": ("LifecycleConfiguration.Rules", each({
            "id": "ID", "status": "Status", "prefix": "Prefix",
            "filter": ("Filter", nested({"prefix": "Prefix", "objectSizeGreaterThan": "ObjectSizeGreaterThan",
                                         "objectSizeLessThan": "ObjectSizeLessThan",
                                         "tag": ("Tag", nested({"key": "Key", "value": "Value"}))})),
            "expiration": ("Expiration", nested(days)),
            "abortIncompleteMultipartUpload": ("AbortIncompleteMultipartUpload", nested(
                {"daysAfterInitiation": "DaysAfterInitiation"})),
            "noncurrentVersionExpiration": ("NoncurrentVersionExpiration", nested(
                {"noncurrentDays": "NoncurrentDays", "newerNoncurrentVersions": "NewerNoncurrentVersions"})),
            "transitions": ("Transitions", each({"days": "Days", "date": "Date", "storageClass": "StorageClass"})),
        })),
    })
    return [Request("s3", "PutBucketLifecycleConfiguration", params, f"{r.typ} {r.name}")]


TRANSLATIONS: dict[str, Callable[..., list[Request]]] = {
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": firehose_stream,
    "aws:glue/catalogDatabase:CatalogDatabase": glue_database,
    "aws:glue/catalogTable:CatalogTable": glue_table,
    "aws:lambda/function:Function": lambda_function,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": lambda_event_invoke_config,
    "aws:lambda/permission:Permission": lambda_permission,
    "aws:scheduler/schedule:Schedule": schedule,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:secretsmanager/secretVersion:SecretVersion": secret_version,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:cloudwatch/logStream:LogStream": log_stream,
    "aws:iam/role:Role": iam_role,
    "aws:iam/rolePolicy:RolePolicy": iam_role_policy,
    "aws:athena/workgroup:Workgroup": athena_workgroup,
    "aws:athena/namedQuery:NamedQuery": athena_named_query,
    "aws:sqs/queue:Queue": sqs_queue,
    "aws:sqs/queuePolicy:QueuePolicy": sqs_queue_policy,
    "aws:sns/topic:Topic": sns_topic,
    "aws:sns/topicSubscription:TopicSubscription": sns_subscription,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": s3_encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": s3_public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": s3_ownership,
    "aws:s3/bucketPolicy:BucketPolicy": s3_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": s3_lifecycle,
}
BUCKET = "aws:s3/bucket:Bucket"


def to_requests(resources: Iterable[Any], region: str) -> list[Request]:
    """Every request of every recorded resource, in declaration order. A resource type with no
    translation raises: a new kind of resource needs its request shape here."""
    requests: list[Request] = []
    for r in resources:
        if r.typ == BUCKET:
            requests.extend(s3_bucket(r, region))
        elif r.typ in TRANSLATIONS:
            requests.extend(TRANSLATIONS[r.typ](r))
        else:
            raise UnknownInput(f"resource {r.name} has type {r.typ}, which infra/tests/aws_requests.py does "
                               "not translate into API requests yet; add a translation")
    return requests


# ---- botocore's service models -------------------------------------------------------------------

_SESSION = botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def operation_model(service: str, operation: str) -> OperationModel:
    return _SESSION.get_service_model(service).operation_model(operation)


def coerce(value: Any, shape: Shape) -> Any:
    """The engine hands numbers over as floats; the wire format sends whole numbers as integers
    where the model says integer/long. Anything else is left as it is for the validator to judge."""
    if shape.type_name in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: coerce(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [coerce(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: coerce(v, shape.value) for k, v in value.items()}
    return value


class StrictErrors(ValidationErrors):
    def _format_error(self, error):
        error_type, name, additional = error
        if error_type == "aws model":
            return f"Invalid value for parameter {self._get_name(name)}: {additional['message']}"
        return super()._format_error(error)


class StrictValidator(ParamValidator):
    """botocore's client-side validation (required members, unknown members, types, minimums)
    plus what botocore leaves to the server: maximum lengths and values, enum values, and the
    model's patterns where Python's `re` can read them."""

    VALIDATED_METADATA_ATTRS = ParamValidator.VALIDATED_METADATA_ATTRS | {"max", "enum", "pattern"}

    def validate(self, params, shape):
        errors = StrictErrors()
        self._validate(params, shape, errors, name="")
        return errors

    def _check_max(self, name: str, size: Any, shape: Shape, errors: ValidationErrors, what: str) -> None:
        limit = shape.metadata.get("max")
        if limit is not None and size > limit:
            errors.report(name, "aws model", message=f"{what} {size} is above the maximum {limit}")

    def _validate_string(self, param, shape, errors, name):
        super()._validate_string(param, shape, errors, name)
        if not isinstance(param, str):
            return
        self._check_max(name, len(param), shape, errors, "length")
        if shape.enum and param not in shape.enum:
            errors.report(name, "aws model", message=f"{param!r} is not one of {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern:
            try:
                compiled = re.compile(pattern, re.DOTALL)
            except re.error:
                return  # a Java-only construct (e.g. \p{...}); the other checks still apply
            if not compiled.search(param):
                errors.report(name, "aws model", message=f"{param[:200]!r} does not match the pattern {pattern}")

    def _validate_list(self, param, shape, errors, name):
        super()._validate_list(param, shape, errors, name)
        if isinstance(param, (list, tuple)):
            self._check_max(name, len(param), shape, errors, "length")

    def _validate_map(self, param, shape, errors, name):
        super()._validate_map(param, shape, errors, name)
        if isinstance(param, dict):
            self._check_max(name, len(param), shape, errors, "size")

    def _validate_integer(self, param, shape, errors, name):
        super()._validate_integer(param, shape, errors, name)
        if isinstance(param, int) and not isinstance(param, bool):
            self._check_max(name, param, shape, errors, "value")

    def _validate_long(self, param, shape, errors, name):
        super()._validate_long(param, shape, errors, name)
        if isinstance(param, int) and not isinstance(param, bool):
            self._check_max(name, param, shape, errors, "value")

    def _validate_double(self, param, shape, errors, name):
        super()._validate_double(param, shape, errors, name)
        if isinstance(param, (int, float)) and not isinstance(param, bool):
            self._check_max(name, param, shape, errors, "value")


def validate(request: Request) -> Request:
    """Checks one request against its operation's input shape; returns it with numbers coerced.
    Raises InvalidRequest with botocore's report."""
    model = operation_model(request.service, request.operation)
    params = coerce(copy.deepcopy(request.params), model.input_shape)
    report = StrictValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise InvalidRequest(f"{request}: AWS's model of {request.operation} rejects it:\n{report.generate_report()}")
    request.params = params
    return request


def validated_requests(resources: Iterable[Any], region: str) -> list[Request]:
    return [validate(r) for r in to_requests(resources, region)]
