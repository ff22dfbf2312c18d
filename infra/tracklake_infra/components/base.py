"""What every component shares: the stack's context (settings, names, account and region), the
options of a child resource, and the runtime both Lambdas use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_aws as aws

from .. import iam
from ..config import Settings
from ..names import Names

# Type tokens of the components: `<package>:<module>:<type>`, the package being the project's.
PACKAGE = "tracklake:index"
RUNTIME = "provided.al2023"
HANDLER = "bootstrap"
# The roles, one per principal, with their descriptions (each component creates its own; the
# names are checked together before anything is declared).
ROLE_KEYS = {
    "transform": "tracklake firehose-transform Lambda",
    "producer": "tracklake producer Lambda",
    "firehose": "tracklake Firehose delivery stream",
    "scheduler": "tracklake producer schedule",
}
# Every resource was first declared at the stack's root, before the program had components. A
# resource's URN names its parent's type, so moving it under a component changes its URN and
# Pulumi would replace it; this alias names the URN it had, and Pulumi keeps it
# (docs/pulumi.md#components-and-aliases).
AT_STACK_ROOT = pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)


@dataclass(frozen=True)
class Context:
    """The stack-wide inputs every component reads."""

    settings: Settings
    names: Names
    # schemas/delivery.json
    delivery: dict[str, Any]
    account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]

    def arn(self, service: str, resource: Any) -> pulumi.Output[str]:
        """An ARN in the stack's account and region."""
        return pulumi.Output.concat("arn:", self.partition, f":{service}:", self.region, ":", self.account_id, ":",
                                    resource)


class Component(pulumi.ComponentResource):
    """A named group of resources: `TYPE` is its type token; its children are kept in
    `children` (the tests wait for them all)."""

    TYPE = ""

    def __init__(self, name: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(f"{PACKAGE}:{self.TYPE}", name, None, opts)
        self.children: list[pulumi.Resource] = []

    def keep(self, resource: Any) -> Any:
        self.children.append(resource)
        return resource

    def child(
        self,
        *,
        named: bool = False,
        depends_on: Sequence[pulumi.Resource] = (),
        ignore_changes: Sequence[str] = (),
    ) -> pulumi.ResourceOptions:
        """Options of a child resource. `named`: the program gives it a physical name, and a
        resource with a fixed name cannot be replaced create-first (the new one's name is still
        taken), so Pulumi deletes first
        (https://www.pulumi.com/docs/iac/concepts/options/deletebeforereplace/)."""
        return pulumi.ResourceOptions(
            parent=self,
            aliases=[AT_STACK_ROOT],
            delete_before_replace=True if named else None,
            depends_on=list(depends_on) or None,
            ignore_changes=list(ignore_changes) or None,
        )

    def service_role(self, key: str, ctx: Context, service: str,
                     condition: Optional[dict[str, Any]] = None) -> aws.iam.Role:
        """The role `key` of ROLE_KEYS, assumed by `service` (under `condition`, if any)."""
        return self.keep(aws.iam.Role(
            f"{key}-role", name=ctx.names.role(key), description=ROLE_KEYS[key],
            assume_role_policy=iam.assume_role(service, condition), opts=self.child(named=True)))

    def rust_lambda(
        self,
        key: str,
        ctx: Context,
        *,
        name: str,
        description: str,
        code: Any,
        role: aws.iam.Role,
        timeout: int,
        memory_size: int,
        log_group: aws.cloudwatch.LogGroup,
        policy: pulumi.Resource,
        environment: Optional[dict[str, Any]] = None,
    ) -> aws.lambda_.Function:
        """A Lambda function of this workspace's Rust binaries (`bootstrap` on the OS-only runtime),
        logging as text to its own group; created after its log group and its role's policy so
        that its first invocation can log."""
        return self.keep(aws.lambda_.Function(
            key,
            name=name,
            description=description,
            runtime=RUNTIME,
            architectures=[ctx.settings.lambda_architecture],
            handler=HANDLER,
            code=pulumi.FileArchive(str(code)),
            role=role.arn,
            timeout=timeout,
            memory_size=memory_size,
            logging_config={"log_format": "Text", "log_group": log_group.name},
            environment={"variables": environment} if environment is not None else None,
            opts=self.child(named=True, depends_on=[log_group, policy]),
        ))
