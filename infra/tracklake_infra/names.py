"""Every physical name of a stack, derived from the Pulumi project and stack names, so that two
stacks (say `dev` and `prod`) live side by side in one account and region. Nothing is named by a
stack setting: a fixed name would make the second stack's `pulumi up` fail with "already exists".

Scheme: `<project>-<stack>-<role>`, except where a service asks for another shape (the secret
`<project>/<stack>/spotify`, the Glue database `<project>_<stack>`, log groups under the prefix
their service writes to, the bucket with the account and region for global uniqueness). Each
name is checked against its service's rule before anything is declared."""

from __future__ import annotations

import re
from dataclasses import dataclass


class NameRuleError(ValueError):
    """A derived name breaks its service's naming rule; the message says which and what to do."""


@dataclass(frozen=True)
class NameRule:
    """One service's rule for a physical name: length and characters, with its source."""

    what: str
    max_length: int
    pattern: str
    source: str
    min_length: int = 1

    def check(self, name: str) -> str:
        if not self.min_length <= len(name) <= self.max_length or not re.fullmatch(self.pattern, name):
            raise NameRuleError(
                f"{self.what} name {name!r} breaks AWS's rule ({self.min_length}-{self.max_length} "
                f"characters matching {self.pattern}; {self.source}). It is derived from the Pulumi "
                "project and stack names: use a shorter stack name of lowercase letters, digits and "
                "hyphens (`pulumi stack init <name>`)"
            )
        return name


RULES = {
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3-63
    # characters, lowercase letters, digits, dots and hyphens, starting and ending with a letter or
    # digit (the prefixes and suffixes S3 reserves all contain patterns this scheme never produces).
    "bucket": NameRule("S3 bucket", 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
                       "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html", 3),
    # https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html
    "stream": NameRule("Firehose stream", 64, r"[a-zA-Z0-9_.-]+",
                       "https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html"),
    # https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (a bare name: 64)
    "function": NameRule("Lambda function", 64, r"[a-zA-Z0-9_-]+",
                         "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"),
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
    "log_group": NameRule("CloudWatch Logs log group", 512, r"[.\-_/#A-Za-z0-9]+",
                          "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"),
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
    "secret": NameRule("Secrets Manager secret", 512, r"[A-Za-z0-9/_+=.@-]+",
                       "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html"),
    # Glue allows more, but Athena reads only lowercase letters, digits and underscores, at most
    # 255 characters: https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
    "database": NameRule("Glue database", 255, r"[a-z][a-z0-9_]*",
                         "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html"),
    # https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html
    "workgroup": NameRule("Athena workgroup", 128, r"[a-zA-Z0-9._-]+",
                          "https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html"),
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    # (1-255 characters; kept to the characters every name here uses)
    "alarm": NameRule("CloudWatch alarm", 255, r"[A-Za-z0-9_-]+",
                      "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"),
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
    "dashboard": NameRule("CloudWatch dashboard", 255, r"[A-Za-z0-9_-]+",
                          "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html"),
    # https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
    "schedule": NameRule("EventBridge Scheduler schedule", 64, r"[0-9a-zA-Z_.-]+",
                         "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html"),
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
    "role": NameRule("IAM role", 64, r"[\w+=,.@-]+",
                     "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"),
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
    "queue": NameRule("SQS queue", 80, r"[A-Za-z0-9_-]+",
                      "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"),
    # https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
    "topic": NameRule("SNS topic", 256, r"[A-Za-z0-9_-]+",
                      "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"),
}

# Project and stack names go into every name above, lowercase-only ones included (bucket, Glue
# database): lowercase letters, digits and hyphens, starting with a letter. Hyphens become
# underscores in the database name, so two allowed stack names never map to one database.
_PART = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class Names:
    """The physical names of one stack."""

    project: str
    stack: str

    @classmethod
    def of(cls, project: str, stack: str) -> "Names":
        """The names of `stack`, every one checked; raises NameRuleError first."""
        for what, part in (("project", project), ("stack", stack)):
            if not _PART.fullmatch(part):
                raise NameRuleError(
                    f"Pulumi {what} name {part!r} cannot name AWS resources: S3 bucket and Athena "
                    "database names take lowercase letters, digits and hyphens (or underscores) only. "
                    f"Use a {what} name of lowercase letters, digits and hyphens, starting with a letter"
                    + (" (`pulumi stack init <name>`)" if what == "stack" else " (Pulumi.yaml `name:`)")
                )
        names = cls(project, stack)
        names.check_all()
        return names

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.stack}"

    @property
    def stream(self) -> str:
        return f"{self.prefix}-track-observations"

    @property
    def producer_function(self) -> str:
        return f"{self.prefix}-producer"

    @property
    def transform_function(self) -> str:
        return f"{self.prefix}-firehose-transform"

    @staticmethod
    def lambda_log_group(function: str) -> str:
        """Lambda writes to /aws/lambda/<function> unless told otherwise."""
        return f"/aws/lambda/{function}"

    @property
    def firehose_log_group(self) -> str:
        return f"/aws/kinesisfirehose/{self.stream}"

    @property
    def secret(self) -> str:
        return f"{self.project}/{self.stack}/spotify"

    @property
    def glue_database(self) -> str:
        return f"{self.project}_{self.stack}".replace("-", "_")

    @property
    def workgroup(self) -> str:
        return self.prefix

    def alarm(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    @property
    def dashboard(self) -> str:
        return self.prefix

    @property
    def schedule(self) -> str:
        return f"{self.prefix}-producer"

    def role(self, key: str) -> str:
        return f"{self.prefix}-{key}-role"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}-schedule-dlq"

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    def bucket(self, account_id: str, region: str) -> str:
        """Bucket names are global across all AWS accounts: the account and region make this one
        unique to the stack. Checked when the account and region are known."""
        return RULES["bucket"].check(f"{self.prefix}-{account_id}-{region}")

    def check_all(self, alarm_keys: tuple[str, ...] = (), role_keys: tuple[str, ...] = ()) -> None:
        """Checks every name that needs no account or region (the bucket is checked in `bucket`)."""
        checks = [
            ("stream", self.stream),
            ("function", self.producer_function),
            ("function", self.transform_function),
            ("log_group", self.lambda_log_group(self.producer_function)),
            ("log_group", self.lambda_log_group(self.transform_function)),
            ("log_group", self.firehose_log_group),
            ("secret", self.secret),
            ("database", self.glue_database),
            ("workgroup", self.workgroup),
            ("dashboard", self.dashboard),
            ("schedule", self.schedule),
            ("queue", self.dead_letter_queue),
            ("topic", self.alarm_topic),
        ]
        checks += [("alarm", self.alarm(k)) for k in alarm_keys]
        checks += [("role", self.role(k)) for k in role_keys]
        for rule, name in checks:
            RULES[rule].check(name)
