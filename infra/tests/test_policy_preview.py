"""The CrossGuard pack during `pulumi preview`, where inputs computed from other resources (a
bucket's id, every ARN, any policy document holding an ARN) are not known yet.

How CrossGuard hands such values to a policy (pulumi_policy 1.21, policy.py and proxy.py): the
engine sends each as a sentinel string (proxy.UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE, ...),
and the analyzer wraps the properties in `unknown_checking_proxy`, which raises UnknownValueError
when one is read; the analyzer turns that error into an advisory "can't run policy ... during
preview" and drops the rest of that policy's run. The program runs here under preview mocks
(the engine itself cannot run here), its unknown inputs become those sentinels, and the
policies are called as the analyzer calls them (`run_all` with advisories)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi_policy import PolicyResource, ResourceValidationArgs, proxy
from pulumi_policy.proxy import unknown_checking_proxy

import conftest
import tracklake_policies as pack
from conftest import MOCKS, PROJECT, STACK
from elf_builder import EM_AARCH64, make_elf, write_zip
from test_policy import OPTS, resource_args
from test_program import deploy


class PreviewMocks(conftest.Mocks):
    """A preview of a new stack: a resource to be created has no id and no computed outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        super().new_resource(args)
        return ["", dict(args.inputs)]


def as_crossguard_sends(value: Any) -> Any:
    """The recorded inputs with each unknown as the engine's sentinel."""
    if isinstance(value, Unknown):
        return proxy.UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: as_crossguard_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_crossguard_sends(v) for v in value]
    return value


def unknowns_in(value: Any) -> int:
    if isinstance(value, Unknown):
        return 1
    if isinstance(value, dict):
        return sum(unknowns_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(unknowns_in(v) for v in value)
    return 0


@pytest.fixture(scope="module")
def preview(tmp_path_factory) -> list:
    """The program's resources as a preview of a new stack records them."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    for binary in ("producer", "firehose-transform"):
        write_zip(artifacts / binary / "bootstrap.zip", make_elf(EM_AARCH64))
    mocks = PreviewMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=True)
    try:
        @pulumi.runtime.test
        def run():
            import tracklake_infra
            conftest.configure(artifacts)
            pipeline = tracklake_infra.build(tracklake_infra.load())
            return pulumi.Output.all(*[r.urn for r in pipeline.all]).apply(lambda _: None)
        run()
    finally:
        pulumi.runtime.set_mocks(MOCKS, project=PROJECT, stack=STACK, preview=False)
    return mocks.resources


def policy_resources(recorded, edit=None, proxied: bool = True) -> list[PolicyResource]:
    """PolicyResources as the analyzer builds them: sentinels, inside the unknown-checking proxy."""
    out = []
    for r in recorded:
        props = as_crossguard_sends(copy.deepcopy(r.inputs))
        if edit:
            edit(r, props)
        out.append(PolicyResource(r.typ, unknown_checking_proxy(props) if proxied else props,
                                  r.urn, r.name, OPTS, None, None, [], {}))
    return out


def analyze(resources) -> tuple[list[str], list[str]]:
    """(violations, advisories); any other exception is a crash of the pack and fails the test."""
    advisories: list[str] = []
    violations = pack.run_all(resources, lambda r: ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, OPTS, None),
                              advisories)
    return violations, advisories


def test_the_preview_really_has_unknown_inputs(preview):
    unknown = {r.name for r in preview if unknowns_in(r.inputs)}
    assert {"lake-encryption", "lake-public-access", "producer-policy", "firehose-policy", "stream"} <= unknown, unknown
    [policy] = [r for r in preview if r.name == "producer-policy"]
    assert isinstance(policy.inputs["policy"], Unknown), "a document with ARNs is unknown as a whole in a preview"


def test_the_program_previews_without_violations_and_names_what_waits_for_up(preview):
    violations, advisories = analyze(policy_resources(preview))
    assert violations == []
    text = "\n".join(advisories)
    assert "encryption-at-rest" in text and "default encryption of bucket lake" in text, advisories
    assert "s3-no-public-access" in text and "public access block of bucket lake" in text, advisories
    assert "iam-no-wildcards" in text and "policy document of RolePolicy producer-policy" in text, advisories
    assert all("pulumi up" in a for a in advisories), advisories


@pulumi.runtime.test
def test_once_values_are_known_every_policy_decides(mocks, zips):
    """The same program with every value known (as `pulumi up` sees it): nothing left undecided."""
    def check(w):
        resources = [PolicyResource(r.typ, unknown_checking_proxy(copy.deepcopy(r.outputs)), r.urn, r.name, OPTS,
                                    None, None, [], {}) for r in w.resources]
        violations, advisories = analyze(resources)
        assert (violations, advisories) == ([], [])
    return deploy(mocks, zips).apply(check)


def _set(name: str, path: list, value: Any):
    def edit(r, props):
        if r.name == name:
            target = props
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
    return edit


# Settings known in a preview that break a policy while other inputs of the same policy are unknown.
KNOWN_BREAKS = [
    ("encryption-at-rest: Firehose stream stream does not encrypt", _set("stream", ["serverSideEncryption", "enabled"], False)),
    ("encryption-at-rest: SQS queue schedule-dlq is not encrypted", _set("schedule-dlq", ["sqsManagedSseEnabled"], False)),
    ("encryption-at-rest: Athena workgroup workgroup does not encrypt",
     _set("workgroup", ["configuration", "resultConfiguration", "encryptionConfiguration"], {})),
    ("s3-no-public-access: public access block lake-public-access leaves restrictPublicBuckets off",
     _set("lake-public-access", ["restrictPublicBuckets"], False)),
    ("has a public ACL", _set("lake", ["acl"], "public-read")),
    ("iam-no-wildcards: Role producer-role: Broad: wildcard action s3:*",
     _set("producer-role", ["inlinePolicies"], [{"name": "broad", "policy": json.dumps(
         {"Statement": [{"Sid": "Broad", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]})}])),
    ("iam-no-wildcards: role producer-role has the managed policy",
     _set("producer-role", ["managedPolicyArns"], ["arn:aws:iam::aws:policy/AdministratorAccess"])),
]


@pytest.mark.parametrize("expected,edit", KNOWN_BREAKS, ids=[e for e, _ in KNOWN_BREAKS])
def test_a_known_broken_setting_fails_the_preview_beside_unknown_ones(preview, expected, edit):
    violations, advisories = analyze(policy_resources(preview, edit))
    assert any(expected in v for v in violations), (violations, advisories)


def test_a_bucket_without_any_encryption_or_block_fails_even_when_its_name_is_unknown(preview):
    """Nothing could cover it, so the unknown name does not excuse it."""
    def drop(r, props):
        if r.name == "lake":
            props["bucket"] = proxy.UNKNOWN_STRING_VALUE
    kept = [r for r in preview if r.name not in ("lake-encryption", "lake-public-access")]
    violations, _ = analyze(policy_resources(kept, drop))
    assert any(v.startswith("encryption-at-rest: S3 bucket lake has no default") for v in violations), violations
    assert any(v.startswith("s3-no-public-access: S3 bucket lake has no public access block") for v in violations), violations


@pytest.mark.parametrize("proxied", [True, False], ids=["through CrossGuard's proxy", "raw sentinels"])
def test_unknown_lists_and_documents_neither_crash_nor_count_as_violations(proxied):
    """Sentinels where a list or a JSON document belongs: read raw, a list sentinel is a string
    (iterating it gave characters) and a document sentinel is not JSON ("not valid JSON")."""
    role = PolicyResource(pack.ROLE, {"inlinePolicies": proxy.UNKNOWN_ARRAY_VALUE,
                                      "managedPolicyArns": [proxy.UNKNOWN_STRING_VALUE]},
                          "urn:role", "r", OPTS, None, None, [], {})
    policy = PolicyResource(pack.ROLE_POLICY, {"policy": proxy.UNKNOWN_STRING_VALUE}, "urn:p", "p", OPTS, None, None, [], {})
    sse = PolicyResource(pack.BUCKET_SSE[0], {"bucket": "b", "rules": proxy.UNKNOWN_ARRAY_VALUE}, "urn:s", "s", OPTS,
                         None, None, [], {})
    bucket = PolicyResource(pack.BUCKET, {"bucket": "b", "acl": proxy.UNKNOWN_STRING_VALUE}, "urn:b", "b", OPTS,
                            None, None, [], {})
    pab = PolicyResource(pack.PUBLIC_ACCESS_BLOCK, {"bucket": "b", **{f: True for f in pack.PUBLIC_ACCESS_FLAGS}},
                         "urn:pab", "pab", OPTS, None, None, [], {})
    resources = [role, policy, sse, bucket, pab]
    if proxied:
        resources = [PolicyResource(r.resource_type, unknown_checking_proxy(dict(r.props)), r.urn, r.name, OPTS,
                                    None, None, [], {}) for r in resources]
    violations, advisories = analyze(resources)
    assert violations == []
    text = "\n".join(advisories)
    for what in ("inline policies of role r", "policy document of RolePolicy p", "default encryption of bucket b",
                 "ACL of bucket b"):
        assert what in text, advisories


def test_the_resource_policy_reads_inputs_as_the_analyzer_passes_them(preview):
    """Resource policies get each resource's inputs through resource_args in test_policy.py; the
    same function with the proxy reports the unknown document instead of raising out of the pack."""
    [policy] = [r for r in policy_resources(preview) if r.name == "producer-policy"]
    found: list[str] = []
    with pytest.raises(pack.UnknownValueError) as raised:
        pack.validate_no_wildcard_iam(resource_args(policy), lambda m, urn=None: found.append(m))
    assert "policy document of RolePolicy producer-policy" in raised.value.message
    assert found == []
