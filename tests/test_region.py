"""TradingRegion, specified on the resource graph each stack's real config produces."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

import pytest

from components.network import INTERFACE_ENDPOINT_SERVICES, SubnetPlan
from settings import CLUSTER_LOG_TYPES
from testing.harness import Graph
from tests.conftest import StackGraph, raw_settings


def test_both_stacks_build_with_their_own_region_and_role(stack: StackGraph) -> None:
    expected_region = {"primary": "us-east-1", "dr": "us-west-2"}[stack.name]
    assert stack.exports["role"] == stack.name
    assert stack.exports["region"] == expected_region
    provider = stack.one("pulumi:providers:aws", f"{stack.name}-aws")
    assert provider.inputs["region"] == expected_region


def test_dr_trading_node_group_runs_the_pilot_light(dr: StackGraph) -> None:
    assert dr.scaling("trading") == {"minSize": 1, "desiredSize": 1, "maxSize": 12}
    assert dr.scaling("system") == {"minSize": 1, "desiredSize": 1, "maxSize": 3}


def test_primary_trading_node_group_runs_full_capacity(primary: StackGraph) -> None:
    assert primary.scaling("trading") == {"minSize": 3, "desiredSize": 6, "maxSize": 12}
    assert primary.node_group("trading").inputs["instanceTypes"] == ["c7i.2xlarge", "c6i.2xlarge"]


def test_node_groups_are_named_for_the_failover_handler(dr: StackGraph) -> None:
    assert dr.exports["nodeGroupNames"] == {
        "system": "trading-dr-system",
        "trading": "trading-dr-trading",
    }
    assert dr.node_group("trading").inputs["nodeGroupName"] == "trading-dr-trading"
    assert dr.exports["clusterName"] == dr.cluster.inputs["name"] == "trading-dr"


def test_dr_exports_both_profiles_so_failover_knows_the_full_size(dr: StackGraph) -> None:
    profiles = dr.exports["capacityProfiles"]
    assert dr.exports["activeCapacityProfile"] == "pilot-light"
    assert profiles["full"]["nodeGroups"]["trading"]["desiredSize"] == 6
    assert profiles["pilot-light"]["nodeGroups"]["trading"]["desiredSize"] == 1


def test_node_groups_ignore_scaling_changes(stack: StackGraph) -> None:
    groups = stack.of_type("eks:index:ManagedNodeGroup")
    assert {g.name for g in groups} == {f"{stack.name}-system-ng", f"{stack.name}-trading-ng"}
    assert all(g.inputs["ignoreScalingChanges"] is True for g in groups)


def test_trading_nodes_are_tainted_for_the_gateway_only(primary: StackGraph) -> None:
    assert primary.node_group("trading").inputs["taints"] == [
        {"key": "dedicated", "value": "trading", "effect": "NO_SCHEDULE"}
    ]
    assert primary.node_group("system").inputs.get("taints", []) == []


def test_nat_gateways_follow_the_capacity_profile(stack: StackGraph) -> None:
    count = {"primary": 3, "dr": 1}[stack.name]
    assert len(stack.of_type("aws:ec2/natGateway:NatGateway")) == count
    assert len(stack.of_type("aws:ec2/eip:Eip")) == count
    private_defaults = [
        r
        for r in stack.of_type("aws:ec2/route:Route")
        if r.name.startswith(f"{stack.name}-private-default-")
    ]
    assert len(private_defaults) == 3
    nat_ids = {f"{n.name}-id" for n in stack.of_type("aws:ec2/natGateway:NatGateway")}
    assert {r.inputs["natGatewayId"] for r in private_defaults} == nat_ids


def test_a_full_profile_in_dr_gets_a_nat_gateway_per_az(run_dr: Callable[..., Graph]) -> None:
    capacity = raw_settings("dr")["capacity"] | {"activeProfile": "full"}
    graph = run_dr({"trading:capacity": capacity})
    assert len(graph.of_type("aws:ec2/natGateway:NatGateway")) == 3
    trading = graph.one("eks:index:ManagedNodeGroup", "dr-trading-ng")
    assert trading.inputs["scalingConfig"]["desiredSize"] == 6


def test_gateway_endpoints_serve_private_and_data_route_tables(stack: StackGraph) -> None:
    tables = {
        f"{t.name}-id"
        for t in stack.of_type("aws:ec2/routeTable:RouteTable")
        if "-private-rt-" in t.name or t.name.endswith("-data-rt")
    }
    assert len(tables) == 4
    gateways = [
        e
        for e in stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Gateway"
    ]
    region = stack.exports["region"]
    assert {e.inputs["serviceName"] for e in gateways} == {
        f"com.amazonaws.{region}.s3",
        f"com.amazonaws.{region}.dynamodb",
    }
    for endpoint in gateways:
        assert set(endpoint.inputs["routeTableIds"]) == tables


def test_interface_endpoints_are_private_and_admit_https_from_the_vpc_only(
    stack: StackGraph,
) -> None:
    interfaces = [
        e
        for e in stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    region = stack.exports["region"]
    assert sorted(e.inputs["serviceName"] for e in interfaces) == sorted(
        f"com.amazonaws.{region}.{s}" for s in INTERFACE_ENDPOINT_SERVICES
    )
    assert all(e.inputs["privateDnsEnabled"] is True for e in interfaces)
    assert all(e.inputs["subnetIds"] == stack.exports["privateSubnetIds"] for e in interfaces)
    rule = stack.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"{stack.name}-endpoints-https"
    )
    vpc = stack.one("aws:ec2/vpc:Vpc", f"{stack.name}-vpc")
    assert rule.inputs["cidrIpv4"] == vpc.inputs["cidrBlock"]
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)


def test_data_subnets_have_no_route_to_the_internet(stack: StackGraph) -> None:
    data_table = f"{stack.name}-data-rt-id"
    routes = stack.of_type("aws:ec2/route:Route")
    assert not [r for r in routes if r.inputs["routeTableId"] == data_table]


def test_subnets_cover_each_az_once_per_tier_inside_the_vpc(stack: StackGraph) -> None:
    vpc = ipaddress.IPv4Network(
        stack.one("aws:ec2/vpc:Vpc", f"{stack.name}-vpc").inputs["cidrBlock"]
    )
    subnets = stack.of_type("aws:ec2/subnet:Subnet")
    networks = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(n.subnet_of(vpc) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    for tier in ("public", "private", "data"):
        zones = [s.inputs["availabilityZone"] for s in subnets if s.inputs["tags"]["tier"] == tier]
        assert len(zones) == len(set(zones)) == 3
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


@pytest.mark.parametrize("az_count", [2, 6])
def test_subnet_plan_fits_any_allowed_az_count(az_count: int) -> None:
    plan = SubnetPlan.for_vpc("10.0.0.0/20", az_count)
    every = [ipaddress.IPv4Network(c) for c in (*plan.public, *plan.private, *plan.data)]
    assert len(every) == 3 * az_count
    assert not any(a.overlaps(b) for i, a in enumerate(every) for b in every[i + 1 :])
    assert min(n.prefixlen for n in every) >= 20


def test_every_kms_key_rotates(stack: StackGraph) -> None:
    keys = stack.of_type("aws:kms/key:Key")
    uses = {"logs", "eks-secrets", "alerts", "data", "health-alerts", "ebs", "nodes", "config"}
    if stack.name == "dr":
        uses |= {"failover-alerts", "failover-dlq", "failover-commands"}
    else:
        uses |= {"trail"}
    assert {k.name for k in keys} == {f"trading-{stack.name}-{use}" for use in uses}
    assert all(k.inputs["enableKeyRotation"] is True for k in keys)


def test_every_log_group_has_a_customer_key_and_retention(stack: StackGraph) -> None:
    key_arns = {k.outputs["arn"] for k in stack.of_type("aws:kms/key:Key")}
    groups = stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["name"] for g in groups} >= {
        f"/aws/eks/trading-{stack.name}/cluster",
        f"/trading/trading-{stack.name}/vpc-flow-logs",
        # The Aurora cluster's log, created here (so encrypted) before RDS would create it.
        f"/aws/rds/cluster/trading-{stack.name}-db/postgresql",
    }
    for group in groups:
        assert group.inputs["kmsKeyId"] in key_arns
        assert group.inputs["retentionInDays"] == 365


def test_logs_key_policy_lets_cloudwatch_logs_use_it_in_this_region_only(
    stack: StackGraph,
) -> None:
    key = stack.one("aws:kms/key:Key", f"trading-{stack.name}-logs")
    statements = json.loads(key.inputs["policy"])["Statement"]
    (logs,) = [s for s in statements if s["Sid"] == "CloudWatchLogsEncryptsLogGroups"]
    region = stack.exports["region"]
    assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].startswith(
        f"arn:aws:logs:{region}:"
    )


def test_secrets_key_is_usable_by_the_cluster_role_only(stack: StackGraph) -> None:
    key = stack.one("aws:kms/key:Key", f"trading-{stack.name}-eks-secrets")
    assert stack.cluster.inputs["encryptionConfigKeyArn"] == key.outputs["arn"]
    role = stack.one("aws:iam/role:Role", f"{stack.name}-cluster-role")
    statements = json.loads(key.inputs["policy"])["Statement"]
    grants = [s for s in statements if s["Sid"] != "AccountAdministersKeyThroughIam"]
    assert [s["Principal"] for s in grants] == [{"AWS": role.outputs["arn"]}]
    assert stack.cluster.inputs["serviceRole"] == role.urn


def test_cluster_api_opens_only_to_the_deployers_with_full_control_plane_logging(
    stack: StackGraph,
) -> None:
    """The stack installs Helm releases and Kubernetes resources, so the machines that run
    `pulumi up` need the API endpoint; no runner exists inside a VPC the first `up` creates."""
    inputs = stack.cluster.inputs
    deployers = raw_settings(stack.name)["eks"]["publicAccessCidrs"]
    assert deployers
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == deployers
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["authenticationMode"] == "API"
    assert inputs["createOidcProvider"] is True
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["deletionProtection"] is True
    assert inputs["enabledClusterLogTypes"] == list(CLUSTER_LOG_TYPES)


def test_control_plane_log_group_exists_before_the_cluster(stack: StackGraph) -> None:
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", f"{stack.name}-control-plane-logs")
    assert group.urn in stack.cluster.dependencies


def test_public_endpoint_opens_only_to_configured_cidrs_and_admins_get_access_entries(
    run_dr: Callable[..., Graph],
) -> None:
    admin = "arn:aws:iam::123456789012:role/platform-admin"
    eks_config = {"publicAccessCidrs": ["203.0.113.0/24"], "adminRoleArns": [admin]}
    graph = run_dr({"trading:eks": eks_config})
    cluster = graph.one("eks:index:Cluster", "dr-eks")
    assert cluster.inputs["endpointPublicAccess"] is True
    assert cluster.inputs["publicAccessCidrs"] == ["203.0.113.0/24"]
    (entry,) = cluster.inputs["accessEntries"].values()
    assert entry["principalArn"] == admin
    assert entry["accessPolicies"]["cluster-admin"]["accessScope"] == {"type": "cluster"}


def test_deploy_roles_reach_kubernetes_and_a_private_endpoint_needs_an_inside_deployer(
    run_dr: Callable[..., Graph],
) -> None:
    """Only the cluster creator gets access without an access entry
    (https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html); Kubernetes
    authorizes a server-side dry run like the request itself
    (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run-authorization), so
    the roles that run `pulumi preview` need the deployment's access too."""
    ci = "arn:aws:iam::123456789012:role/ci-deployer"
    eks_config = {"publicAccessCidrs": [], "deployerInsideVpc": True, "deployRoleArns": [ci]}
    graph = run_dr({"trading:eks": eks_config})
    cluster = graph.one("eks:index:Cluster", "dr-eks")
    assert cluster.inputs["endpointPublicAccess"] is False
    (entry,) = cluster.inputs["accessEntries"].values()
    assert entry["principalArn"] == ci
    assert entry["accessPolicies"]["cluster-admin"]["accessScope"] == {"type": "cluster"}


def test_flow_logs_capture_all_traffic_into_the_encrypted_group(stack: StackGraph) -> None:
    (flow,) = stack.of_type("aws:ec2/flowLog:FlowLog")
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", f"{stack.name}-flow-logs")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestination"] == group.outputs["arn"]
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", f"{stack.name}-flow-logs")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Resource"] == [group.outputs["arn"], f"{group.outputs['arn']}:*"]


def test_every_resource_sits_under_its_component(stack: StackGraph) -> None:
    graph = stack.graph
    top_level = {r.type for r in graph if not graph.ancestors(r)}
    expected = {
        "primary": {"trading:data:PrimaryData", "trading:recovery:RecoveryControls"},
        "dr": {
            "trading:data:DataReplication",
            "trading:data:PrimaryReference",
            "trading:failover:FailoverAutomation",
        },
    }[stack.name] | {"trading:security:SecurityBaseline", "trading:markers:MarkerWriter"}
    assert top_level == {"trading:index:TradingRegion", *expected}
    for resource in graph:
        if resource.custom:
            assert graph.by_urn(resource.parent).type.startswith("trading:"), resource.urn


def test_every_aws_resource_uses_the_regions_one_provider_with_config_tags(
    stack: StackGraph,
) -> None:
    """A stack configures a provider for its own region, and checks credentials against STS
    with that one only: a provider is configured on every `pulumi up`, so one that called STS
    in another region would make that region's outage block the stack (tests/test_engine.py
    shows dr updating while us-east-1 is down). The one exception is the primary's ARC
    provider: ARC's configuration API is in us-west-2 and its resources take no `region`, so
    it has a provider there that skips the STS calls."""
    providers = {p.name: p for p in stack.of_type("pulumi:providers:aws")}
    region = providers.pop(f"{stack.name}-aws")
    assert region.inputs["region"] == raw_settings(stack.name)["region"]
    expected_tags = raw_settings(stack.name)["tags"] | {"trading-role": stack.name}
    # Provider inputs travel JSON-encoded, as the engine hands them to the provider.
    assert json.loads(region.inputs["defaultTags"]) == {"tags": expected_tags}
    arc = providers.pop("primary-arc", None)
    assert providers == {}
    assert (arc is not None) == (stack.name == "primary")
    if arc is not None:
        assert arc.inputs["region"] == "us-west-2"
        assert arc.inputs["skipCredentialsValidation"] == "true"
        assert arc.inputs["skipRequestingAccountId"] == "true"
        assert json.loads(arc.inputs["defaultTags"]) == {"tags": expected_tags}
    elsewhere = set()
    for resource in stack:
        if resource.type.startswith("aws:route53recoverycontrol/"):
            assert stack.graph.provider_of(resource) is arc, resource.urn
        elif resource.type.startswith("aws:"):
            assert stack.graph.provider_of(resource) is region, resource.urn
            if resource.inputs.get("region", region.inputs["region"]) != region.inputs["region"]:
                elsewhere.add((resource.type, resource.inputs["region"]))
        elif resource.remote:
            assert resource.providers["aws"].startswith(region.urn), resource.urn
    # Outside its region, a stack holds only what AWS requires elsewhere: the health check's
    # alarm and the topic it pages, where Route 53 publishes metrics (us-east-1), and, in dr,
    # the primary bucket's replication rule and the replication alarms of the writing region.
    health = {
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "us-east-1"),
        ("aws:sns/topic:Topic", "us-east-1"),
        ("aws:sns/topicPolicy:TopicPolicy", "us-east-1"),
        ("aws:kms/key:Key", "us-east-1"),
        ("aws:kms/alias:Alias", "us-east-1"),
    }
    replication = {
        ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "us-east-1"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "us-east-1"),
    }
    assert elsewhere == {"primary": set(), "dr": health | replication}[stack.name]


def test_kubeconfig_is_exported_as_a_secret(stack: StackGraph) -> None:
    assert "kubeconfig" in stack.graph.secret_exports
    assert json.loads(stack.exports["kubeconfig"])["current-context"] == f"trading-{stack.name}"
