"""`ClusterAddons`: what the cluster needs beyond pulumi-eks, every piece on the cluster's own
Kubernetes provider: encrypted gp3 volumes (EBS CSI driver, default storage class), the cluster
autoscaler, metrics-server, kube-prometheus-stack (Prometheus, Alertmanager to SNS, Grafana)
and Container Insights. Add-on pods request the capacity profile's `addons` resources, so the
dr pilot light stays small.

What it installs (charts, pinned versions, the EKS add-ons' service accounts) is in
components/addon_catalog.py; the add-ons' policies are in components/addon_policies.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.addon_catalog import (
    AUTOSCALER,
    CHART_REPOSITORIES,
    EKS_ADDON_SERVICE_ACCOUNTS,
    autoscaler_release,
    chart_version,
)
from components.addon_policies import (
    autoscaler_policy,
    ebs_key_usage,
    publish_policy,
    read_metrics_policy,
)
from components.cluster import NODE_GROUP_LABELS, EksCluster
from components.context import RegionalContext
from components.irsa import OidcProvider, ServiceAccountRole, service_account_role
from components.kms import customer_key, key_policy
from components.prometheus import STORAGE_CLASS, kube_prometheus_stack_values
from settings import AddonRequests, Observability

MONITORING = "monitoring"
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
CONTAINER_INSIGHTS_LOGS = ("application", "dataplane", "host", "performance")
DASHBOARDS = Path(__file__).resolve().parent / "dashboards"


@dataclass
class ClusterAddonsArgs:
    context: RegionalContext
    cluster: EksCluster
    # Everything whose pods need a node (Helm releases, EKS add-ons) waits for these.
    node_groups: Sequence[pulumi.Resource]
    oidc: OidcProvider
    kubernetes: k8s.Provider
    requests: AddonRequests
    observability: Observability
    # The key of the context's alerts topic: Alertmanager publishes through it.
    alerts_key_arn: pulumi.Input[str]


class ClusterAddons(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:k8s:ClusterAddons", name, None, opts)
        self._name = name
        self._args = args
        self._aws = pulumi.ResourceOptions(parent=self)
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.kubernetes)
        storage_class = self._encrypted_volumes()
        self._autoscaler()
        self._release("metrics-server", "kube-system", {"resources": self._resources()})
        self._monitoring(storage_class)
        self._container_insights()
        self.register_outputs({})

    def _resources(self) -> dict[str, Any]:
        requests = {"cpu": self._args.requests.cpu, "memory": self._args.requests.memory}
        return {"requests": requests, "limits": {"memory": self._args.requests.memory}}

    def _release(
        self,
        chart: str,
        namespace: str,
        values: dict[str, Any],
        depends_on: list[pulumi.Resource] | None = None,
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{self._name}-{chart}",
            name=chart,
            chart=chart,
            version=chart_version(chart, self._args.cluster.kubernetes_version),
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORIES[chart]),
            namespace=namespace,
            values={"nodeSelector": dict(NODE_GROUP_LABELS["system"]), **values},
            opts=pulumi.ResourceOptions.merge(
                self._k8s,
                pulumi.ResourceOptions(depends_on=[*self._args.node_groups, *(depends_on or [])]),
            ),
        )

    def _eks_addon(
        self, label: str, addon: str, role: aws.iam.Role, after: Sequence[pulumi.Resource]
    ) -> aws.eks.Addon:
        """An EKS-managed add-on at the version EKS defaults to for the cluster's version. Its
        pods run on our nodes (EKS User Guide, "Amazon EKS add-ons"): created before the node
        groups, it waits for a node, times out and is left DEGRADED."""
        return aws.eks.Addon(
            f"{self._name}-{label}",
            cluster_name=self._args.context.cluster_name,
            addon_name=addon,
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self._args.cluster, *self._args.node_groups, *after],
            ),
        )

    def _irsa(self, label: str, namespace: str, service_account: str) -> ServiceAccountRole:
        return service_account_role(
            f"{self._name}-{label}",
            self._args.oidc,
            namespace=namespace,
            service_account=service_account,
            opts=self._aws,
        )

    def _addon_role(self, label: str, addon: str) -> aws.iam.Role:
        namespace, service_account = EKS_ADDON_SERVICE_ACCOUNTS[addon]
        return self._irsa(label, namespace, service_account).role

    def _encrypted_volumes(self) -> k8s.storage.v1.StorageClass:
        args = self._args
        role = self._addon_role("ebs-csi", "aws-ebs-csi-driver")
        aws.iam.RolePolicyAttachment(
            f"{self._name}-ebs-csi", role=role.name, policy_arn=EBS_CSI_POLICY, opts=self._aws
        )
        key = customer_key(
            f"{args.context.cluster_name}-ebs",
            f"Encryption of {args.context.cluster_name}'s persistent volumes",
            pulumi.Output.all(args.context.account, role.arn).apply(
                lambda v: key_policy(v[0], ebs_key_usage(v[1]))
            ),
            self._aws,
        )
        addon = self._eks_addon("ebs-csi", "aws-ebs-csi-driver", role, [])
        return k8s.storage.v1.StorageClass(
            f"{self._name}-{STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key.arn},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain",
            opts=pulumi.ResourceOptions.merge(
                self._k8s, pulumi.ResourceOptions(depends_on=[addon])
            ),
        )

    def _autoscaler(self) -> None:
        args = self._args
        account = self._irsa(AUTOSCALER, "kube-system", AUTOSCALER)
        aws.iam.RolePolicy(
            f"{self._name}-{AUTOSCALER}",
            role=account.role.id,
            policy=autoscaler_policy(args.context.cluster_name),
            opts=self._aws,
        )
        self._release(
            AUTOSCALER,
            account.namespace,
            {
                "cloudProvider": "aws",
                "awsRegion": args.context.region,
                "autoDiscovery": {"clusterName": args.context.cluster_name},
                # The chart's default image is its own appVersion; pinned here beside the chart
                # so that the pair always comes from the same row.
                "image": {"tag": autoscaler_release(args.cluster.kubernetes_version).image_tag},
                "rbac": {"serviceAccount": account.helm_values()},
                # Never below a node group's minimum (the pilot light's, or the full profile's
                # once failover has raised it), and slow to remove nodes failover just added.
                "extraArgs": {
                    "balance-similar-node-groups": "true",
                    "expander": "least-waste",
                    "scale-down-delay-after-add": "10m",
                    "scale-down-unneeded-time": "10m",
                    "skip-nodes-with-local-storage": "false",
                },
                "resources": self._resources(),
            },
        )

    def _monitoring(self, storage_class: k8s.storage.v1.StorageClass) -> None:
        args = self._args
        namespace = k8s.core.v1.Namespace(
            f"{self._name}-{MONITORING}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MONITORING),
            opts=self._k8s,
        )
        password = random.RandomPassword(
            f"{self._name}-grafana-admin", length=32, special=False, opts=self._aws
        )
        admin = k8s.core.v1.Secret(
            f"{self._name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="grafana-admin", namespace=namespace.metadata.name
            ),
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=self._k8s,
        )
        alertmanager = self._irsa("alertmanager", MONITORING, "alertmanager")
        aws.iam.RolePolicy(
            f"{self._name}-alertmanager",
            role=alertmanager.role.id,
            policy=pulumi.Output.all(args.context.alerts_topic_arn, args.alerts_key_arn).apply(
                lambda v: publish_policy(v[0], v[1])
            ),
            opts=self._aws,
        )
        grafana = self._irsa("grafana", MONITORING, "grafana")
        aws.iam.RolePolicy(
            f"{self._name}-grafana",
            role=grafana.role.id,
            policy=read_metrics_policy(),
            opts=self._aws,
        )
        dashboards = [
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{path.stem}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"dashboard-{path.stem}",
                    namespace=namespace.metadata.name,
                    labels={"grafana_dashboard": "1"},
                ),
                data={path.name: path.read_text()},
                opts=self._k8s,
            )
            for path in sorted(DASHBOARDS.glob("*.json"))
        ]
        self._release(
            "kube-prometheus-stack",
            MONITORING,
            kube_prometheus_stack_values(
                args.context,
                args.observability,
                self._resources(),
                alertmanager.helm_values(),
                grafana.helm_values(),
            ),
            depends_on=[storage_class, admin, *dashboards],
        )

    def _container_insights(self) -> None:
        """The CloudWatch agent add-on: node and pod metrics (the failed-node alarm reads them)
        and container logs, into log groups created first so they are encrypted."""
        args = self._args
        groups = [
            aws.cloudwatch.LogGroup(
                f"{self._name}-insights-{kind}",
                name=f"/aws/containerinsights/{args.context.cluster_name}/{kind}",
                kms_key_id=args.context.logs_key_arn,
                retention_in_days=args.context.log_retention_days,
                opts=self._aws,
            )
            for kind in CONTAINER_INSIGHTS_LOGS
        ]
        role = self._addon_role("cloudwatch-agent", "amazon-cloudwatch-observability")
        aws.iam.RolePolicyAttachment(
            f"{self._name}-cloudwatch-agent",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.CLOUD_WATCH_AGENT_SERVER_POLICY,
            opts=self._aws,
        )
        self._eks_addon("container-insights", "amazon-cloudwatch-observability", role, groups)
