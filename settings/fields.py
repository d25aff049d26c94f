"""The base of every settings model and the rules its fields use.

A rule is metadata on a field's type (`Annotated[int, Whole(1, 20)]`): it checks the raw config
value before pydantic's own validation, and refuses it with its `allowed` text, which is also
what the error for a missing key and the generated key reference say. pydantic calls a metadata
object's `__get_pydantic_core_schema__` to build the field's validator:
https://docs.pydantic.dev/latest/concepts/types/#customizing-validation-with-__get_pydantic_core_schema__
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, core_schema

from settings.errors import invalid


class Model(BaseModel):
    """Frozen, typed settings read from camelCase config keys; an unknown key is an error.
    https://docs.pydantic.dev/latest/api/config/"""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel)


class Rule:
    """A check on one raw value; subclasses set `allowed` and implement `check`."""

    allowed: str = ""

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def refuse(self) -> Exception:
        return invalid(self.allowed)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))


class Whole(Rule):
    """A whole number in a range: 3, 3.0 and "3" are 3; true, 3.5 and "3.0" are refused."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.allowed = f"a whole number from {low} to {high}"

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.refuse()
        try:
            number = int(value)
        except (ValueError, OverflowError):  # "x", NaN; .inf
            raise self.refuse() from None
        if number != float(value) or not self.low <= number <= self.high:
            raise self.refuse()
        return number


class OneOf(Rule):
    """One of a few values, compared exactly (`"Full"` is not `full`, `"30"` is not 30)."""

    def __init__(self, *choices: Any, allowed: str = "") -> None:
        self.choices = choices
        self.allowed = allowed or " | ".join(map(str, choices))

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or value not in self.choices:
            raise self.refuse()
        return value


class Matches(Rule):
    """A string matching a pattern."""

    def __init__(self, pattern: str, allowed: str) -> None:
        self.pattern = re.compile(pattern)
        self.allowed = allowed

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not self.pattern.match(value):
            raise self.refuse()
        return value


class Flag(Rule):
    """A YAML boolean; "yes" or 1 is refused rather than guessed."""

    def __init__(self, allowed: str = "true | false") -> None:
        self.allowed = allowed

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.refuse()
        return value


class Text(Rule):
    """A string, never a number YAML read from an unquoted value."""

    def __init__(self, allowed: str = "a string") -> None:
        self.allowed = allowed

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self.refuse()
        return value


class Listed(Rule):
    """A YAML list of at least `minimum` items (each checked by the item type's own rule)."""

    def __init__(self, allowed: str = "a list", minimum: int = 0) -> None:
        self.allowed = allowed
        self.minimum = minimum

    def check(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) < self.minimum:
            raise self.refuse()
        return value


class Cidr(Rule):
    """An IPv4 CIDR with no host bits, passing `accept`, normalised (`10.0.0.0/16`)."""

    def __init__(self, allowed: str, accept: Callable[[ipaddress.IPv4Network], bool]) -> None:
        self.allowed = allowed
        self.accept = accept

    def check(self, value: Any) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except (ValueError, TypeError):
            raise self.refuse() from None
        if not self.accept(network):
            raise self.refuse()
        return str(network)


class Ipv4Address(Rule):
    """An IPv4 address, normalised."""

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed

    def check(self, value: Any) -> str:
        try:
            return str(ipaddress.IPv4Address(value))
        except (ValueError, TypeError):
            raise self.refuse() from None


EMAIL = Matches(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address")
ROLE_ARN = Matches(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$", "an IAM role ARN")
HTTPS_URL = Matches(r"^https://[^\s/]+(/\S*)?$", "an https:// URL (a paging service)")
