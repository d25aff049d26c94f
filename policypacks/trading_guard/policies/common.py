"""What every policy module shares: how a policy is declared, where its settings come from, and
how properties are read.

Three rules hold for every policy built here:
- a setting's default lives once, in the policy's config schema; the engine fills defaults in
  from the schema, and `settings` does the same for callers that do not (a servicer in-process);
- a property the program left out is judged as the provider's default, never as compliant;
- a value the engine does not know yet (a preview before the resource it comes from exists) is
  not judged: reading it raises `UnknownValueError` (or, when it decides which resource another
  refers to, `referring` raises `UnresolvedReferenceError`), which drops only the verdict that
  needed it: `each` judges the values of a list one at a time, and a check keeps what it reported
  before it met the unknown value.

When an unknown value is judged later depends on the kind of policy. The engine calls a resource
policy (Analyze) again at `pulumi up`, on the resource's inputs, before it changes the resource
(pulumi pkg/resource/deploy/step_generator.go, analyzeAll). It calls a stack policy (AnalyzeStack)
once, on every resource's outputs, after all the changes are made, and not at all when the
deployment failed ("If the step generator and step executor were both successful ... Otherwise,
this step is skipped", pkg/resource/deploy/deployment_executor.go). A stack policy whose rule is
something AWS refuses at `pulumi up` would then never report it, so those policies
(`stack_policy(..., note_unverified=True)`) end by raising `UnverifiedError`, naming what they could
not verify: the SDK's servicer answers an `UnknownValueError` escaping a policy with an ADVISORY
diagnostic ("can't run policy ... during preview: <message>") whatever the policy's own level
(pulumi/pulumi-policy, sdk/python/lib/pulumi_policy/policy.py, AnalyzeStack), after the
violations the policy did report. `ReportViolation` itself takes a message and a URN only: every
violation a policy reports carries the policy's level.

The readers (`mapping`, `items`, `flag`, `number`, `text`, `document`) accept any shape the
engine can send (a string where a list was expected, floats for integers, JSON strings for
policy documents) and fall back to the caller's default instead of raising.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from fnmatch import fnmatchcase
from typing import Any, TypeVar

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
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

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


NOT_KNOWN = (UnknownValueError, UnresolvedReferenceError)
T = TypeVar("T")
R = TypeVar("R")
# What the check being run could not verify; `_judged` sets it, `each` and `known_items` add to
# it.
_UNVERIFIED: ContextVar[list[str] | None] = ContextVar("unverified", default=None)
# At most this many unverified values are named in one note; the rest are counted.
NOTE_LIMIT = 8


def reason(error: Exception) -> str:
    """What was not known, in words."""
    if isinstance(error, UnknownValueError):
        path = ".".join(str(p) for p in error.props)
        return f".{path} is not known yet" if path else "a value is not known yet"
    return f"{error} is not known yet"


def note(error: Exception) -> None:
    """Record that a verdict was dropped for a value not known yet."""
    unverified = _UNVERIFIED.get()
    if unverified is not None:
        unverified.append(reason(error))


def each(values: Iterable[T], judge: Callable[[T], Iterable[str]]) -> Iterator[str]:
    """`judge(value)` for each value, one at a time: a value not known yet drops only the verdict
    on the value that needed it, and is noted."""
    for value in values:
        try:
            verdicts = list(judge(value))
        except NOT_KNOWN as error:
            note(error)
            continue
        yield from verdicts


def each_known(values: Iterable[T], read: Callable[[T], R]) -> list[R]:
    """`read(value)` for each value whose reading needs nothing unknown; the others are noted
    and left out."""
    found = []
    for value in values:
        try:
            found.append(read(value))
        except NOT_KNOWN as error:
            note(error)
    return found


def every(*conditions: Callable[[], bool]) -> bool:
    """Whether every condition holds, reading each on its own: one known to fail decides even
    while another is not known yet; raises only when the answer depends on an unknown."""
    pending: Exception | None = None
    for condition in conditions:
        try:
            if not condition():
                return False
        except NOT_KNOWN as error:
            pending = pending or error
    if pending is not None:
        raise pending
    return True


def some(*conditions: Callable[[], bool]) -> bool:
    """Whether any condition holds: one known to hold decides even while another is not known
    yet; raises only when the answer depends on an unknown."""
    return not every(*(lambda c=c: not c() for c in conditions))


def known_items(value: Any) -> list[Any]:
    """The known elements of a list property (`items` for any other shape); each element not
    known yet is noted and left out. For a rule any one element can break (a CIDR too broad),
    never for one any element can satisfy."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        found = []
        for index in range(len(value)):
            try:
                found.append(value[index])
            except UnknownValueError as error:
                note(error)
        return found
    return items(value)


def _judged(check: Callable[[], Iterable[str]]) -> tuple[list[str], list[str]]:
    """(messages, what could not be verified): every message the check yields before a value it
    needs is not known is kept."""
    messages: list[str] = []
    unverified: list[str] = []
    token = _UNVERIFIED.set(unverified)
    try:
        for message in check():
            messages.append(message)
    except NOT_KNOWN as error:
        note(error)
    finally:
        _UNVERIFIED.reset(token)
    return messages, unverified


class UnverifiedError(UnknownValueError):
    """Raised by a stack policy after its verdicts, naming what it could not verify during a
    preview; the SDK reports it at the ADVISORY level (see the module's docstring)."""

    def __init__(self, notes: Sequence[str]) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        named = list(dict.fromkeys(notes))
        shown = "; ".join(named[:NOTE_LIMIT])
        more = len(named) - NOTE_LIMIT
        if more > 0:
            shown += f"; and {more} more"
        self.message = (
            f"not verified, as values are not known yet: {shown}. AWS may refuse this at "
            "`pulumi up`, where stack policies run only after a deployment that succeeded: "
            "check these by hand, or preview again once the values are known"
        )


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
        # What an unknown value leaves unverified is judged again at `pulumi up`, before the
        # resource changes: nothing to note here.
        messages, _ = _judged(lambda: check(args, values))
        for message in messages:
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
    note_unverified: bool = False,
) -> StackValidationPolicy:
    """A policy over each resource `subjects` selects, seeing the whole stack;
    `check(subject, stack, settings)` yields messages, reported on the subject. With
    `note_unverified`, what an unknown value left unverified ends in an advisory note."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        stack = Stack(args.resources)
        values = settings(config, args.get_config())
        judged = (
            [r for r in stack.resources if subjects(r)]
            if callable(subjects)
            else stack.of_type(*subjects)
        )
        unverified: list[str] = []
        for subject in judged:
            messages, missed = _judged(lambda s=subject: check(s, stack, values))
            for message in messages:
                report(message, subject.urn)
            unverified += [f"{subject.name}: {m}" for m in missed]
        if note_unverified and unverified:
            raise UnverifiedError(unverified)

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


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    """(key or index, child) of a mapping or list; a child not known yet is noted and left
    out, so the known ones are still searched."""
    if isinstance(value, Mapping):
        keys: Iterable[str | int] = list(value)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        keys = range(len(value))
    else:
        return
    for key in keys:
        try:
            child = value[key]  # type: ignore[index]
        except UnknownValueError as error:
            note(error)
            continue
        yield key, child


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every known leaf of nested mappings and lists, with its dotted path."""
    if isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes)
    ):
        for key, child in _children(value):
            if isinstance(key, int):
                yield from walk(child, f"{path}[{key}]")
            else:
                yield from walk(child, f"{path}.{key}" if path else str(key))
    else:
        yield path, value


def mappings(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every known mapping inside nested mappings and lists, the outer one first."""
    if isinstance(value, Mapping):
        yield value
    for _, child in _children(value):
        yield from mappings(child)


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


def condition_tests(statement: Mapping[str, Any], key: str) -> list[tuple[str, list[Any]]]:
    """(operator, values) of every test of `key` in the statement's Condition. Condition keys
    are matched case-insensitively, as IAM does; a single value counts as a list of one
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""
    return [
        (str(operator), items(values))
        for operator, tests in mapping(statement.get("Condition")).items()
        for name, values in mapping(tests).items()
        if str(name).lower() == key.lower()
    ]


def condition_values(statement: Mapping[str, Any], key: str) -> list[str]:
    """Every value any operator of the statement's Condition tests `key` against."""
    return [value for _, values in condition_tests(statement, key) for value in strings(values)]


def allows(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement names `action` (IAM's `*` wildcards, case-insensitive)."""
    if statement.get("Effect") != "Allow":
        return False
    return any(
        fnmatchcase(action.lower(), pattern.lower()) for pattern in strings(statement.get("Action"))
    )
