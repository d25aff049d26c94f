"""What both engine paths of `Database` build on: the foundation `Database` declares first, the
settings both engines take, the log groups created before RDS writes them, and the alarms.

Apart from components/database.py, which chooses the path, and from the paths themselves
(components/database_postgres.py, components/database_aurora.py), so that each path reads on
its own and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.alarms import Evaluation, Metric, metric_alarm
from settings import Database as DatabaseSettings

if TYPE_CHECKING:
    from components.database import DatabaseArgs

MASTER_USERNAME = "trading_admin"
DATABASE_NAME = "trading"
MONITORING_INTERVAL_SECONDS = 15
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
CA_CERTIFICATE = "rds-ca-rsa2048-g1"


@dataclass(frozen=True)
class EngineFoundation:
    """What `Database` declares before either engine path, handed to the path it takes."""

    name: str
    args: DatabaseArgs
    # The `Database`: every resource of either path is its child.
    parent: pulumi.Resource
    subnet_group_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    monitoring_role_arn: pulumi.Output[str]
    # The master password of a writer this stack keeps the credentials of; None otherwise.
    password: pulumi.Output[str] | None

    @property
    def child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent)


@dataclass(frozen=True)
class DatabaseEndpoints:
    """What an engine path built, as `Database` exports it."""

    arn: pulumi.Output[str]
    identifier: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    # Aurora, in the stack that created the global cluster only.
    global_cluster_identifier: pulumi.Output[str] | None = None


def log_groups(
    foundation: EngineFoundation, kind: str, identifier: str, exports: Sequence[str]
) -> list[aws.cloudwatch.LogGroup]:
    # RDS creates these on first write, unencrypted and kept forever; creating them first
    # gives them our key and retention.
    return [
        aws.cloudwatch.LogGroup(
            f"{foundation.name}-{export}-logs",
            name=f"/aws/rds/{kind}/{identifier}/{export}",
            kms_key_id=foundation.args.logs_key_arn,
            retention_in_days=foundation.args.log_retention_days,
            opts=foundation.child,
        )
        for export in exports
    ]


def parameter_family(settings: DatabaseSettings) -> str:
    major = settings.major_version
    return f"aurora-postgresql{major}" if settings.is_aurora else f"postgres{major}"


def lag_alarm(
    foundation: EngineFoundation, metric: str, dimensions: dict[str, pulumi.Input[str]], scale: int
) -> None:
    args = foundation.args
    metric_alarm(
        f"{foundation.name}-replica-lag",
        description=(
            f"{args.identifier} lags its writer by more than "
            f"{args.replica_lag_alarm_seconds} s (half the RPO objective)"
        ),
        metric=Metric("AWS/RDS", metric, dimensions, "Maximum"),
        threshold=args.replica_lag_alarm_seconds * scale,
        comparison="GreaterThanThreshold",
        # No lag datapoints means replication itself has stopped reporting.
        evaluation=Evaluation(
            period_seconds=60, periods=3, missing_data="breaching", datapoints_to_alarm=2
        ),
        topic_arn=args.alerts_topic_arn,
        opts=foundation.child,
    )


def database_alarm(
    foundation: EngineFoundation,
    label: str,
    metric: str,
    threshold: float,
    comparison: str,
    *,
    dimensions: Mapping[str, pulumi.Input[str]],
    statistic: str = "Average",
) -> None:
    metric_alarm(
        f"{foundation.name}-{label}",
        description=f"{foundation.args.identifier}: {metric} crossed {threshold}",
        metric=Metric("AWS/RDS", metric, dimensions, statistic),
        threshold=threshold,
        comparison=comparison,
        evaluation=Evaluation(period_seconds=300, periods=3, missing_data="notBreaching"),
        topic_arn=foundation.args.alerts_topic_arn,
        opts=foundation.child,
    )
