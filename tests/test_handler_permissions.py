"""The failover Lambda's IAM policy against every call the handler makes: the handler runs
failover, maintenance and failback on the simulation, for each data tier, and each call it
made (action, resource ARN, region) must be allowed by the policy the dr program synthesizes
for the Lambda's role. A call the policy does not allow would be AccessDenied on AWS."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from drill.simulation import topology
from drill.simulation.run import Simulation
from drill.simulation.scenario import parse
from tests.conftest import listed

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "us-west-2")


def render(tier: str) -> tuple[topology.Topology, dict[str, Any]]:
    primary, dr = topology.render_graphs(tier)
    policy = json.loads(dr.one("aws:iam/rolePolicy:RolePolicy", "dr-role").inputs["policy"])
    return topology.from_graphs(primary, dr), policy


def resource(service: str, region: str, params: dict[str, Any]) -> list[str]:
    """The ARNs IAM authorizes a call against (the service authorization reference's
    resource types for each action); `*` for an action without one."""
    rds = f"arn:aws:rds:{region}:{ACCOUNT}"
    arns = {
        "eks": lambda: [
            f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{params['name']}"
            if "name" in params
            else f"arn:aws:eks:{region}:{ACCOUNT}:nodegroup/{params['clusterName']}/"
            f"{params['nodegroupName']}/00000000-0000-0000-0000-000000000000"
        ],
        "route53": lambda: [f"arn:aws:route53:::healthcheck/{params['HealthCheckId']}"],
        "route53-recovery-cluster": lambda: [
            params["RoutingControlArn"] if "RoutingControlArn" in params else e["RoutingControlArn"]
            for e in params.get("UpdateRoutingControlStateEntries", [{}])
        ],
        "dynamodb": lambda: [f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{params['TableName']}"],
        "sns": lambda: [params["TopicArn"]],
        # GetBucketReplication is authorized as s3:GetReplicationConfiguration on the bucket
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketReplication.html).
        "s3": lambda: [f"arn:aws:s3:::{params['Bucket']}"],
        # S3 Batch Operations (Service Authorization Reference, list_amazons3): DescribeJob on
        # the `job` resource type; CreateJob and ListJobs have none.
        "s3control": lambda: [
            f"arn:aws:s3:{region}:{params['AccountId']}:job/{params['JobId']}"
            if "JobId" in params
            else "*"
        ],
    }
    if service in arns:
        return arns[service]()
    if service != "rds":
        return ["*"]
    if "DBParameterGroupName" in params:
        return [f"{rds}:pg:{params['DBParameterGroupName']}"]
    if "DBInstanceIdentifier" in params:
        return [f"{rds}:db:{params['DBInstanceIdentifier']}"]
    if "DBClusterIdentifier" in params:
        return [f"{rds}:cluster:{params['DBClusterIdentifier']}"]
    target = [params["TargetDbClusterIdentifier"]] if "TargetDbClusterIdentifier" in params else []
    return [f"arn:aws:rds::{ACCOUNT}:global-cluster:{params['GlobalClusterIdentifier']}", *target]


# Calls whose IAM action is not `<service>:<operation>`.
ACTIONS = {
    "s3:GetBucketReplication": "s3:GetReplicationConfiguration",
    "s3control:CreateJob": "s3:CreateJob",
    "s3control:ListJobs": "s3:ListJobs",
    "s3control:DescribeJob": "s3:DescribeJob",
}


def authorizations(
    service: str, operation: str, region: str, params: dict[str, Any]
) -> list[tuple[str, str]]:
    """(action, ARN) pairs IAM checks for one call. CreateJob also needs iam:PassRole on the
    job's role (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
    batch-ops-iam-role-policies.html)."""
    call = f"{service}:{operation}"
    pairs = [(ACTIONS.get(call, call), arn) for arn in resource(service, region, params)]
    if call == "s3control:CreateJob":
        pairs.append(("iam:PassRole", params["RoleArn"]))
    return pairs


def allowed(policy: dict[str, Any], action: str, arn: str) -> bool:
    for statement in policy["Statement"]:
        matches = any(fnmatch.fnmatchcase(arn, p) for p in listed(statement["Resource"]))
        if statement["Effect"] == "Allow" and action in listed(statement["Action"]) and matches:
            return True
    return False


@pytest.mark.parametrize("tier", ["rds", "aurora"])
def test_every_call_the_handler_makes_is_allowed_by_its_role(tier: str) -> None:
    topo, policy = render(tier)
    actions: list[dict[str, Any]] = [{"at": 3300, "invoke": "failback", "reason": "test"}]
    if tier == "rds":
        actions.insert(0, {"at": 1200, "operator": "rebuild-primary"})
    scenario = parse(
        {
            "name": f"permissions-{tier}",
            "database": tier,
            "mode": "automatic",
            "duration": 3900,
            "faults": [
                {"at": 120, "kind": "region-outage", "region": "us-east-1"},
                {"at": 1020, "kind": "region-recovery", "region": "us-east-1"},
            ],
            "actions": actions,
        },
        REGIONS,
    )
    simulation = Simulation(scenario, topo)
    result = simulation.run()
    assert {r.action for r in result.runs} >= {"probe", "failover", "failback"}
    made = {
        pair
        for service, operation, region, params in simulation.bridge.calls
        for pair in authorizations(service, operation, region, params)
    }
    denied = sorted(call for call in made if not allowed(policy, *call))
    assert not denied
    # The check refuses what the role was not given.
    dr_db = f"arn:aws:rds:us-west-2:{ACCOUNT}:db:{topo.dr.db_identifier}"
    assert not allowed(policy, "rds:DeleteDBInstance", dr_db)
    # The paths ran for real: promotion or global failover, fencing, detection, traffic,
    # the Kubernetes API's endpoint.
    operations = {action for action, _ in made}
    assert {
        "cloudwatch:GetMetricData",
        "eks:DescribeCluster",
        "route53-recovery-cluster:UpdateRoutingControlStates",
    } <= operations
    # Failback replicated dr's objects: the rule read, one job created and watched, the
    # job's role passed.
    assert {
        "s3:GetReplicationConfiguration",
        "s3:CreateJob",
        "s3:DescribeJob",
        "iam:PassRole",
    } <= operations
    if tier == "rds":
        assert {"rds:PromoteReadReplica", "rds:ModifyDBParameterGroup"} <= operations
    else:
        assert {"rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"} <= operations
