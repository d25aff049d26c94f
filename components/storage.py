"""`SecureBucket`: an S3 bucket that cannot be public, only speaks TLS, and keeps versions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account


def account_scoped_name(account: pulumi.Output[Account], name: str) -> pulumi.Output[str]:
    """Bucket names are global: the account id keeps ours unique."""
    return account.apply(lambda a: f"{name}-{a.account_id}")


def uses_bucket_key(kms_key_arn: pulumi.Input[str] | None) -> bool:
    """Whether a bucket encrypted with `kms_key_arn` uses an S3 Bucket Key: every SSE-KMS bucket
    here does (it cuts KMS requests), and an SSE-S3 bucket (no key) has none. With a bucket key
    S3 uses the bucket ARN, not the object ARN, as the KMS encryption context, so policies that
    condition on `kms:EncryptionContext:aws:s3:arn` must allow the bucket ARN."""
    return kms_key_arn is not None


@dataclass(frozen=True)
class Lifecycle:
    archive_after_days: int | None
    noncurrent_expiry_days: int
    expire_after_days: int | None = None


@dataclass
class SecureBucketArgs:
    bucket_name: pulumi.Input[str]
    # A customer key for SSE-KMS with bucket keys. None means SSE-S3, which only an S3 server
    # access log bucket uses: S3 cannot deliver access logs into an SSE-KMS bucket.
    kms_key_arn: pulumi.Input[str] | None
    lifecycle: Lifecycle
    access_log_bucket: pulumi.Input[str] | None = None
    # For an access-log bucket: the bucket whose server access logs S3 may deliver here, and
    # the account that bucket belongs to.
    receives_access_logs_from: tuple[pulumi.Input[str], pulumi.Input[str]] | None = None
    # Statements for AWS services that write here (CloudTrail, AWS Config), Resource included.
    service_statements: pulumi.Input[list[dict[str, Any]]] | None = None


def _log_delivery(bucket_arn: str, source_arn: str, account_id: str) -> dict[str, Any]:
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": source_arn},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }


def _bucket_policy(
    bucket_arn: str, log_source: Sequence[str] | None, services: Sequence[dict[str, Any]]
) -> str:
    statements = [_deny_insecure_transport(bucket_arn), *services]
    if log_source:
        statements.append(_log_delivery(bucket_arn, log_source[0], log_source[1]))
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


class SecureBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    versioning: aws.s3.BucketVersioning
    bucket_key_enabled: bool

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(name, bucket=args.bucket_name, opts=child)
        self.bucket_name = bucket.bucket
        self.arn = bucket.arn
        self.bucket_key_enabled = uses_bucket_key(args.kms_key_arn)

        public_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        self.versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if args.kms_key_arn else "AES256",
                        kms_master_key_id=args.kms_key_arn,
                    ),
                    bucket_key_enabled=self.bucket_key_enabled,
                )
            ],
            opts=child,
        )
        log_source = args.receives_access_logs_from or ("", "")
        policy = pulumi.Output.all(
            bucket.arn, log_source[0], log_source[1], args.service_statements or []
        ).apply(lambda v: _bucket_policy(v[0], [v[1], v[2]] if v[1] else None, v[3]))
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=policy,
            # A policy put before the public access block could be refused as public.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_block]),
        )
        self._lifecycle(name, bucket, args.lifecycle, child)
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                name,
                bucket=bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=pulumi.Output.concat(bucket.bucket, "/"),
                opts=child,
            )
        self.register_outputs({"bucketName": self.bucket_name, "arn": self.arn})

    @staticmethod
    def _lifecycle(
        name: str, bucket: aws.s3.Bucket, lifecycle: Lifecycle, opts: pulumi.ResourceOptions
    ) -> None:
        transitions = (
            [
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=lifecycle.archive_after_days, storage_class="STANDARD_IA"
                )
            ]
            if lifecycle.archive_after_days
            else None
        )
        expiration = (
            aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=lifecycle.expire_after_days)
            if lifecycle.expire_after_days
            else None
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="records-lifecycle",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=transitions,
                    expiration=expiration,
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=lifecycle.noncurrent_expiry_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=opts,
        )
