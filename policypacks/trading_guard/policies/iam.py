"""IAM: what policies allow, how roles' policies are managed, long-lived credentials."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .common import (
    ADVISORY,
    Settings,
    Stack,
    UnresolvedReferenceError,
    depends_on,
    each,
    each_known,
    known_items,
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
# Mutating actions with no resource type, which IAM grants on `*` only: s3:CreateJob
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
NO_RESOURCE_TYPE = frozenset({"s3:CreateJob"})
# Resources that manage a role's policies beside the role: the property naming the role, the
# role property that lists the same kind of policies (and takes them over exclusively when the
# program sets it), and the property of the manager naming the policy it adds.
ROLE_POLICY_MANAGERS = {
    "aws:iam/rolePolicy:RolePolicy": ("role", "inlinePolicies", "name"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "managedPolicyArns", "policyArn"),
    "aws:iam/policyAttachment:PolicyAttachment": ("roles", "managedPolicyArns", "policyArn"),
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
    """The policy documents a resource carries: its own, or a role's inline policies; one not
    known yet is left out, so the others are still judged."""
    if args.resource_type == ROLE:
        return each_known(
            known_items(args.props.get("inlinePolicies")), lambda p: mapping(p).get("policy")
        )
    return [args.props.get("policy")]


def allow_statements(args: ResourceValidationArgs) -> list[Mapping[str, Any]]:
    """The Allow statements of every known document; a statement whose Effect is not known
    yet is left out."""
    listed = [s for found in each_known(documents(args), statements) for s in found]
    return [s for s in listed if each_known([s], lambda s: s.get("Effect")) == ["Allow"]]


def _service_wildcards(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    def judge(statement: Mapping[str, Any]) -> Iterable[str]:
        actions = strings(statement.get("Action"))
        if any(a == "*" or a.endswith(":*") for a in actions):
            sid = text(statement.get("Sid")) or "(no Sid)"
            yield f"statement {sid} allows every action of a service ({', '.join(actions)})"

    yield from each(allow_statements(args), judge)


def _write_everywhere(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    def judge(statement: Mapping[str, Any]) -> Iterable[str]:
        on_everything = "*" in strings(statement.get("Resource"))
        mutating = any(
            is_mutating(a) and a not in NO_RESOURCE_TYPE for a in strings(statement.get("Action"))
        )
        if on_everything and mutating and not tag_scoped(statement):
            sid = text(statement.get("Sid")) or "(no Sid)"
            yield f"statement {sid} allows a mutating action on every resource"

    yield from each(allow_statements(args), judge)


def managed_role(manager: PolicyResource, stack: Stack) -> PolicyResource | None:
    prop = ROLE_POLICY_MANAGERS[manager.resource_type][0]
    named = set(strings(peek(manager.props, prop)))
    for role in stack.of_type(ROLE):
        if depends_on(manager, prop, role) or text(peek(role.props, "name")) in named:
            return role
    return None


def listed_policies(role: PolicyResource, kind: str) -> set[str]:
    """The policies of `kind` the role's outputs list: managed policy ARNs, or the names of
    inline policies (an entry without a name is the provider's "none" placeholder)."""
    # Any one policy nothing accounts for is a conflict: one not known yet is left out.
    listed = known_items(role.props.get(kind))
    if kind == "managedPolicyArns":
        return {t for v in listed if (t := text(v))}
    return {n for n in each_known(listed, lambda p: text(mapping(p).get("name"))) if n}


def _management_conflicts(manager: PolicyResource, stack: Stack, __: Settings) -> Iterable[str]:
    """The role's outputs list every policy of the kind attached in AWS, in-stack attachments'
    included, once the provider has read the role (pulumi/pulumi-aws#2246): only what no
    in-stack manager of the role accounts for can come from the role's own argument."""
    role = managed_role(manager, stack)
    if role is None:
        return
    kind = ROLE_POLICY_MANAGERS[manager.resource_type][1]
    listed = listed_policies(role, kind)
    if not listed:
        return
    accounted = set()
    for other in stack.of_type(*ROLE_POLICY_MANAGERS):
        _, other_kind, added_by = ROLE_POLICY_MANAGERS[other.resource_type]
        if other_kind != kind or managed_role(other, stack) is not role:
            continue
        added = text(other.props.get(added_by))
        if added is None and kind == "inlinePolicies":
            # A RolePolicy without a name gets one from the provider, known once it exists.
            raise UnresolvedReferenceError(f"the name of inline policy {other.name}")
        if added is not None:
            accounted.add(added)
    unaccounted = sorted(listed - accounted)
    if unaccounted:
        yield (
            f"{manager.name} manages {kind} of role {role.name}, which also lists "
            f"{', '.join(unaccounted)} that no attachment or RolePolicy of this stack accounts "
            "for: if the role's own argument sets them, the role and its attachments overwrite "
            "each other on every `pulumi up`; if something outside this stack adds them, "
            "nothing conflicts"
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
        "(https://www.pulumi.com/registry/packages/aws/api-docs/iam/role/). A stack policy "
        "sees the role's outputs, which the provider fills with every policy attached in AWS, "
        "the attachments' own included (https://github.com/pulumi/pulumi-aws/issues/2246), so "
        "only policies that no in-stack attachment or RolePolicy of the role accounts for are "
        "reported. Advisory: one added outside the stack (another stack's attachment, a "
        "person) reads the same as one the role's argument sets, and a real conflict also "
        "shows as a change on every preview.",
        tuple(ROLE_POLICY_MANAGERS),
        _management_conflicts,
        severity=Severity.MEDIUM,
        remediation="Manage a role's policies one way: RolePolicy/RolePolicyAttachment "
        "resources, or the role's own arguments.",
        enforcement=ADVISORY,
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
