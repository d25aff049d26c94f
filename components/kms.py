"""Customer-managed KMS keys: rotation on, a policy that names who may use the key and how."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account

# Seven days is KMS's minimum pending window; thirty leaves time to notice a mistaken delete.
DELETION_WINDOW_DAYS = 30
ROTATION_PERIOD_DAYS = 365


def key_policy(account: Account, usage: list[dict[str, Any]]) -> str:
    """The account root administers the key through IAM (without it a key can become
    unmanageable); every other statement grants use to a named service or role."""
    root = {
        "Sid": "AccountAdministersKeyThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{account.partition}:iam::{account.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *usage]})


def customer_key(
    name: str,
    description: str,
    policy: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    region: str | None = None,
) -> aws.kms.Key:
    """A symmetric key with yearly rotation and an alias `alias/<name>`, in `region` (default:
    the provider's)."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        rotation_period_in_days=ROTATION_PERIOD_DAYS,
        deletion_window_in_days=DELETION_WINDOW_DAYS,
        policy=policy,
        region=region,
        opts=opts,
    )
    aws.kms.Alias(name, name=f"alias/{name}", target_key_id=key.key_id, region=region, opts=opts)
    return key


def logs_usage(account: Account) -> list[dict[str, Any]]:
    """CloudWatch Logs may use the key only for this account's log groups in this region."""
    return [
        {
            "Sid": "CloudWatchLogsEncryptsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": account.arn("logs", "log-group:*")
                }
            },
        }
    ]
