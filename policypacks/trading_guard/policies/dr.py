"""Disaster recovery: what the dr stack replicates, how DNS fails over, and how the failover
handler's node groups are sized.

The failover function's environment (NODE_GROUPS, PILOT_LIGHT_PROFILE) names the node groups it
resizes and the sizes it returns them to: the policies read it as the handler does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .common import (
    ADVISORY,
    Settings,
    Stack,
    amount,
    depends_on,
    dig,
    document,
    each,
    items,
    mapping,
    number,
    peek,
    stack_policy,
    text,
)

RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
FUNCTION = "aws:lambda/function:Function"
# Route 53 serves an alias record with the target's TTL, 60 s for the AWS endpoints used here.
ALIAS_TTL_SECONDS = 60
# Route 53's defaults for a health check.
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_FAILURE_THRESHOLD = 3


def environment(function: PolicyResource) -> Mapping[str, Any]:
    return mapping(dig(function.props, "environment", "variables"))


def failover_environments(stack: Stack) -> list[Mapping[str, Any]]:
    """The environments of the functions that resize node groups on failover."""
    return [env for f in stack.of_type(FUNCTION) if "NODE_GROUPS" in list(env := environment(f))]


def _replicated(reference: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    """In a stack that reads a primary's data outputs, each of those stores has a copy here."""
    outputs = mapping(reference.props.get("outputs"))
    if "tableArns" not in list(outputs):
        return
    origin = text(peek(reference.props, "name")) or reference.name

    def tables() -> Iterable[str]:
        replicas = {
            text(r.props.get("globalTableArn"))
            for r in stack.of_type("aws:dynamodb/tableReplica:TableReplica")
        }
        arns = mapping(outputs.get("tableArns"))

        def judge(table: str) -> Iterable[str]:
            if text(arns.get(table)) not in replicas:
                yield f"table {table} of {origin} has no replica in this stack"

        yield from each(list(arns), judge)

    def database() -> Iterable[str]:
        if not database_copied(stack, outputs):
            yield f"database {text(outputs.get('databaseArn'))} of {origin} has no replica here"

    def bucket() -> Iterable[str]:
        name = text(outputs.get("recordsBucketName"))
        if name and not stack.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
            yield f"bucket {name} of {origin} is not replicated by this stack"

    yield from each((tables, database, bucket), lambda judge: judge())


def database_copied(stack: Stack, outputs: Mapping[str, Any]) -> bool:
    """A replica of the referenced writer, a secondary in its global cluster, or (failback
    direction) this stack's own writer, which the referenced stack then replicates."""
    instances = stack.of_type("aws:rds/instance:Instance")
    sources = {text(i.props.get("replicateSourceDb")) for i in instances}
    global_clusters = {
        text(c.props.get("globalClusterIdentifier"))
        for c in stack.of_type("aws:rds/cluster:Cluster")
    }
    global_cluster = text(outputs.get("globalClusterIdentifier"))
    return (
        text(outputs.get("databaseArn")) in sources
        or (global_cluster is not None and global_cluster in global_clusters)
        or any(not text(i.props.get("replicateSourceDb")) for i in instances)
    )


def failover_types(record: PolicyResource) -> set[str]:
    return {str(mapping(p).get("type")) for p in items(record.props.get("failoverRoutingPolicies"))}


def _failover_records(record: PolicyResource, _: Stack, __: Settings) -> Iterable[str]:
    kinds = failover_types(record)
    if not kinds:
        return
    if kinds - {"PRIMARY", "SECONDARY"}:
        yield f"record {record.name} has failover type {', '.join(sorted(kinds))}"
    if "PRIMARY" in kinds and not text(record.props.get("healthCheckId")):
        yield f"PRIMARY record {record.name} has no health check: it could never fail over"


def _detection_budget(record: PolicyResource, stack: Stack, config: Settings) -> Iterable[str]:
    # A failover record, whichever its type.
    if not items(record.props.get("failoverRoutingPolicies")):
        return
    rto = amount(config["rtoSeconds"], 0)
    allowance = amount(config["scaleUpAllowanceSeconds"], 0)
    ttl = amount(record.props.get("ttl"), ALIAS_TTL_SECONDS)

    def judge(check: PolicyResource) -> Iterable[str]:
        if not depends_on(record, "healthCheckId", check):
            return
        interval = amount(check.props.get("requestInterval"), DEFAULT_INTERVAL_SECONDS)
        threshold = amount(check.props.get("failureThreshold"), DEFAULT_FAILURE_THRESHOLD)
        total = interval * threshold + ttl + allowance
        if total > rto:
            yield (
                f"record {record.name}: detection {interval:g} s x {threshold:g} + TTL "
                f"{ttl:g} s + scale-up {allowance:g} s = {total:g} s exceeds the RTO of "
                f"{rto:g} s"
            )

    yield from each(stack.of_type(HEALTH_CHECK), judge)


def _pilot_light(group: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    """A dr node group is declared at (or below) the size the failover handler returns it to."""
    name = text(group.props.get("nodeGroupName"))

    def judge(env: Mapping[str, Any]) -> Iterable[str]:
        if "PILOT_LIGHT_PROFILE" not in list(env):
            return
        pilot = document(env.get("PILOT_LIGHT_PROFILE"))
        for role, group_name in document(env.get("NODE_GROUPS")).items():
            if text(group_name) != name:
                continue
            ceiling = number(dig(pilot, role, "desiredSize"))
            if ceiling is None:
                yield f"the failover handler has no pilot-light size for node group {name}"
                continue
            desired = number(dig(group.props, "scalingConfig", "desiredSize"))
            if desired is None:
                yield f"dr node group {name} declares no size; the pilot light's is {ceiling:g}"
            elif desired > ceiling:
                yield (
                    f"dr node group {name} declares {desired:g} nodes, more than the pilot "
                    f"light's {ceiling:g}"
                )

    yield from each(failover_environments(stack), judge)


def _ignores_scaling(group: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    """The desired size belongs to the autoscaler; a group the failover handler resizes keeps
    its whole scaling config, or `pulumi up` after a failover restores the pilot light's min
    and max."""
    resized = {
        text(name)
        for env in failover_environments(stack)
        for name in document(env.get("NODE_GROUPS")).values()
    }
    ignored = set(group.opts.ignore_changes or [])
    # The group's name matters only when the handler resizes some group.
    name = text(group.props.get("nodeGroupName")) if resized else None
    if name in resized and "scalingConfig" not in ignored:
        yield (
            f"node group {name} is resized by the failover handler but `pulumi up` would "
            "reset its min and max: ignore changes to the whole scalingConfig"
        )
    elif not ignored & {"scalingConfig", "scalingConfig.desiredSize"}:
        yield "node group does not ignore scaling changes: `pulumi up` would undo a failover"


PILOT_LIGHT_PAGE = (
    "https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/"
    "disaster-recovery-options-in-the-cloud.html"
)

POLICIES = [
    stack_policy(
        "dr-data-replicated",
        "In a stack that replicates a primary (its StackReference exports tables, a database "
        "and a records bucket), each of those stores has a replica: a pilot light keeps the "
        f"data live in the recovery region ({PILOT_LIGHT_PAGE}).",
        ("pulumi:pulumi:StackReference",),
        _replicated,
        severity=Severity.CRITICAL,
        remediation="Use components.data_replication.DataReplication in the dr stack.",
    ),
    stack_policy(
        "dr-failover-records",
        "Failover DNS records are PRIMARY (with a health check, or Route 53 never fails over) "
        "or SECONDARY "
        "(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-failover.html).",
        (RECORD,),
        _failover_records,
        severity=Severity.CRITICAL,
        remediation="Give the PRIMARY failover record the primary region's health check.",
    ),
    stack_policy(
        "dr-detection-fits-rto",
        "Worst-case detection (request interval x failure threshold, Route 53 defaults 30 s x "
        "3) plus the record's TTL plus the scale-up allowance fits the RTO "
        "(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).",
        (RECORD,),
        _detection_budget,
        severity=Severity.HIGH,
        remediation="Use a 10 s interval, a lower failure threshold or TTL, or raise the RTO.",
        config={
            "rtoSeconds": {"type": "integer", "minimum": 60, "default": 900},
            "scaleUpAllowanceSeconds": {"type": "integer", "minimum": 0, "default": 600},
        },
    ),
    stack_policy(
        "dr-node-groups-at-pilot-light",
        "The dr node groups are declared at (or below) the pilot-light sizes the failover "
        f"handler returns them to ({PILOT_LIGHT_PAGE}). Advisory: after a failover and "
        "`pulumi refresh -s dr`, dr runs at full size by design.",
        (NODE_GROUP,),
        _pilot_light,
        severity=Severity.MEDIUM,
        remediation="Set the dr stack's trading:capacity.activeProfile to pilot-light.",
        enforcement=ADVISORY,
    ),
    stack_policy(
        "eks-node-groups-ignore-scaling",
        "EKS managed node groups ignore scaling changes, so `pulumi up` never undoes a "
        "failover's resize (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/).",
        (NODE_GROUP,),
        _ignores_scaling,
        severity=Severity.HIGH,
        remediation="Set ignore_scaling_changes=True (pulumi-eks), or ignore_changes on "
        "scalingConfig for groups the failover handler resizes.",
    ),
]
