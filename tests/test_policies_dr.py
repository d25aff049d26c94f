"""Disaster-recovery policies, case by case, and the levels they run at."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2

from tests.conftest import StackGraph
from tests.test_policies import UNKNOWN, Case, Pack, R, case, check

REFERENCE = "pulumi:pulumi:StackReference"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
INSTANCE = "aws:rds/instance:Instance"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
FUNCTION = "aws:lambda/function:Function"
PRIMARY_OUTPUTS = {
    "tableArns": {"orders": "arn:orders"},
    "databaseArn": "arn:db",
    "recordsBucketName": "records",
}


def reference(outputs: dict[str, Any]) -> R:
    return R(REFERENCE, {"name": "org/trading/primary", "outputs": outputs}, "primary")


REPLICA_DB = R(INSTANCE, {"replicateSourceDb": "arn:db"}, "db")
REPLICA_TABLE = R(TABLE_REPLICA, {"globalTableArn": "arn:orders"}, "orders")
BUCKET_REPLICATION = R(REPLICATION, {"bucket": "records"}, "records")


def health_check(**props: Any) -> R:
    return R(HEALTH_CHECK, props, "hc")


def failover_record(check: R, kind: str = "PRIMARY", **props: Any) -> R:
    return R(
        RECORD,
        {"failoverRoutingPolicies": [{"type": kind}], "healthCheckId": "hc-id", **props},
        "api",
        {"healthCheckId": [check]},
    )


FAILOVER_FUNCTION = R(
    FUNCTION,
    {
        "environment": {
            "variables": {
                "NODE_GROUPS": json.dumps({"trading": "dr-trading"}),
                "PILOT_LIGHT_PROFILE": json.dumps({"trading": {"desiredSize": 1}}),
            }
        }
    },
    "failover",
)


def node_group(scaling: Any = None, ignore: tuple[str, ...] = ("scalingConfig",)) -> R:
    props: dict[str, Any] = {"nodeGroupName": "dr-trading"}
    if scaling is not None:
        props["scalingConfig"] = scaling
    return R(NODE_GROUP, props, "ng", ignore_changes=ignore)


CASES = [
    case(
        "dr-data-replicated",
        "compliant",
        [reference(PRIMARY_OUTPUTS), REPLICA_TABLE, REPLICA_DB, BUCKET_REPLICATION],
    ),
    case(
        "dr-data-replicated",
        "non-compliant",
        [reference(PRIMARY_OUTPUTS), REPLICA_DB],
        "table orders of org/trading/primary has no replica in this stack",
        "bucket records of org/trading/primary is not replicated by this stack",
    ),
    case(
        "dr-data-replicated",
        "missing data outputs (not a stack that replicates a primary)",
        reference({"vpcId": "vpc-1"}),
    ),
    case(
        "dr-data-replicated",
        "unknown replica",
        [
            reference(PRIMARY_OUTPUTS),
            R(TABLE_REPLICA, {"globalTableArn": UNKNOWN}, "orders"),
            REPLICA_DB,
            BUCKET_REPLICATION,
        ],
    ),
    case(
        "dr-failover-records",
        "compliant",
        [
            failover_record(health_check()),
            R(RECORD, {"failoverRoutingPolicies": [{"type": "SECONDARY"}]}, "dr"),
        ],
    ),
    case(
        "dr-failover-records",
        "non-compliant",
        failover_record(health_check(), "WEIGHTED"),
        "record api has failover type WEIGHTED",
    ),
    case(
        "dr-failover-records",
        "missing health check",
        R(RECORD, {"failoverRoutingPolicies": [{"type": "PRIMARY"}]}, "api"),
        "PRIMARY record api has no health check: it could never fail over",
    ),
    case(
        "dr-failover-records",
        "unknown health check",
        R(
            RECORD,
            {"failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": UNKNOWN},
            "api",
        ),
    ),
    case(
        "dr-detection-fits-rto",
        "compliant",
        failover_record(health_check(requestInterval=10, failureThreshold=3), ttl=60),
    ),
    case(
        "dr-detection-fits-rto",
        "non-compliant",
        failover_record(health_check(requestInterval=30, failureThreshold=10), ttl=300),
        "record api: detection 30 s x 10 + TTL 300 s + scale-up 600 s = 1200 s exceeds the RTO "
        "of 900 s",
    ),
    case(
        "dr-detection-fits-rto",
        "missing interval, threshold and TTL (Route 53's 30 s x 3, an alias's 60 s)",
        failover_record(health_check()),
        "record api: detection 30 s x 3 + TTL 60 s + scale-up 600 s = 750 s exceeds the RTO of "
        "700 s",
        config={"rtoSeconds": 700},
    ),
    case(
        "dr-detection-fits-rto",
        "unknown TTL",
        failover_record(health_check(requestInterval=30, failureThreshold=10), ttl=UNKNOWN),
    ),
    case(
        "dr-node-groups-at-pilot-light",
        "compliant",
        [FAILOVER_FUNCTION, node_group({"desiredSize": 1})],
    ),
    case(
        "dr-node-groups-at-pilot-light",
        "non-compliant",
        [FAILOVER_FUNCTION, node_group({"desiredSize": 6})],
        "dr node group dr-trading declares 6 nodes, more than the pilot light's 1",
    ),
    case(
        "dr-node-groups-at-pilot-light",
        "missing size",
        [FAILOVER_FUNCTION, node_group()],
        "dr node group dr-trading declares no size; the pilot light's is 1",
    ),
    case(
        "dr-node-groups-at-pilot-light",
        "missing pilot-light size in the handler's profile",
        [
            R(
                FUNCTION,
                {
                    "environment": {
                        "variables": {
                            "NODE_GROUPS": json.dumps({"trading": "dr-trading"}),
                            "PILOT_LIGHT_PROFILE": json.dumps({"trading": {}}),
                        }
                    }
                },
                "failover",
            ),
            node_group({"desiredSize": 6}),
        ],
        "the failover handler has no pilot-light size for node group dr-trading",
    ),
    case(
        "dr-node-groups-at-pilot-light",
        "unknown size",
        [FAILOVER_FUNCTION, node_group({"desiredSize": UNKNOWN})],
    ),
    case(
        "eks-node-groups-ignore-scaling",
        "compliant",
        [FAILOVER_FUNCTION, node_group({"desiredSize": 1})],
    ),
    case(
        "eks-node-groups-ignore-scaling",
        "compliant: a group the handler does not resize ignores its desired size",
        R(
            NODE_GROUP,
            {"nodeGroupName": "other"},
            "ng",
            ignore_changes=("scalingConfig.desiredSize",),
        ),
    ),
    case(
        "eks-node-groups-ignore-scaling",
        "non-compliant: a group the handler resizes keeps its min and max",
        [FAILOVER_FUNCTION, node_group({"desiredSize": 1}, ("scalingConfig.desiredSize",))],
        "node group dr-trading is resized by the failover handler but `pulumi up` would reset "
        "its min and max: ignore changes to the whole scalingConfig",
    ),
    case(
        "eks-node-groups-ignore-scaling",
        "missing ignoreChanges",
        node_group({"desiredSize": 1}, ()),
        "node group does not ignore scaling changes: `pulumi up` would undo a failover",
    ),
    case(
        "eks-node-groups-ignore-scaling",
        "unknown name: it matters only to a handler that resizes groups, and there is none",
        R(NODE_GROUP, {"nodeGroupName": UNKNOWN}, "ng"),
        "node group does not ignore scaling changes: `pulumi up` would undo a failover",
    ),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_dr_policy(spec: Case) -> None:
    check(spec)


def test_pilot_light_sizing_is_advisory_unless_configured(dr: StackGraph) -> None:
    """After a failover and `pulumi refresh -s dr`, dr runs at full size by design: a mandatory
    level would block every `pulumi up -s dr` while dr serves. The dr program's own failover
    function names the group."""
    function = dr.one("aws:lambda/function:Function", "dr-handler")
    scaled_up = R(
        NODE_GROUP,
        {"nodeGroupName": "trading-dr-trading", "scalingConfig": {"desiredSize": 6}},
        "ng",
        ignore_changes=("scalingConfig",),
    )
    handler = R(FUNCTION, {"environment": function.inputs["environment"]}, "failover")

    def levels(pack: Pack) -> list[int]:
        return [
            d.enforcementLevel
            for d in pack.diagnostics(handler, scaled_up)
            if d.policyName == "dr-node-groups-at-pilot-light"
        ]

    assert levels(Pack()) == [analyzer_pb2.EnforcementLevel.Value("ADVISORY")]
    strict = Pack({"dr-node-groups-at-pilot-light": {"enforcementLevel": "mandatory"}})
    assert levels(strict) == [analyzer_pb2.EnforcementLevel.Value("MANDATORY")]
