"""Every policy against what the engine may send instead of what its cases expect: each
property of each of its cases (compliant or not) removed, unknown (as during a preview), or of
another shape. A policy must never raise (the engine would report an error instead of a
verdict), never report a value it cannot know yet, and, where a value is unknown, still report
every violation that does not depend on that value: one that some known value of the property
would clear may be dropped, no other. Only a deployability stack policy may note what it could
not verify, and only when a value is unknown; it must note it when it drops a violation."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from policypacks.trading_guard.policies import deployability
from tests import (
    test_policies_compute,
    test_policies_database,
    test_policies_deployability,
    test_policies_dr,
    test_policies_encryption,
    test_policies_iam,
    test_policies_network,
    test_policies_storage,
)
from tests.test_policies import (
    BY_NAME,
    KINDS,
    UNKNOWN,
    Case,
    Pack,
    R,
    closure,
    is_note,
    violation,
)

ALL_CASES: list[Case] = [
    *test_policies_storage.CASES,
    *test_policies_database.CASES,
    *test_policies_compute.CASES,
    *test_policies_network.CASES,
    *test_policies_iam.CASES,
    *test_policies_encryption.CASES,
    *test_policies_dr.CASES,
    *test_policies_deployability.CASES,
]
# Shapes a property may arrive in: text where a list was expected, numbers as floats, nulls.
SHAPES: tuple[Any, ...] = (
    "text",
    7.0,
    2.5,
    0.0,
    True,
    False,
    "false",
    None,
    [],
    {},
    ["text"],
    {"key": "text"},
)
Path = tuple[str | int, ...]
# The policies that may note what they could not verify: the deployability rules judged on the
# whole stack, which a failed `pulumi up` never runs (docs/policies.md).
NOTING = {
    p.name
    for p in deployability.POLICIES
    if isinstance(p, StackValidationPolicy) and p.enforcement_level == EnforcementLevel.MANDATORY
}


def test_every_policy_has_each_kind_of_case() -> None:
    covered = {(c.policy, kind) for c in ALL_CASES for kind in KINDS if c.kind.startswith(kind)}
    assert [(p, k) for p in BY_NAME for k in KINDS if (p, k) not in covered] == []


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every key and list position inside a property map, outer ones first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


REMOVED = object()


def changed(props: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of `props` with the value at `path` replaced, or removed for REMOVED."""
    result = copy.deepcopy(props)
    container: Any = result
    for key in path[:-1]:
        container = container[key]
    if value is REMOVED:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return result


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def values_at(cases: list[Case]) -> tuple[dict[Path, list[Any]], list[str]]:
    """Known values that matter to the policy, which decide whether a violation depends on the
    value at a path: every value the cases give at each path, whatever the resource, and every
    string the cases and their settings hold anywhere (a name one resource gives another)."""
    at: dict[Path, list[Any]] = {}
    texts: list[str] = []
    for spec in cases:
        for resource in closure(spec.resources):
            props = dict(resource.props)
            for path in paths(props):
                value: Any = props
                for key in path:
                    value = value[key]
                if value != UNKNOWN and value not in at.setdefault(path, []):
                    at[path].append(value)
            texts += [v for v in leaves(props) if isinstance(v, str)]
        texts += [v for v in leaves(dict(spec.config)) if isinstance(v, str)]
    return at, sorted(set(texts) - {UNKNOWN})


def variants(
    spec: Case, known: tuple[dict[Path, list[Any]], list[str]]
) -> Iterator[tuple[str, Path, str, list[R]]]:
    """(resource, path, label, resources) for every change of one property of the case's
    resources: removed, unknown, another shape, or a value that matters to the policy (for a
    string, any string its cases hold)."""
    at, texts = known
    for index, resource in enumerate(closure(spec.resources)):
        props = dict(resource.props)
        for path in paths(props):
            value: Any = props
            for key in path:
                value = value[key]
            probes = [*at.get(path, []), *(texts if isinstance(value, str) else [])]
            others = {repr(v): v for v in probes if repr(v) != repr(value)}
            for label, replacement in [
                ("removed", REMOVED),
                ("unknown", UNKNOWN),
                *((f"as {shape!r}", shape) for shape in SHAPES),
                *((f"as {shown}", v) for shown, v in others.items()),
            ]:
                resources = copy.deepcopy(list(spec.resources))
                target = closure(resources)[index]
                target.props = changed(dict(target.props), path, replacement)
                # What the provider read back follows the inputs in these variants.
                target.outputs = None
                yield resource.name, path, label, resources


def holds_unknown(spec: Case) -> bool:
    return any(v == UNKNOWN for r in closure(spec.resources) for v in leaves(dict(r.props)))


@pytest.mark.parametrize("policy", sorted(BY_NAME))
def test_a_policy_survives_any_property_shape(policy: str) -> None:
    cases = [c for c in ALL_CASES if c.policy == policy]
    known = values_at(cases)
    changes = 0
    for spec in cases:
        pack = Pack({policy: spec.config} if spec.config else None, [BY_NAME[policy]])
        expected = set(spec.expected)
        # For each property: the expected violations some known value of it clears, and every
        # violation some known value of it gives.
        cleared: dict[tuple[str, Path], set[str]] = {}
        given: dict[tuple[str, Path], set[str]] = {}
        under_unknown: dict[tuple[str, Path], tuple[set[str], list[Any]]] = {}
        for name, path, label, resources in variants(spec, known):
            diagnostics = [d for d in pack.diagnostics(*resources) if d.policyName == policy]
            notes = [d for d in diagnostics if is_note(d)]
            messages = {violation(d) for d in diagnostics if not is_note(d)}
            where = f"{spec.kind}: {name}.{'.'.join(map(str, path))} {label}"
            assert not notes or policy in NOTING, (where, [violation(d) for d in notes])
            if label == "unknown":
                under_unknown[(name, path)] = (messages, notes)
            else:
                # Only an unknown value is noted (some cases hold one of their own).
                assert not notes or holds_unknown(spec), (where, [violation(d) for d in notes])
                cleared.setdefault((name, path), set()).update(expected - messages)
                given.setdefault((name, path), set(expected)).update(messages)
            changes += 1
        for (name, path), (messages, notes) in under_unknown.items():
            where = f"{spec.kind}: {name}.{'.'.join(map(str, path))} unknown"
            # An unknown value never makes up a violation that no known value gives.
            assert messages <= given[(name, path)], (where, messages - given[(name, path)])
            dropped = expected - messages
            # A violation no known value of the property clears does not depend on it.
            assert dropped <= cleared[(name, path)], (where, dropped - cleared[(name, path)])
            if len(messages) < len(expected) and policy in NOTING:
                assert notes, (where, "dropped a violation without noting the unknown value")
    assert changes, f"{policy}'s cases have no property to change"
