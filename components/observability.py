"""`RegionMonitoring`: the region's CloudWatch alarms (nodes, API errors and latency) and its
dashboard. Database alarms live with the database; replication alarms with the replication."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import Evaluation, Metric, metric_alarm
from components.context import RegionalContext
from components.entry import STAGE

# Alarm when the API's p99 latency passes this for five minutes in a row.
LATENCY_P99_MS = 500
# Alarm when more than this share of requests fail on the server side.
ERROR_RATE = 0.01


@dataclass
class RegionMonitoringArgs:
    context: RegionalContext
    api_name: pulumi.Input[str]


class RegionMonitoring(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: RegionMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:observability:RegionMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = args.context
        api = {"ApiName": args.api_name, "Stage": STAGE}
        five_minutes = Evaluation(
            period_seconds=60, periods=5, missing_data="notBreaching", datapoints_to_alarm=5
        )

        def alarm(label: str, description: str, metric: Metric, threshold: float) -> None:
            metric_alarm(
                f"{name}-{label}",
                description=description,
                metric=metric,
                threshold=threshold,
                comparison="GreaterThanThreshold",
                evaluation=five_minutes,
                topic_arn=context.alerts_topic_arn,
                opts=child,
            )

        alarm(
            "failed-nodes",
            f"{context.cluster_name} has nodes that are not Ready (Container Insights)",
            Metric(
                "ContainerInsights",
                "cluster_failed_node_count",
                {"ClusterName": context.cluster_name},
                "Maximum",
            ),
            0,
        )
        alarm(
            "api-5xx",
            f"More than {ERROR_RATE:.0%} of the gateway API's requests fail with 5xx",
            Metric("AWS/ApiGateway", "5XXError", api, "Average"),
            ERROR_RATE,
        )
        alarm(
            "api-latency",
            f"The gateway API's p99 latency exceeds {LATENCY_P99_MS} ms",
            Metric("AWS/ApiGateway", "Latency", api, extended_statistic="p99"),
            LATENCY_P99_MS,
        )
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=context.prefix,
            dashboard_body=pulumi.Output.from_input(args.api_name).apply(
                lambda api_name: _dashboard(args, api_name)
            ),
            opts=child,
        )
        self.register_outputs({})


def _dashboard(args: RegionMonitoringArgs, api_name: str) -> str:
    def widget(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": args.context.region,
                "metrics": metrics,
                "view": "timeSeries",
            },
        }

    return json.dumps(
        {
            "widgets": [
                widget(
                    "Gateway API: requests, 5xx",
                    [
                        ["AWS/ApiGateway", "Count", "ApiName", api_name, "Stage", STAGE],
                        ["AWS/ApiGateway", "5XXError", "ApiName", api_name, "Stage", STAGE],
                    ],
                    0,
                    0,
                ),
                widget(
                    "Gateway API: p99 latency (ms)",
                    [
                        [
                            "AWS/ApiGateway",
                            "Latency",
                            "ApiName",
                            api_name,
                            "Stage",
                            STAGE,
                            {"stat": "p99"},
                        ]
                    ],
                    12,
                    0,
                ),
                widget(
                    "Cluster: nodes and failed nodes",
                    [
                        [
                            "ContainerInsights",
                            "cluster_node_count",
                            "ClusterName",
                            args.context.cluster_name,
                        ],
                        [
                            "ContainerInsights",
                            "cluster_failed_node_count",
                            "ClusterName",
                            args.context.cluster_name,
                        ],
                    ],
                    0,
                    6,
                ),
                widget(
                    "Failover: step durations (s)",
                    [
                        [
                            "Trading/Failover",
                            "StepDuration",
                            "Action",
                            "failover",
                            "Step",
                            "scale-node-groups",
                        ]
                    ],
                    12,
                    6,
                ),
            ]
        }
    )
