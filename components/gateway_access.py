"""The Kubernetes RBAC that lets the failover Lambda scale the order gateway in dr, and nothing
more: its EKS access entry (components/failover_cluster_access.py) puts it in one group, and
only these bindings grant that group anything."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

# The Kubernetes group the failover Lambda's EKS access entry puts it in.
FAILOVER_SCALER_GROUP = "trading-failover-scaler"


def failover_scaler_access(
    name: str,
    namespace: pulumi.Input[str],
    *,
    deployment: str,
    autoscaler: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """What the failover Lambda does in this cluster, and nothing more: scale this
    Deployment and set its HPA's bounds, read its available replicas, and list nodes to wait
    for Ready ones. `resourceNames` pins every namespaced rule to the gateway's own objects;
    a `list` cannot be restricted by name, and nodes are cluster-scoped, so that one rule is
    a ClusterRole (https://kubernetes.io/docs/reference/access-authn-authz/rbac/
    #referring-to-resources)."""
    subject = k8s.rbac.v1.SubjectArgs(
        kind="Group", name=FAILOVER_SCALER_GROUP, api_group="rbac.authorization.k8s.io"
    )
    role_name = f"{deployment}-failover-scaler"
    role = k8s.rbac.v1.Role(
        f"{name}-failover-scaler",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name, namespace=namespace),
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(
                api_groups=["apps"],
                resources=["deployments"],
                resource_names=[deployment],
                verbs=["get"],
            ),
            k8s.rbac.v1.PolicyRuleArgs(
                api_groups=["apps"],
                resources=["deployments/scale"],
                resource_names=[deployment],
                verbs=["get", "patch"],
            ),
            k8s.rbac.v1.PolicyRuleArgs(
                api_groups=["autoscaling"],
                resources=["horizontalpodautoscalers"],
                resource_names=[autoscaler],
                verbs=["get", "patch"],
            ),
        ],
        opts=opts,
    )
    k8s.rbac.v1.RoleBinding(
        f"{name}-failover-scaler",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name, namespace=namespace),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
        ),
        subjects=[subject],
        opts=opts,
    )
    node_reader = k8s.rbac.v1.ClusterRole(
        f"{name}-failover-node-reader",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="trading-failover-node-reader"),
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["nodes"], verbs=["get", "list"])
        ],
        opts=opts,
    )
    k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-failover-node-reader",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="trading-failover-node-reader"),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io",
            kind="ClusterRole",
            name=node_reader.metadata.name,
        ),
        subjects=[subject],
        opts=opts,
    )
