"""The launch of the cluster's managed nodes (components/cluster.py): the key of their root
volumes, usable by EC2 Auto Scaling, and each node group's launch template."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.context import RegionalContext
from components.kms import customer_key, key_policy
from settings import LowLatency

# EC2 Auto Scaling launches the managed nodes, as this account-wide service-linked role.
AUTOSCALING_SERVICE = "autoscaling.amazonaws.com"
AUTOSCALING_SERVICE_ROLE = "AWSServiceRoleForAutoScaling"
ROOT_VOLUME_GB = 50


def service_linked_role_arn(partition: str, account_id: str, service: str, role: str) -> str:
    """Where IAM puts a service's service-linked role (IAM User Guide, "Using service-linked
    roles"): always under the `aws-service-role/<service>/` path."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/{service}/{role}"


def _autoscaling_service_role(name: str, parent: pulumi.Resource) -> aws.iam.ServiceLinkedRole:
    """EC2 Auto Scaling's service-linked role, declared so that the node volume key can be
    ordered after it: KMS rejects a key policy naming a principal that does not exist (KMS
    API Reference, CreateKey), and IAM creates this role on its own only with an account's
    first Auto Scaling group, which comes after the key."""
    # The role is account-wide and IAM creates it once: where it already exists (any earlier
    # Auto Scaling group, or the other region's stack in the same account), adopt it into
    # this stack once before `pulumi up`. The provider's import id is the role ARN; the
    # URNs of the parent component and of the region's provider come from
    # `pulumi stack --show-urns`:
    #
    #   ROLE=aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling
    #   pulumi import aws:iam/serviceLinkedRole:ServiceLinkedRole \
    #       <stack>-autoscaling-service-role "arn:aws:iam::$ACCOUNT_ID:role/$ROLE" \
    #       --parent "cluster=$TRADING_CLUSTER_URN" --provider "aws=$AWS_PROVIDER_URN"
    #
    # An import rather than a config switch that skips the declaration: whether the role
    # exists is a fact of the account's history, which the import records once in state; a
    # switch would be a second source of truth that goes stale when a stack moves account,
    # and when off it would leave the key nothing to be ordered after. Retained on delete:
    # destroying one stack must not take the role from the account's other groups.
    return aws.iam.ServiceLinkedRole(
        f"{name}-autoscaling-service-role",
        aws_service_name=AUTOSCALING_SERVICE,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )


def node_volume_key(name: str, context: RegionalContext, parent: pulumi.Resource) -> aws.kms.Key:
    """Root volumes are encrypted with our key; EC2 Auto Scaling launches the instances,
    so its service-linked role must be able to use it (EC2 Auto Scaling User Guide,
    "Required AWS KMS key policy for use with encrypted volumes")."""
    autoscaling = _autoscaling_service_role(name, parent)
    policy = context.account.apply(
        lambda a: key_policy(
            a,
            [
                {
                    "Sid": "AutoScalingLaunchesEncryptedNodes",
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": service_linked_role_arn(
                            a.partition,
                            a.account_id,
                            AUTOSCALING_SERVICE,
                            AUTOSCALING_SERVICE_ROLE,
                        )
                    },
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                        "kms:CreateGrant",
                    ],
                    "Resource": "*",
                }
            ],
        )
    )
    return customer_key(
        f"{context.cluster_name}-nodes",
        f"Root volumes of {context.cluster_name}'s nodes",
        policy,
        pulumi.ResourceOptions(parent=parent, depends_on=[autoscaling]),
    )


def launch_template(
    name: str,
    context: RegionalContext,
    group: str,
    *,
    key: aws.kms.Key,
    low_latency: LowLatency | None,
    cluster_security_group_id: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only, with a hop limit of 2 so pods that need instance metadata reach it;
    encrypted gp3 root volumes; for the latency group (`low_latency` given), a cluster
    placement group."""
    child = pulumi.ResourceOptions(parent=parent)
    placement = None
    interfaces = None
    if low_latency is not None:
        group_ = aws.ec2.PlacementGroup(
            f"{name}-{group}-placement",
            name=f"{context.cluster_name}-{group}",
            strategy="cluster",
            opts=child,
        )
        placement = aws.ec2.LaunchTemplatePlacementArgs(group_name=group_.name)
        if low_latency.ena_express:
            interfaces = [
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    security_groups=[cluster_security_group_id],
                    ena_srd_specification=aws.ec2.LaunchTemplateNetworkInterfaceEnaSrdSpecificationArgs(
                        ena_srd_enabled=True,
                        ena_srd_udp_specification=aws.ec2.LaunchTemplateNetworkInterfaceEnaSrdSpecificationEnaSrdUdpSpecificationArgs(
                            ena_srd_udp_enabled=True
                        ),
                    ),
                )
            ]
    return aws.ec2.LaunchTemplate(
        f"{name}-{group}-template",
        name=f"{context.cluster_name}-{group}",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=2,
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=ROOT_VOLUME_GB,
                    volume_type="gp3",
                    encrypted="true",
                    kms_key_id=key.arn,
                    delete_on_termination="true",
                ),
            )
        ],
        placement=placement,
        network_interfaces=interfaces,
        opts=child,
    )
