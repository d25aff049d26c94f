"""The failover Lambda's deployment in dr: its network, its access to the dr cluster, its role,
its environment and the triggers an operator uses. The program runs for the dr stack's real
config against the session's primary graph (testing/harness.py)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from pulumi.runtime.sync_await import _sync_await

from components.account import Account
from components.failover import ROUTING_CONTROL, FailoverAutomation, routing_controls
from components.failover_args import FailoverAutomationArgs
from components.failover_cluster_access import FunctionNetwork
from components.failover_policy import handler_policy
from components.gateway import APP, HPA, NAMESPACE
from components.gateway_access import FAILOVER_SCALER_GROUP
from components.lambdas import FAILOVER_SOURCES
from handlers.contract import Environment
from policypacks.trading_guard.policies.iam import is_mutating
from testing.harness import Resource, run_program, stack_config
from testing.invented import ACCOUNT
from tests.conftest import PRIMARY_REFERENCE, StackGraph, listed, postgres
from tests.test_policies import MANDATORY, judged

FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
INVERSION = "health-check-inversion"


@dataclasses.dataclass
class Deployed:
    """A dr run: its graph, and the FailoverAutomation it built (for the component's outputs)."""

    stack: StackGraph
    automation: FailoverAutomation

    def output(self, name: str) -> Any:
        return _sync_await(getattr(self.automation, name).future())


@contextmanager
def wired_like_main(change: Callable[[FailoverAutomationArgs], FailoverAutomationArgs]):
    """Runs the program with the FailoverAutomationArgs __main__.py passes, `change`d; records
    the component."""
    built: list[FailoverAutomation] = []
    automation_init = FailoverAutomation.__init__

    def wired(self: FailoverAutomation, name: str, args: FailoverAutomationArgs, opts=None):
        automation_init(self, name, change(args), opts)
        built.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FailoverAutomation, "__init__", wired)
        yield built


def run_dr(
    primary: StackGraph, change=lambda args: args, overrides: dict[str, Any] | None = None
) -> Deployed:
    with wired_like_main(change) as built:
        graph = run_program("dr", overrides, references={PRIMARY_REFERENCE: primary.graph})
    (automation,) = built
    return Deployed(StackGraph(graph), automation)


def inverting(stack: str) -> dict[str, Any]:
    """The stack's config with traffic switched by health check inversion instead of ARC."""
    return {"trading:dns": stack_config(stack)["trading:dns"] | {"trafficControl": INVERSION}}


@pytest.fixture(scope="module")
def deployed(primary: StackGraph) -> Deployed:
    """dr as its stack file configures it: ARC routing controls, read from the primary."""
    return run_dr(primary)


@pytest.fixture(scope="module")
def inverted() -> Deployed:
    """Both stacks switching traffic by inverting the primary's health check."""
    primary = StackGraph(run_program("primary", inverting("primary")))
    return run_dr(primary, overrides=inverting("dr"))


def function(stack: StackGraph) -> Resource:
    return stack.one(FUNCTION, "dr-handler")


def variables(stack: StackGraph) -> dict[str, str]:
    return function(stack).inputs["environment"]["variables"]


def statements(stack: StackGraph) -> dict[str, dict[str, Any]]:
    policy = json.loads(stack.one(ROLE_POLICY, "dr-role").inputs["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


# -- network -----------------------------------------------------------------------------------


def test_the_function_runs_in_dr_private_subnets_behind_its_own_group(deployed: Deployed) -> None:
    dr = deployed.stack
    group = dr.one("aws:ec2/securityGroup:SecurityGroup", "dr-handler-sg")
    assert group.inputs["vpcId"] == dr.exports["vpcId"]
    assert function(dr).inputs["vpcConfig"] == {
        "subnetIds": dr.exports["privateSubnetIds"],
        "securityGroupIds": ["dr-handler-sg-id"],
    }
    # Out on HTTPS only; nothing in.
    (egress,) = [
        r
        for r in dr.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == "dr-handler-sg-id"
    ]
    assert (egress.inputs["ipProtocol"], egress.inputs["fromPort"], egress.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )
    ingress = dr.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert not [r for r in ingress if r.inputs["securityGroupId"] == "dr-handler-sg-id"]


def test_the_cluster_api_admits_the_function_on_443(deployed: Deployed) -> None:
    dr = deployed.stack
    rule = dr.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "dr-cluster-api-from-handler"
    )
    assert rule.inputs["securityGroupId"] == dr.cluster.outputs["clusterSecurityGroupId"]
    assert rule.inputs["referencedSecurityGroupId"] == "dr-handler-sg-id"
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )
    assert "cidrIpv4" not in rule.inputs


def test_the_role_may_create_interfaces_only_in_those_subnets_with_that_group(
    deployed: Deployed,
) -> None:
    dr = deployed.stack
    by_sid = statements(dr)
    ec2 = f"arn:aws:ec2:us-west-2:{ACCOUNT}"
    create = by_sid["LambdaCreatesInterfacesInItsSubnets"]
    assert create["Action"] == "ec2:CreateNetworkInterface"
    assert sorted(create["Resource"]) == sorted(
        [
            f"{ec2}:network-interface/*",
            f"{ec2}:security-group/dr-handler-sg-id",
            *(f"{ec2}:subnet/{s}" for s in dr.exports["privateSubnetIds"]),
        ]
    )
    # Checked when the function is created, before any interface exists: the region's and
    # account's resource ids, as Lambda documents, and no condition that could not match.
    manage = by_sid["LambdaManagesItsInterfaces"]
    assert manage["Resource"] == f"{ec2}:*/*"
    assert "Condition" not in manage
    # Lambda creates the interfaces with the role as it creates the function.
    role_policy = dr.one(ROLE_POLICY, "dr-role")
    assert role_policy.urn in function(dr).dependencies


def test_main_places_the_function_in_the_vpc(dr: StackGraph) -> None:
    assert function(dr).inputs.get("vpcConfig")


def test_the_function_in_the_vpc_passes_the_policy_pack(
    deployed: Deployed, inverted: Deployed
) -> None:
    """The whole dr stack with the function wired into the VPC, in both traffic modes: no
    mandatory violation, and no advisory beyond those the unwired dr stack already raises."""
    for run in (deployed, inverted):
        found = judged(run.stack.graph)
        assert [(p, m) for p, level, m in found if level == MANDATORY] == []
        assert {p for p, _, _ in found} <= {
            "elb-deletion-protection",
            "s3-bucket-logging-enabled",
            "dr-resources-outside-primary-region",
        }


# -- Kubernetes access -------------------------------------------------------------------------


def test_the_role_enters_the_cluster_in_the_scaler_group_only(deployed: Deployed) -> None:
    dr = deployed.stack
    entry = dr.one("aws:eks/accessEntry:AccessEntry", "dr-cluster-access")
    role = dr.one("aws:iam/role:Role", "dr-role")
    assert entry.inputs == {
        "clusterName": "trading-dr",
        "principalArn": role.outputs["arn"],
        "kubernetesGroups": [FAILOVER_SCALER_GROUP],
        "type": "STANDARD",
    }
    # No EKS access policy (cluster admin or any other) for the function's role.
    associations = dr.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert not [a for a in associations if a.inputs.get("principalArn") == role.outputs["arn"]]
    # Created after the cluster it enters: the name comes through the cluster's outputs.
    assert dr.cluster.urn in entry.property_dependencies["clusterName"]
    assert statements(dr)["ReachDrCluster"] == {
        "Sid": "ReachDrCluster",
        "Effect": "Allow",
        "Action": "eks:DescribeCluster",
        "Resource": f"arn:aws:eks:us-west-2:{ACCOUNT}:cluster/trading-dr",
    }


def test_rbac_grants_the_scaler_group_exactly_what_failover_does(deployed: Deployed) -> None:
    dr = deployed.stack
    role = dr.one(f"{RBAC}:Role", "dr-failover-scaler")
    assert role.inputs["metadata"] == {"name": f"{APP}-failover-scaler", "namespace": NAMESPACE}
    assert role.inputs["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [APP],
            "verbs": ["get"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments/scale"],
            "resourceNames": [APP],
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": ["autoscaling"],
            "resources": ["horizontalpodautoscalers"],
            "resourceNames": [HPA],
            "verbs": ["get", "patch"],
        },
    ]
    node_reader = dr.one(f"{RBAC}:ClusterRole", "dr-failover-node-reader")
    assert node_reader.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}
    ]
    group = {
        "kind": "Group",
        "name": FAILOVER_SCALER_GROUP,
        "apiGroup": "rbac.authorization.k8s.io",
    }
    binding = dr.one(f"{RBAC}:RoleBinding", "dr-failover-scaler")
    assert binding.inputs["metadata"]["namespace"] == NAMESPACE
    assert binding.inputs["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role.inputs["metadata"]["name"],
    }
    cluster_binding = dr.one(f"{RBAC}:ClusterRoleBinding", "dr-failover-node-reader")
    assert cluster_binding.inputs["roleRef"]["name"] == node_reader.inputs["metadata"]["name"]
    # The group is bound twice, to these two roles, and nowhere else.
    bound = [
        b
        for b in [*dr.of_type(f"{RBAC}:RoleBinding"), *dr.of_type(f"{RBAC}:ClusterRoleBinding")]
        if group in b.inputs.get("subjects", [])
    ]
    assert sorted(b.name for b in bound) == ["dr-failover-node-reader", "dr-failover-scaler"]
    assert all(b.inputs["subjects"] == [group] for b in bound)


def test_only_dr_grants_failover_access_and_keeps_the_hpa_bounds_it_sets(
    primary: StackGraph, deployed: Deployed
) -> None:
    dr = deployed.stack
    for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"):
        assert not primary.of_type(f"{RBAC}:{kind}"), kind
    assert not primary.of_type("aws:eks/accessEntry:AccessEntry")
    hpa = dr.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "dr-hpa")
    assert hpa.inputs["metadata"]["name"] == HPA
    assert sorted(hpa.ignore_changes) == ["spec.maxReplicas", "spec.minReplicas"]
    assert dr.one("kubernetes:apps/v1:Deployment", "dr-deployment").ignore_changes == [
        "spec.replicas"
    ]
    primary_hpa = primary.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "primary-hpa")
    assert primary_hpa.ignore_changes == []


# -- code and logs -----------------------------------------------------------------------------


def test_the_function_logs_json_to_its_encrypted_group_from_the_listed_sources(
    deployed: Deployed,
) -> None:
    """Lambda's native JSON records (handlers/telemetry.py) into the group the component keeps
    KMS-encrypted with the stack's retention; the code is the explicit file list only."""
    group = deployed.stack.one("aws:cloudwatch/logGroup:LogGroup", "dr-logs")
    assert group.inputs["name"] == "/aws/lambda/trading-dr-failover"
    assert function(deployed.stack).inputs["loggingConfig"] == {
        "logFormat": "JSON",
        "applicationLogLevel": "INFO",
        "systemLogLevel": "INFO",
        "logGroup": group.inputs["name"],
    }
    logs_key = deployed.stack.one("aws:kms/key:Key", "trading-dr-logs").outputs["arn"]
    assert group.inputs["kmsKeyId"] == logs_key
    assert group.inputs["retentionInDays"] == stack_config("dr")["trading:logRetentionDays"]
    assert sorted(function(deployed.stack).inputs["code"].assets) == sorted(FAILOVER_SOURCES)


# -- the role ----------------------------------------------------------------------------------


def test_postgres_writers_are_fenced_through_their_parameter_groups(
    rds_primary: StackGraph,
) -> None:
    by_sid = statements(run_dr(rds_primary, overrides=postgres("dr")).stack)
    assert by_sid["FenceWriters"]["Action"] == [
        "rds:DescribeDBParameters",
        "rds:ModifyDBParameterGroup",
    ]
    assert by_sid["FenceWriters"]["Resource"] == [
        f"arn:aws:rds:us-west-2:{ACCOUNT}:pg:trading-dr-db",
        f"arn:aws:rds:us-east-1:{ACCOUNT}:pg:trading-primary-db",
    ]
    actions = {a for s in by_sid.values() for a in listed(s["Action"])}
    assert "rds:StopDBInstance" not in actions


def test_an_aurora_global_database_is_fenced_by_aurora_itself(deployed: Deployed) -> None:
    """The stack files' tier: a global switchover or failover demotes the old writer (Aurora
    User Guide, "Using switchover or failover in an Amazon Aurora global database"), so the
    role has no parameter-group fence, and may switch only this global cluster."""
    by_sid = statements(deployed.stack)
    assert "FenceWriters" not in by_sid
    actions = {a for s in by_sid.values() for a in listed(s["Action"])}
    assert {"rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"} <= actions
    assert not {"rds:ModifyDBParameterGroup", "rds:PromoteReadReplica"} & actions
    (switch,) = [s for s in by_sid.values() if "rds:FailoverGlobalCluster" in listed(s["Action"])]
    assert f"arn:aws:rds::{ACCOUNT}:global-cluster:trading-global" in listed(switch["Resource"])


def test_routing_controls_replace_health_check_inversion(
    primary: StackGraph, deployed: Deployed, inverted: Deployed
) -> None:
    by_sid = statements(deployed.stack)
    switch = by_sid["SwitchRoutingControls"]
    assert switch["Action"] == [
        "route53-recovery-cluster:GetRoutingControlState",
        "route53-recovery-cluster:UpdateRoutingControlStates",
    ]
    assert sorted(switch["Resource"]) == sorted(primary.exports["routingControlArns"].values())
    actions = {a for s in by_sid.values() for a in listed(s["Action"])}
    assert "route53:UpdateHealthCheck" not in actions
    # dr's own check is still read (is dr healthy?); the primary's has no part with ARC.
    assert by_sid["ReadHealthChecks"]["Resource"] == [
        f"arn:aws:route53:::healthcheck/{deployed.stack.exports['healthCheckId']}"
    ]
    # And the other way round.
    by_sid = statements(inverted.stack)
    assert "SwitchRoutingControls" not in by_sid
    assert "route53:UpdateHealthCheck" in by_sid["ShiftTraffic"]["Action"]
    assert len(by_sid["ShiftTraffic"]["Resource"]) == 2


# -- the environment ---------------------------------------------------------------------------


GATEWAY = {
    "namespace": "trading",
    "deployment": "order-gateway",
    "hpa": "order-gateway",
    "full": {"replicas": 6, "maxReplicas": 24},
    "pilotLight": {"replicas": 1, "maxReplicas": 24},
}


def test_routing_control_mode_passes_the_controls_and_their_endpoints(
    primary: StackGraph, deployed: Deployed
) -> None:
    env = variables(deployed.stack)
    assert env["TRAFFIC_CONTROL"] == "routing-control"
    assert json.loads(env["ROUTING_CONTROLS"]) == primary.exports["routingControlArns"]
    endpoints = json.loads(env["ROUTING_CONTROL_ENDPOINTS"])
    assert endpoints == primary.exports["routingControlEndpoints"]
    assert all(set(e) == {"region", "endpoint"} for e in endpoints)
    assert json.loads(env["GATEWAY"]) == GATEWAY


def test_inversion_mode_passes_no_routing_controls(inverted: Deployed) -> None:
    env = variables(inverted.stack)
    assert env["TRAFFIC_CONTROL"] == INVERSION
    assert "ROUTING_CONTROLS" not in env and "ROUTING_CONTROL_ENDPOINTS" not in env
    assert json.loads(env["GATEWAY"]) == GATEWAY


def test_the_handler_parses_what_the_stack_gives_it(
    primary: StackGraph, deployed: Deployed, inverted: Deployed
) -> None:
    from handlers.model import parse_environment  # noqa: PLC0415 - the lead's contract

    for run in (deployed, inverted):
        env = {k: str(v) for k, v in variables(run.stack).items()}
        parsed = parse_environment({**env, "AWS_REGION": "us-west-2"})
        assert parsed.traffic_control == env["TRAFFIC_CONTROL"]
        gateway = parsed.gateway
        assert gateway is not None
        assert (gateway.namespace, gateway.deployment, gateway.hpa) == (NAMESPACE, APP, HPA)
        assert (gateway.full.replicas, gateway.pilot_light.replicas) == (6, 1)
    env = {k: str(v) for k, v in variables(deployed.stack).items()}
    routing = parse_environment({**env, "AWS_REGION": "us-west-2"}).routing_controls
    assert routing is not None
    arns = primary.exports["routingControlArns"]
    assert (routing.primary, routing.dr) == (arns["primary"], arns["dr"])
    assert len(routing.endpoints) == 5


def test_malformed_routing_controls_are_named() -> None:
    with pytest.raises(ValueError, match="must name exactly primary and dr"):
        routing_controls({"primary": "arn:aws:route53-recovery-control::1:x"}, [])
    arn = f"arn:aws:route53-recovery-control::{ACCOUNT}:controlpanel/p/routingcontrol/r"
    with pytest.raises(ValueError, match=r"ROUTING_CONTROL_ENDPOINTS=.*at least one endpoint"):
        Environment.encode(
            Environment.ROUTING_CONTROL_ENDPOINTS, routing_controls({"primary": arn, "dr": arn}, [])
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"traffic_control": "dns-weights"}, "traffic_control='dns-weights' is not one of"),
        ({"traffic_control": ROUTING_CONTROL}, "needs routing_control_arns"),
    ],
)
def test_a_traffic_control_the_component_cannot_serve_fails_the_program(
    primary: StackGraph, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_dr(
            primary,
            lambda args: dataclasses.replace(
                args, routing_control_arns=None, routing_control_endpoints=None, **change
            ),
        )


# -- triggers ----------------------------------------------------------------------------------


def test_operator_events_on_the_default_bus_invoke_the_function(deployed: Deployed) -> None:
    dr = deployed.stack
    rule = dr.one("aws:cloudwatch/eventRule:EventRule", "dr-commands")
    assert rule.inputs["eventBusName"] == "default"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "detail-type": ["trading.failover"],
        "account": [ACCOUNT],
    }
    target = dr.one("aws:cloudwatch/eventTarget:EventTarget", "dr-commands")
    assert target.inputs["rule"] == rule.outputs["name"]
    assert target.inputs["arn"] == function(dr).outputs["arn"]
    permission = dr.one("aws:lambda/permission:Permission", "dr-commands-events")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": function(dr).outputs["name"],
        "principal": "events.amazonaws.com",
        "sourceArn": rule.outputs["arn"],
    }


def test_the_commands_topic_is_encrypted_account_only_and_invokes_the_function(
    deployed: Deployed,
) -> None:
    dr = deployed.stack
    topic = dr.one("aws:sns/topic:Topic", "dr-commands")
    key = dr.one("aws:kms/key:Key", "trading-dr-failover-commands")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(dr.one("aws:sns/topicPolicy:TopicPolicy", "dr-commands").inputs["policy"])
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "AccountPrincipalsPublishCommands",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sns:Publish",
            "Resource": topic.outputs["arn"],
        }
    ]
    denies = {s["Sid"]: s["Condition"] for s in policy["Statement"] if s["Effect"] == "Deny"}
    assert denies == {
        "NoPublisherOutsideTheAccount": {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}},
        "PublishOverTlsOnly": {"Bool": {"aws:SecureTransport": "false"}},
    }
    subscription = dr.one("aws:sns/topicSubscription:TopicSubscription", "dr-commands")
    assert subscription.inputs == {
        "topic": topic.outputs["arn"],
        "protocol": "lambda",
        "endpoint": function(dr).outputs["arn"],
    }
    permission = dr.one("aws:lambda/permission:Permission", "dr-commands-sns")
    assert permission.inputs["principal"] == "sns.amazonaws.com"
    assert permission.inputs["sourceArn"] == topic.outputs["arn"]


def test_the_component_outputs_what_an_operator_needs(deployed: Deployed) -> None:
    dr = deployed.stack
    assert (
        deployed.output("commands_topic_arn")
        == (dr.one("aws:sns/topic:Topic", "dr-commands").outputs["arn"])
    )
    assert deployed.output("commands_event_bus_name") == "default"
    assert deployed.output("commands_rule_name") == "trading-dr-failover-commands"
    assert deployed.automation.commands_detail_type == "trading.failover"


# -- handler_policy on its own -----------------------------------------------------------------

ARC = f"arn:aws:route53-recovery-control::{ACCOUNT}:controlpanel/cp1/routingcontrol"
NETWORK = FunctionNetwork(
    vpc_id="vpc-1", subnet_ids=["subnet-a", "subnet-b"], security_group_id="sg-1"
)


def policy_for(**overrides: Any) -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "account": Account(account_id=ACCOUNT, partition="aws", region="us-west-2"),
        "primary_region": "us-east-1",
        "cluster_name": "trading-dr",
        "node_group_names": ["trading-dr-system", "trading-dr-trading"],
        "db_engine": "postgres",
        "db_identifier": "trading-dr-db",
        "primary_db_identifier": "trading-primary-db",
        "global_cluster_identifier": None,
        "table_arn": f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/t",
        "topic_arn": f"arn:aws:sns:us-west-2:{ACCOUNT}:t",
        "key_arns": [f"arn:aws:kms:us-west-2:{ACCOUNT}:key/k"],
        "queue_arn": f"arn:aws:sqs:us-west-2:{ACCOUNT}:q",
        "log_group_arn": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:g",
        "health_check_ids": ["p", "d"],
    }
    return json.loads(handler_policy(**(base | overrides)))["Statement"]


VARIANTS: list[Mapping[str, Any]] = [
    {},
    {"db_engine": "aurora-postgresql", "global_cluster_identifier": "trading-global"},
    {"network": NETWORK},
    {"traffic_control": ROUTING_CONTROL, "routing_control_arns": [f"{ARC}/p", f"{ARC}/d"]},
    {
        "traffic_control": ROUTING_CONTROL,
        "routing_control_arns": [f"{ARC}/p", f"{ARC}/d"],
        "network": NETWORK,
        "health_check_ids": ["", "d"],
    },
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(sorted(v)) or "default")
def test_no_mutating_action_is_granted_on_every_resource(variant: Mapping[str, Any]) -> None:
    """The policy pack's own reading of "mutating" (anything but Get, List, Describe...)."""
    for statement in policy_for(**variant):
        actions = listed(statement["Action"])
        assert all(a != "*" and not a.endswith(":*") for a in actions), statement
        if any(is_mutating(a) for a in actions):
            assert "*" not in listed(statement["Resource"]), statement
            assert all(r.count(":") >= 5 for r in listed(statement["Resource"])), statement


def test_aurora_is_not_fenced_through_parameter_groups() -> None:
    aurora = policy_for(db_engine="aurora-postgresql", global_cluster_identifier="trading-global")
    actions = {a for s in aurora for a in listed(s["Action"])}
    assert "rds:ModifyDBParameterGroup" not in actions
    assert "rds:FailoverGlobalCluster" in actions


def test_no_vpc_statements_without_a_network() -> None:
    sids = {s["Sid"] for s in policy_for()}
    assert not sids & {
        "LambdaCreatesInterfacesInItsSubnets",
        "LambdaManagesItsInterfaces",
        "LambdaReadsItsNetwork",
    }


# -- failback's S3 Batch Replication --------------------------------------------------------------


def batch_role(stack: StackGraph) -> Resource:
    return stack.one("aws:iam/role:Role", "dr-batch-replication")


def test_the_function_learns_the_buckets_the_job_role_and_the_report_prefix(
    deployed: Deployed, primary: StackGraph
) -> None:
    env = variables(deployed.stack)
    records = deployed.stack.one("aws:s3/bucket:Bucket", "dr-records")
    assert env[Environment.RECORDS_BUCKET] == records.outputs["bucket"]
    primary_records = primary.one("aws:s3/bucket:Bucket", "primary-records")
    assert env[Environment.PRIMARY_RECORDS_BUCKET] == primary_records.outputs["bucket"]
    assert env[Environment.BATCH_REPLICATION_ROLE_ARN] == batch_role(deployed.stack).outputs["arn"]
    assert env[Environment.BATCH_REPLICATION_REPORT_PREFIX] == "batch-replication"


def test_the_function_may_start_and_watch_jobs_and_pass_exactly_the_job_role(
    deployed: Deployed,
) -> None:
    """S3 User Guide, "Granting permissions for Batch Operations": the creator needs
    s3:CreateJob and iam:PassRole on the job's role; CreateJob and ListJobs take `*` only,
    DescribeJob the `job` resource type (Service Authorization Reference, list_amazons3)."""
    by_sid = statements(deployed.stack)
    bucket = variables(deployed.stack)[Environment.RECORDS_BUCKET]
    assert by_sid["DrBucketReplicationRules"]["Action"] == "s3:GetReplicationConfiguration"
    assert by_sid["DrBucketReplicationRules"]["Resource"] == f"arn:aws:s3:::{bucket}"
    assert by_sid["StartBatchReplication"]["Action"] == ["s3:CreateJob", "s3:ListJobs"]
    assert by_sid["WatchBatchReplication"] == {
        "Sid": "WatchBatchReplication",
        "Effect": "Allow",
        "Action": "s3:DescribeJob",
        "Resource": f"arn:aws:s3:us-west-2:{ACCOUNT}:job/*",
    }
    assert (
        by_sid["PassBatchReplicationRole"]["Resource"] == batch_role(deployed.stack).outputs["arn"]
    )
    assert by_sid["PassBatchReplicationRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "batchoperations.s3.amazonaws.com"}
    }
    # Nothing else it may pass, and CreateJob is the one mutating action on `*`.
    passing = [s for s in by_sid.values() if "iam:PassRole" in listed(s["Action"])]
    assert len(passing) == 1
    on_everything = {
        a
        for s in by_sid.values()
        if "*" in listed(s["Resource"])
        for a in listed(s["Action"])
        if is_mutating(a)
    }
    assert on_everything == {"s3:CreateJob"}


def test_batch_operations_alone_assumes_the_job_role(deployed: Deployed) -> None:
    """The S3 User Guide's trust policy, with no condition the service is not documented to
    satisfy ("Granting permissions for Batch Operations", "Trust policy")."""
    trust = json.loads(batch_role(deployed.stack).inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]


def test_the_job_role_has_the_user_guides_batch_replication_rights_on_dr_only(
    deployed: Deployed,
) -> None:
    """S3 User Guide, "Configuring an IAM role for S3 Batch Replication", policy for a generated
    and stored manifest, with dr's records bucket as source, manifest and report bucket."""
    policy = json.loads(deployed.stack.one(ROLE_POLICY, "dr-batch-replication").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    bucket = deployed.stack.one("aws:s3/bucket:Bucket", "dr-records").outputs["arn"]
    key = deployed.stack.one("aws:kms/key:Key", "trading-dr-data").outputs["arn"]
    assert by_sid["InitiateReplication"]["Action"] == "s3:InitiateReplication"
    assert by_sid["InitiateReplication"]["Resource"] == f"{bucket}/*"
    assert by_sid["GenerateManifest"]["Action"] == [
        "s3:GetReplicationConfiguration",
        "s3:PutInventoryConfiguration",
    ]
    assert by_sid["GenerateManifest"]["Resource"] == bucket
    for sid in ("ReadManifest", "WriteManifestAndReport"):
        assert by_sid[sid]["Resource"] == f"{bucket}/batch-replication/*"
    assert by_sid["EncryptedManifestAndReport"]["Resource"] == key
    assert by_sid["EncryptedManifestAndReport"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.us-west-2.amazonaws.com"
    }
    resources = {r for s in policy["Statement"] for r in listed(s["Resource"])}
    assert "*" not in resources


def test_no_batch_replication_statements_without_a_job_role() -> None:
    sids = {s["Sid"] for s in policy_for()}
    assert not sids & {
        "DrBucketReplicationRules",
        "StartBatchReplication",
        "WatchBatchReplication",
        "PassBatchReplicationRole",
    }
