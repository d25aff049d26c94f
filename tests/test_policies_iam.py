"""IAM policies, case by case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from testing.harness import Graph
from tests.conftest import StackGraph
from tests.test_policies import UNKNOWN, Case, R, case, check, judged, refreshed

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
X = "arn:aws:iam::aws:policy/X"
Y = "arn:aws:iam::aws:policy/Y"
ROLE_R = R(ROLE, {"name": "app"}, "app")
MANAGED_ROLE = R(ROLE, {"name": "app", "managedPolicyArns": [X]}, "app")
# After `pulumi refresh` the provider lists every attached policy in the role's outputs, the
# attachment's own included (pulumi/pulumi-aws#2246): the inputs set nothing.
REFRESHED_ROLE = R(ROLE, {"name": "app"}, "app", outputs={"name": "app", "managedPolicyArns": [Y]})
# The role's own argument sets X; the attachment adds Y; AWS (and so the outputs) holds both.
CONFLICTING_ROLE = R(
    ROLE,
    {"name": "app", "managedPolicyArns": [X]},
    "app",
    outputs={"name": "app", "managedPolicyArns": [X, Y]},
)


def attachment(role: R, arn: Any = Y) -> R:
    return R(ATTACHMENT, {"role": "app", "policyArn": arn}, "attach", {"role": [role]})


def inline_role(*names: str, outputs_only: bool = True) -> R:
    listed = [{"name": n, "policy": "{}"} for n in names]
    inputs: dict[str, Any] = {"name": "app"}
    if not outputs_only:
        inputs["inlinePolicies"] = listed
    return R(ROLE, inputs, "app", outputs={"name": "app", "inlinePolicies": listed})


def with_role_policy(role: R, name: Any = "read") -> list[R]:
    props = {"role": "app", "policy": "{}", "name": name}
    return [role, R(ROLE_POLICY, props, "read", {"role": [role]})]


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
    case(
        "iam-no-write-on-every-resource",
        "compliant: an action IAM grants on every resource only (s3:CreateJob)",
        policy(Action=["s3:CreateJob", "s3:ListJobs"], Resource="*"),
    ),
    case(
        "iam-no-write-on-every-resource",
        "non-compliant: that exemption covers no other action in the statement",
        policy(Action=["s3:CreateJob", "s3:PutObject"], Resource="*"),
        "statement S allows a mutating action on every resource",
    ),
    case("iam-no-write-on-every-resource", "missing resources", policy(Action="s3:PutObject")),
    case(
        "iam-no-write-on-every-resource", "unknown", policy(Action="s3:PutObject", Resource=UNKNOWN)
    ),
    case("iam-role-no-policy-management-conflicts", "compliant", [ROLE_R, attachment(ROLE_R)]),
    case(
        "iam-role-no-policy-management-conflicts",
        "compliant: after a refresh, the outputs list the attachment's own policy",
        [REFRESHED_ROLE, attachment(REFRESHED_ROLE)],
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "compliant: after a refresh, the outputs list the RolePolicy's own inline policy",
        with_role_policy(inline_role("read")),
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "non-compliant",
        [MANAGED_ROLE, attachment(MANAGED_ROLE)],
        f"attach manages managedPolicyArns of role app, which also lists {X} that no attachment "
        "or RolePolicy of this stack accounts for: if the role's own argument sets them, the "
        "role and its attachments overwrite each other on every `pulumi up`; if something "
        "outside this stack adds them, nothing conflicts",
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "non-compliant: after a refresh, the role's own policy beside the attachment's",
        [CONFLICTING_ROLE, attachment(CONFLICTING_ROLE)],
        f"attach manages managedPolicyArns of role app, which also lists {X} that no attachment "
        "or RolePolicy of this stack accounts for: if the role's own argument sets them, the "
        "role and its attachments overwrite each other on every `pulumi up`; if something "
        "outside this stack adds them, nothing conflicts",
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "non-compliant: an inline policy the role sets beside a RolePolicy",
        with_role_policy(inline_role("own", "read", outputs_only=False)),
        "read manages inlinePolicies of role app, which also lists own that no attachment or "
        "RolePolicy of this stack accounts for: if the role's own argument sets them, the role "
        "and its attachments overwrite each other on every `pulumi up`; if something outside "
        "this stack adds them, nothing conflicts",
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
        "iam-role-no-policy-management-conflicts",
        "unknown name of a RolePolicy the provider names",
        with_role_policy(inline_role("own", "read"), UNKNOWN),
    ),
    case(
        "iam-role-no-policy-management-conflicts",
        "unknown policy of the attachment (a policy not created yet)",
        [CONFLICTING_ROLE, attachment(CONFLICTING_ROLE, UNKNOWN)],
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
    check(spec)


# -- on the program's own graphs ------------------------------------------------------------------


def conflicts(graph: Graph) -> list[str]:
    return [m for p, _, m in judged(graph) if p == "iam-role-no-policy-management-conflicts"]


def test_a_refreshed_stack_raises_no_policy_management_conflict(stack: StackGraph) -> None:
    """After `pulumi refresh` every role's outputs list the policies of its attachments and
    RolePolicies (pulumi/pulumi-aws#2246): the stack's own attachments account for them."""
    graph = refreshed(stack.graph)
    roles = graph.of_type(ROLE)
    assert any(r.outputs["managedPolicyArns"] for r in roles)
    assert any(r.outputs["inlinePolicies"] for r in roles)
    assert conflicts(graph) == []


def test_a_role_that_sets_its_own_managed_policies_beside_attachments_is_caught(
    primary: StackGraph,
) -> None:
    graph = refreshed(primary.graph)
    attachment = graph.of_type(ATTACHMENT)[0]
    role = graph.by_urn(attachment.property_dependencies["role"][0])
    role.inputs["managedPolicyArns"] = [X]
    role.outputs["managedPolicyArns"] = [*role.outputs["managedPolicyArns"], X]
    messages = conflicts(graph)
    assert messages
    assert all(f"of role {role.name}, which also lists {X}" in m for m in messages)
