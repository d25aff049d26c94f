"""Kubernetes add-ons and CloudWatch observability."""

from __future__ import annotations

import json
from typing import Any

from components.addon_catalog import CHART_REPOSITORIES, chart_version
from testing.harness import Resource
from tests.conftest import StackGraph


def release(stack: StackGraph, chart: str) -> Resource:
    return stack.one("kubernetes:helm.sh/v3:Release", f"{stack.name}-{chart}")


def walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in walk(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in walk(v, f"{path}[{i}]")]
    return [(path, value)]


def test_charts_are_pinned(stack: StackGraph) -> None:
    for chart, repository in CHART_REPOSITORIES.items():
        found = release(stack, chart)
        assert found.inputs["chart"] == chart
        assert found.inputs["version"] == chart_version(chart, stack.cluster.inputs["version"])
        assert found.inputs["repositoryOpts"]["repo"] == repository
        assert found.inputs["version"] not in ("", "latest")


def test_autoscaler_scales_only_this_clusters_groups(stack: StackGraph) -> None:
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", f"{stack.name}-cluster-autoscaler")
    for statement in json.loads(policy.inputs["policy"])["Statement"]:
        mutating = {
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
        }
        if mutating & set(statement["Action"]) and statement["Resource"] == "*":
            condition = statement["Condition"]["StringEquals"]
            assert condition == {
                f"aws:ResourceTag/k8s.io/cluster-autoscaler/trading-{stack.name}": "owned"
            }
    values = release(stack, "cluster-autoscaler").inputs["values"]
    assert values["autoDiscovery"] == {"clusterName": f"trading-{stack.name}"}
    assert values["extraArgs"]["balance-similar-node-groups"] == "true"
    role = stack.one("aws:iam/role:Role", f"{stack.name}-cluster-autoscaler")
    assert (
        values["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        == role.outputs["arn"]
    )


def test_grafana_is_private_and_no_value_holds_a_password(stack: StackGraph) -> None:
    values = release(stack, "kube-prometheus-stack").inputs["values"]
    assert values["grafana"]["service"]["type"] == "ClusterIP"
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    for chart in CHART_REPOSITORIES:
        for path, value in walk(release(stack, chart).inputs["values"]):
            assert not (path.lower().endswith("password") and value), (chart, path)
    secret = stack.one("kubernetes:core/v1:Secret", f"{stack.name}-grafana-admin")
    # The generated password reaches the Secret only as a Pulumi secret (encrypted in state).
    assert secret.inputs["stringData"] == "[secret]"


def test_prometheus_storage_is_persistent_and_encrypted(stack: StackGraph) -> None:
    spec = release(stack, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-encrypted"
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert spec["retention"] == "15d"
    storage_class = stack.one(
        "kubernetes:storage.k8s.io/v1:StorageClass", f"{stack.name}-gp3-encrypted"
    )
    assert storage_class.inputs["parameters"]["encrypted"] == "true"
    key = stack.one("aws:kms/key:Key", f"trading-{stack.name}-ebs")
    assert storage_class.inputs["parameters"]["kmsKeyId"] == key.outputs["arn"]
    assert (
        storage_class.inputs["metadata"]["annotations"][
            "storageclass.kubernetes.io/is-default-class"
        ]
        == "true"
    )
    addon = stack.one("aws:eks/addon:Addon", f"{stack.name}-ebs-csi")
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    assert (
        addon.inputs["serviceAccountRoleArn"]
        == stack.one("aws:iam/role:Role", f"{stack.name}-ebs-csi").outputs["arn"]
    )


def test_alertmanager_pages_the_alerts_topic(stack: StackGraph) -> None:
    values = release(stack, "kube-prometheus-stack").inputs["values"]["alertmanager"]
    receivers = {r["name"]: r for r in values["config"]["receivers"]}
    assert set(receivers) == {"sns", "null"}
    assert receivers["sns"]["sns_configs"][0]["topic_arn"] == stack.exports["alertsTopicArn"]
    # Only the Watchdog heartbeat goes nowhere; every other alert takes the default route.
    assert receivers["null"] == {"name": "null"}
    assert values["config"]["route"]["routes"] == [
        {"receiver": "null", "matchers": ['alertname = "Watchdog"']}
    ]
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", f"{stack.name}-alertmanager")
    publish = json.loads(policy.inputs["policy"])["Statement"][0]
    assert publish["Resource"] == stack.exports["alertsTopicArn"]


def test_dashboards_are_provisioned(stack: StackGraph) -> None:
    # Grafana's sidecar loads the ConfigMaps labelled grafana_dashboard (components/prometheus.py).
    maps = {
        m.inputs["metadata"]["name"]: m
        for m in stack.of_type("kubernetes:core/v1:ConfigMap")
        if m.inputs["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    }
    assert set(maps) == {"dashboard-trading-gateway", "dashboard-disaster-recovery"}
    dr_dashboard = json.loads(
        maps["dashboard-disaster-recovery"].inputs["data"]["disaster-recovery.json"]
    )
    titles = [p["title"] for p in dr_dashboard["panels"]]
    assert (
        "Database replica lag (s)" in titles and "Failover timeline: step durations (s)" in titles
    )


def test_addon_requests_follow_the_capacity_profile(primary: StackGraph, dr: StackGraph) -> None:
    for stack, requests in (
        (primary, {"cpu": "500m", "memory": "1Gi"}),
        (dr, {"cpu": "100m", "memory": "256Mi"}),
    ):
        prometheus = release(stack, "kube-prometheus-stack").inputs["values"]["prometheus"][
            "prometheusSpec"
        ]
        assert prometheus["resources"]["requests"] == requests
        assert (
            release(stack, "metrics-server").inputs["values"]["resources"]["requests"] == requests
        )
        assert (
            release(stack, "cluster-autoscaler").inputs["values"]["resources"]["requests"]
            == requests
        )


def test_cloudwatch_alarms_and_dashboard(stack: StackGraph) -> None:
    alarms = {a.name: a for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    # The stack files' Aurora cluster: by role (the writer moves between instances), the
    # busiest instance of each, and no storage alarm (the cluster volume grows by itself).
    for label, role in (("cpu", "WRITER"), ("reader-cpu", "READER")):
        cpu = alarms[f"{stack.name}-{label}"].inputs
        assert cpu["dimensions"] == {
            "DBClusterIdentifier": f"trading-{stack.name}-db",
            "Role": role,
        }
        assert cpu["statistic"] == "Maximum"
        assert cpu["alarmActions"] == [stack.exports["alertsTopicArn"]]
    assert f"{stack.name}-free-storage" not in alarms
    assert alarms[f"{stack.name}-failed-nodes"].inputs["metricName"] == "cluster_failed_node_count"
    assert alarms[f"{stack.name}-api-5xx"].inputs["dimensions"] == {
        "ApiName": f"trading-{stack.name}-gateway",
        "Stage": "live",
    }
    assert alarms[f"{stack.name}-api-latency"].inputs["extendedStatistic"] == "p99"
    assert alarms[f"{stack.name}-cpu"].inputs["metricName"] == "CPUUtilization"
    for name in ("failed-nodes", "api-5xx", "api-latency", "cpu"):
        assert alarms[f"{stack.name}-{name}"].inputs["alarmActions"] == [
            stack.exports["alertsTopicArn"]
        ]
    dashboard = stack.one("aws:cloudwatch/dashboard:Dashboard", f"{stack.name}-dashboard")
    assert len(json.loads(dashboard.inputs["dashboardBody"])["widgets"]) == 4


def test_postgres_instances_alarm_on_cpu_and_free_storage(
    rds_primary: StackGraph, rds_dr: StackGraph
) -> None:
    for stack in (rds_primary, rds_dr):
        alarms = {a.name: a for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
        identifier = {"DBInstanceIdentifier": f"trading-{stack.name}-db"}
        assert alarms[f"{stack.name}-cpu"].inputs["dimensions"] == identifier
        storage = alarms[f"{stack.name}-free-storage"].inputs
        assert storage["dimensions"] == identifier
        assert storage["threshold"] == 200 * 1024**3 // 10
        for name in ("cpu", "free-storage"):
            assert alarms[f"{stack.name}-{name}"].inputs["alarmActions"] == [
                stack.exports["alertsTopicArn"]
            ]


def test_container_insights_logs_are_encrypted_before_the_agent_starts(stack: StackGraph) -> None:
    addon = stack.one("aws:eks/addon:Addon", f"{stack.name}-container-insights")
    groups = [
        g
        for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")
        if "containerinsights" in g.inputs["name"]
    ]
    assert len(groups) == 4
    assert all(g.inputs["kmsKeyId"] and g.urn in addon.dependencies for g in groups)


def test_every_release_waits_for_the_node_groups(stack: StackGraph) -> None:
    node_groups = {g.urn for g in stack.of_type("eks:index:ManagedNodeGroup")}
    releases = stack.of_type("kubernetes:helm.sh/v3:Release")
    assert len(releases) == 4
    for found in releases:
        assert node_groups <= set(found.dependencies), found.name
