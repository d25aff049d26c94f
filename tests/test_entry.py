"""The order gateway, the regional entry point in front of it, and DNS failover."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.lb_controller import CHART_VERSION
from settings import SettingsError, parse
from testing.harness import Resource
from tests.conftest import StackGraph, raw_settings


def health_check(stack: StackGraph, kind: str = "HTTPS") -> Resource:
    (check,) = [
        c for c in stack.of_type("aws:route53/healthCheck:HealthCheck") if c.inputs["type"] == kind
    ]
    return check


def failover_record(stack: StackGraph) -> Resource:
    return stack.one("aws:route53/record:Record", f"{stack.name}-failover")


def test_health_check_probes_the_regions_own_health_endpoint(stack: StackGraph) -> None:
    inputs = health_check(stack).inputs
    assert inputs["type"] == "HTTPS"
    assert inputs["resourcePath"] == "/health"
    assert inputs["port"] == 443
    assert inputs["requestInterval"] == 10
    assert inputs["failureThreshold"] == 3
    assert inputs["enableSni"] is True
    assert (
        inputs["fqdn"]
        == stack.exports["regionalEndpoint"]
        == f"{stack.exports['region']}.api.trading.example.com"
    )


def test_primary_record_is_primary_and_dr_record_is_secondary_each_with_its_own_check(
    primary: StackGraph, dr: StackGraph
) -> None:
    for stack, kind in ((primary, "PRIMARY"), (dr, "SECONDARY")):
        record = failover_record(stack)
        assert record.inputs["failoverRoutingPolicies"] == [{"type": kind}]
        assert record.inputs["name"] == "api.trading.example.com"
        # Routing controls (the default): the record follows its region's control's check.
        check = health_check(stack, "RECOVERY_CONTROL")
        assert record.inputs["healthCheckId"] == check.outputs.get(
            "id", record.inputs["healthCheckId"]
        )
        assert check.inputs["routingControlArn"] == stack_routing_arn(stack, primary)
        assert record.inputs["setIdentifier"] == f"trading-{stack.name}-{kind.lower()}"
    assert (
        failover_record(primary).inputs["healthCheckId"]
        != failover_record(dr).inputs["healthCheckId"]
    )


def test_alias_targets_the_stacks_own_entry_point(stack: StackGraph) -> None:
    domain = stack.one("aws:apigateway/domainName:DomainName", f"{stack.name}-public-domain")
    (alias,) = failover_record(stack).inputs["aliases"]
    assert alias["name"] == domain.outputs["regionalDomainName"]
    assert stack.exports["region"] in alias["name"]
    assert alias["evaluateTargetHealth"] is True
    regional = stack.one("aws:apigateway/domainName:DomainName", f"{stack.name}-regional-domain")
    assert regional.inputs["domainName"] == stack.exports["regionalEndpoint"]


def test_health_alarm_lives_where_route53_publishes_its_metrics(stack: StackGraph) -> None:
    alarm = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{stack.name}-health")
    assert alarm.inputs["namespace"] == "AWS/Route53"
    assert alarm.inputs["metricName"] == "HealthCheckStatus"
    assert alarm.inputs["region"] == "us-east-1"
    topic = stack.one("aws:sns/topic:Topic", f"{stack.name}-health-alerts")
    assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
    assert topic.inputs["region"] == "us-east-1"
    key = stack.one("aws:kms/key:Key", f"trading-{stack.name}-health-alerts")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["region"] == "us-east-1"


def test_gateway_runs_as_non_root_with_health_probes(stack: StackGraph) -> None:
    deployment = stack.one("kubernetes:apps/v1:Deployment", f"{stack.name}-deployment")
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The write gate's sidecar is the other container (tests/test_gateway_gate.py).
    (container,) = [c for c in pod["containers"] if c["name"] == "order-gateway"]
    assert container["image"] == "hashicorp/http-echo:1.0.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": 5678}
    assert container["resources"]["limits"] and container["resources"]["requests"]
    assert pod["nodeSelector"] == {"trading.example/node-group": "trading"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_gateway_replicas_follow_the_capacity_profile(primary: StackGraph, dr: StackGraph) -> None:
    for stack, replicas in ((primary, 6), (dr, 1)):
        deployment = stack.one("kubernetes:apps/v1:Deployment", f"{stack.name}-deployment")
        assert deployment.inputs["spec"]["replicas"] == replicas
        hpa = stack.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", f"{stack.name}-hpa")
        assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (
            replicas,
            24,
        )
        assert "spec.replicas" in deployment.ignore_changes
    pdb = dr.one("kubernetes:policy/v1:PodDisruptionBudget", "dr-pdb")
    assert pdb.inputs["spec"]["maxUnavailable"] == 1


def test_every_kubernetes_resource_uses_the_clusters_provider(stack: StackGraph) -> None:
    provider = stack.one("pulumi:providers:kubernetes", f"{stack.name}-k8s")
    assert provider.inputs["kubeconfig"] == "[secret]"
    kubernetes = [r for r in stack if r.type.startswith("kubernetes:")]
    assert len(kubernetes) >= 7
    for resource in kubernetes:
        assert stack.graph.provider_of(resource) is provider, resource.urn


def test_pods_are_bound_to_the_internal_load_balancer(stack: StackGraph) -> None:
    binding = stack.one(
        "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding", f"{stack.name}-target-group-binding"
    )
    group = stack.one("aws:lb/targetGroup:TargetGroup", f"{stack.name}-gateway")
    assert binding.inputs["spec"]["targetGroupARN"] == group.outputs["arn"]
    assert binding.inputs["spec"]["targetType"] == "ip"
    release = stack.one("kubernetes:helm.sh/v3:Release", f"{stack.name}-lb-controller")
    assert release.urn in binding.dependencies
    assert (release.inputs["chart"], release.inputs["version"]) == (
        "aws-load-balancer-controller",
        CHART_VERSION,
    )
    balancer = stack.one("aws:lb/loadBalancer:LoadBalancer", f"{stack.name}-nlb")
    assert balancer.inputs["internal"] is True
    assert balancer.inputs["loadBalancerType"] == "network"


def test_load_balancer_controller_role_is_bound_to_its_service_account(stack: StackGraph) -> None:
    role = stack.one("aws:iam/role:Role", f"{stack.name}-lb-controller")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    conditions = statement["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in conditions.values()
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", f"{stack.name}-lb-controller")
    bind = next(
        s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "BindGatewayPods"
    )
    group = stack.one("aws:lb/targetGroup:TargetGroup", f"{stack.name}-gateway")
    assert bind["Resource"] == group.outputs["arn"]


def test_waf_with_managed_common_rules_protects_the_stage(stack: StackGraph) -> None:
    acl = stack.one("aws:wafv2/webAcl:WebAcl", f"{stack.name}-waf")
    assert acl.inputs["scope"] == "REGIONAL"
    groups = [r["statement"]["managedRuleGroupStatement"]["name"] for r in acl.inputs["rules"]]
    assert "AWSManagedRulesCommonRuleSet" in groups
    association = stack.one("aws:wafv2/webAclAssociation:WebAclAssociation", f"{stack.name}-waf")
    stage = stack.one("aws:apigateway/stage:Stage", f"{stack.name}-stage")
    assert association.inputs["resourceArn"] == stage.outputs["arn"]


def test_nothing_public_is_plain_http(stack: StackGraph) -> None:
    api = stack.one("aws:apigateway/restApi:RestApi", f"{stack.name}-api")
    assert api.inputs["disableExecuteApiEndpoint"] is True
    assert api.inputs["endpointConfiguration"]["types"] == "REGIONAL"
    for domain in stack.of_type("aws:apigateway/domainName:DomainName"):
        assert domain.inputs["securityPolicy"] == "TLS_1_2"
        assert domain.inputs["regionalCertificateArn"]
    # The only plain-HTTP listener is the internal NLB's, behind the VPC link.
    for listener in stack.of_type("aws:lb/listener:Listener"):
        balancer = stack.one("aws:lb/loadBalancer:LoadBalancer", f"{stack.name}-nlb")
        assert listener.inputs["loadBalancerArn"] == balancer.outputs["arn"]
        assert balancer.inputs["internal"] is True


def test_stage_is_throttled_and_access_logged_to_an_encrypted_group(stack: StackGraph) -> None:
    stage = stack.one("aws:apigateway/stage:Stage", f"{stack.name}-stage")
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", f"{stack.name}-access-logs")
    assert stage.inputs["accessLogSettings"]["destinationArn"] == group.outputs["arn"]
    assert group.inputs["kmsKeyId"]
    settings = stack.one("aws:apigateway/methodSettings:MethodSettings", f"{stack.name}-throttling")
    assert settings.inputs["settings"]["throttlingRateLimit"] == 1000
    assert settings.inputs["settings"]["throttlingBurstLimit"] == 2000


def stack_routing_arn(stack: StackGraph, primary: StackGraph) -> str:
    return primary.exports["routingControlArns"][stack.name]


def test_failover_handler_flips_routing_controls_and_never_inverts_a_check(
    primary: StackGraph, dr: StackGraph
) -> None:
    function = dr.one("aws:lambda/function:Function", "dr-handler")
    variables = function.inputs["environment"]["variables"]
    assert variables["TRAFFIC_CONTROL"] == "routing-control"
    assert json.loads(variables["ROUTING_CONTROLS"]) == primary.exports["routingControlArns"]
    assert variables["PRIMARY_HEALTH_CHECK_ID"] == ""
    assert variables["DR_HEALTH_CHECK_ID"] == dr.exports["healthCheckId"]
    assert variables["PRIMARY_ENDPOINT"] == f"https://{primary.exports['regionalEndpoint']}"
    policy = json.loads(dr.one("aws:iam/rolePolicy:RolePolicy", "dr-role").inputs["policy"])
    actions = {
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "route53:UpdateHealthCheck" not in actions


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"recordName": "api.other.example.com"},
            "a name inside dns.zoneName (trading.example.com)",
        ),
        ({"healthCheckFailureThreshold": 11}, "trading:dns.healthCheckFailureThreshold = 11"),
        ({"healthCheckFailureThreshold": 0}, "a whole number from 1 to 10"),
        ({"healthCheckIntervalSeconds": 15}, "10 or 30 (what Route 53 offers)"),
        ({"zoneId": None}, "trading:dns.zoneId is required"),
    ],
)
def test_bad_dns_settings_are_refused(change: dict[str, Any], expected: str) -> None:
    raw = raw_settings("primary")
    dns = {k: v for k, v in (raw["dns"] | change).items() if v is not None}
    with pytest.raises(SettingsError) as caught:
        parse(raw | {"dns": dns})
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_gateway_image_must_be_pinned() -> None:
    raw = raw_settings("primary") | {"gateway": {"image": "nginx:latest"}}
    with pytest.raises(SettingsError, match="never latest"):
        parse(raw)
