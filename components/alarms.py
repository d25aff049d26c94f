"""`metric_alarm`: the one way this program declares a CloudWatch metric alarm.

Every alarm pages an SNS topic (the region's alerts topic, or one beside a metric that only
exists in another region) on ALARM and, unless told otherwise, on OK. The choices each alarm
makes (metric, statistic, threshold, how many periods, what missing data means) are arguments;
the allowed values are those of PutMetricAlarm
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html) as
the provider's `aws.cloudwatch.MetricAlarm` takes them
(https://www.pulumi.com/registry/packages/aws/api-docs/cloudwatch/metricalarm/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# The static-threshold comparisons; the anomaly-band ones need a metric-math alarm, which
# this factory does not build.
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
MISSING_DATA = ("missing", "ignore", "breaching", "notBreaching")


@dataclass(frozen=True)
class Metric:
    """What an alarm watches. "When you call PutMetricAlarm and specify a MetricName, you must
    specify either Statistic or ExtendedStatistic, but not both"
    (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudwatch/aws.sdk.kotlin.services.cloudwatch.model/-put-metric-alarm-request/statistic.html);
    an extended statistic is a percentile such as `p99`."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str | None = None
    extended_statistic: str | None = None

    def __post_init__(self) -> None:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError(
                f"metric {self.namespace}/{self.name}: statistic={self.statistic!r}, "
                f"extended_statistic={self.extended_statistic!r}; give exactly one of them"
            )
        if self.statistic is not None and self.statistic not in STATISTICS:
            raise ValueError(
                f"metric {self.namespace}/{self.name}: statistic {self.statistic!r} is not one "
                f"of {', '.join(STATISTICS)}"
            )


@dataclass(frozen=True)
class Evaluation:
    """When the alarm fires: `datapoints_to_alarm` breaching datapoints (all of them when None)
    among the last `periods` periods of `period_seconds`; `missing_data` says what an absent
    datapoint counts as."""

    period_seconds: int
    periods: int
    missing_data: str
    datapoints_to_alarm: int | None = None

    def __post_init__(self) -> None:
        if self.missing_data not in MISSING_DATA:
            raise ValueError(
                f"missing_data {self.missing_data!r} is not one of {', '.join(MISSING_DATA)}"
            )
        if self.datapoints_to_alarm is not None and not (
            1 <= self.datapoints_to_alarm <= self.periods
        ):
            raise ValueError(
                f"datapoints_to_alarm {self.datapoints_to_alarm} must be between 1 and the "
                f"{self.periods} evaluation periods"
            )


def metric_alarm(
    name: str,
    *,
    description: pulumi.Input[str],
    metric: Metric,
    threshold: pulumi.Input[float],
    comparison: str,
    evaluation: Evaluation,
    topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    page_on_ok: bool = True,
    region: str | None = None,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm on `metric` that pages `topic_arn`, in `region` (default: the provider's).

    `page_on_ok=False` for alarms whose recovery nobody acts on (a crash already happened)."""
    if comparison not in COMPARISONS:
        raise ValueError(
            f"alarm {name}: comparison {comparison!r} is not one of {', '.join(COMPARISONS)}"
        )
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=dict(metric.dimensions),
        statistic=metric.statistic,
        extended_statistic=metric.extended_statistic,
        period=evaluation.period_seconds,
        evaluation_periods=evaluation.periods,
        datapoints_to_alarm=evaluation.datapoints_to_alarm,
        threshold=threshold,
        comparison_operator=comparison,
        treat_missing_data=evaluation.missing_data,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn] if page_on_ok else None,
        region=region,
        opts=opts,
    )
