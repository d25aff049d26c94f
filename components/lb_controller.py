"""`LoadBalancerController`: the AWS Load Balancer Controller (Helm, IRSA), here only to bind the
gateway's pods to a target group that Pulumi owns (TargetGroupBinding). It creates no load
balancer itself, so its role is limited to reading and to (de)registering targets of that one
target group."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import NODE_GROUP_LABELS
from components.irsa import OidcProvider, service_account_role

CHART = "aws-load-balancer-controller"
CHART_VERSION = "1.13.0"
CHART_REPOSITORY = "https://aws.github.io/eks-charts"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"

READ_ACTIONS = (
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
)


def controller_policy(target_group_arn: str) -> str:
    statements: list[dict[str, Any]] = [
        {"Sid": "Discover", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
        {
            "Sid": "BindGatewayPods",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
            ],
            "Resource": target_group_arn,
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass
class LoadBalancerControllerArgs:
    cluster_name: str
    region: str
    vpc_id: pulumi.Input[str]
    oidc: OidcProvider
    target_group_arn: pulumi.Input[str]
    kubernetes: k8s.Provider
    # The controller's pods need nodes before Helm reports the release ready.
    node_groups: Sequence[pulumi.Resource]


class LoadBalancerController(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        args: LoadBalancerControllerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("trading:ingress:LoadBalancerController", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = service_account_role(
            f"{name}-lb-controller",
            args.oidc,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-lb-controller",
            role=account.role.id,
            policy=pulumi.Output.from_input(args.target_group_arn).apply(controller_policy),
            opts=child,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-lb-controller",
            name=CHART,
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=account.namespace,
            values={
                "clusterName": args.cluster_name,
                "region": args.region,
                "vpcId": args.vpc_id,
                "replicaCount": 2,
                "serviceAccount": account.helm_values(),
                # Only TargetGroupBinding is used: no WAF, Shield or Service mutation.
                "enableShield": False,
                "enableWaf": False,
                "enableWafv2": False,
                "enableServiceMutatorWebhook": False,
                "nodeSelector": dict(NODE_GROUP_LABELS["system"]),
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"memory": "256Mi"},
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.kubernetes, depends_on=list(args.node_groups)
            ),
        )
        self.register_outputs({"roleArn": account.role.arn})
