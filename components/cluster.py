"""The regional EKS cluster (pulumi-eks): private API, encrypted secrets, logged control plane,
and the system and trading managed node groups sized by a capacity profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.context import RegionalContext
from components.iam import assume_role_policy
from components.irsa import OidcProvider
from components.kms import customer_key, key_policy
from components.nodes import launch_template, node_volume_key
from settings import CLUSTER_LOG_TYPES, LATENCY_NODE_GROUP, LowLatency, NodeGroupSize

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_POLICIES = (
    aws.iam.ManagedPolicy.AMAZON_EKS_WORKER_NODE_POLICY,
    aws.iam.ManagedPolicy.AMAZON_EC2_CONTAINER_REGISTRY_READ_ONLY,
    aws.iam.ManagedPolicy.AMAZON_EK_S_CN_I_POLICY,
    aws.iam.ManagedPolicy.AMAZON_SSM_MANAGED_INSTANCE_CORE,
)

# Per node group: labels that workloads select on, and taints that keep everything but the
# order gateway off the latency-critical nodes.
NODE_GROUP_LABELS: Mapping[str, Mapping[str, str]] = {
    "system": {"trading.example/node-group": "system"},
    "trading": {"trading.example/node-group": "trading"},
    LATENCY_NODE_GROUP: {"trading.example/node-group": LATENCY_NODE_GROUP},
}
NODE_GROUP_TAINTS: Mapping[str, Sequence[aws.eks.NodeGroupTaintArgs]] = {
    "system": (),
    "trading": (
        aws.eks.NodeGroupTaintArgs(key="dedicated", value="trading", effect="NO_SCHEDULE"),
    ),
    LATENCY_NODE_GROUP: (
        aws.eks.NodeGroupTaintArgs(key="dedicated", value="trading", effect="NO_SCHEDULE"),
    ),
}


class EksCluster(eks.Cluster):
    """pulumi-eks's cluster, plus the Kubernetes minor it was declared with: what runs on it and
    must match that minor (the cluster autoscaler) reads it here rather than from config."""

    kubernetes_version: str

    def __init__(
        self,
        resource_name: str,
        kubernetes_version: str,
        opts: pulumi.ResourceOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(resource_name, opts=opts, version=kubernetes_version, **kwargs)
        self.kubernetes_version = kubernetes_version


def _secrets_key_usage(cluster_role_arn: str) -> list[dict[str, Any]]:
    """Only the cluster's own service role may use the key, and only through EKS."""
    return [
        {
            "Sid": "EksClusterRoleEncryptsSecrets",
            "Effect": "Allow",
            "Principal": {"AWS": cluster_role_arn},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
            "Resource": "*",
        }
    ]


def keep_failover_sizes(
    args: pulumi.ResourceTransformArgs,
) -> pulumi.ResourceTransformResult | None:
    """pulumi-eks's `ignoreScalingChanges` ignores only the desired size; after a failover the
    handler has raised min and max too, and a later `pulumi up` (after `pulumi refresh`) would
    put them back to the pilot light, letting the cluster autoscaler shrink production. A
    transform reaches the node group that pulumi-eks creates inside its component."""
    if args.type_ != "aws:eks/nodeGroup:NodeGroup":
        return None
    return pulumi.ResourceTransformResult(
        args.props,
        pulumi.ResourceOptions.merge(
            args.opts, pulumi.ResourceOptions(ignore_changes=["scalingConfig"])
        ),
    )


@dataclass
class TradingClusterArgs:
    context: RegionalContext
    version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_access_cidrs: Sequence[str]
    admin_role_arns: Sequence[str]
    # Roles that run `pulumi up`/`preview`: Kubernetes authorizes a server-side dry run exactly
    # like the request itself, so a preview needs the same access as the deployment.
    deploy_role_arns: Sequence[str]
    node_groups: Mapping[str, NodeGroupSize]
    availability_zones: tuple[str, ...]
    low_latency: LowLatency | None = None
    # The failover handler resizes these groups (dr): `pulumi up` must keep the whole scaling
    # config it set, not only the desired size.
    scaled_by_failover: bool = False


class TradingCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc: OidcProvider
    secrets_key_arn: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    node_group_names: dict[str, str]
    cluster: EksCluster
    # What Helm releases and EKS add-ons wait for: pods with no node time out on first deploy.
    node_groups: list[eks.ManagedNodeGroup]
    kubernetes: k8s.Provider

    def __init__(
        self, name: str, args: TradingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:eks:TradingCluster", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        cluster_role, secrets_key = self._cluster_role_and_key()
        log_group = self._control_plane_log_group()
        node_role = self._role("node", "ec2.amazonaws.com", NODE_POLICIES)
        self.cluster = self._cluster(cluster_role, secrets_key, node_role, log_group)
        self.node_groups = []
        self.node_group_names = self._node_groups(node_role)

        self.cluster_name = pulumi.Output.from_input(args.context.cluster_name)
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.oidc = OidcProvider(self.cluster.oidc_provider_arn, self.cluster.oidc_provider_url)
        self.secrets_key_arn = secrets_key.arn
        # Managed nodes carry the EKS-created cluster security group; with pulumi-eks's own
        # groups skipped, this output is that group, the one databases admit.
        self.node_security_group_id = self.cluster.cluster_security_group_id
        # Every Kubernetes resource of this region names this provider, never an ambient one.
        self.kubernetes = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "nodeGroupNames": self.node_group_names,
            }
        )

    def _cluster_role_and_key(self) -> tuple[aws.iam.Role, aws.kms.Key]:
        role = self._role(
            "cluster", "eks.amazonaws.com", [aws.iam.ManagedPolicy.AMAZON_EKS_CLUSTER_POLICY]
        )
        policy = pulumi.Output.all(self._args.context.account, role.arn).apply(
            lambda pair: key_policy(pair[0], _secrets_key_usage(pair[1]))
        )
        key = customer_key(
            f"{self._args.context.cluster_name}-eks-secrets",
            f"Envelope encryption of Kubernetes secrets in {self._args.context.cluster_name}",
            policy,
            self._child,
        )
        return role, key

    def _control_plane_log_group(self) -> aws.cloudwatch.LogGroup:
        # EKS writes to this fixed name; creating it first is the only way to give the
        # control-plane logs our key and a retention instead of an unencrypted, endless group.
        return aws.cloudwatch.LogGroup(
            f"{self._name}-control-plane-logs",
            name=f"/aws/eks/{self._args.context.cluster_name}/cluster",
            kms_key_id=self._args.context.logs_key_arn,
            retention_in_days=self._args.context.log_retention_days,
            opts=self._child,
        )

    def _role(self, label: str, service: str, policies: Sequence[str]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-{label}-role",
            assume_role_policy=assume_role_policy(service),
            opts=self._child,
        )
        for policy in policies:
            aws.iam.RolePolicyAttachment(
                f"{self._name}-{label}-{policy.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=policy,
                opts=self._child,
            )
        return role

    def _cluster(
        self,
        cluster_role: aws.iam.Role,
        secrets_key: aws.kms.Key,
        node_role: aws.iam.Role,
        log_group: aws.cloudwatch.LogGroup,
    ) -> EksCluster:
        args = self._args
        access_entries = {
            f"admin-{index}": eks.AccessEntryArgs(
                principal_arn=arn,
                access_policies={
                    "cluster-admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=CLUSTER_ADMIN_POLICY,
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
            for index, arn in enumerate(
                dict.fromkeys([*args.admin_role_arns, *args.deploy_role_arns])
            )
        }
        return EksCluster(
            f"{self._name}-eks",
            args.version,
            pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
            name=args.context.cluster_name,
            vpc_id=args.vpc_id,
            private_subnet_ids=list(args.private_subnet_ids),
            endpoint_private_access=True,
            endpoint_public_access=bool(args.public_access_cidrs),
            public_access_cidrs=list(args.public_access_cidrs) or None,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            encryption_config_key_arn=secrets_key.arn,
            enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
            create_oidc_provider=True,
            skip_default_node_group=True,
            skip_default_security_groups=True,
            service_role=cluster_role,
            instance_roles=[node_role],
            deletion_protection=True,
        )

    def _node_groups(self, node_role: aws.iam.Role) -> dict[str, str]:
        key = node_volume_key(self._name, self._args.context, self)
        names: dict[str, str] = {}
        for group, size in self._args.node_groups.items():
            node_group_name = f"{self._args.context.cluster_name}-{group}"
            latency = group == LATENCY_NODE_GROUP and self._args.low_latency is not None
            subnets = (
                [self._subnet_in(self._args.low_latency.availability_zone)]
                if latency and self._args.low_latency
                else list(self._args.private_subnet_ids)
            )
            template = launch_template(
                self._name,
                self._args.context,
                group,
                key=key,
                low_latency=self._args.low_latency if latency else None,
                cluster_security_group_id=self.cluster.cluster_security_group_id,
                parent=self,
            )
            node_group = eks.ManagedNodeGroup(
                f"{self._name}-{group}-ng",
                cluster=self.cluster,
                node_group_name=node_group_name,
                node_role=node_role,
                subnet_ids=subnets,
                instance_types=list(size.instance_types),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=size.min_size,
                    desired_size=size.desired_size,
                    max_size=size.max_size,
                ),
                labels=dict(NODE_GROUP_LABELS[group]),
                taints=list(NODE_GROUP_TAINTS[group]),
                # Failover scales these groups through the EKS API; a later `pulumi up` must
                # not shrink production back to the pilot light it was declared with.
                ignore_scaling_changes=True,
                opts=pulumi.ResourceOptions.merge(
                    self._child,
                    pulumi.ResourceOptions(
                        transforms=[keep_failover_sizes] if self._args.scaled_by_failover else []
                    ),
                ),
            )
            self.node_groups.append(node_group)
            names[group] = node_group_name
        return names

    def _subnet_in(self, zone: str) -> pulumi.Input[str]:
        return self._args.private_subnet_ids[self._args.availability_zones.index(zone)]
