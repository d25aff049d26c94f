"""The security baseline's key and bucket policies, read as AWS would evaluate them.

Each test states a documented rule and checks it on the synthesized policy documents, walking
the graph from the resource that uses a policy (the trail, the Config recorder) to the bucket,
key and role it names, so that the rule keeps holding whatever the names and values become.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import pytest

from testing.harness import Resource
from tests.conftest import StackGraph, listed

CLOUDTRAIL = "cloudtrail.amazonaws.com"
CONFIG = "config.amazonaws.com"
CLOUDTRAIL_CONTEXT = "kms:encryptioncontext:aws:cloudtrail:arn"
TLS = {"aws:SecureTransport": "true"}


# --- a small reading of IAM policy evaluation ----------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who makes a request: an AWS service principal, or an IAM role ARN."""

    service: str = ""
    role_arn: str = ""

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4] if self.role_arn else ""


@dataclass
class Request:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if caller.service:
        return caller.service in listed(principal.get("Service", []))
    aws = listed(principal.get("AWS", []))
    return "*" in aws or caller.role_arn in aws


def _account_root_named(principal: Any, account: str) -> bool:
    """A key policy naming the account (root or bare id) lets IAM policies grant the key."""
    if not isinstance(principal, dict) or not account:
        return False
    aws = listed(principal.get("AWS", []))
    return any(a == account or (a.endswith(":root") and a.split(":")[4] == account) for a in aws)


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    known = {key.lower(): value for key, value in context.items()}
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            present = known.get(key.lower())
            values = [str(v) for v in listed(wanted)]
            if operator == "Null":
                if (present is None) != (values[0] == "true"):
                    return False
            elif present is None:
                return False
            elif operator in ("StringEquals", "ArnEquals", "Bool"):
                if present not in values:
                    return False
            elif operator in ("StringLike", "ArnLike"):
                if not any(fnmatchcase(present, v) for v in values):
                    return False
            else:
                raise AssertionError(f"condition operator {operator!r} is not modeled here")
    return True


def _statement_applies(statement: dict[str, Any], request: Request) -> bool:
    actions = [a.lower() for a in listed(statement.get("Action", []))]
    resources = listed(statement.get("Resource", "*"))
    return (
        any(fnmatchcase(request.action.lower(), a) for a in actions)
        and any(fnmatchcase(request.resource, r) for r in resources)
        and _condition_holds(statement.get("Condition", {}), request.context)
    )


def _statements(document: str | None) -> list[dict[str, Any]]:
    return list(json.loads(document)["Statement"]) if document else []


def _denied(documents: list[str | None], caller: Caller, request: Request) -> bool:
    return any(
        s["Effect"] == "Deny"
        and ("Principal" not in s or _principal_matches(s["Principal"], caller))
        and _statement_applies(s, request)
        for document in documents
        for s in _statements(document)
    )


def _allowed_by(document: str | None, caller: Caller, request: Request) -> bool:
    return any(
        s["Effect"] == "Allow"
        and ("Principal" not in s or _principal_matches(s["Principal"], caller))
        and _statement_applies(s, request)
        for s in _statements(document)
    )


def _delegates_to_iam(key_policy: str, caller: Caller, request: Request) -> bool:
    return any(
        s["Effect"] == "Allow"
        and _account_root_named(s.get("Principal"), caller.account)
        and _statement_applies(s, request)
        for s in _statements(key_policy)
    )


def bucket_allows(bucket_policy: str, identity: str | None, who: Caller, req: Request) -> bool:
    """Same-account S3: the bucket policy or the caller's identity policy allows, none denies."""
    if _denied([bucket_policy, identity], who, req):
        return False
    return _allowed_by(bucket_policy, who, req) or _allowed_by(identity, who, req)


def key_allows(key_policy: str, identity: str | None, who: Caller, req: Request) -> bool:
    """KMS: the key policy allows the caller, or names the account and the caller's identity
    policy allows (a key policy is required; IAM policies alone never grant a key)."""
    if _denied([key_policy, identity], who, req):
        return False
    if _allowed_by(key_policy, who, req):
        return True
    return _delegates_to_iam(key_policy, who, req) and _allowed_by(identity, who, req)


# --- walking the graph -----------------------------------------------------------------------


def _by_output(stack: StackGraph, type_: str, key: str, value: Any) -> Resource:
    found = [r for r in stack.of_type(type_) if r.outputs.get(key) == value]
    assert len(found) == 1, f"{len(found)} {type_} with {key} = {value!r}"
    return found[0]


def _bucket_named(stack: StackGraph, name: str) -> Resource:
    return _by_output(stack, "aws:s3/bucket:Bucket", "bucket", name)


def _attached_to(stack: StackGraph, type_: str, owner: Resource, prop: str) -> list[Resource]:
    return [r for r in stack.of_type(type_) if owner.urn in r.property_dependencies.get(prop, [])]


def _bucket_policy(stack: StackGraph, bucket: Resource) -> str:
    (policy,) = _attached_to(stack, "aws:s3/bucketPolicy:BucketPolicy", bucket, "bucket")
    return str(policy.inputs["policy"])


def _default_encryption(stack: StackGraph, bucket: Resource) -> dict[str, Any]:
    (sse,) = _attached_to(
        stack,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
        "bucket",
    )
    (rule,) = sse.inputs["rules"]
    return rule


def _key_policy(stack: StackGraph, key_arn: str) -> str:
    return str(_by_output(stack, "aws:kms/key:Key", "arn", key_arn).inputs["policy"])


def _trail_arn(trail: Resource, key_arn: str) -> str:
    """`arn:<partition>:cloudtrail:<home region>:<account>:trail/<name>`, from the key beside it."""
    partition, region, account = (key_arn.split(":")[i] for i in (1, 3, 4))
    return f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail.inputs['name']}"


def _grants_cloudtrail(statement: dict[str, Any], action: str) -> bool:
    principal = statement.get("Principal", {})
    services = listed(principal.get("Service", [])) if isinstance(principal, dict) else []
    return (
        statement["Effect"] == "Allow"
        and (principal == "*" or CLOUDTRAIL in services)
        and any(fnmatchcase(action.lower(), a.lower()) for a in listed(statement["Action"]))
    )


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for tests in statement.get("Condition", {}).values() for key in tests}


# --- 5. CloudTrail's KMS key -------------------------------------------------------------------


def test_cloudtrail_may_describe_the_trail_key_without_the_cloudtrail_encryption_context(
    stack: StackGraph,
) -> None:
    """CloudTrail User Guide, "Configure AWS KMS key policies for CloudTrail", section "Enable
    CloudTrail to describe KMS key properties":
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html#create-kms-key-policy-for-cloudtrail-describe

    CloudTrail calls kms:DescribeKey without an encryption context, so no statement granting it
    DescribeKey may be conditioned on `kms:EncryptionContext:aws:cloudtrail:arn` (such a
    statement never matches), and one must actually grant it for the trail.
    """
    for trail in stack.of_type("aws:cloudtrail/trail:Trail"):
        key_arn = trail.inputs["kmsKeyId"]
        policy = _key_policy(stack, key_arn)
        granting = [s for s in _statements(policy) if _grants_cloudtrail(s, "kms:DescribeKey")]
        assert granting, f"no statement of {key_arn}'s policy lets CloudTrail DescribeKey"
        for statement in granting:
            assert CLOUDTRAIL_CONTEXT not in _condition_keys(statement), statement
        describe = Request(
            "kms:DescribeKey", key_arn, {"aws:SourceArn": _trail_arn(trail, key_arn)}
        )
        assert key_allows(policy, None, Caller(service=CLOUDTRAIL), describe)


def test_cloudtrail_may_decrypt_with_the_trail_key_when_its_bucket_uses_a_bucket_key(
    stack: StackGraph,
) -> None:
    """CloudTrail User Guide, "Configure AWS KMS key policies for CloudTrail", sections
    "Required KMS key policy elements for trails" and "Granting decrypt permissions":
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html#create-kms-key-policy-for-cloudtrail-decrypt
    ("If you are using an existing S3 bucket with an S3 Bucket Key, kms:Decrypt permissions are
    required to create or update a trail with SSE-KMS encryption enabled").

    The Decrypt unwraps S3's bucket-level key, so it carries S3's encryption context
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html), not CloudTrail's.
    """
    for trail in stack.of_type("aws:cloudtrail/trail:Trail"):
        key_arn = trail.inputs["kmsKeyId"]
        bucket = _bucket_named(stack, trail.inputs["s3BucketName"])
        if not _default_encryption(stack, bucket).get("bucketKeyEnabled"):
            continue
        decrypt = Request(
            "kms:Decrypt",
            key_arn,
            {
                "aws:SourceArn": _trail_arn(trail, key_arn),
                "aws:SourceAccount": key_arn.split(":")[4],
                "kms:EncryptionContext:aws:s3:arn": bucket.outputs["arn"],
            },
        )
        policy = _key_policy(stack, key_arn)
        assert key_allows(policy, None, Caller(service=CLOUDTRAIL), decrypt), (
            f"{trail.name} writes to bucket-key bucket {bucket.name}, but {key_arn}'s policy "
            "does not let CloudTrail kms:Decrypt"
        )


def test_trail_rules_hold_where_a_trail_exists(primary: StackGraph) -> None:
    """The two rules above loop over trails; the primary stack owns the account's one trail,
    whose bucket uses a bucket key, so they are not vacuous there."""
    (trail,) = primary.of_type("aws:cloudtrail/trail:Trail")
    bucket = _bucket_named(primary, trail.inputs["s3BucketName"])
    assert _default_encryption(primary, bucket)["bucketKeyEnabled"] is True


# --- 6. AWS Config's delivery ------------------------------------------------------------------

SERVICE_LINKED_CONFIG_ROLE = "/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


@dataclass(frozen=True)
class ConfigDelivery:
    writer: Caller
    identity_policy: str | None
    bucket_arn: str
    bucket_policy: str
    key_arn: str
    key_policy: str
    account: str
    region: str


def _config_delivery(stack: StackGraph) -> ConfigDelivery:
    (recorder,) = stack.of_type("aws:cfg/recorder:Recorder")
    (channel,) = stack.of_type("aws:cfg/deliveryChannel:DeliveryChannel")
    bucket = _bucket_named(stack, channel.inputs["s3BucketName"])
    encryption = _default_encryption(stack, bucket)["applyServerSideEncryptionByDefault"]
    key_arn = channel.inputs.get("s3KmsKeyArn") or encryption["kmsMasterKeyId"]
    role_arn = recorder.inputs["roleArn"]
    account, region = key_arn.split(":")[4], key_arn.split(":")[3]
    if role_arn.endswith(SERVICE_LINKED_CONFIG_ROLE):
        # "The AWS Config service-linked role does not have permission to put objects to
        # Amazon S3 buckets": Config then writes as its service principal.
        writer, identity = Caller(service=CONFIG), None
    else:
        role = _by_output(stack, "aws:iam/role:Role", "arn", role_arn)
        inline = _attached_to(stack, "aws:iam/rolePolicy:RolePolicy", role, "role")
        statements = [s for p in inline for s in _statements(str(p.inputs["policy"]))]
        writer = Caller(role_arn=role_arn)
        identity = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return ConfigDelivery(
        writer=writer,
        identity_policy=identity,
        bucket_arn=bucket.outputs["arn"],
        bucket_policy=_bucket_policy(stack, bucket),
        key_arn=key_arn,
        key_policy=_key_policy(stack, key_arn),
        account=account,
        region=region,
    )


def _service_context(delivery: ConfigDelivery) -> dict[str, str]:
    if not delivery.writer.service:
        return {}
    return {
        "aws:SourceAccount": delivery.account,
        "aws:SourceArn": f"arn:aws:config:{delivery.region}:{delivery.account}:*",
    }


# (what Config does, action, resource (from the delivery), request context)
CONFIG_DELIVERY_STEPS = [
    ("reads the bucket ACL", "s3:GetBucketAcl", "bucket", {}),
    (
        "writes a snapshot",
        "s3:PutObject",
        "snapshot",
        {"s3:x-amz-acl": "bucket-owner-full-control"},
    ),
    ("encrypts the new object", "kms:GenerateDataKey", "key", {}),
    ("decrypts the data key", "kms:Decrypt", "key", {}),
]


@pytest.mark.parametrize(
    ("step", "action", "target", "context"),
    CONFIG_DELIVERY_STEPS,
    ids=[step for step, *_ in CONFIG_DELIVERY_STEPS],
)
def test_config_delivery_identity_may_write_and_encrypt(
    stack: StackGraph, step: str, action: str, target: str, context: dict[str, str]
) -> None:
    """AWS Config Developer Guide: Config delivers to a same-account bucket as the recorder's
    IAM role, which then needs s3:PutObject on AWSLogs/<account>/* with the
    bucket-owner-full-control ACL, s3:GetBucketAcl on the bucket and kms:GenerateDataKey and
    kms:Decrypt on the bucket's key; with the service-linked role it delivers as
    config.amazonaws.com, which the bucket and key policies must allow instead.
    https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html
    https://docs.aws.amazon.com/config/latest/developerguide/s3-kms-key-policy.html
    https://docs.aws.amazon.com/config/latest/developerguide/iamrole-permissions.html
    """
    delivery = _config_delivery(stack)
    snapshot = (
        f"{delivery.bucket_arn}/AWSLogs/{delivery.account}/Config/{delivery.region}"
        "/2024/1/2/ConfigSnapshot/snapshot.json.gz"
    )
    resource = {"bucket": delivery.bucket_arn, "snapshot": snapshot, "key": delivery.key_arn}
    request = Request(action, resource[target], TLS | context | _service_context(delivery))
    if target == "key":
        allowed = key_allows(
            delivery.key_policy, delivery.identity_policy, delivery.writer, request
        )
    else:
        allowed = bucket_allows(
            delivery.bucket_policy, delivery.identity_policy, delivery.writer, request
        )
    assert allowed, f"{delivery.writer} cannot {action} on {request.resource} ({step})"


def test_config_delivery_evaluation_refuses_what_is_not_granted(primary: StackGraph) -> None:
    """The evaluation above is not vacuous: a write outside AWSLogs/<account>/, a write without
    the bucket-owner-full-control ACL, and a write over plain HTTP are all refused."""
    delivery = _config_delivery(primary)
    acl = {"s3:x-amz-acl": "bucket-owner-full-control"}
    elsewhere = Request("s3:PutObject", f"{delivery.bucket_arn}/elsewhere/x", TLS | acl)
    no_acl = Request(
        "s3:PutObject", f"{delivery.bucket_arn}/AWSLogs/{delivery.account}/Config/x", TLS
    )
    plain = Request(
        "s3:PutObject",
        f"{delivery.bucket_arn}/AWSLogs/{delivery.account}/Config/x",
        {"aws:SecureTransport": "false"} | acl,
    )
    for request in (elsewhere, no_acl, plain):
        assert not bucket_allows(
            delivery.bucket_policy, delivery.identity_policy, delivery.writer, request
        ), request
