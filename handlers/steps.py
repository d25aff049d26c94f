"""The failover and failback steps: direct AWS API calls, each idempotent (it looks before it
acts, so a rerun after a partial failure does only what is left) and verified by polling."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


class StepFailedError(Exception):
    """A step could not reach its goal; the message says what was found."""


def wait_for(
    clock: Clock, what: str, reached: Callable[[], bool], budget: Mapping[str, int]
) -> None:
    """Check `reached` at once and then every `Delay` seconds, `MaxAttempts` times in all (the
    semantics of a botocore waiter, whose sleeps cannot be given a clock). `reached` raises
    StepFailedError for a state the goal cannot come from."""
    attempts = budget["MaxAttempts"]
    for attempt in range(attempts):
        if reached():
            return
        if attempt + 1 < attempts:
            clock.sleep(budget["Delay"])
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
    eks: Any, env: Environment, sizes: Mapping[str, NodeGroupSize], clock: Clock
) -> str:
    for group, name in env.node_groups.items():

        def active(name: str = name) -> bool:
            status = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)[
                "nodegroup"
            ]["status"]
            if status == "CREATE_FAILED":
                raise StepFailedError(f"{name} is {status}")
            return status == "ACTIVE"

        wait_for(clock, f"{name} ACTIVE", active, NODE_GROUP_WAIT)
        described = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)
        desired = described["nodegroup"]["scalingConfig"]["desiredSize"]
        if desired != sizes[group].desired_size:
            raise StepFailedError(f"{name} is ACTIVE at {desired}, not {sizes[group].desired_size}")
    return "ACTIVE at size: " + ", ".join(env.node_groups.values())


def promote_replica(rds: Any, identifier: str) -> str:
    """Make an RDS read replica a standalone writer; a writer already is one."""
    instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    if not instance.get("ReadReplicaSourceDBInstanceIdentifier"):
        return f"{identifier} is already a standalone writer"
    rds.promote_read_replica(DBInstanceIdentifier=identifier)
    return f"promotion of {identifier} requested"


def verify_writer(rds: Any, identifier: str, clock: Clock) -> str:
    def available() -> bool:
        status = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0][
            "DBInstanceStatus"
        ]
        if status in DB_TERMINAL_STATUSES:
            raise StepFailedError(f"{identifier} is {status}")
        return status == "available"

    wait_for(clock, f"{identifier} available", available, DATABASE_WAIT)
    instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    if source:
        raise StepFailedError(f"{identifier} is available but still a replica of {source}")
    return f"{identifier} is available and writable"


def _cluster_arn(rds: Any, identifier: str) -> str:
    return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["DBClusterArn"]


def move_global_writer(rds: Any, global_cluster: str, identifier: str, planned: bool) -> str:
    """Make `identifier` the global cluster's writer: a switchover (no data loss) for a planned
    drill, a failover (allowing the loss of what had not replicated) otherwise."""
    arn = _cluster_arn(rds, identifier)
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


def verify_global_writer(rds: Any, global_cluster: str, identifier: str, clock: Clock) -> str:
    arn = _cluster_arn(rds, identifier)

    def writes() -> bool:
        members = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)[
            "GlobalClusters"
        ][0]["GlobalClusterMembers"]
        return any(m["DBClusterArn"] == arn and m.get("IsWriter") for m in members)

    wait_for(clock, f"{identifier} the writer of {global_cluster}", writes, GLOBAL_SWITCH_WAIT)
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
    """Healthy when most Route 53 checkers report success, as Route 53 itself decides."""
    observations = route53.get_health_check_status(HealthCheckId=health_check_id)[
        "HealthCheckObservations"
    ]
    successes = sum(1 for o in observations if o["StatusReport"]["Status"].startswith("Success"))
    return bool(observations) and successes * 2 > len(observations)


def verify_healthy(route53: Any, health_check_id: str) -> str:
    if not health_check_healthy(route53, health_check_id):
        raise StepFailedError(f"health check {health_check_id} is not healthy")
    return f"health check {health_check_id} is healthy"
