"""What every policy module shares: how a policy is declared, where its settings come from, and
how properties are read.

Three rules hold for every policy built here:
- a setting's default lives once, in the policy's config schema; the engine fills defaults in
  from the schema, and `settings` does the same for callers that do not (a servicer in-process);
- a property the program left out is judged as the provider's default, never as compliant;
- a value the engine does not know yet (a preview before the resource it comes from exists) is
  not judged: reading it raises `UnknownValueError` (or, when it decides which resource another
  refers to, `referring` raises `UnresolvedReferenceError`), which drops only the judgement that
  needed it. The engine runs resource policies again on known inputs before `pulumi up` creates the
  resource, and stack policies on known outputs after it, so nothing escapes.
The readers (`mapping`, `items`, `flag`, `number`, `text`, `document`) accept any shape the
engine can send (a string where a list was expected, floats for integers, JSON strings for
policy documents) and fall back to the caller's default instead of raising.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

Props = Mapping[str, Any]
Settings = Mapping[str, Any]
# JSON-schema property specifications, keyed by setting name.
Schema = Mapping[str, Mapping[str, Any]]
ResourceCheck = Callable[[ResourceValidationArgs, Settings], Iterable[str]]


class Stack:
    """The resources of one AnalyzeStack request."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]


StackCheck = Callable[[PolicyResource, Stack, Settings], Iterable[str]]
# The resources a stack policy judges: resource types, or a test on the resource.
Subjects = Sequence[str] | Callable[[PolicyResource], bool]


def settings(schema: Schema | None, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The policy's settings: the config file's values over the schema's defaults."""
    defaults = {k: spec["default"] for k, spec in (schema or {}).items() if "default" in spec}
    return {**defaults, **dict(given or {})}


def schema_of(config: Schema | None) -> PolicyConfigSchema | None:
    if not config:
        return None
    return PolicyConfigSchema(properties={k: dict(spec) for k, spec in config.items()})


class UnresolvedReferenceError(Exception):
    """A judgement needs which resource another one refers to, and the value that says so is
    not known yet."""


def _judged(check: Callable[[], Iterable[str]]) -> list[str]:
    try:
        return list(check())
    except (UnknownValueError, UnresolvedReferenceError):
        return []


def resource_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: ResourceCheck,
    *,
    severity: Severity,
    remediation: str,
    enforcement: EnforcementLevel = MANDATORY,
    config: Schema | None = None,
) -> ResourceValidationPolicy:
    """A policy over single resources of `types`; `check(args, settings)` yields messages."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        values = settings(config, args.get_config())
        for message in _judged(lambda: check(args, values)):
            report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement,
        config_schema=schema_of(config),
        severity=severity,
        remediation_steps=remediation,
    )


def stack_policy(
    name: str,
    description: str,
    subjects: Subjects,
    check: StackCheck,
    *,
    severity: Severity,
    remediation: str,
    enforcement: EnforcementLevel = MANDATORY,
    config: Schema | None = None,
) -> StackValidationPolicy:
    """A policy over each resource `subjects` selects, seeing the whole stack;
    `check(subject, stack, settings)` yields messages, reported on the subject."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        stack = Stack(args.resources)
        values = settings(config, args.get_config())
        judged = (
            [r for r in stack.resources if subjects(r)]
            if callable(subjects)
            else stack.of_type(*subjects)
        )
        for subject in judged:
            for message in _judged(lambda s=subject: check(s, stack, values)):
                report(message, subject.urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement,
        config_schema=schema_of(config),
        severity=severity,
        remediation_steps=remediation,
    )


# -- reading properties of any shape -----------------------------------------------------------


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    """A list property; a single value counts as a list of one (pulumi-aws v7 sends some
    one-element lists, such as an API's endpoint types, as a string)."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [value]


def flag(value: Any, default: bool) -> bool:
    """A boolean; some pulumi-aws booleans are strings ("true")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def amount(value: Any, default: float) -> float:
    """A number, `default` when missing or not a number."""
    found = number(value)
    return default if found is None else found


def number(value: Any, default: float | None = None) -> float | None:
    """A number; the wire carries every number as a float."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return None


def dig(value: Any, *path: str) -> Any:
    """The value at `path` inside nested mappings, None where any step is missing."""
    for key in path:
        value = mapping(value).get(key)
    return value


def document(value: Any) -> Mapping[str, Any]:
    """A policy document given as JSON text or as a mapping."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return mapping(value)


def statements(policy: Any) -> list[Mapping[str, Any]]:
    return [s for s in items(document(policy).get("Statement")) if isinstance(s, Mapping)]


def strings(value: Any) -> list[str]:
    return [s for s in (text(v) for v in items(value)) if s is not None]


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of nested mappings and lists, with its dotted path."""
    if isinstance(value, Mapping):
        for key in value:
            yield from walk(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value


def mappings(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every mapping inside nested mappings and lists, the outer one first."""
    if isinstance(value, Mapping):
        yield value
        for key in value:
            yield from mappings(value[key])
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for item in value:
            yield from mappings(item)


# -- relations between resources ----------------------------------------------------------------


def known(props: Props, key: str) -> bool:
    try:
        props.get(key)
    except UnknownValueError:
        return False
    return True


def refers_to(
    resource: PolicyResource, prop: str, target: PolicyResource, *names: str
) -> bool | None:
    """Whether `resource`'s `prop` refers to `target`: computed from it, or equal to one of its
    `names` properties (a name given as a literal); None when a value that decides is not known
    yet."""
    if depends_on(resource, prop, target):
        return True
    if not known(resource.props, prop) or not all(known(target.props, n) for n in names):
        return None
    value = text(resource.props.get(prop))
    return value is not None and value in {text(target.props.get(n)) for n in names}


def referring(
    resources: Iterable[PolicyResource], prop: str, target: PolicyResource, *names: str
) -> list[PolicyResource]:
    """The resources whose `prop` refers to `target`. Raises UnresolvedReferenceError when none
    surely does but one may: a verdict of absence would be a guess."""
    found, maybe = [], False
    for resource in resources:
        match = refers_to(resource, prop, target, *names)
        if match:
            found.append(resource)
        maybe = maybe or match is None
    if maybe and not found:
        raise UnresolvedReferenceError(f"{prop} of a resource that may refer to {target.name}")
    return found


def peek(props: Props, key: str) -> Any:
    """`props[key]`, None when missing or not known yet: for matching one resource to another,
    where an unknown value only means "not this one", never for a value being judged."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def depends_on(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether `resource`'s `prop` was computed from `target` (for example a bucket's id)."""
    return any(d.urn == target.urn for d in resource.property_dependencies.get(prop, []))


def uses(resource: PolicyResource, target: PolicyResource) -> bool:
    """Whether `resource` depends on `target` through any property or `depends_on`."""
    return any(d.urn == target.urn for d in resource.dependencies) or any(
        d.urn == target.urn for deps in resource.property_dependencies.values() for d in deps
    )


def ancestors(resource: PolicyResource) -> Iterator[PolicyResource]:
    parent = resource.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def region_of(resource: PolicyResource) -> str | None:
    """The region a resource is placed in: its own `region` (pulumi-aws v7), else its
    provider's."""
    own = text(resource.props.get("region"))
    if own:
        return own
    provider = resource.provider
    return text(provider.props.get("region")) if provider is not None else None


def stack_name(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` -> `<stack>`."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


# -- IAM documents ----------------------------------------------------------------------------


def principals(statement: Mapping[str, Any], kind: str) -> list[str]:
    """The statement's principals of `kind` ("AWS", "Service"); `"*"` counts for every kind."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return strings(mapping(principal).get(kind))


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    return {
        str(key).lower()
        for operator in mapping(statement.get("Condition")).values()
        for key in mapping(operator)
    }


def condition_values(statement: Mapping[str, Any], key: str) -> list[str]:
    """Every value any operator of the statement's Condition tests `key` against."""
    return [
        value
        for operator in mapping(statement.get("Condition")).values()
        for name, values in mapping(operator).items()
        if str(name).lower() == key.lower()
        for value in strings(values)
    ]


def allows(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement names `action` (IAM's `*` wildcards, case-insensitive)."""
    if statement.get("Effect") != "Allow":
        return False
    return any(
        fnmatchcase(action.lower(), pattern.lower()) for pattern in strings(statement.get("Action"))
    )
