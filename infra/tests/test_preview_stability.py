"""`pulumi preview` after `pulumi up` shows no change to the stream.

No Pulumi CLI or AWS runs here, so the read-back is modelled: after `pulumi up`, the provider
reads the stream back (DescribeDeliveryStream) and leaves out every Lambda processor parameter
equal to its Firehose default (the Terraform AWS provider, which pulumi-aws wraps, documents this
in its `processing_configuration` note, and set the 1 MB buffer default in
hashicorp/terraform-provider-aws#35137). Preview then diffs the program's inputs against that
read-back. What Firehose stores for a bare function ARN is not documented; the model is checked
both ways (kept as sent, or qualified with :$LATEST)."""

from __future__ import annotations

import pulumi
import pytest

import checks
from test_program import deploy

from tracklake_infra import contracts

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
