"""`BatchReplicationRole`: the role S3 Batch Operations assumes when failback copies the objects
dr's records bucket holds but the primary's does not (handlers/steps.py, S3 Batch Replication).

Live replication copies only objects written after a rule exists
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html): what
dr wrote before its rule to the primary was deployed needs a Batch Replication job, which runs
as this role. The job's generated manifest and its completion report go to dr's own records
bucket under `REPORT_PREFIX`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account

# Where in dr's records bucket the job writes its manifest and its completion report.
REPORT_PREFIX = "batch-replication"
SERVICE = "batchoperations.s3.amazonaws.com"


def trust_policy() -> str:
    """S3 Batch Operations may assume the role: the S3 User Guide's trust policy as written
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html,
    "Trust policy"). It has no aws:SourceAccount or aws:SourceArn condition, and the guide does
    not say that Batch Operations sends either key when it assumes a role: a condition on a key
    that is absent fails, and the job could not run. Who can make a job use this role is bounded
    instead by iam:PassRole, which only the failover Lambda's role has, on this role only, to
    this service only (components/failover_policy.py)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": SERVICE},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def role_policy(*, bucket_arn: str, key_arn: str, region: str) -> str:
    """The S3 User Guide's policy for a Batch Replication job that generates and stores its
    manifest (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
    s3-batch-replication-policies.html), with the replication source, the manifest bucket and
    the report bucket all dr's records bucket, the manifest and the report under
    `REPORT_PREFIX`. The bucket encrypts with dr's data key through an S3 Bucket Key, whose
    encryption context is the bucket's ARN (https://docs.aws.amazon.com/AmazonS3/latest/
    userguide/bucket-key.html): writing and reading the manifest and the report needs that key,
    through S3 in dr only. The copies themselves run as the bucket's replication role."""
    prefixed = f"{bucket_arn}/{REPORT_PREFIX}/*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "InitiateReplication",
            "Effect": "Allow",
            "Action": "s3:InitiateReplication",
            "Resource": f"{bucket_arn}/*",
        },
        {
            "Sid": "GenerateManifest",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "ReadManifest",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": prefixed,
        },
        {
            "Sid": "WriteManifestAndReport",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": prefixed,
        },
        {
            "Sid": "EncryptedManifestAndReport",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, prefixed]},
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass
class BatchReplicationRoleArgs:
    account: pulumi.Output[Account]
    # dr's records bucket (the replication source) and the key it encrypts with.
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]


class BatchReplicationRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    report_prefix: str = REPORT_PREFIX

    def __init__(
        self, name: str, args: BatchReplicationRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:batch_replication:BatchReplicationRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-batch-replication",
            description="S3 Batch Operations: failback's Batch Replication of dr's records",
            assume_role_policy=trust_policy(),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-batch-replication",
            role=role.id,
            policy=pulumi.Output.all(args.account, args.bucket_arn, args.key_arn).apply(
                lambda v: role_policy(bucket_arn=v[1], key_arn=v[2], region=v[0].region)
            ),
            opts=child,
        )
        self.role_arn = role.arn
        self.register_outputs({"roleArn": self.role_arn})
