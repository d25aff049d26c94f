"""Logging and encryption policies, case by case."""

from __future__ import annotations

import pytest

from tests.test_policies import UNKNOWN, Case, R, case, check

KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
CERTIFICATE = "aws:acm/certificate:Certificate"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k"

CASES = [
    case("kms-key-rotation", "compliant", R(KEY, {"enableKeyRotation": True})),
    case(
        "kms-key-rotation",
        "non-compliant",
        R(KEY, {"enableKeyRotation": False}),
        "KMS key does not rotate (enableKeyRotation defaults to false)",
    ),
    case(
        "kms-key-rotation",
        "missing",
        R(KEY),
        "KMS key does not rotate (enableKeyRotation defaults to false)",
    ),
    case("kms-key-rotation", "unknown", R(KEY, {"enableKeyRotation": UNKNOWN})),
    case(
        "kms-key-rotation",
        "compliant: an asymmetric key cannot rotate",
        R(KEY, {"customerMasterKeySpec": "RSA_2048"}),
    ),
    case("log-group-kms", "compliant", R(LOG_GROUP, {"kmsKeyId": KEY_ARN})),
    case(
        "log-group-kms",
        "non-compliant: an empty key",
        R(LOG_GROUP, {"kmsKeyId": ""}),
        "log group is not encrypted with a customer KMS key (kmsKeyId)",
    ),
    case(
        "log-group-kms",
        "missing",
        R(LOG_GROUP, {"retentionInDays": 7}),
        "log group is not encrypted with a customer KMS key (kmsKeyId)",
    ),
    case("log-group-kms", "unknown", R(LOG_GROUP, {"kmsKeyId": UNKNOWN})),
    case("sns-topic-encrypted", "compliant", R(TOPIC, {"kmsMasterKeyId": KEY_ARN})),
    case(
        "sns-topic-encrypted",
        "non-compliant: an empty key",
        R(TOPIC, {"kmsMasterKeyId": ""}),
        "topic is not encrypted (kmsMasterKeyId)",
    ),
    case("sns-topic-encrypted", "missing", R(TOPIC), "topic is not encrypted (kmsMasterKeyId)"),
    case("sns-topic-encrypted", "unknown", R(TOPIC, {"kmsMasterKeyId": UNKNOWN})),
    case("sqs-queue-encrypted", "compliant", R(QUEUE, {"kmsMasterKeyId": KEY_ARN})),
    case(
        "sqs-queue-encrypted",
        "non-compliant",
        R(QUEUE, {"sqsManagedSseEnabled": False}),
        "queue is not encrypted (sqsManagedSseEnabled false and no kmsMasterKeyId)",
    ),
    case("sqs-queue-encrypted", "missing (SSE-SQS by default)", R(QUEUE)),
    case("sqs-queue-encrypted", "unknown", R(QUEUE, {"sqsManagedSseEnabled": UNKNOWN})),
    case(
        "acm-certificate-renewable",
        "compliant",
        R(CERTIFICATE, {"domainName": "api.example.com", "validationMethod": "DNS"}),
    ),
    case(
        "acm-certificate-renewable",
        "non-compliant: imported",
        R(CERTIFICATE, {"certificateBody": "-----BEGIN CERTIFICATE-----", "privateKey": "k"}),
        "imported certificate: ACM never renews it",
    ),
    case(
        "acm-certificate-renewable",
        "non-compliant: email validation",
        R(CERTIFICATE, {"domainName": "api.example.com", "validationMethod": "EMAIL"}),
        "email-validated certificate: renewal waits for someone to answer an email",
    ),
    case(
        "acm-certificate-renewable",
        "missing validation method (a private certificate)",
        R(CERTIFICATE, {"certificateAuthorityArn": "arn:aws:acm-pca:ca"}),
    ),
    case(
        "acm-certificate-renewable",
        "unknown",
        R(CERTIFICATE, {"certificateBody": UNKNOWN}),
    ),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_encryption_policy(spec: Case) -> None:
    check(spec)
