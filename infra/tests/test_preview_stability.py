"""`pulumi preview` after `pulumi up` shows no change: not to the stream, and not to any resource
of a stack deployed before the program had components.

No Pulumi CLI or AWS runs here, so the read-back is modelled: after `pulumi up`, the provider
reads the stream back (DescribeDeliveryStream) and leaves out every Lambda processor parameter
equal to its Firehose default (the Terraform AWS provider, which pulumi-aws wraps, documents this
in its `processing_configuration` note, and set the 1 MB buffer default in
hashicorp/terraform-provider-aws#35137). Preview then diffs the program's inputs against that
read-back. What Firehose stores for a bare function ARN is not documented; the model is checked
both ways (kept as sent, or qualified with :$LATEST).

Moving a resource under a component changes its URN (the URN names the parent's type), and
Pulumi replaces a resource whose URN it no longer finds unless an alias names the old one. The
engine that resolves aliases cannot run here: conftest.py computes each resource's URN and the
URNs its aliases name by Pulumi's rules, and the URNs the stack held before components are
checked in (urns_at_stack_root.txt)."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws
import pytest

import checks
from conftest import ROOT_STACK_TYPE
from test_program import deploy

from tracklake_infra import contracts
from tracklake_infra.components import base

# The provider's defaults as the provider's read-back drops them; expected values written here
# from the Firehose API reference (ProcessorParameter), not taken from the program.
PROVIDER_DROPPED_DEFAULTS = {"NumberOfRetries": "3", "BufferSizeInMBs": "1", "BufferIntervalInSeconds": "60"}


def firehose_keeps(arn: str) -> str:
    return arn


def firehose_qualifies(arn: str) -> str:
    return arn if arn.count(":") > 6 else arn + ":$LATEST"


def read_back(parameters: list[dict], store_arn) -> list[dict]:
    """The processor parameters in the state after `pulumi up` and a refresh."""
    stored = [dict(p, parameterValue=store_arn(p["parameterValue"])) if p["parameterName"] == "LambdaArn" else p
              for p in parameters]
    return [p for p in stored if PROVIDER_DROPPED_DEFAULTS.get(p["parameterName"]) != p["parameterValue"]]


def processor_parameters(w) -> list[dict]:
    [processor] = w.one(checks.STREAM).inputs["extendedS3Configuration"]["processingConfiguration"]["processors"]
    return processor["parameters"]


@pytest.mark.parametrize("store_arn", [firehose_keeps, firehose_qualifies])
@pulumi.runtime.test
def test_the_processor_parameters_read_back_as_declared(mocks, zips, store_arn):
    def check(w):
        declared = processor_parameters(w)
        assert read_back(declared, store_arn) == declared
        assert [p["parameterName"] for p in declared] == ["LambdaArn"], "schemas/delivery.json sets only defaults"
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_settings_that_differ_from_the_defaults_are_still_sent(mocks, zips, monkeypatch):
    real = contracts.delivery_settings

    def tuned(path=None):
        d = real(path)
        d["processor_buffering"] = {"size_mib": 2, "interval_seconds": 60}
        d["processor_retries"] = 5
        return d

    monkeypatch.setattr(contracts, "delivery_settings", tuned)

    def check(w):
        declared = processor_parameters(w)
        by_name = {p["parameterName"]: p["parameterValue"] for p in declared}
        assert by_name == {"LambdaArn": w.out(checks.FUNCTION, "transform", "arn") + ":$LATEST",
                           "BufferSizeInMBs": "2", "NumberOfRetries": "5"}
        assert read_back(declared, firehose_qualifies) == declared
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_the_secret_placeholder_is_never_put_back(mocks, zips):
    """The producer and `tracklake auth` write the secret's value; a later `pulumi up` must not
    see their value as a change to revert."""
    def check(w):
        assert "secretString" in mocks.options["spotify-secret-placeholder"].ignore_changes
    return deploy(mocks, zips).apply(check)



class SecretsManagerModel:
    """Staging labels as the Secrets Manager API reference describes PutSecretValue: the first
    version gets AWSCURRENT; without VersionStages a new version takes AWSCURRENT (the old one
    AWSPREVIOUS); with VersionStages only the named labels move; an unlabelled version may be
    removed (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html)."""

    def __init__(self) -> None:
        self.versions: list[tuple[str, set[str]]] = []

    def put_secret_value(self, value: str, stages: list[str] | None = None) -> None:
        labels = set(stages or [])
        if not self.versions or stages is None:
            labels.add("AWSCURRENT")
        for _, other in self.versions:
            if "AWSCURRENT" in labels and "AWSCURRENT" in other:
                other.discard("AWSCURRENT")
                for _, o in self.versions:
                    o.discard("AWSPREVIOUS")
                other.add("AWSPREVIOUS")
            other.difference_update(labels - {"AWSCURRENT"})
        self.versions.append((value, labels))

    def purge_unlabelled(self) -> None:
        self.versions = [(v, labels) for v, labels in self.versions if labels]

    def current(self) -> str:
        [value] = [v for v, labels in self.versions if "AWSCURRENT" in labels]
        return value


@pulumi.runtime.test
def test_putting_the_placeholder_again_never_replaces_the_token(mocks, zips):
    """After many token rotations Secrets Manager may remove versions without a label; a
    `pulumi refresh` that then finds the placeholder gone makes the next `pulumi up` put it again.
    That must not take AWSCURRENT from the user's refresh token."""
    def check(w):
        version = w.one("aws:secretsmanager/secretVersion:SecretVersion").inputs
        placeholder, stages = checks.unsecret(version["secretString"]), version.get("versionStages")
        sm = SecretsManagerModel()
        sm.put_secret_value(placeholder, stages)           # pulumi up
        assert sm.current() == placeholder                  # the producer can read it
        sm.put_secret_value('{"refresh_token": "t1"}')      # tracklake auth
        sm.put_secret_value('{"refresh_token": "t2"}')      # the producer stores a rotated token
        sm.purge_unlabelled()
        assert placeholder in [v for v, _ in sm.versions], "the placeholder must keep a label"
        sm.put_secret_value(placeholder, stages)            # pulumi up after a refresh lost it
        assert sm.current() == '{"refresh_token": "t2"}'
        assert {"secretString", "versionStages"} <= set(mocks.options["spotify-secret-placeholder"].ignore_changes)
    return deploy(mocks, zips).apply(check)


# ---- moving resources into components keeps every deployed resource --------------------------

URNS_AT_STACK_ROOT = Path(__file__).with_name("urns_at_stack_root.txt")
COMPONENT_TYPE_PREFIX = "tracklake:index:"
# Where a newcomer looks for a resource: the component type each one lives in (some by name).
HOME = {
    "aws:s3/bucket:Bucket": "Lake",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "Lake",
    checks.DATABASE: "Catalog",
    checks.TABLE: "Catalog",
    ("Function", "transform"): "Transform",
    checks.STREAM: "Stream",
    ("Function", "producer"): "Producer",
    checks.SECRET: "Producer",
    "aws:scheduler/schedule:Schedule": "Producer",
    "aws:athena/workgroup:Workgroup": "Queries",
    checks.NAMED_QUERY: "Queries",
    checks.ALARM: "Monitoring",
    "aws:cloudwatch/dashboard:Dashboard": "Monitoring",
}


def urns_at_stack_root() -> list[str]:
    lines = URNS_AT_STACK_ROOT.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def check_every_deployed_resource_is_kept(resources) -> None:
    """Each URN of the stack before components names exactly one resource now, by its URN or an
    alias, and that resource has the same type and name (so Pulumi updates it in place, never
    creates a second one)."""
    seen: set[str] = set()
    for r in resources:
        assert r.urn not in seen, f"two resources claim {r.urn}"
        seen.add(r.urn)
    for old in urns_at_stack_root():
        claims = [r for r in resources if old == r.urn or old in r.aliases]
        assert len(claims) == 1, f"{old} is claimed by {[r.urn for r in claims]}: Pulumi would " + (
            "delete it and create a new one" if not claims else "not know which resource it is")
        [r] = claims
        _, _, typ, name = old.split("::")
        assert (r.typ, r.name) == (typ, name), f"{old} is now {r.urn}"


def check_components(components, resources) -> None:
    """Every resource is a child of a tracklake:index:* component, each component sits at the
    stack's root, and the main resources live in the component named for them."""
    by_urn = {c.urn: c for c in components}
    for c in components:
        assert c.typ.startswith(COMPONENT_TYPE_PREFIX), c.urn
        assert not c.parent or c.parent.split("::")[2] == ROOT_STACK_TYPE, f"{c.urn} is not at the stack's root"
    for r in resources:
        assert r.parent in by_urn, f"{r.urn} is not in a component"
        home = HOME.get((r.typ.rsplit(":", 1)[1], r.name)) or HOME.get(r.typ)
        if home:
            assert by_urn[r.parent].typ == COMPONENT_TYPE_PREFIX + home, f"{r.urn} is not in {home}"


@pulumi.runtime.test
def test_every_resource_of_a_stack_deployed_before_components_is_kept(mocks, zips):
    def check(w):
        assert len(urns_at_stack_root()) == 48
        check_every_deployed_resource_is_kept(w.resources)
        check_components(mocks.components, w.resources)
        assert {c.typ.removeprefix(COMPONENT_TYPE_PREFIX) for c in mocks.components} == set(HOME.values())
    return deploy(mocks, zips, alarmEmail="ops@example.com").apply(check)


@pulumi.runtime.test
def test_a_resource_moved_without_its_alias_fails_the_check(mocks, zips, monkeypatch):
    real = base.Component.child

    def without_alias(self, **kwargs):
        opts = real(self, **kwargs)
        opts.aliases = None
        return opts

    monkeypatch.setattr(base.Component, "child", without_alias)

    def check(w):
        with pytest.raises(AssertionError, match="delete it and create a new one"):
            check_every_deployed_resource_is_kept(w.resources)
    return deploy(mocks, zips, alarmEmail="ops@example.com").apply(check)


@pulumi.runtime.test
def test_a_renamed_resource_fails_the_check(mocks, zips, monkeypatch):
    """The alias must name the old URN, not merely exist: a renamed resource keeps an alias to
    the root, but to its new name, so the deployed one would still be replaced."""
    real = pulumi_aws.cloudwatch.Dashboard

    def renamed(resource_name, *args, **kwargs):
        return real("monitoring-dashboard", *args, **kwargs)

    monkeypatch.setattr(pulumi_aws.cloudwatch, "Dashboard", renamed)

    def check(w):
        with pytest.raises(AssertionError, match=r"Dashboard::dashboard is claimed by \[\]"):
            check_every_deployed_resource_is_kept(w.resources)
    return deploy(mocks, zips, alarmEmail="ops@example.com").apply(check)
