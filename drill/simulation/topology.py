"""What the simulated world is built from: both stacks as the program declares them (names,
sizes, health check settings, the gateway's autoscaler, the failover Lambda's environment,
timeout, retries and schedule), read from the resources a deployment or a mocked run holds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc

from components.write_gate import CONTAINER as GATE_CONTAINER
from gate import write_gate as gate
from handlers.contract import Environment, NodeGroupSize, RoutingControls
from outputs import StackOutput
from testing.harness import reference_name, run_program, stack_config

# The node group the order gateway's pods are pinned to (components/gateway.py).
GATEWAY_NODE_GROUP = "trading"
# The order gateway's Deployment and its write-gate sidecar (components/write_gate.py).
GATEWAY_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
TIERS = {"rds": "postgres", "aurora": "aurora-postgresql"}
# What `trading:database` becomes for the Aurora tier (an engine version Aurora accepts).
# Each data tier as `trading:database` fields over the stack files' own (which name Aurora).
TIER_DATABASE = {
    "aurora": {"engine": "aurora-postgresql", "engineVersion": "16.6"},
    "rds": {"engine": "postgres", "engineVersion": "16", "allocatedStorageGb": 200},
}


class TopologyError(ValueError):
    """The stacks lack something the simulation needs; the message names it."""


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class HealthCheck:
    id: str
    interval_seconds: float
    failure_threshold: int


@dataclass(frozen=True)
class WriteGate:
    """The gateway pods' write gate as deployed: the routing control it reads, how often, and
    how old a read may be before the gate closes."""

    control_arn: str
    poll_seconds: float
    fresh_seconds: float


@dataclass(frozen=True)
class Region:
    name: str
    cluster_name: str
    node_groups: Mapping[str, str]
    sizes: Mapping[str, NodeGroupSize]
    gateway_min: int
    gateway_max: int
    gateway_target_utilization: float
    # The gateway's PodDisruptionBudget: how many pods an eviction may take at once.
    gateway_max_unavailable: int
    db_identifier: str
    # The region's HTTPS health check; None when routing controls steer traffic.
    health_check: HealthCheck | None
    # The gateway pods' write gate; None where the stacks deploy none (health check inversion).
    write_gate: WriteGate | None = None


@dataclass(frozen=True)
class Topology:
    primary: Region
    dr: Region
    engine: str
    global_cluster: str
    full_gateway_replicas: int
    lambda_variables: Mapping[str, str]
    lambda_timeout_seconds: float
    lambda_retry_attempts: int
    probe_interval_seconds: float
    rto_seconds: float
    rpo_seconds: float
    routing_controls: RoutingControls | None = None


def _one(resources: Iterable[Resource], type_: str, stack: str) -> Resource:
    found = [r for r in resources if r.type == type_]
    if len(found) != 1:
        raise TopologyError(f"stack {stack}: expected one {type_}, found {len(found)}")
    return found[0]


def _sizes(profile: Mapping[str, Any]) -> dict[str, NodeGroupSize]:
    return {
        group: NodeGroupSize(s["minSize"], s["desiredSize"], s["maxSize"])
        for group, s in profile["nodeGroups"].items()
    }


def _region(
    stack: str, exports: Mapping[str, Any], resources: list[Resource], health_check_id: str
) -> Region:
    hpa = _one(resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", stack).inputs
    https = [
        r
        for r in resources
        if r.type == "aws:route53/healthCheck:HealthCheck" and r.inputs.get("type") == "HTTPS"
    ]
    check = None
    if health_check_id:
        found = _one(https, "aws:route53/healthCheck:HealthCheck", stack)
        check = HealthCheck(
            health_check_id,
            float(found.inputs["requestInterval"]),
            int(found.inputs["failureThreshold"]),
        )
    budget = _one(resources, "kubernetes:policy/v1:PodDisruptionBudget", stack).inputs
    profile = exports[StackOutput.CAPACITY_PROFILES][exports[StackOutput.ACTIVE_CAPACITY_PROFILE]]
    (metric,) = hpa["spec"]["metrics"]
    return Region(
        name=exports[StackOutput.REGION],
        cluster_name=exports[StackOutput.CLUSTER_NAME],
        node_groups=dict(exports[StackOutput.NODE_GROUP_NAMES]),
        sizes=_sizes(profile),
        gateway_min=int(hpa["spec"]["minReplicas"]),
        gateway_max=int(hpa["spec"]["maxReplicas"]),
        gateway_target_utilization=metric["resource"]["target"]["averageUtilization"] / 100,
        gateway_max_unavailable=int(budget["spec"]["maxUnavailable"]),
        db_identifier=exports[StackOutput.DATABASE_IDENTIFIER],
        health_check=check,
        write_gate=_write_gate(stack, resources),
    )


def _write_gate(stack: str, resources: list[Resource]) -> WriteGate | None:
    gateway = _one(resources, GATEWAY_DEPLOYMENT, stack).inputs
    containers = gateway["spec"]["template"]["spec"]["containers"]
    sidecar = next((c for c in containers if c["name"] == GATE_CONTAINER), None)
    if sidecar is None:
        return None
    env = {e["name"]: e["value"] for e in sidecar.get("env", [])}
    return WriteGate(
        control_arn=env[gate.CONTROL_ARN],
        poll_seconds=float(env[gate.POLL_SECONDS]),
        fresh_seconds=float(env[gate.FRESH_SECONDS]),
    )


def _rate_seconds(expression: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression)
    if not match:
        raise TopologyError(f"the probe schedule {expression!r} is not a rate() this reads")
    return int(match[1]) * (60 if match[2].startswith("minute") else 3600)


def build(
    primary_exports: Mapping[str, Any],
    primary_resources: list[Resource],
    dr_exports: Mapping[str, Any],
    dr_resources: list[Resource],
) -> Topology:
    function = next(
        (
            r
            for r in dr_resources
            if r.type == "aws:lambda/function:Function"
            and Environment.NODE_GROUPS in r.inputs.get("environment", {}).get("variables", {})
        ),
        None,
    )
    if function is None:
        raise TopologyError(
            f"stack dr: no failover Lambda (a function with {Environment.NODE_GROUPS})"
        )
    variables = {k: str(v) for k, v in function.inputs["environment"]["variables"].items()}
    retries = _one(
        [r for r in dr_resources if r.inputs.get("functionName") == function.inputs.get("name")],
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "dr",
    ).inputs
    schedules = [
        r
        for r in dr_resources
        if r.type == "aws:cloudwatch/eventRule:EventRule" and r.inputs.get("scheduleExpression")
    ]
    schedule = _one(schedules, "aws:cloudwatch/eventRule:EventRule", "dr").inputs
    full = dr_exports[StackOutput.CAPACITY_PROFILES]["full"]
    env = Environment.from_env({**variables, Environment.REGION: dr_exports[StackOutput.REGION]})
    return Topology(
        primary=_region("primary", primary_exports, primary_resources, env.primary_health_check_id),
        dr=_region("dr", dr_exports, dr_resources, env.dr_health_check_id),
        engine=env.db_engine,
        global_cluster=env.global_cluster_identifier,
        full_gateway_replicas=int(full["gateway"]["replicas"]),
        lambda_variables=variables,
        lambda_timeout_seconds=float(function.inputs["timeout"]),
        lambda_retry_attempts=int(retries.get("maximumRetryAttempts", 2)),
        probe_interval_seconds=_rate_seconds(schedule["scheduleExpression"]),
        rto_seconds=float(dr_exports[StackOutput.OBJECTIVES]["rtoSeconds"]),
        rpo_seconds=float(dr_exports[StackOutput.OBJECTIVES]["rpoSeconds"]),
        routing_controls=env.routing_controls,
    )


def from_graphs(primary: Any, dr: Any) -> Topology:
    """From the recorded graphs of a mocked run (testing/harness.py)."""

    def resources(graph: Any) -> list[Resource]:
        return [Resource(r.type, r.name, r.inputs) for r in graph.resources]

    return build(primary.exports, resources(primary), dr.exports, resources(dr))


def from_deployments(
    primary_exports: Mapping[str, Any],
    primary_deployment: Mapping[str, Any],
    dr_exports: Mapping[str, Any],
    dr_deployment: Mapping[str, Any],
) -> Topology:
    """From two exported deployments (`pulumi stack export`), as the engine recorded them."""

    def resources(deployment: Mapping[str, Any]) -> list[Resource]:
        return [
            Resource(r["type"], r["urn"].rsplit("::", 1)[-1], _plain(r.get("inputs", {})))
            for r in deployment.get("resources", [])
        ]

    return build(
        primary_exports, resources(primary_deployment), dr_exports, resources(dr_deployment)
    )


def _plain(value: Any) -> Any:
    """Secrets in an exported deployment arrive as a JSON-encoded `plaintext`."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return json.loads(value["plaintext"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def tier(topology: Topology) -> str:
    return next(name for name, engine in TIERS.items() if engine == topology.engine)


def stack_regions() -> tuple[str, str]:
    """The two stacks' regions, from their stack files (no program run)."""
    return (stack_config("primary")["trading:region"], stack_config("dr")["trading:region"])


def render_graphs(database: str, traffic_control: str | None = None) -> tuple[Any, Any]:
    """Both stacks' graphs under Pulumi mocks with the data tier `database` (rds | aurora),
    and `trading:dns.trafficControl` if given."""
    overrides: dict[str, Any] = {}
    dr_overrides: dict[str, Any] = {}
    if traffic_control is not None:
        for stack, chosen in (("primary", overrides), ("dr", dr_overrides)):
            dns = stack_config(stack)["trading:dns"]
            chosen["trading:dns"] = {**dns, "trafficControl": traffic_control}
    for stack, chosen in (("primary", overrides), ("dr", dr_overrides)):
        chosen["trading:database"] = {
            **stack_config(stack)["trading:database"],
            **TIER_DATABASE[database],
        }
    primary = run_program("primary", overrides)
    dr = run_program("dr", dr_overrides, references={reference_name("primary"): primary})
    return primary, dr


def render(database: str, traffic_control: str | None = None) -> Topology:
    """Both stacks rendered under Pulumi mocks with the data tier `database` (rds | aurora)."""
    return from_graphs(*render_graphs(database, traffic_control))
