"""The internal Network Load Balancer behind `RegionalEntry`'s VPC link: its security group and
rules (HTTP in from the VPC, the gateway port out to the pods, the pods' admission of it), and the
IP target group, which the Load Balancer Controller fills with the order gateway's pods.

Apart from components/entry.py, the API in front of it (which says why an NLB rather than an
ALB), because it is the region's network side of the door: it shares the VPC and the node
security group with the cluster, and nothing of the API but the balancer's ARN and DNS name.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.gateway import HEALTH_PATH


def internal_load_balancer(
    name: str,
    *,
    prefix: str,
    vpc_id: pulumi.Input[str],
    vpc_cidr: str,
    private_subnet_ids: Sequence[pulumi.Input[str]],
    node_security_group_id: pulumi.Input[str],
    port: int,
    pod_port: int,
    opts: pulumi.ResourceOptions,
) -> tuple[aws.lb.LoadBalancer, pulumi.Output[str]]:
    """The balancer, listening for HTTP on 80, and the ARN of the target group it forwards to:
    the order gateway's pods, on `pod_port` (the security group rules follow it).

    The target group keeps `port` (the gateway's) whatever `pod_port` is: its port is only the
    default for targets registered without one, and the Load Balancer Controller registers
    each pod IP with the Service's targetPort
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/create-target-group.html).
    Changing it would replace a named target group that the listener uses and that the
    TargetGroupBinding names in a field it refuses to change (spec.targetGroupARN)."""
    group = aws.ec2.SecurityGroup(
        f"{name}-nlb-sg",
        vpc_id=vpc_id,
        description="Internal NLB in front of the order gateway",
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-nlb-http",
        security_group_id=group.id,
        cidr_ipv4=vpc_cidr,
        ip_protocol="tcp",
        from_port=80,
        to_port=80,
        description="HTTP from inside the VPC (the API Gateway VPC link)",
        opts=opts,
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-nlb-to-pods",
        security_group_id=group.id,
        referenced_security_group_id=node_security_group_id,
        ip_protocol="tcp",
        from_port=pod_port,
        to_port=pod_port,
        description="To the order gateway pods",
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-pods-from-nlb",
        security_group_id=node_security_group_id,
        referenced_security_group_id=group.id,
        ip_protocol="tcp",
        from_port=pod_port,
        to_port=pod_port,
        description="Order gateway pods from the internal NLB",
        opts=opts,
    )
    balancer = aws.lb.LoadBalancer(
        f"{name}-nlb",
        name=f"{prefix}-gateway",
        internal=True,
        load_balancer_type="network",
        subnets=list(private_subnet_ids),
        security_groups=[group.id],
        enable_cross_zone_load_balancing=True,
        # VPC link traffic arrives through PrivateLink, which the group cannot name.
        enforce_security_group_inbound_rules_on_private_link_traffic="off",
        opts=opts,
    )
    target_group = aws.lb.TargetGroup(
        f"{name}-gateway",
        name=f"{prefix}-gateway",
        port=port,
        protocol="TCP",
        target_type="ip",
        vpc_id=vpc_id,
        deregistration_delay=30,
        health_check=aws.lb.TargetGroupHealthCheckArgs(
            protocol="HTTP", path=HEALTH_PATH, interval=10, healthy_threshold=2
        ),
        opts=opts,
    )
    aws.lb.Listener(
        f"{name}-nlb-http",
        load_balancer_arn=balancer.arn,
        port=80,
        protocol="TCP",
        default_actions=[
            aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
        ],
        opts=opts,
    )
    return balancer, target_group.arn
