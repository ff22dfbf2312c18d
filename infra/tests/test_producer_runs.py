"""At most one producer invocation at a time, from the infrastructure's side: neither the
scheduler nor Lambda starts a second run of one tick, a run cannot outlast the interval, and the
producer may hold its lock object (`<state key>.lock`) and nothing more.

Ranges come from the AWS service models botocore ships (EventBridge Scheduler RetryPolicy,
Lambda PutFunctionEventInvokeConfig), not from the program."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
import pulumi
import pytest

import checks
from conftest import configure
from test_program import SETTINGS, deploy

import tracklake_infra
from tracklake_infra.components import producer

_session = botocore.session.get_session()


def member(service: str, shape: str, name: str) -> dict:
    return _session.get_service_model(service).shape_for(shape).members[name].metadata


def producer_statements(w) -> list[dict]:
    role = w.out(checks.ROLE, "producer-role", "name")
    [policy] = [p for p in w.all(checks.ROLE_POLICY) if p.inputs["role"] == role]
    return json.loads(policy.inputs["policy"])["Statement"]


def grants(statements: list[dict]) -> dict[str, set[str]]:
    """S3 object action -> the object ARNs it is allowed on."""
    out: dict[str, set[str]] = {}
    for s in statements:
        for action in s["Action"]:
            if action.startswith("s3:") and action != "s3:ListBucket":
                out.setdefault(action, set()).update(s["Resource"])
    return out


@pulumi.runtime.test
def test_the_scheduler_never_retries_an_invocation(mocks, zips):
    def check(w):
        policy = w.one("aws:scheduler/schedule:Schedule").inputs["target"]["retryPolicy"]
        assert policy["maximumRetryAttempts"] == 0
        age = member("scheduler", "RetryPolicy", "MaximumEventAgeInSeconds")
        # The shortest age the API takes: a tick that could not be delivered within a minute is
        # dropped to the dead-letter queue, long before the next tick.
        assert policy["maximumEventAgeInSeconds"] == age["min"] == 60
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_lambda_never_runs_an_asynchronous_event_twice(mocks, zips):
    def check(w):
        config = w.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
        assert config["functionName"] == w.out(checks.FUNCTION, "producer", "name")
        assert config["maximumRetryAttempts"] == 0
        age = member("lambda", "PutFunctionEventInvokeConfigRequest", "MaximumEventAgeInSeconds")
        assert config["maximumEventAgeInSeconds"] == age["min"]
        # No reserved concurrency: accounts with a low concurrency quota cannot reserve any.
        assert "reservedConcurrentExecutions" not in w.one(checks.FUNCTION, "producer").inputs
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_the_producer_may_take_and_release_its_lock_object_only(mocks, zips):
    def check(w):
        lake = w.out(checks.BUCKET, "lake", "arn")
        state = f"{lake}/{SETTINGS['state_key']}"
        lock = f"{state}.lock"
        assert grants(producer_statements(w)) == {
            "s3:GetObject": {state, lock},
            "s3:PutObject": {state, lock},
            "s3:DeleteObject": {lock},
        }
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_the_lock_follows_a_configured_state_key(mocks, zips):
    def check(w):
        lake = w.out(checks.BUCKET, "lake", "arn")
        assert grants(producer_statements(w))["s3:DeleteObject"] == {f"{lake}/producer-state/run.json.lock"}
    return deploy(mocks, zips, stateKey="producer-state/run.json").apply(check)


@pytest.mark.parametrize("rate,timeout", [("5 minutes", "300"), ("5 minutes", "600"), ("1 minute", "60")])
def test_a_run_that_could_outlast_the_interval_is_refused(zips, rate, timeout):
    configure(zips, scheduleRate=rate, producerTimeoutSeconds=timeout)
    with pytest.raises(tracklake_infra.ConfigError, match="producerTimeoutSeconds"):
        tracklake_infra.load()


def test_a_run_shorter_than_the_interval_is_accepted(zips):
    configure(zips, scheduleRate="5 minutes", producerTimeoutSeconds="290")
    assert tracklake_infra.load().producer_timeout_seconds == 290


def test_the_lock_suffix_is_the_producers():
    """The producer names its lock `<state key>` + `RUN_LOCK_SUFFIX` (producer/src/state.rs); the
    program grants exactly that key, so the two must spell the suffix the same way."""
    source = (Path(__file__).resolve().parents[2] / "producer" / "src" / "state.rs").read_text(encoding="utf-8")
    found = re.search(r'pub const RUN_LOCK_SUFFIX: &str = "([^"]+)";', source)
    assert found, "producer/src/state.rs no longer defines RUN_LOCK_SUFFIX as a string constant"
    assert producer.STATE_LOCK_SUFFIX == found.group(1)
