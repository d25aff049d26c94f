"""IAM: what policies allow, how roles' policies are managed, long-lived credentials."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .common import (
    Settings,
    Stack,
    depends_on,
    items,
    mapping,
    peek,
    resource_policy,
    stack_policy,
    statements,
    strings,
    text,
)

POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ROLE = "aws:iam/role:Role"
READ_ONLY_VERBS = ("Get", "List", "Describe", "Head", "BatchGet", "Query", "Scan", "View", "Lookup")
# Resources that manage a role's policies beside the role: the property naming the role, and the
# role argument that takes the same kind of policies over exclusively.
ROLE_POLICY_MANAGERS = {
    "aws:iam/rolePolicy:RolePolicy": ("role", "inlinePolicies"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "managedPolicyArns"),
    "aws:iam/policyAttachment:PolicyAttachment": ("roles", "managedPolicyArns"),
}


def is_mutating(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return verb == "*" or not verb.startswith(READ_ONLY_VERBS)


def tag_scoped(statement: Mapping[str, Any]) -> bool:
    """A condition on the resources' own tags scopes `*` to the resources carrying them (the
    cluster autoscaler's rights over its cluster's Auto Scaling groups)."""
    return any(
        "ResourceTag/" in str(key)
        for operator in mapping(statement.get("Condition")).values()
        for key in mapping(operator)
    )


def documents(args: ResourceValidationArgs) -> list[Any]:
    """The policy documents a resource carries: its own, or a role's inline policies."""
    if args.resource_type == ROLE:
        return [mapping(p).get("policy") for p in items(args.props.get("inlinePolicies"))]
    return [args.props.get("policy")]


def allow_statements(args: ResourceValidationArgs) -> Iterable[Mapping[str, Any]]:
    for policy in documents(args):
        for statement in statements(policy):
            if statement.get("Effect") == "Allow":
                yield statement


def _service_wildcards(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    for statement in allow_statements(args):
        actions = strings(statement.get("Action"))
        if any(a == "*" or a.endswith(":*") for a in actions):
            sid = text(statement.get("Sid")) or "(no Sid)"
            yield f"statement {sid} allows every action of a service ({', '.join(actions)})"


def _write_everywhere(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    for statement in allow_statements(args):
        on_everything = "*" in strings(statement.get("Resource"))
        mutating = any(is_mutating(a) for a in strings(statement.get("Action")))
        if on_everything and mutating and not tag_scoped(statement):
            sid = text(statement.get("Sid")) or "(no Sid)"
            yield f"statement {sid} allows a mutating action on every resource"


def managed_role(manager: PolicyResource, stack: Stack) -> PolicyResource | None:
    prop = ROLE_POLICY_MANAGERS[manager.resource_type][0]
    named = set(strings(peek(manager.props, prop)))
    for role in stack.of_type(ROLE):
        if depends_on(manager, prop, role) or text(peek(role.props, "name")) in named:
            return role
    return None


def _management_conflicts(manager: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    role = managed_role(manager, stack)
    exclusive = ROLE_POLICY_MANAGERS[manager.resource_type][1]
    if role is not None and items(role.props.get(exclusive)):
        yield (
            f"{manager.name} manages policies of role {role.name}, which sets {exclusive}: "
            "the two overwrite each other on every `pulumi up`"
        )


def _access_keys(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    # The key is long-lived whoever its user is: a user not known yet only leaves out a name.
    user = text(peek(args.props, "user"))
    yield "a long-lived access key" + (f" for user {user}" if user else "")


POLICIES = [
    resource_policy(
        "iam-no-service-wildcard-actions",
        "No IAM statement allows `*` or every action of a service (`s3:*`) "
        "(https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html).",
        (*POLICY_TYPES, ROLE),
        _service_wildcards,
        severity=Severity.HIGH,
        remediation="Name the actions the principal really needs.",
    ),
    resource_policy(
        "iam-no-write-on-every-resource",
        "No IAM statement allows a mutating action on `*` resources unless a condition on the "
        "resources' tags scopes it "
        "(https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html).",
        (*POLICY_TYPES, ROLE),
        _write_everywhere,
        severity=Severity.HIGH,
        remediation="Name the resource ARNs, or scope `*` with an aws:ResourceTag condition.",
    ),
    stack_policy(
        "iam-role-no-policy-management-conflicts",
        "A role that sets managedPolicyArns has no policy attachments, and one that sets "
        "inlinePolicies has no RolePolicy: the role takes that kind over exclusively "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/iam/role/).",
        tuple(ROLE_POLICY_MANAGERS),
        _management_conflicts,
        severity=Severity.MEDIUM,
        remediation="Manage a role's policies one way: RolePolicy/RolePolicyAttachment "
        "resources, or the role's own arguments.",
    ),
    resource_policy(
        "iam-no-access-keys",
        "The stack creates no IAM user access keys: they are long-lived credentials, where "
        "roles give temporary ones "
        "(https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html).",
        ("aws:iam/accessKey:AccessKey",),
        _access_keys,
        severity=Severity.HIGH,
        remediation="Use a role (IRSA, an instance profile, OIDC federation for CI) instead.",
    ),
]
