"""The IAM and key policy documents of the cluster add-ons (components/addons.py): what each
add-on's role may do, and on which resources."""

from __future__ import annotations

import json
from typing import Any

AUTOSCALER_READ = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
)


def autoscaler_policy(cluster_name: str) -> str:
    """Scaling only Auto Scaling groups tagged as this cluster's (EKS tags the groups of its
    managed node groups so); the tag condition is what scopes the `*` resource."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Discover",
                    "Effect": "Allow",
                    "Action": list(AUTOSCALER_READ),
                    "Resource": "*",
                },
                {
                    "Sid": "ScaleThisClustersNodeGroups",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:SetDesiredCapacity",
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                        }
                    },
                },
            ],
        }
    )


def publish_policy(topic_arn: str, key_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PageOnCall",
                    "Effect": "Allow",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                },
                {
                    "Sid": "EncryptedTopic",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": key_arn,
                },
            ],
        }
    )


def read_metrics_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadCloudWatchMetrics",
                    "Effect": "Allow",
                    "Action": [
                        "cloudwatch:DescribeAlarms",
                        "cloudwatch:GetMetricData",
                        "cloudwatch:GetMetricStatistics",
                        "cloudwatch:ListMetrics",
                    ],
                    "Resource": "*",
                }
            ],
        }
    )


def ebs_key_usage(role_arn: str) -> list[dict[str, Any]]:
    """The EBS CSI driver's role may encrypt volumes with the key, and let EC2 hold grants."""
    return [
        {
            "Sid": "EbsCsiDriverEncryptsVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": "*",
        },
        {
            "Sid": "EbsCsiDriverGrantsToEc2",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]
