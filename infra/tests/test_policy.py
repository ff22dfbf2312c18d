"""The CrossGuard pack (infra/policy), its validate functions called directly: silent on the
mocked program's resources, and firing on bad ones. Stack policies see outputs, resource
policies see inputs, as in a real `pulumi preview --policy-pack`."""

from __future__ import annotations

import copy
import json

import pulumi
import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)

import tracklake_policies as pack
from test_program import deploy

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def stack_resource(typ: str, name: str, props: dict) -> PolicyResource:
    return PolicyResource(typ, props, f"urn:pulumi:test::tracklake::{typ}::{name}", name, OPTS, None, None, [], {})


def resource_args(r: PolicyResource) -> ResourceValidationArgs:
    return ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, OPTS, None)


def from_world(w, use_inputs: bool = False) -> list[PolicyResource]:
    return [stack_resource(r.typ, r.name, r.inputs if use_inputs else r.outputs) for r in w.resources]


def violations(resources: list[PolicyResource]) -> list[str]:
    return pack.run_all(resources, resource_args)


@pulumi.runtime.test
def test_the_program_satisfies_every_policy(mocks, zips):
    def check(w):
        assert len(w.resources) > 40
        assert violations(from_world(w)) == []
        # Resource policies run on inputs before creation: the same verdict.
        for r in from_world(w, use_inputs=True):
            found = []
            pack.validate_no_wildcard_iam(resource_args(r), lambda m, urn=None: found.append(m))
            assert found == [], (r.name, found)
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_each_policy_fires_on_a_weakened_copy_of_the_program(mocks, zips):
    def check(w):
        good = from_world(w)
        weakened = []
        for r in good:
            props = copy.deepcopy(dict(r.props))
            if r.resource_type == pack.BUCKET_SSE[0]:
                continue  # the bucket loses its default encryption
            if r.resource_type == pack.PUBLIC_ACCESS_BLOCK:
                props["restrictPublicBuckets"] = False
            if r.resource_type == pack.ROLE_POLICY and r.name == "producer-policy":
                doc = json.loads(props["policy"])
                doc["Statement"][0]["Action"] = "firehose:*"
                doc["Statement"][1]["Resource"] = "*"
                props["policy"] = json.dumps(doc)
            if r.resource_type == pack.FIREHOSE:
                props["serverSideEncryption"] = {"enabled": False}
            if r.resource_type == pack.QUEUE:
                props["sqsManagedSseEnabled"] = False
            weakened.append(stack_resource(r.resource_type, r.name, props))
        found = violations(weakened)
        assert any(v.startswith("encryption-at-rest: S3 bucket") for v in found), found
        assert any(v.startswith("encryption-at-rest: Firehose") for v in found), found
        assert any(v.startswith("encryption-at-rest: SQS") for v in found), found
        assert any("restrictPublicBuckets" in v for v in found if v.startswith("s3-no-public-access")), found
        assert any("wildcard action firehose:*" in v for v in found if v.startswith("iam-no-wildcards")), found
        assert any("wildcard resource *" in v for v in found if v.startswith("iam-no-wildcards")), found
    return deploy(mocks, zips).apply(check)


@pytest.mark.parametrize("statement,expected", [
    ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}, "wildcard action *"),
    ({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}, "wildcard resource *"),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}, "NotAction"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b"}, "NotResource"),
])
def test_wildcard_iam_fires_on_bad_statements(statement, expected):
    role_policy = stack_resource(pack.ROLE_POLICY, "bad", {"policy": json.dumps({"Statement": [statement]})})
    found = []
    pack.validate_no_wildcard_iam(resource_args(role_policy), lambda m, urn=None: found.append(m))
    assert any(expected in f for f in found), found


def test_wildcard_iam_checks_inline_policies_of_a_role_and_allows_deny_and_unscoped_actions():
    role = stack_resource(pack.ROLE, "r", {"inlinePolicies": [{"name": "p", "policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:eu-west-1:1:q"}]})}]})
    found = []
    pack.validate_no_wildcard_iam(resource_args(role), lambda m, urn=None: found.append(m))
    assert found and "sqs:*" in found[0]
    fine = stack_resource(pack.ROLE_POLICY, "ok", {"policy": json.dumps({"Statement": [
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}]})})
    found = []
    pack.validate_no_wildcard_iam(resource_args(fine), lambda m, urn=None: found.append(m))
    assert found == []


def test_a_lone_public_bucket_breaks_both_s3_policies():
    bucket = stack_resource(pack.BUCKET, "open", {"bucket": "open-bucket", "acl": "public-read"})
    found = violations([bucket])
    assert "encryption-at-rest: S3 bucket open-bucket has no default server-side encryption configuration" in found
    assert any(v.startswith("s3-no-public-access: S3 bucket open-bucket has no public access block") for v in found)
    assert any("public ACL" in v for v in found)


def test_the_pack_loads_as_crossguard_would_construct_it():
    names = [p.name for p in pack.POLICIES]
    assert names == ["encryption-at-rest", "s3-no-public-access", "iam-no-wildcards"]
