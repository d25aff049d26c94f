"""The records bucket's S3 replication to the peer region: its two ends, the role S3 replicates
with and its least-privilege policy, and the replication configuration with Replication Time
Control and its metrics.

Apart from `DataReplication` (components/data_replication.py), which declares it with the ends
in either direction, because the policy is plain JSON checked on its own against the S3 rules
and the configuration is one long nested document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import service_role

# S3 Replication Time Control's fixed objective.
S3_RTC_MINUTES = 15
# The configuration's one rule; the replication alarms name it in their dimensions.
RULE_ID = "records-to-peer-region"


@dataclass(frozen=True)
class ReplicationEnd:
    """One end of the records replication."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    region: str
    alerts_topic_arn: pulumi.Input[str]
    # Whether the bucket encrypts with an S3 Bucket Key (see `storage.uses_bucket_key`).
    bucket_key: bool


def bucket_replication(
    name: str,
    origin: ReplicationEnd,
    target: ReplicationEnd,
    versioning: pulumi.Resource,
    parent: pulumi.Resource,
) -> None:
    """Replication from `origin` to `target`, declared once dr's records bucket has
    `versioning` on."""
    role = service_role(
        f"{name}-s3-replication", "s3.amazonaws.com", pulumi.ResourceOptions(parent=parent)
    )
    aws.iam.RolePolicy(
        f"{name}-s3-replication",
        role=role.id,
        policy=pulumi.Output.all(origin.arn, origin.key_arn, target.arn, target.key_arn).apply(
            lambda v: replication_policy(
                origin_arn=v[0],
                origin_key=v[1],
                origin_region=origin.region,
                target_arn=v[2],
                target_key=v[3],
                target_region=target.region,
                origin_bucket_key=origin.bucket_key,
                target_bucket_key=target.bucket_key,
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.s3.BucketReplicationConfig(
        f"{name}-s3-replication",
        # The configuration lives on the origin bucket, so in the origin's region.
        region=origin.region,
        bucket=origin.name,
        role=role.arn,
        rules=[
            aws.s3.BucketReplicationConfigRuleArgs(
                id=RULE_ID,
                status="Enabled",
                priority=1,
                filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                    status="Enabled"
                ),
                source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                    sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                        status="Enabled"
                    ),
                    replica_modifications=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaReplicaModificationsArgs(
                        status="Enabled"
                    ),
                ),
                destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                    bucket=target.arn,
                    storage_class="STANDARD",
                    encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                        replica_kms_key_id=target.key_arn
                    ),
                    replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                        status="Enabled",
                        time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(
                            minutes=S3_RTC_MINUTES
                        ),
                    ),
                    metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                        status="Enabled",
                        event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                            minutes=S3_RTC_MINUTES
                        ),
                    ),
                ),
            )
        ],
        # Replication needs versioning on the destination first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]),
    )


def replication_policy(
    *,
    origin_arn: str,
    origin_key: str,
    origin_region: str,
    target_arn: str,
    target_key: str,
    target_region: str,
    origin_bucket_key: bool,
    target_bucket_key: bool,
) -> str:
    """Least privilege for S3 replication: read versions from the origin, write replicas to the
    target, and use each side's key only through S3 in its own region, for its own objects.

    With an S3 Bucket Key on the origin or the target, S3 uses the bucket ARN instead of the
    object ARN as the `aws:s3:arn` encryption context (S3 User Guide, "Replicating encrypted
    objects", Amazon S3 Bucket Keys and replication), so each key's condition then admits its
    bucket's ARN too; object ARNs stay allowed for objects written without a bucket key. The
    target key also needs kms:Decrypt then: S3 checks the bucket key's integrity with it."""
    bucket_key = origin_bucket_key or target_bucket_key

    def encryption_context(bucket_arn: str) -> str | list[str]:
        return [bucket_arn, f"{bucket_arn}/*"] if bucket_key else f"{bucket_arn}/*"

    replica_actions = ["kms:Encrypt", "kms:GenerateDataKey"]
    if bucket_key:
        replica_actions.append("kms:Decrypt")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadReplicationConfiguration",
                    "Effect": "Allow",
                    "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    "Resource": origin_arn,
                },
                {
                    "Sid": "ReadObjectVersions",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    "Resource": f"{origin_arn}/*",
                },
                {
                    "Sid": "WriteReplicas",
                    "Effect": "Allow",
                    "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    "Resource": f"{target_arn}/*",
                },
                {
                    "Sid": "DecryptOriginObjects",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": origin_key,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"s3.{origin_region}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": encryption_context(origin_arn)
                        },
                    },
                },
                {
                    "Sid": "EncryptReplicas",
                    "Effect": "Allow",
                    "Action": replica_actions,
                    "Resource": target_key,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"s3.{target_region}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": encryption_context(target_arn)
                        },
                    },
                },
            ],
        }
    )
