"""`RegionMonitoring`: the region's CloudWatch alarms (nodes, API errors and latency) and its
dashboard. Database alarms live with the database; replication alarms with the replication."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.entry import STAGE

# Alarm when the API's p99 latency passes this for five minutes in a row.
LATENCY_P99_MS = 500
# Alarm when more than this share of requests fail on the server side.
ERROR_RATE = 0.01


@dataclass
class RegionMonitoringArgs:
    prefix: str
    region: str
    cluster_name: str
    api_name: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]


class RegionMonitoring(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: RegionMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:observability:RegionMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        api = {"ApiName": args.api_name, "Stage": STAGE}

        def alarm(label: str, description: str, **metric: Any) -> None:
            aws.cloudwatch.MetricAlarm(
                f"{name}-{label}",
                alarm_description=description,
                period=60,
                evaluation_periods=5,
                datapoints_to_alarm=5,
                treat_missing_data="notBreaching",
                alarm_actions=[args.alerts_topic_arn],
                ok_actions=[args.alerts_topic_arn],
                opts=child,
                **metric,
            )

        alarm(
            "failed-nodes",
            f"{args.cluster_name} has nodes that are not Ready (Container Insights)",
            namespace="ContainerInsights",
            metric_name="cluster_failed_node_count",
            dimensions={"ClusterName": args.cluster_name},
            statistic="Maximum",
            threshold=0,
            comparison_operator="GreaterThanThreshold",
        )
        alarm(
            "api-5xx",
            f"More than {ERROR_RATE:.0%} of the gateway API's requests fail with 5xx",
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions=api,
            statistic="Average",
            threshold=ERROR_RATE,
            comparison_operator="GreaterThanThreshold",
        )
        alarm(
            "api-latency",
            f"The gateway API's p99 latency exceeds {LATENCY_P99_MS} ms",
            namespace="AWS/ApiGateway",
            metric_name="Latency",
            dimensions=api,
            extended_statistic="p99",
            threshold=LATENCY_P99_MS,
            comparison_operator="GreaterThanThreshold",
        )
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.prefix,
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
                "region": args.region,
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
                            args.cluster_name,
                        ],
                        [
                            "ContainerInsights",
                            "cluster_failed_node_count",
                            "ClusterName",
                            args.cluster_name,
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
