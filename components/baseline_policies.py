"""The policy statements of the security baseline (components/baseline.py): what CloudTrail
and AWS Config may do with their buckets and keys, each pinned to our trail or our account."""

from __future__ import annotations

from typing import Any

from components.account import Account


def trail_bucket_statements(bucket: str, trail_arn: str, account_id: str) -> list[dict[str, Any]]:
    condition = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return [
        {
            "Sid": "CloudTrailReadsAcl",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": condition,
        },
        {
            "Sid": "CloudTrailWritesLogs",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {
                    "aws:SourceArn": trail_arn,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                }
            },
        },
    ]


def config_bucket_statements(bucket: str, account_id: str) -> list[dict[str, Any]]:
    source = {"StringEquals": {"aws:SourceAccount": account_id}}
    return [
        {
            "Sid": "ConfigReadsAcl",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": source,
        },
        {
            "Sid": "ConfigWritesSnapshots",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account_id}/Config/*",
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": account_id,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                }
            },
        },
    ]


def trail_key_usage(account: Account, trail_arn: str) -> list[dict[str, Any]]:
    """CloudTrail's three key-policy grants (CloudTrail User Guide, "Configure AWS KMS key
    policies for CloudTrail"), each pinned to our trail by `aws:SourceArn`. Only encryption
    carries the CloudTrail encryption context: CloudTrail calls DescribeKey without it, and the
    Decrypt it needs because the trail bucket uses an S3 Bucket Key (every KMS `SecureBucket`
    does) unwraps S3's bucket-level key, whose context is S3's, not CloudTrail's."""
    this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
    cloudtrail = {"Service": "cloudtrail.amazonaws.com"}
    return [
        {
            "Sid": "CloudTrailEncryptsLogs",
            "Effect": "Allow",
            "Principal": cloudtrail,
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                **this_trail,
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": (
                        f"arn:{account.partition}:cloudtrail:*:{account.account_id}:trail/*"
                    )
                },
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": cloudtrail,
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": this_trail,
        },
        {
            "Sid": "CloudTrailDecryptsBucketKey",
            "Effect": "Allow",
            "Principal": cloudtrail,
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": this_trail,
        },
    ]


def config_role_delivery_statements(
    bucket_arn: str, account_id: str, key_arn: str
) -> list[dict[str, Any]]:
    """What the recorder's own role needs to deliver into its bucket (AWS Config Developer
    Guide, "Permissions for the IAM Role Assigned to AWS Config"): same-account delivery is made
    as this role, and `AWS_ConfigRole` grants neither the bucket nor its key."""
    return [
        {
            "Sid": "ConfigRoleWritesSnapshots",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        },
        {
            # ListBucket answers Config's HeadBucket location check; without it delivery still
            # works but CloudTrail records an AccessDenied for the check.
            "Sid": "ConfigRoleChecksBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "ConfigRoleUsesBucketKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key_arn,
        },
    ]


def config_key_usage(account: Account) -> list[dict[str, Any]]:
    """When delivery as the recorder's role fails, Config retries as its service principal
    (AWS Config Developer Guide, "Permissions for the KMS Key"); so does the bucket policy."""
    return [
        {
            "Sid": "ConfigEncryptsSnapshots",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
        }
    ]
