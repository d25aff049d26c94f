"""Every policy against what the engine may send instead of what its cases expect: each
property of its compliant case removed, unknown (as during a preview), or of another shape. A
policy must never raise (the engine would report an error instead of a verdict), never give up
with "can't run policy", and never report a value it cannot know yet."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

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
from tests.test_policies import BY_NAME, KINDS, UNKNOWN, Case, Pack, R, closure, violation

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
SHAPES: tuple[Any, ...] = ("text", 7.0, 2.5, True, None, [], {}, ["text"], {"key": "text"})
Path = tuple[str | int, ...]


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


def variants(spec: Case) -> Iterator[tuple[str, list[R]]]:
    """(label, resources) for every change of one property of the case's resources."""
    for index, resource in enumerate(closure(spec.resources)):
        for path in paths(dict(resource.props)):
            for label, value in [("removed", REMOVED), ("unknown", UNKNOWN)] + [
                (f"as {shape!r}", shape) for shape in SHAPES
            ]:
                resources = copy.deepcopy(list(spec.resources))
                target = closure(resources)[index]
                target.props = changed(dict(target.props), path, value)
                yield f"{resource.name}.{'.'.join(map(str, path))} {label}", resources


@pytest.mark.parametrize("policy", sorted(BY_NAME))
def test_a_policy_survives_any_property_shape(policy: str) -> None:
    changes = 0
    for spec in (c for c in ALL_CASES if c.policy == policy and c.kind.startswith("compliant")):
        pack = Pack({policy: spec.config} if spec.config else None, [BY_NAME[policy]])
        for label, resources in variants(spec):
            diagnostics = [d for d in pack.diagnostics(*resources) if d.policyName == policy]
            messages = [violation(d) for d in diagnostics]
            assert not [m for m in messages if m.startswith("can't run policy")], label
            if label.endswith(" unknown"):
                assert messages == [], (spec.kind, label, messages)
            changes += 1
    assert changes, f"{policy}'s compliant cases have no property to change"
