"""How a bad `trading:*` value is reported: one line per problem, naming the key, the value and
what is allowed.

Every check raises a pydantic error of one of two kinds, `invalid` and `required`, whose context
carries the allowed values; pydantic collects them all, and `problems()` renders each as
`trading:<key> = <value> is not valid; allowed: <what>` or `trading:<key> is required; allowed:
<what>`. pydantic's own structural errors (a missing key, an unknown key, a list where an object
belongs) are rendered the same way, reading the allowed values from the model itself.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Final, LiteralString, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

NAMESPACE = "trading"

INVALID: Final = "invalid"
REQUIRED: Final = "required"

Loc = tuple[str | int, ...]


class SettingsError(ValueError):
    """Every problem found in the stack's `trading:*` configuration, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n  - " + "\n  - ".join(problems))


def invalid(allowed: str) -> PydanticCustomError:
    """The value in hand is refused; raise it from a validator."""
    return PydanticCustomError(INVALID, "allowed: {allowed}", {"allowed": allowed})


def required(allowed: str) -> PydanticCustomError:
    """The key is absent, and what it must hold depends on another key; raise it from a
    validator of a field whose default is `ABSENT`."""
    return PydanticCustomError(REQUIRED, "allowed: {allowed}", {"allowed": allowed})


# The default of a required key whose "required" message depends on another key: pydantic runs
# the field's validators on it (`validate_default=True`), which raise `required(...)`.
ABSENT: Any = object()


class Problems:
    """Collects the problems a cross-field rule finds, so that all of them are reported.

    A rule running inside a model names keys relative to that model (`("maxSize",)`); `key=`
    names a key from the top of the namespace instead, for a rule that judges one key by
    another (`capacity.profiles.full.nodeGroups.latency`, judged by `lowLatency`).
    """

    def __init__(self) -> None:
        self._errors: list[InitErrorDetails] = []

    def invalid(self, loc: Loc, value: Any, allowed: str, *, key: str = "") -> None:
        self._add(INVALID, loc, value, allowed, key=key)

    def required(self, loc: Loc, allowed: str, *, when: str = "", key: str = "") -> None:
        self._add(REQUIRED, loc, None, allowed, key=key, when=when)

    def _add(self, kind: LiteralString, loc: Loc, value: Any, allowed: str, **context: str) -> None:
        error = PydanticCustomError(kind, "allowed: {allowed}", {"allowed": allowed, **context})
        self._errors.append(InitErrorDetails(type=error, loc=loc, input=value))

    def raise_any(self, title: str) -> None:
        """pydantic merges a ValidationError raised by a validator into the model's own,
        prefixing each location with the validated field's (pydantic 2.14.4, as the tests of
        tests/test_settings.py that expect several problems show)."""
        if self._errors:
            raise ValidationError.from_exception_data(title, self._errors)


# What a problem shows instead of a value set with `pulumi config set --secret`, as the CLI
# shows such values.
MASKED = "[secret]"


def problems(
    error: ValidationError, root: type[BaseModel], secret: frozenset[str] = frozenset()
) -> list[str]:
    """Each of pydantic's errors as one line of today's format, in the order found; the value
    of a key under one of the top-level keys `secret` is masked."""
    return [_line(detail, root, secret) for detail in error.errors(include_url=False)]


def _line(detail: Mapping[str, Any], root: type[BaseModel], secret: frozenset[str]) -> str:
    loc = _aliased(root, tuple(detail["loc"]))
    context: Mapping[str, Any] = detail.get("ctx") or {}
    key = context.get("key") or _key(loc)
    kind = detail["type"]
    if kind in (REQUIRED, "missing"):
        allowed = context.get("allowed") or _allowed(root, loc)
        when = f" {context['when']}" if context.get("when") else ""
        return f"{NAMESPACE}:{key} is required{when}; allowed: {allowed}"
    if kind == INVALID:
        allowed = context["allowed"]
    elif kind == "extra_forbidden":
        allowed = "known keys " + ", ".join(_aliases(_model_at(root, loc[:-1])))
    else:
        allowed = _allowed(root, loc)
    top = key.split(".", 1)[0].split("[", 1)[0]
    value = MASKED if top in secret else repr(detail["input"])
    return f"{NAMESPACE}:{key} = {value} is not valid; allowed: {allowed}"


def _aliased(root: type[BaseModel], loc: Loc) -> Loc:
    """The location in config keys: pydantic names a validated default by its field name."""
    aliased: list[str | int] = []
    for part in loc:
        model = _model_at(root, tuple(aliased))
        field = model.model_fields.get(str(part)) if model else None
        aliased.append(str(field.alias) if field is not None else part)
    return tuple(aliased)


def _key(loc: Loc) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else part
    return key


def _allowed(root: type[BaseModel], loc: Loc) -> str:
    """What a field accepts, for pydantic's own errors: its rule's text, else its object's keys."""
    model = _model_at(root, loc[:-1])
    name = loc[-1]
    for field in model.model_fields.values() if model else ():
        if field.alias == name:
            for rule in field.metadata:
                if hasattr(rule, "allowed"):
                    return rule.allowed
            inner = model_of(field.annotation)
            if inner is not None:
                return "an object with keys " + ", ".join(_aliases(inner))
            return field.description or "see Pulumi.yaml"
    return "see Pulumi.yaml"


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or isinstance(part, int):
            return model
        fields = {field.alias: field for field in model.model_fields.values()}
        model = model_of(fields[part].annotation) if part in fields else None
    return model


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None` or `Annotated[X, ...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Annotated, Union, types.UnionType):
        for argument in get_args(annotation):
            found = model_of(argument)
            if found is not None:
                return found
    return None


def _aliases(model: type[BaseModel] | None) -> list[str]:
    return [str(field.alias) for field in model.model_fields.values()] if model else []
