"""The failover and failback steps: direct AWS API calls, each idempotent (it looks before it
acts, so a rerun after a partial failure does only what is left) and verified by polling."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from handlers.clock import Clock
from handlers.model import Environment, NodeGroupSize

# Polling budgets, inside the Lambda's 15-minute limit.
NODE_GROUP_WAIT = {"Delay": 15, "MaxAttempts": 40}
DATABASE_WAIT = {"Delay": 15, "MaxAttempts": 40}
GLOBAL_SWITCH_WAIT = {"Delay": 10, "MaxAttempts": 60}

# DescribeDBInstances statuses from which `available` is not coming (botocore's
# db_instance_available waiter fails on the same ones).
DB_TERMINAL_STATUSES = (
    "deleted",
    "deleting",
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
)


# Route 53 calls an endpoint healthy when more than this share of its checkers do
# (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/
# dns-failover-determining-health-of-endpoints.html).
ROUTE53_HEALTHY_SHARE = 0.18
# Cross-region replication this far behind means the primary is gone or cut off; a healthy
# PostgreSQL replica lags seconds, an Aurora secondary under one.
LAG_FAILING_SECONDS = 60.0
# ReplicaLag (seconds, published in the replica's region) for a PostgreSQL replica
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html);
# AuroraGlobalDBRPOLag (milliseconds, by secondary cluster), the lag AWS points Aurora
# PostgreSQL global databases to (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
# aurora-global-database-disaster-recovery.html).
LAG_METRICS = {
    "postgres": ("ReplicaLag", "DBInstanceIdentifier", 1.0),
    "aurora-postgresql": ("AuroraGlobalDBRPOLag", "DBClusterIdentifier", 0.001),
}


class StepFailedError(Exception):
    """A step could not reach its goal; the message says what was found."""


@dataclass(frozen=True)
class Pace:
    """How a step waits: on the clock, with `guard` called before every sleep (the runner's
    lease renewal and deadline check, which raise to stop the wait)."""

    clock: Clock
    guard: Callable[[], None] = lambda: None

    def sleep(self, seconds: float) -> None:
        self.guard()
        self.clock.sleep(seconds)


def wait_for(pace: Pace, what: str, reached: Callable[[], bool], budget: Mapping[str, int]) -> None:
    """Check `reached` at once and then every `Delay` seconds, `MaxAttempts` times in all (the
    semantics of a botocore waiter, whose sleeps cannot be given a clock). `reached` raises
    StepFailedError for a state the goal cannot come from."""
    attempts = budget["MaxAttempts"]
    for attempt in range(attempts):
        if reached():
            return
        if attempt + 1 < attempts:
            pace.sleep(budget["Delay"])
    raise StepFailedError(f"{what} not reached after {attempts} checks {budget['Delay']} s apart")


def scale_node_groups(eks: Any, env: Environment, sizes: Mapping[str, NodeGroupSize]) -> str:
    """Set every node group's scaling to `sizes`; a group already there is left alone."""
    changed = []
    for group, name in env.node_groups.items():
        target = sizes[group]
        current = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)[
            "nodegroup"
        ]["scalingConfig"]
        wanted = {
            "minSize": target.min_size,
            "maxSize": target.max_size,
            "desiredSize": target.desired_size,
        }
        if {k: current.get(k) for k in wanted} == wanted:
            continue
        eks.update_nodegroup_config(
            clusterName=env.cluster_name, nodegroupName=name, scalingConfig=wanted
        )
        changed.append(f"{name} -> {target.desired_size}")
    return "scaled " + ", ".join(changed) if changed else "already at size"


def verify_node_groups(
    eks: Any, env: Environment, sizes: Mapping[str, NodeGroupSize], pace: Pace
) -> str:
    for group, name in env.node_groups.items():

        def active(name: str = name) -> bool:
            status = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)[
                "nodegroup"
            ]["status"]
            if status == "CREATE_FAILED":
                raise StepFailedError(f"{name} is {status}")
            return status == "ACTIVE"

        wait_for(pace, f"{name} ACTIVE", active, NODE_GROUP_WAIT)
        described = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)
        desired = described["nodegroup"]["scalingConfig"]["desiredSize"]
        if desired != sizes[group].desired_size:
            raise StepFailedError(f"{name} is ACTIVE at {desired}, not {sizes[group].desired_size}")
    return "ACTIVE at size: " + ", ".join(env.node_groups.values())


def _instance(rds: Any, identifier: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def promote_replica(rds: Any, identifier: str, pace: Pace) -> str:
    """Make an RDS read replica a standalone writer, resuming whatever is under way: a writer
    already is one; a replica in `backing-up` cannot be promoted yet (API_PromoteReadReplica),
    so this waits it out; a replica already `modifying` or `rebooting` is being promoted."""
    seen: dict[str, Any] = {}

    def settled() -> bool:
        seen.update(_instance(rds, identifier))
        status = seen["DBInstanceStatus"]
        if status in DB_TERMINAL_STATUSES:
            raise StepFailedError(f"{identifier} is {status}")
        return status != "backing-up" or not seen.get("ReadReplicaSourceDBInstanceIdentifier")

    wait_for(pace, f"{identifier} out of backing-up", settled, DATABASE_WAIT)
    if not seen.get("ReadReplicaSourceDBInstanceIdentifier"):
        return f"{identifier} is already a standalone writer"
    if seen["DBInstanceStatus"] in ("modifying", "rebooting"):
        return f"{identifier} is {seen['DBInstanceStatus']}: its promotion is under way"
    rds.promote_read_replica(DBInstanceIdentifier=identifier)
    return f"promotion of {identifier} requested"


def verify_writer(rds: Any, identifier: str, pace: Pace) -> str:
    """Until the instance is available and no longer a replica: a promotion requested a
    moment ago may still show the replica as available."""

    def writer() -> bool:
        instance = _instance(rds, identifier)
        status = instance["DBInstanceStatus"]
        if status in DB_TERMINAL_STATUSES:
            raise StepFailedError(f"{identifier} is {status}")
        return status == "available" and not instance.get("ReadReplicaSourceDBInstanceIdentifier")

    wait_for(pace, f"{identifier} available and standalone", writer, DATABASE_WAIT)
    return f"{identifier} is available and writable"


def fence_instance(rds: Any, identifier: str) -> str:
    """Stop the old PostgreSQL writer so it takes no more writes. RDS refuses to stop an
    instance that has a read replica, so this runs once dr's promotion has detached it."""
    status = _instance(rds, identifier)["DBInstanceStatus"]
    if status in ("stopped", "stopping"):
        return f"{identifier} already {status}"
    rds.stop_db_instance(DBInstanceIdentifier=identifier)
    return f"{identifier} stopping: it takes no more writes"


def _cluster_arn(rds: Any, identifier: str) -> str:
    return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["DBClusterArn"]


def move_global_writer(
    rds: Any, cluster_rds: Any, global_cluster: str, identifier: str, planned: bool
) -> str:
    """Make `identifier` (a cluster `cluster_rds` reaches in its own region) the global
    cluster's writer: a switchover (no data loss) for a planned move, a failover (allowing the
    loss of what had not replicated) otherwise."""
    arn = _cluster_arn(cluster_rds, identifier)
    members = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)[
        "GlobalClusters"
    ][0]["GlobalClusterMembers"]
    if any(m["DBClusterArn"] == arn and m.get("IsWriter") for m in members):
        return f"{identifier} already writes for {global_cluster}"
    if planned:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=global_cluster, TargetDbClusterIdentifier=arn
        )
        return f"switchover of {global_cluster} to {identifier} requested"
    rds.failover_global_cluster(
        GlobalClusterIdentifier=global_cluster, TargetDbClusterIdentifier=arn, AllowDataLoss=True
    )
    return f"failover of {global_cluster} to {identifier} requested"


def verify_global_writer(
    rds: Any, cluster_rds: Any, global_cluster: str, identifier: str, pace: Pace
) -> str:
    arn = _cluster_arn(cluster_rds, identifier)

    def writes() -> bool:
        members = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)[
            "GlobalClusters"
        ][0]["GlobalClusterMembers"]
        return any(m["DBClusterArn"] == arn and m.get("IsWriter") for m in members)

    wait_for(pace, f"{identifier} the writer of {global_cluster}", writes, GLOBAL_SWITCH_WAIT)
    return f"{identifier} writes for {global_cluster}"


def set_primary_inverted(route53: Any, health_check_id: str, inverted: bool) -> str:
    """Inverting the primary's health check makes Route 53 treat a primary that still answers
    as unhealthy, so the failover records send clients to dr (and back when restored)."""
    config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"]
    if config["HealthCheckConfig"].get("Inverted", False) == inverted:
        return f"health check {health_check_id} already {'inverted' if inverted else 'normal'}"
    route53.update_health_check(
        HealthCheckId=health_check_id,
        HealthCheckVersion=config["HealthCheckVersion"],
        Inverted=inverted,
    )
    return f"health check {health_check_id} {'inverted' if inverted else 'restored'}"


def health_check_healthy(route53: Any, health_check_id: str) -> bool:
    """Healthy by Route 53's own rule: more than 18% of its checkers report success."""
    observations = route53.get_health_check_status(HealthCheckId=health_check_id)[
        "HealthCheckObservations"
    ]
    successes = sum(1 for o in observations if o["StatusReport"]["Status"].startswith("Success"))
    return bool(observations) and successes > ROUTE53_HEALTHY_SHARE * len(observations)


def replication_lag(cloudwatch: Any, env: Environment, clock: Clock) -> float | None:
    """dr's replica's own view of the primary: its newest replication lag in seconds over the
    last five minutes, or None when CloudWatch has no datapoint."""
    metric, dimension, scale = LAG_METRICS[env.db_engine]
    now = clock.now()
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "lag",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/RDS",
                        "MetricName": metric,
                        "Dimensions": [{"Name": dimension, "Value": env.db_identifier}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now,
    )["MetricDataResults"][0]
    values = result.get("Values", [])
    return values[0] * scale if values else None


def verify_healthy(route53: Any, health_check_id: str) -> str:
    if not health_check_healthy(route53, health_check_id):
        raise StepFailedError(f"health check {health_check_id} is not healthy")
    return f"health check {health_check_id} is healthy"
