"""Logging and encryption: KMS keys, log groups, SNS topics, SQS queues, ACM certificates."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import ResourceValidationArgs, Severity

from .common import Settings, flag, resource_policy, some, text


def _key_rotation(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    props = args.props
    spec = text(props.get("customerMasterKeySpec")) or text(props.get("keySpec"))
    # Only symmetric encryption keys rotate automatically.
    if (spec or "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return
    if not flag(props.get("enableKeyRotation"), False):
        yield "KMS key does not rotate (enableKeyRotation defaults to false)"


def _log_group_key(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not text(args.props.get("kmsKeyId")):
        yield "log group is not encrypted with a customer KMS key (kmsKeyId)"


def _topic_key(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not text(args.props.get("kmsMasterKeyId")):
        yield "topic is not encrypted (kmsMasterKeyId)"


def _queue_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    # SQS encrypts a queue with its own keys (SSE-SQS) unless told not to.
    customer_key = text(args.props.get("kmsMasterKeyId"))
    if not customer_key and not flag(args.props.get("sqsManagedSseEnabled"), True):
        yield "queue is not encrypted (sqsManagedSseEnabled false and no kmsMasterKeyId)"


def _renewable(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    props = args.props
    if some(
        lambda: bool(text(props.get("certificateBody"))),
        lambda: bool(text(props.get("privateKey"))),
    ):
        yield "imported certificate: ACM never renews it"
    elif text(props.get("validationMethod")) == "EMAIL":
        yield "email-validated certificate: renewal waits for someone to answer an email"


POLICIES = [
    resource_policy(
        "kms-key-rotation",
        "Every symmetric customer KMS key rotates automatically, which is off by default "
        "(https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html).",
        ("aws:kms/key:Key",),
        _key_rotation,
        severity=Severity.HIGH,
        remediation="Set enable_key_rotation=True on the key.",
    ),
    resource_policy(
        "log-group-kms",
        "Every CloudWatch log group is encrypted with a customer KMS key "
        "(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).",
        ("aws:cloudwatch/logGroup:LogGroup",),
        _log_group_key,
        severity=Severity.MEDIUM,
        remediation="Set kms_key_id to a key whose policy lets logs.<region>.amazonaws.com use it.",
    ),
    resource_policy(
        "sns-topic-encrypted",
        "SNS topics are encrypted at rest, which is off unless a key is given "
        "(https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html).",
        ("aws:sns/topic:Topic",),
        _topic_key,
        severity=Severity.MEDIUM,
        remediation="Set kms_master_key_id to a customer key.",
    ),
    resource_policy(
        "sqs-queue-encrypted",
        "SQS queues are encrypted at rest: with a customer key, or SQS's own (SSE-SQS, on "
        "unless turned off) "
        "(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html).",
        ("aws:sqs/queue:Queue",),
        _queue_encrypted,
        severity=Severity.MEDIUM,
        remediation="Set kms_master_key_id, or leave sqs_managed_sse_enabled on.",
    ),
    resource_policy(
        "acm-certificate-renewable",
        "ACM certificates renew without a person: requested (not imported) and DNS-validated; "
        "ACM does not renew imported certificates "
        "(https://docs.aws.amazon.com/acm/latest/userguide/acm-renewal.html).",
        ("aws:acm/certificate:Certificate",),
        _renewable,
        severity=Severity.HIGH,
        remediation='Request the certificate from ACM with validation_method="DNS".',
    ),
]
