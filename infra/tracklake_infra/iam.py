"""IAM policy documents. Each role gets only the actions it uses, on the resources it uses: no
`*` action and no `*` resource (CrossGuard's iam-no-wildcards checks both)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[Any],
    condition: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if condition:
        s["Condition"] = condition
    return s


def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy document as JSON text; the statements may hold Outputs (ARNs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role(service: str, condition: Optional[dict[str, Any]] = None) -> pulumi.Output[str]:
    """Trust policy letting one AWS service assume the role."""
    s: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        s["Condition"] = condition
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s]})


def log_writer(sid: str, log_group_arn: pulumi.Output[str]) -> dict[str, Any]:
    """Write access to one log group's streams (the group itself is created by Pulumi)."""
    return statement(
        sid,
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [pulumi.Output.concat(log_group_arn, ":*")],
    )
