"""Scenario files: the faults to inject and the actions to take, in simulated seconds.

    name: regional-outage
    database: rds          # rds | aurora
    mode: automatic        # automatic | manual
    operator_delay: 300    # manual: seconds from the first page to the operator's failover
    duration: 3600
    writes_per_second: 20
    faults:
      - {at: 120, kind: region-outage, region: us-east-1}
    actions:
      - {at: 2400, invoke: failback}

Every problem is reported at once, each naming its field, the value and what is allowed, before
anything runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drill.simulation.physics import FRACTIONS, POSITIVE, Physics
from handlers.model import InvalidEventError, parse_event

DATABASES = ("rds", "aurora")
MODES = ("automatic", "manual")
INVOKE = ("failover", "failback", "status", "probe")
# Operator work outside the Lambda (README, failback runbook).
OPERATOR = ("rebuild-primary",)
SERVICES = ("route53", "route53-recovery-cluster", "eks", "rds", "dynamodb", "sns")
# Each kind's fields besides `at` and `kind`: required, then optional.
FAULTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "region-outage": (("region",), ()),
    "region-recovery": (("region",), ()),
    "control-plane-outage": (("region", "services"), ("until",)),
    "arc-partition": (("region",), ("until",)),
    "handler-killed": ((), ()),
    "probe-flap": (("until",), ("success_ratio",)),
    "capacity-shortage": (("region", "until"), ()),
    "replica-backing-up": (("until",), ()),
}
TOP_LEVEL = (
    "name",
    "description",
    "database",
    "mode",
    "operator_delay",
    "duration",
    "writes_per_second",
    "seed",
    "physics",
    "faults",
    "actions",
)
ACTION_FIELDS = ("at", "invoke", "operator", "planned", "force", "reason")


class ScenarioError(ValueError):
    """The scenario file is not valid; the message lists every problem."""


@dataclass(frozen=True)
class Fault:
    at: float
    kind: str
    region: str = ""
    until: float | None = None
    services: tuple[str, ...] = ()
    success_ratio: float = 0.5


@dataclass(frozen=True)
class Action:
    at: float
    invoke: str = ""
    operator: str = ""
    planned: bool = False
    force: bool = False
    reason: str = ""

    def event(self) -> dict[str, Any]:
        """The event an operator sends the failover Lambda for this action."""
        event: dict[str, Any] = {
            "action": self.invoke,
            "requestedBy": "operator",
            "correlationId": f"operator-{self.at:.0f}",
        }
        if self.reason:
            event["reason"] = self.reason
        for flag in ("planned", "force"):
            if getattr(self, flag):
                event[flag] = True
        return event


@dataclass(frozen=True)
class Scenario:
    name: str
    database: str
    mode: str
    duration: float
    description: str = ""
    operator_delay: float = 300.0
    writes_per_second: float = 20.0
    seed: int = 1
    physics: Physics = field(default_factory=Physics)
    faults: tuple[Fault, ...] = ()
    actions: tuple[Action, ...] = ()


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, where: str, value: Any, allowed: str) -> None:
        self.found.append(f"{where}: {value!r} is not allowed; {allowed}")

    def number(
        self, where: str, value: Any, low: float, high: float | None = None, whole: bool = False
    ) -> float | None:
        kind = int if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            self.add(where, value, f"expected {'a whole' if whole else 'a finite'} number")
            return None
        if value < low or (high is not None and value > high):
            self.add(
                where, value, f"expected {low:g} to {high:g}" if high else f"expected >= {low:g}"
            )
            return None
        return float(value)

    def choice(self, where: str, value: Any, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.add(where, value, f"one of {', '.join(allowed)}")
            return ""
        return value

    def unknown(self, where: str, given: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for key in given:
            if key not in allowed:
                self.found.append(f"{where}: unknown field {key!r}; allowed: {', '.join(allowed)}")


def parse(data: Any, regions: tuple[str, ...], source: str = "scenario") -> Scenario:
    """The scenario in `data` (a loaded YAML document); `regions` are the stacks' regions."""
    problems = _Problems()
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    problems.unknown(source, data, TOP_LEVEL)
    for key in ("name", "database", "mode", "duration"):
        if key not in data:
            problems.found.append(f"{source}: {key} is required")
    name = data.get("name", "")
    if "name" in data and (not isinstance(name, str) or not name.strip()):
        problems.add("name", name, "expected a non-empty string")
    if not isinstance(data.get("description", ""), str):
        problems.add("description", data["description"], "expected a string")
    database = (
        problems.choice("database", data["database"], DATABASES) if "database" in data else ""
    )
    mode = problems.choice("mode", data["mode"], MODES) if "mode" in data else ""
    duration = problems.number("duration", data.get("duration", 0), 1, 86400) or 0.0
    fields: dict[str, Any] = {}
    for key, low in (("operator_delay", 0.0), ("writes_per_second", 0.0)):
        if key in data:
            fields[key] = problems.number(key, data[key], low, 10000)
    if "operator_delay" in data and mode == "automatic":
        problems.add("operator_delay", data["operator_delay"], "used in manual mode only")
    if "seed" in data:
        seed = problems.number("seed", data["seed"], 0, None, whole=True)
        fields["seed"] = int(seed) if seed is not None else 0
    physics = _physics(data.get("physics", {}), problems)
    faults = tuple(
        _fault(f"faults[{i}]", f, regions, duration, problems)
        for i, f in enumerate(_list("faults", data.get("faults", []), problems))
    )
    actions = tuple(
        _action(f"actions[{i}]", a, duration, problems)
        for i, a in enumerate(_list("actions", data.get("actions", []), problems))
    )
    _tier_rules(database, faults, actions, problems)
    if problems.found:
        raise ScenarioError(f"{source} is not valid:\n  - " + "\n  - ".join(problems.found))
    return Scenario(
        name=name,
        database=database,
        mode=mode,
        duration=duration,
        description=str(data.get("description", "")),
        physics=physics,
        faults=tuple(sorted(faults, key=lambda f: f.at)),
        actions=tuple(sorted(actions, key=lambda a: a.at)),
        **fields,
    )


def _tier_rules(
    database: str, faults: tuple[Fault, ...], actions: tuple[Action, ...], problems: _Problems
) -> None:
    """Only the PostgreSQL replica has a backup window that blocks promotion, and a
    replacement replica to rebuild by hand; Aurora rebuilds its secondary itself."""
    if database != "aurora":
        return
    for i, fault in enumerate(faults):
        if fault.kind == "replica-backing-up":
            problems.add(f"faults[{i}].kind", fault.kind, "for database: rds only")
    for i, action in enumerate(actions):
        if action.operator == "rebuild-primary":
            problems.add(f"actions[{i}].operator", action.operator, "for database: rds only")


def load(path: Path, regions: tuple[str, ...]) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ScenarioError(f"{path}: cannot be read as YAML ({error})") from None
    return parse(data, regions, str(path))


def _list(where: str, value: Any, problems: _Problems) -> list[Any]:
    if not isinstance(value, list):
        problems.add(where, value, "expected a list")
        return []
    return value


def _physics(value: Any, problems: _Problems) -> Physics:
    if not isinstance(value, Mapping):
        problems.add("physics", value, "expected a mapping of physics names to numbers")
        return Physics()
    defaults = {f.name: getattr(Physics(), f.name) for f in dataclasses.fields(Physics)}
    overrides: dict[str, Any] = {}
    for key, given in value.items():
        if key not in defaults:
            problems.found.append(f"physics: unknown field {key!r}; allowed: {', '.join(defaults)}")
        elif isinstance(defaults[key], tuple):
            if not isinstance(given, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in given
            ):
                problems.add(f"physics.{key}", given, "expected a list of numbers >= 0")
            else:
                overrides[key] = tuple(float(v) for v in given)
        else:
            whole = isinstance(defaults[key], int)
            high = 1.0 if key in FRACTIONS else None
            number = problems.number(f"physics.{key}", given, 0, high, whole=whole)
            if number is not None and key in POSITIVE and number <= 0:
                problems.add(f"physics.{key}", given, "expected more than 0")
            elif number is not None:
                overrides[key] = int(number) if whole else number
    return Physics().replace(overrides)


def _time(where: str, value: Any, duration: float, problems: _Problems) -> float | None:
    return problems.number(where, value, 0, duration or None)


def _fault(
    where: str, data: Any, regions: tuple[str, ...], duration: float, problems: _Problems
) -> Fault:
    if not isinstance(data, Mapping):
        problems.add(where, data, "expected a mapping with at and kind")
        return Fault(0, "")
    kind = problems.choice(f"{where}.kind", data.get("kind"), tuple(FAULTS))
    at = _time(f"{where}.at", data.get("at"), duration, problems) or 0.0
    if not kind:
        return Fault(at, "")
    required, optional = FAULTS[kind]
    problems.unknown(where, data, ("at", "kind", *required, *optional))
    for key in required:
        if key not in data:
            problems.found.append(f"{where}: {kind} needs {key}")
    fault = Fault(at, kind)
    if "region" in data:
        fault = dataclasses.replace(
            fault, region=problems.choice(f"{where}.region", data["region"], regions)
        )
    if "until" in data:
        until = _time(f"{where}.until", data["until"], duration, problems)
        if until is not None and until <= at:
            problems.add(f"{where}.until", data["until"], f"expected later than at ({at:g})")
        fault = dataclasses.replace(fault, until=until)
    if "services" in data:
        fault = dataclasses.replace(
            fault, services=_services(where, data["services"], fault.region, problems)
        )
    if "success_ratio" in data:
        ratio = problems.number(f"{where}.success_ratio", data["success_ratio"], 0, 1)
        fault = dataclasses.replace(fault, success_ratio=ratio if ratio is not None else 0.5)
    return fault


def _services(where: str, services: Any, region: str, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(services, list) or not services:
        problems.add(f"{where}.services", services, f"a list of {', '.join(SERVICES)}")
        return ()
    chosen = tuple(problems.choice(f"{where}.services", s, SERVICES) for s in services)
    if len(set(chosen)) != len(chosen):
        problems.add(f"{where}.services", services, "each service once")
    if "route53" in chosen and region and region != "us-east-1":
        problems.add(f"{where}.region", region, "Route 53's control plane is in us-east-1 only")
    return chosen


def _action(where: str, data: Any, duration: float, problems: _Problems) -> Action:
    if not isinstance(data, Mapping):
        problems.add(where, data, "expected a mapping with at and invoke (or operator)")
        return Action(0)
    problems.unknown(where, data, ACTION_FIELDS)
    at = _time(f"{where}.at", data.get("at"), duration, problems) or 0.0
    if ("invoke" in data) == ("operator" in data):
        problems.found.append(
            f"{where}: give exactly one of invoke ({'|'.join(INVOKE)}) or "
            f"operator ({'|'.join(OPERATOR)})"
        )
        return Action(at)
    flags = {}
    for flag in ("planned", "force"):
        value = data.get(flag, False)
        if not isinstance(value, bool):
            problems.add(f"{where}.{flag}", value, "expected true or false")
        flags[flag] = value is True
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        problems.add(f"{where}.reason", reason, "expected a string")
        reason = ""
    if "operator" in data:
        for key in ("planned", "force", "reason"):
            if key in data:
                problems.found.append(f"{where}: {key} applies to invoke actions only")
        return Action(at, operator=problems.choice(f"{where}.operator", data["operator"], OPERATOR))
    action = Action(
        at,
        invoke=problems.choice(f"{where}.invoke", data["invoke"], INVOKE),
        reason=reason,
        **flags,
    )
    if action.invoke:
        try:
            parse_event(action.event())
        except InvalidEventError as refused:
            problems.found.append(f"{where}: the handler would refuse it: {refused}")
    return action
