"""Storage policies, case by case: what each reports on S3 buckets and EFS file systems."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_policies import UNKNOWN, Case, R, case, check

BUCKET = "aws:s3/bucket:Bucket"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
EFS = "aws:efs/fileSystem:FileSystem"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k"


def bucket(name: str = "b") -> R:
    return R(BUCKET, {"bucket": f"{name}-123"}, name)


def setting(type_: str, target: R, props: dict[str, Any], prop: str = "bucket") -> R:
    return R(type_, {prop: target.props["bucket"], **props}, target.name, {prop: [target]})


def block(target: R, **flags: Any) -> R:
    return setting(BLOCK, target, {**dict.fromkeys(FLAGS, True), **flags})


def kms(target: R, algorithm: str = "aws:kms", key: Any = KEY_ARN) -> R:
    rule = {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm, "kmsMasterKeyId": key}
    }
    return setting(SSE, target, {"rules": [rule]})


def versioned(target: R, status: Any = "Enabled") -> R:
    return setting(VERSIONING, target, {"versioningConfiguration": {"status": status}})


def tls_only(
    target: R,
    secure_transport: Any = "false",
    key: str = "aws:SecureTransport",
    operator: str = "Bool",
) -> R:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Condition": {operator: {key: secure_transport}},
    }
    return setting(POLICY, target, {"policy": json.dumps({"Statement": [statement]})})


def logged_to(source: R, target: R) -> R:
    return R(
        LOGGING,
        {"bucket": source.props["bucket"], "targetBucket": target.props["bucket"]},
        source.name,
        {"bucket": [source], "targetBucket": [target]},
    )


B = bucket()
LOGS = bucket("logs")

CASES = [
    case("s3-public-access-block", "compliant", [B, block(B)]),
    case(
        "s3-public-access-block",
        "non-compliant",
        [B, block(B, restrictPublicBuckets=False)],
        "bucket b: public access block leaves restrictPublicBuckets off",
    ),
    case("s3-public-access-block", "missing block", B, "bucket b has no public access block"),
    case(
        "s3-public-access-block",
        "missing flags (each defaults to false)",
        [B, setting(BLOCK, B, {"blockPublicAcls": True})],
        "bucket b: public access block leaves blockPublicPolicy, ignorePublicAcls, "
        "restrictPublicBuckets off",
    ),
    case("s3-public-access-block", "unknown flag", [B, block(B, ignorePublicAcls=UNKNOWN)]),
    case(
        "s3-public-access-block",
        "compliant: a block naming the bucket by its name",
        [B, R(BLOCK, {"bucket": "b-123", **dict.fromkeys(FLAGS, True)}, "by-name")],
    ),
    case("s3-bucket-kms-encryption", "compliant", [B, kms(B)]),
    case(
        "s3-bucket-kms-encryption",
        "non-compliant: SSE-S3",
        [B, kms(B, "AES256", None)],
        "bucket b is not encrypted with a customer KMS key",
    ),
    case(
        "s3-bucket-kms-encryption",
        "missing configuration",
        B,
        "bucket b is not encrypted with a customer KMS key",
    ),
    case(
        "s3-bucket-kms-encryption",
        "missing key (the AWS managed key)",
        [B, kms(B, key=None)],
        "bucket b is not encrypted with a customer KMS key",
    ),
    case("s3-bucket-kms-encryption", "unknown key", [B, kms(B, key=UNKNOWN)]),
    case(
        "s3-bucket-kms-encryption",
        "compliant: an access-log target uses SSE-S3, as S3 log delivery requires",
        [B, kms(B), LOGS, kms(LOGS, "AES256", None), logged_to(B, LOGS)],
    ),
    case(
        "s3-bucket-kms-encryption",
        "compliant: the deprecated inline configuration",
        R(
            BUCKET,
            {
                "bucket": "b-123",
                "serverSideEncryptionConfiguration": {
                    "rule": {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": KEY_ARN,
                        }
                    }
                },
            },
            "b",
        ),
    ),
    case("s3-bucket-versioning", "compliant", [B, versioned(B)]),
    case(
        "s3-bucket-versioning",
        "non-compliant: suspended",
        [B, versioned(B, "Suspended")],
        "bucket b is not versioned",
    ),
    case("s3-bucket-versioning", "missing", B, "bucket b is not versioned"),
    case("s3-bucket-versioning", "unknown status", [B, versioned(B, UNKNOWN)]),
    case("s3-bucket-tls-only", "compliant", [B, tls_only(B)]),
    case(
        "s3-bucket-tls-only",
        "non-compliant: denies TLS requests instead",
        [B, tls_only(B, "true")],
        "bucket b has no policy denying requests without TLS",
    ),
    case("s3-bucket-tls-only", "missing", B, "bucket b has no policy denying requests without TLS"),
    case("s3-bucket-tls-only", "unknown policy", [B, setting(POLICY, B, {"policy": UNKNOWN})]),
    case(
        "s3-bucket-tls-only",
        "compliant: a boolean condition value",
        [B, tls_only(B, False)],
    ),
    case(
        "s3-bucket-tls-only",
        "compliant: the value in a list, as IAM reads it",
        [B, tls_only(B, ["false"])],
    ),
    case(
        "s3-bucket-tls-only",
        "compliant: the condition key in another case (IAM's keys are case-insensitive)",
        [B, tls_only(B, "FALSE", key="AWS:securetransport")],
    ),
    case(
        "s3-bucket-tls-only",
        "compliant: BoolIfExists",
        [B, tls_only(B, ["false"], operator="BoolIfExists")],
    ),
    case(
        "s3-bucket-tls-only",
        "non-compliant: a list that denies TLS requests only",
        [B, tls_only(B, ["true"])],
        "bucket b has no policy denying requests without TLS",
    ),
    case("s3-bucket-logging-enabled", "compliant", [B, LOGS, logged_to(B, LOGS)]),
    case(
        "s3-bucket-logging-enabled",
        "non-compliant: logging configured for another bucket only",
        [B, bucket("other"), LOGS, logged_to(bucket("other"), LOGS)],
        "bucket b has no server access logging",
    ),
    case("s3-bucket-logging-enabled", "missing", B, "bucket b has no server access logging"),
    case(
        "s3-bucket-logging-enabled",
        "unknown target of the deprecated inline logging",
        R(BUCKET, {"bucket": "b-123", "logging": {"targetBucket": UNKNOWN}}, "b"),
    ),
    case("efs-encrypted", "compliant", R(EFS, {"encrypted": True, "kmsKeyId": KEY_ARN})),
    case(
        "efs-encrypted",
        "non-compliant: the AWS managed key",
        R(EFS, {"encrypted": True}),
        "file system is encrypted with the AWS managed key, not a customer key (kmsKeyId)",
    ),
    case("efs-encrypted", "missing", R(EFS), "file system is not encrypted at rest (encrypted)"),
    case("efs-encrypted", "unknown key", R(EFS, {"encrypted": True, "kmsKeyId": UNKNOWN})),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_storage_policy(spec: Case) -> None:
    check(spec)
