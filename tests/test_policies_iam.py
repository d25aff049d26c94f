"""IAM policies, case by case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_policies import UNKNOWN, Case, R, case, run

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"


def policy(**statement: Any) -> R:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "S", "Effect": "Allow", **statement}],
    }
    return R(ROLE_POLICY, {"policy": json.dumps(document)})


TAG_SCOPED = {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/c": "owned"}}
ROLE_R = R(ROLE, {"name": "app"}, "app")
MANAGED_ROLE = R(ROLE, {"name": "app", "managedPolicyArns": ["arn:aws:iam::aws:policy/X"]}, "app")


def attachment(role: R) -> R:
    return R(
        ATTACHMENT,
        {"role": "app", "policyArn": "arn:aws:iam::aws:policy/Y"},
        "attach",
        {"role": [role]},
    )


CASES = [
    case(
        "iam-no-service-wildcard-actions", "compliant", policy(Action="s3:GetObject", Resource="*")
    ),
    case(
        "iam-no-service-wildcard-actions",
        "non-compliant",
        policy(Action=["ec2:*"], Resource="arn:aws:ec2:x"),
        "statement S allows every action of a service (ec2:*)",
    ),
    case(
        "iam-no-service-wildcard-actions",
        "missing actions",
        R(ROLE_POLICY, {"policy": json.dumps({"Statement": [{"Effect": "Allow"}]})}),
    ),
    case(
        "iam-no-service-wildcard-actions", "unknown document", R(ROLE_POLICY, {"policy": UNKNOWN})
    ),
    case(
        "iam-no-service-wildcard-actions",
        "non-compliant inline policy of a role",
        R(
            ROLE,
            {
                "inlinePolicies": [
                    {
                        "name": "p",
                        "policy": json.dumps(
                            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                        ),
                    }
                ]
            },
        ),
        "statement (no Sid) allows every action of a service (*)",
    ),
    case(
        "iam-no-service-wildcard-actions",
        "compliant: a Deny",
        R(
            ROLE_POLICY,
            {
                "policy": json.dumps(
                    {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
                )
            },
        ),
    ),
    case(
        "iam-no-write-on-every-resource",
        "compliant: reads on everything",
        policy(Action=["s3:GetObject", "s3:ListBucket"], Resource="*"),
    ),
    case(
        "iam-no-write-on-every-resource",
        "non-compliant",
        policy(Action="s3:PutObject", Resource="*"),
        "statement S allows a mutating action on every resource",
    ),
    case(
        "iam-no-write-on-every-resource",
        "compliant: scoped by the resources' tags",
        policy(Action="autoscaling:SetDesiredCapacity", Resource="*", Condition=TAG_SCOPED),
    ),
    case(
        "iam-no-write-on-every-resource",
        "non-compliant: a condition on something else",
        policy(
            Action="autoscaling:SetDesiredCapacity",
            Resource="*",
            Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        ),
        "statement S allows a mutating action on every resource",
    ),
    case("iam-no-write-on-every-resource", "missing resources", policy(Action="s3:PutObject")),
    case(
        "iam-no-write-on-every-resource", "unknown", policy(Action="s3:PutObject", Resource=UNKNOWN)
    ),
    case("iam-role-no-policy-management-conflicts", "compliant", [ROLE_R, attachment(ROLE_R)]),
    case(
        "iam-role-no-policy-management-conflicts",
        "non-compliant",
        [MANAGED_ROLE, attachment(MANAGED_ROLE)],
        "attach manages policies of role app, which sets managedPolicyArns: the two overwrite "
        "each other on every `pulumi up`",
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "missing role (in another stack)",
        R(ATTACHMENT, {"role": "elsewhere"}, "attach"),
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "unknown managed policies",
        attachment(R(ROLE, {"name": "app", "managedPolicyArns": UNKNOWN}, "app")),
    ),
    case(
        "iam-no-access-keys",
        "non-compliant",
        R(ACCESS_KEY, {"user": "ci"}),
        "a long-lived access key for user ci",
    ),
    case("iam-no-access-keys", "compliant: a role instead", ROLE_R),
    case("iam-no-access-keys", "missing user", R(ACCESS_KEY), "a long-lived access key"),
    case(
        "iam-no-access-keys",
        "unknown user: the key is long-lived all the same",
        R(ACCESS_KEY, {"user": UNKNOWN}),
        "a long-lived access key",
    ),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_iam_policy(spec: Case) -> None:
    assert run(spec) == list(spec.expected)
