"""How the failover Lambda reaches the dr cluster's Kubernetes API, which is private to the dr VPC.

Its place in the VPC (its security group, the cluster security group's admission of it, and the
EC2 statements Lambda needs for the function's network interfaces) and its identity in the
cluster (the EKS access entry). Apart from components/failover.py because it is one concern, the
path from the function to that API, which the function's other resources do not share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.gateway_access import FAILOVER_SCALER_GROUP

HTTPS_PORT = 443


@dataclass(frozen=True)
class FunctionNetwork:
    """The function's place in the VPC, as its role's EC2 statements name it."""

    vpc_id: str
    subnet_ids: Sequence[str]
    security_group_id: str


def network_statements(account: Account, network: FunctionNetwork) -> list[dict[str, Any]]:
    """Lambda creates and manages the function's network interfaces with the function's own
    role: ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DeleteNetworkInterface,
    AssignPrivateIpAddresses and UnassignPrivateIpAddresses
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html; the managed policy
    AWSLambdaVPCAccessExecutionRole adds DescribeSubnets,
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/
    AWSLambdaVPCAccessExecutionRole.html). Resource types and condition keys:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html."""
    ec2 = f"arn:{account.partition}:ec2:{account.region}:{account.account_id}"
    interfaces = f"{ec2}:network-interface/*"
    return [
        # CreateNetworkInterface requires the `subnet` resource type and, when the request
        # names one, `security-group`: listing only the function's private subnets and its own
        # group confines new interfaces to them. The new interface's own ARN is not known
        # before it exists, and its resource type offers no VPC or subnet condition key for
        # this action, so it is named by pattern, in this region and account only.
        {
            "Sid": "LambdaCreatesInterfacesInItsSubnets",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [
                interfaces,
                *(f"{ec2}:subnet/{s}" for s in network.subnet_ids),
                f"{ec2}:security-group/{network.security_group_id}",
            ],
        },
        # Lambda checks these when it creates the function, before any interface exists, and
        # documents DeleteNetworkInterface as needing all resource ids of the region and
        # account (`arn:aws:ec2:<region>:<account>:*/*`, configuration-vpc.html): a condition
        # on the interface's VPC would have nothing to match then.
        {
            "Sid": "LambdaManagesItsInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": f"{ec2}:*/*",
        },
        # Describe* actions have no resource type: `*` only, and Lambda documents
        # DescribeNetworkInterfaces as working only on `*`. They read, never change.
        {
            "Sid": "LambdaReadsItsNetwork",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": "*",
        },
    ]


def handler_security_group(
    name: str,
    *,
    prefix: str,
    vpc_id: pulumi.Input[str] | None,
    private_subnet_ids: Sequence[pulumi.Input[str]],
    cluster_security_group_id: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> aws.ec2.SecurityGroup | None:
    """The function's security group: HTTPS out, nothing in; and the cluster security
    group's admission of it to the Kubernetes API (EKS creates that group with an inbound
    rule from itself only, https://docs.aws.amazon.com/eks/latest/userguide/
    sec-group-reqs.html). Inside the VPC the cluster's endpoint name resolves to its private
    endpoint (https://docs.aws.amazon.com/eks/latest/APIReference/
    API_VpcConfigRequest.html). Everything else the handler calls leaves on 443 as well:
    the VPC's interface (STS, logs) and gateway (DynamoDB) endpoints, and, through the
    private subnets' NAT gateway, the regional APIs (EKS, RDS, SNS, CloudWatch, Route 53),
    the primary region's RDS API and regional endpoint, and the ARC cluster's endpoints."""
    if vpc_id is None or not private_subnet_ids:
        return None
    group = aws.ec2.SecurityGroup(
        f"{name}-handler-sg",
        vpc_id=vpc_id,
        description="The failover Lambda: HTTPS out, nothing in",
        tags={"Name": f"{prefix}-failover"},
        opts=opts,
    )
    # The provider removes the allow-all egress rule AWS puts on a new group
    # (https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/), so this
    # rule is the only way out. DNS needs no rule: security groups do not filter traffic
    # to the VPC's Amazon DNS server (https://docs.aws.amazon.com/vpc/latest/userguide/
    # security-group-rules.html).
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-handler-https-out",
        security_group_id=group.id,
        cidr_ipv4="0.0.0.0/0",
        ip_protocol="tcp",
        from_port=HTTPS_PORT,
        to_port=HTTPS_PORT,
        description="HTTPS to AWS APIs, the Kubernetes API and the ARC cluster endpoints",
        opts=opts,
    )
    if cluster_security_group_id is not None:
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-cluster-api-from-handler",
            security_group_id=cluster_security_group_id,
            referenced_security_group_id=group.id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            description="The failover Lambda calls the Kubernetes API",
            opts=opts,
        )
    return group


def function_network(
    vpc_id: pulumi.Input[str] | None,
    private_subnet_ids: Sequence[pulumi.Input[str]],
    group: aws.ec2.SecurityGroup | None,
) -> pulumi.Output[dict[str, Any] | None]:
    """The function's place in the VPC for its role's EC2 statements (`FunctionNetwork`'s
    fields), or None when it runs outside the VPC."""
    if group is None or vpc_id is None:
        return pulumi.Output.from_input(None)
    return pulumi.Output.all(
        vpc_id=vpc_id, subnet_ids=list(private_subnet_ids), security_group_id=group.id
    )


def cluster_access_entry(
    name: str,
    cluster_name: str,
    cluster_security_group_id: pulumi.Input[str] | None,
    role: aws.iam.Role,
    opts: pulumi.ResourceOptions,
) -> None:
    """The function's role in the dr cluster: only the Kubernetes group whose RBAC
    components/gateway.py declares, no EKS access policy (https://docs.aws.amazon.com/eks/
    latest/userguide/create-k8s-group-access-entry.html)."""
    cluster: pulumi.Input[str] = cluster_name
    if cluster_security_group_id is not None:
        # The entry needs the cluster to exist. The cluster security group is one of the
        # cluster's outputs, so naming the cluster through it orders the entry after it.
        cluster = pulumi.Output.all(cluster_name, cluster_security_group_id).apply(
            lambda pair: str(pair[0])
        )
    aws.eks.AccessEntry(
        f"{name}-cluster-access",
        cluster_name=cluster,
        principal_arn=role.arn,
        kubernetes_groups=[FAILOVER_SCALER_GROUP],
        type="STANDARD",
        opts=opts,
    )
