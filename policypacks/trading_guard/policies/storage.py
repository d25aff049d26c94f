"""Storage: S3 buckets and EFS file systems.

A bucket's settings live in resources of their own (pulumi-aws v7), tied to the bucket by the
`bucket` property, so the S3 rules are stack policies over each bucket; the deprecated inline
settings of `aws:s3/bucket:Bucket` count too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .common import (
    ADVISORY,
    Settings,
    Stack,
    condition_tests,
    dig,
    each,
    each_known,
    every,
    flag,
    items,
    mapping,
    referring,
    resource_policy,
    some,
    stack_policy,
    statements,
    text,
)

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def settings_of(stack: Stack, types: Iterable[str], bucket: PolicyResource) -> list[PolicyResource]:
    return referring(stack.of_type(*types), "bucket", bucket, "bucket", "id")


def _public_access_block(bucket: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    blocks = settings_of(stack, (PUBLIC_ACCESS_BLOCK,), bucket)
    if not blocks:
        yield f"bucket {bucket.name} has no public access block"

    def judge(block: PolicyResource) -> Iterable[str]:
        # Each flag defaults to false on the resource; a flag not known yet is not judged, the
        # others are.
        off = [
            f
            for f in BLOCK_FLAGS
            if each_known([f], lambda f: flag(block.props.get(f), False)) == [False]
        ]
        if off:
            yield f"bucket {bucket.name}: public access block leaves {', '.join(off)} off"

    yield from each(blocks, judge)


def default_encryption_rules(bucket: PolicyResource, stack: Stack) -> list[Mapping[str, Any]]:
    """The bucket's default-encryption rules, from its configuration resources or inline; each
    setting of a rule is read only when a policy asks for it."""
    configs = [c.props.get("rules") for c in settings_of(stack, ENCRYPTION, bucket)]
    inline = dig(bucket.props, "serverSideEncryptionConfiguration", "rule")
    return [mapping(rule) for rules in [*configs, inline] for rule in items(rules)]


def is_log_target(bucket: PolicyResource, stack: Stack) -> bool:
    return bool(referring(stack.of_type(*LOGGING), "targetBucket", bucket, "bucket", "id"))


def _kms_encryption(bucket: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    defaults = [
        mapping(rule.get("applyServerSideEncryptionByDefault"))
        for rule in default_encryption_rules(bucket, stack)
    ]
    # Each fact is read only when the verdict needs it: one known to fail decides.
    customer_key = some(
        *(
            lambda d=d: every(
                lambda: d.get("sseAlgorithm") in KMS_ALGORITHMS,
                lambda: bool(text(d.get("kmsMasterKeyId"))),
            )
            for d in defaults
        )
    )
    if customer_key:
        return
    if is_log_target(bucket, stack) and any(d.get("sseAlgorithm") == "AES256" for d in defaults):
        return
    yield f"bucket {bucket.name} is not encrypted with a customer KMS key"


def _versioning(bucket: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    statuses = [
        dig(v.props, "versioningConfiguration", "status")
        for v in settings_of(stack, VERSIONING, bucket)
    ]
    inline = mapping(bucket.props.get("versioning"))
    if "Enabled" not in statuses and not flag(inline.get("enabled"), False):
        yield f"bucket {bucket.name} is not versioned"


# The operators that test a boolean key; BoolIfExists also matches a request without the key.
BOOLEAN_OPERATORS = ("Bool", "BoolIfExists")


def denies_plain_http(policy: object) -> bool:
    """A Deny that applies when aws:SecureTransport is false (the request came without TLS). The
    condition key may be written in any case and its value given alone or in a list, as IAM
    reads both."""
    return any(
        s.get("Effect") == "Deny"
        and any(
            operator in BOOLEAN_OPERATORS
            and any(value is not None and not flag(value, True) for value in values)
            for operator, values in condition_tests(s, "aws:SecureTransport")
        )
        for s in statements(policy)
    )


def _tls_only(bucket: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    policies = [p.props.get("policy") for p in settings_of(stack, (BUCKET_POLICY,), bucket)]
    if not any(denies_plain_http(p) for p in [*policies, bucket.props.get("policy")]):
        yield f"bucket {bucket.name} has no policy denying requests without TLS"


def _access_logging(bucket: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    logged = settings_of(stack, LOGGING, bucket) or text(
        dig(bucket.props, "logging", "targetBucket")
    )
    # A log bucket logging its own deliveries would log forever.
    if not logged and not is_log_target(bucket, stack):
        yield f"bucket {bucket.name} has no server access logging"


def _efs_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not flag(args.props.get("encrypted"), False):
        yield "file system is not encrypted at rest (encrypted)"
    elif not text(args.props.get("kmsKeyId")):
        yield "file system is encrypted with the AWS managed key, not a customer key (kmsKeyId)"


POLICIES = [
    stack_policy(
        "s3-public-access-block",
        "Every S3 bucket declares a public access block with all four settings on: S3 turns "
        "them on for a new bucket, but only a declared block keeps them under review and puts "
        "them back on `pulumi up` "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).",
        BUCKETS,
        _public_access_block,
        severity=Severity.CRITICAL,
        remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with every flag true.",
    ),
    stack_policy(
        "s3-bucket-kms-encryption",
        "S3 buckets encrypt by default with SSE-KMS under a customer key; a bucket that "
        "receives server access logs may use SSE-S3 instead, so that log delivery needs no grant "
        "on a customer key "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html).",
        BUCKETS,
        _kms_encryption,
        severity=Severity.HIGH,
        remediation="Add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm "
        "aws:kms and kms_master_key_id (components.storage.SecureBucket does).",
    ),
    stack_policy(
        "s3-bucket-versioning",
        "S3 buckets are versioned, so an overwrite or delete can be undone and replication "
        "(which requires it) can be added "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html).",
        BUCKETS,
        _versioning,
        severity=Severity.HIGH,
        remediation="Add an aws.s3.BucketVersioning with status Enabled.",
    ),
    stack_policy(
        "s3-bucket-tls-only",
        "S3 bucket policies deny requests without TLS: a Deny under Bool (or BoolIfExists) "
        "aws:SecureTransport false, the key in any case and the value alone or in a list, as "
        "IAM reads them "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html; "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html).",
        BUCKETS,
        _tls_only,
        severity=Severity.HIGH,
        remediation="Add a bucket policy statement denying s3:* when aws:SecureTransport is false.",
    ),
    stack_policy(
        "s3-bucket-logging-enabled",
        "S3 buckets other than log targets deliver server access logs "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html). Advisory by "
        "default: buckets that only CloudTrail or AWS Config write to are audit records "
        "already.",
        BUCKETS,
        _access_logging,
        severity=Severity.LOW,
        remediation="Add an aws.s3.BucketLogging with a target bucket that uses SSE-S3.",
        enforcement=ADVISORY,
    ),
    resource_policy(
        "efs-encrypted",
        "EFS file systems are encrypted at rest with a customer KMS key "
        "(https://docs.aws.amazon.com/efs/latest/ug/encryption-at-rest.html).",
        ("aws:efs/fileSystem:FileSystem",),
        _efs_encrypted,
        severity=Severity.HIGH,
        remediation="Set encrypted=True and kms_key_id to a customer key.",
    ),
]
