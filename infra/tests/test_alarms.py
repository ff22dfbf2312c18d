"""No alarm fires on a healthy new stack, and one alarm tells the user when Firehose routes
records to an error output.

CloudWatch cannot run here, so its evaluation is modelled: each alarm, as the mocks record it,
is evaluated over a scenario of metric data points, the way CloudWatch documents alarm
evaluation (the last EvaluationPeriods periods, DatapointsToAlarm of them breaching, missing
points per TreatMissingData:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html) and
metric math (FILL, IF and arithmetic, a point missing when an operand is missing:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html). One
modelling choice that could not be confirmed against CloudWatch: FILL of a metric with no data
point at all in the range stays empty (so the alarm sees missing data, not zeros)."""

from __future__ import annotations

import re
from typing import Callable, Optional

import pulumi
import pytest

import checks
from test_program import SETTINGS, deploy

PRODUCER = "tracklake/producer"
TRANSFORM = "tracklake/firehose-transform"
FIREHOSE = "AWS/Firehose"

# A scenario: (namespace, metric) -> the value of each of the last n periods of `period` seconds
# (None: no data point), most recent last.
Scenario = dict[tuple[str, str], Callable[[int, int], list[Optional[float]]]]


def every(value: float) -> Callable[[int, int], list]:
    return lambda period, n: [value] * n


def runs(value: float, interval: int = 900) -> Callable[[int, int], list]:
    """A metric one producer run reports every `interval` seconds: periods shorter than the
    interval hold a point only when a run fell in them; longer ones hold the runs' sum."""
    def points(period: int, n: int) -> list:
        if period >= interval:
            return [value * (period // interval)] * n
        step = interval // period
        return [value if i % step == 0 else None for i in range(n)][::-1]
    return points


def maximum(value: float, interval: int = 900) -> Callable[[int, int], list]:
    """A 0/1 metric of each run, read with the Maximum statistic."""
    def points(period: int, n: int) -> list:
        return [value] * n if period >= interval else runs(value, interval)(period, n)
    return points


class Series(list):
    """Metric math on aligned data points; a point is missing (None) where an operand is."""

    def _op(self, other, f):
        other = other if isinstance(other, list) else [other] * len(self)
        return Series(None if a is None or b is None else f(a, b) for a, b in zip(self, other))

    def __add__(self, o): return self._op(o, lambda a, b: a + b)
    __radd__ = __add__
    def __lt__(self, o): return self._op(o, lambda a, b: float(a < b))
    def __gt__(self, o): return self._op(o, lambda a, b: float(a > b))


def FILL(series: Series, value: float) -> Series:
    if all(v is None for v in series):
        return Series(series)
    return Series(value if v is None else v for v in series)


def IF(condition: Series, yes, no) -> Series:
    return Series(None if c is None else (yes if c else no) for c in condition)


def alarm_points(alarm: dict, scenario: Scenario) -> list:
    n = int(alarm["evaluationPeriods"])

    def data(namespace, metric, period):
        source = scenario.get((namespace, metric))
        return Series(source(int(period), n) if source else [None] * n)

    if "metricQueries" not in alarm:
        return data(alarm["namespace"], alarm["metricName"], alarm["period"])
    values = {}
    for q in alarm["metricQueries"]:
        if "metric" in q:
            m = q["metric"]
            values[q["id"]] = data(m["namespace"], m["metricName"], m["period"])
    [result] = [q for q in alarm["metricQueries"] if q.get("returnData")]
    assert re.fullmatch(r"[\w\s+(),.<>]*", result["expression"]), result["expression"]
    return eval(result["expression"], {"FILL": FILL, "IF": IF}, values)  # noqa: S307 - our own expression


def fires(alarm: dict, scenario: Scenario) -> bool:
    points = alarm_points(alarm, scenario)
    op, threshold = alarm["comparisonOperator"], alarm["threshold"]
    breach = {"GreaterThanThreshold": lambda v: v > threshold,
              "LessThanThreshold": lambda v: v < threshold,
              "LessThanOrEqualToThreshold": lambda v: v <= threshold,
              "GreaterThanOrEqualToThreshold": lambda v: v >= threshold}[op]
    treat = alarm.get("treatMissingData", "missing")
    if all(v is None for v in points):
        return treat == "breaching"
    flags = [breach(v) if v is not None else treat == "breaching" for v in points]
    return sum(flags) >= (alarm.get("datapointsToAlarm") or alarm["evaluationPeriods"])


def fired(w, scenario: Scenario) -> list[str]:
    return sorted(a.name for a in w.all(checks.ALARM) if fires(a.inputs, scenario))


# The producer's metrics of a run, every one reported, zero or not (producer/src/metrics.rs).
RUN_METRICS = ("RecordsPulled", "RecordsDelivered", "RecordsResent", "RecordsRejected", "RecordsFailed",
               "RunsFailed", "ReauthorizationRequired", "QuotaStops", "SpotifyRequests")


def producer_runs(**values: float) -> Scenario:
    s: Scenario = {(PRODUCER, m): runs(values.get(m, 0)) for m in RUN_METRICS}
    s[(PRODUCER, "ReauthorizationRequired")] = maximum(values.get("ReauthorizationRequired", 0))
    s[(PRODUCER, "AwaitingAuthorization")] = maximum(values.get("AwaitingAuthorization", 0))
    s[("AWS/Lambda", "Errors")] = runs(values.get("Errors", 0))
    s[("AWS/SQS", "ApproximateNumberOfMessagesVisible")] = every(0)
    return s


NEW_STACK: Scenario = {}
AWAITING_TOKEN = producer_runs(AwaitingAuthorization=1)
DELIVERING = {
    **producer_runs(RecordsPulled=40, RecordsDelivered=40, SpotifyRequests=6),
    (FIREHOSE, "DeliveryToS3.Success"): every(1),
    (FIREHOSE, "ExecuteProcessing.Success"): every(1),
    (FIREHOSE, "FailedConversion.Records"): every(0),
    (FIREHOSE, "PartitionCountExceeded"): every(0),
    (TRANSFORM, "RecordsProcessingFailed"): every(0),
}


@pytest.mark.parametrize("scenario", [NEW_STACK, AWAITING_TOKEN, DELIVERING], ids=["new", "awaiting-token", "delivering"])
@pulumi.runtime.test
def test_no_alarm_fires_on_a_healthy_stack(mocks, zips, scenario):
    def check(w):
        assert len(w.all(checks.ALARM)) >= 6
        assert fired(w, scenario) == []
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_every_alarm_treats_missing_data_as_not_breaching(mocks, zips):
    def check(w):
        treat = {a.name: a.inputs.get("treatMissingData") for a in w.all(checks.ALARM)}
        assert treat and set(treat.values()) == {"notBreaching"}, treat
    return deploy(mocks, zips).apply(check)


@pytest.mark.parametrize("metric,value", [
    ((FIREHOSE, "FailedConversion.Records"), every(3)),
    ((FIREHOSE, "PartitionCountExceeded"), every(1)),
    ((FIREHOSE, "ExecuteProcessing.Success"), every(0.5)),
    ((TRANSFORM, "RecordsProcessingFailed"), every(2)),
])
@pulumi.runtime.test
def test_records_routed_to_an_error_output_fire_one_alarm(mocks, zips, metric, value):
    def check(w):
        assert fired(w, {**DELIVERING, metric: value}) == ["alarm-firehose-error-output"]
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_the_error_output_alarm_reads_firehoses_metrics_of_this_stream(mocks, zips):
    def check(w):
        alarm = w.one(checks.ALARM, "alarm-firehose-error-output").inputs
        stream = {"DeliveryStreamName": w.out(checks.STREAM, "stream", "name")}
        metrics = {(q["metric"]["namespace"], q["metric"]["metricName"]): q["metric"]["dimensions"]
                   for q in alarm["metricQueries"] if "metric" in q}
        for name in ("FailedConversion.Records", "PartitionCountExceeded", "ExecuteProcessing.Success"):
            assert metrics[(FIREHOSE, name)] == stream, name
        assert metrics[(TRANSFORM, "RecordsProcessingFailed")] == {
            "FunctionName": w.out(checks.FUNCTION, "transform", "name")}
        assert alarm["alarmActions"] == [w.out("aws:sns/topic:Topic", "alarms", "arn")]
    return deploy(mocks, zips).apply(check)


@pytest.mark.parametrize("scenario,alarm", [
    (producer_runs(RecordsPulled=0), "alarm-data-freshness"),
    (producer_runs(Errors=1, RecordsDelivered=5), "alarm-producer-errors"),
    (producer_runs(ReauthorizationRequired=1, RecordsDelivered=5), "alarm-producer-reauthorization"),
    (producer_runs(RecordsFailed=2, RecordsDelivered=5), "alarm-producer-records-lost"),
    ({**DELIVERING, (FIREHOSE, "DeliveryToS3.Success"): every(0)}, "alarm-firehose-delivery-failed"),
    ({**DELIVERING, ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): every(1)}, "alarm-schedule-dead-letters"),
], ids=["nothing-delivered", "lambda-errors", "reauthorize", "records-lost", "delivery", "dead-letters"])
@pulumi.runtime.test
def test_each_alarm_fires_on_its_problem_alone(mocks, zips, scenario, alarm):
    def check(w):
        assert fired(w, scenario) == [alarm]
    return deploy(mocks, zips).apply(check)


@pulumi.runtime.test
def test_the_freshness_window_is_the_configured_hours(mocks, zips):
    def check(w):
        fresh = w.one(checks.ALARM, "alarm-data-freshness").inputs
        assert fresh["evaluationPeriods"] == fresh["datapointsToAlarm"] == SETTINGS["freshness_hours"]
        # Delivered an hour ago, then nothing: within the window, no alarm.
        hours = SETTINGS["freshness_hours"]
        once = producer_runs()
        once[(PRODUCER, "RecordsDelivered")] = lambda period, n: [0] * (n - 1) + [10]
        assert "alarm-data-freshness" not in fired(w, once)
        assert hours * 3600 == fresh["metricQueries"][0]["metric"]["period"] * hours
    return deploy(mocks, zips).apply(check)
