"""The alarm factory refuses what PutMetricAlarm would refuse, naming the field, the value and
what is allowed, before any resource is declared; every alarm in both stacks goes through it
and pages the region's alerts topic."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.alarms import Evaluation, Metric, metric_alarm
from tests.conftest import StackGraph

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "statistic=None, extended_statistic=None; give exactly one of them"),
        (
            {"statistic": "Average", "extended_statistic": "p99"},
            "statistic='Average', extended_statistic='p99'; give exactly one of them",
        ),
        ({"statistic": "Mean"}, "statistic 'Mean' is not one of SampleCount, Average, Sum"),
    ],
)
def test_a_metric_needs_exactly_one_known_statistic(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        Metric("AWS/RDS", "CPUUtilization", {}, **fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"missing_data": "zero"}, "missing_data 'zero' is not one of missing, ignore"),
        (
            {"missing_data": "missing", "datapoints_to_alarm": 4},
            "datapoints_to_alarm 4 must be between 1 and the 3 evaluation periods",
        ),
        (
            {"missing_data": "missing", "datapoints_to_alarm": 0},
            "datapoints_to_alarm 0 must be between 1 and the 3 evaluation periods",
        ),
    ],
)
def test_an_evaluation_is_one_cloudwatch_accepts(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        Evaluation(period_seconds=60, periods=3, **fields)


def test_an_unknown_comparison_is_refused_before_the_alarm_is_declared() -> None:
    with pytest.raises(ValueError, match="alarm x: comparison 'Above' is not one of"):
        metric_alarm(
            "x",
            description="x",
            metric=Metric("AWS/RDS", "CPUUtilization", {}, statistic="Average"),
            threshold=80,
            comparison="Above",
            evaluation=Evaluation(period_seconds=60, periods=3, missing_data="missing"),
            topic_arn="arn:aws:sns:us-east-1:123456789012:alerts",
            opts=pulumi.ResourceOptions(),
        )


def test_every_alarm_of_both_stacks_pages_an_alerts_topic(stack: StackGraph) -> None:
    alarms = stack.of_type(ALARM)
    assert alarms
    for alarm in alarms:
        (action,) = alarm.inputs["alarmActions"]
        assert action.startswith("arn:aws:sns:"), alarm.name
        assert "alerts" in action or "failover" in action, (alarm.name, action)
