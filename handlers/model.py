"""What the failover Lambda is asked to do (the event) and what it works on (its environment,
defined once in handlers/contract.py, which the dr stack writes it with).

Both are parsed and validated before any AWS client exists: a malformed event or a bad setting
is refused with a message that names the field, and touches nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.contract import (
    NAME_PATTERN,
    Environment,
    GatewayControl,
    GatewaySize,
    InvalidEnvironmentError,
    NodeGroupSize,
    RoutingControls,
)

# The environment's types, importable from here as the handler's modules always have.
__all__ = [
    "Command",
    "Environment",
    "GatewayControl",
    "GatewaySize",
    "InvalidEnvironmentError",
    "InvalidEventError",
    "NodeGroupSize",
    "RoutingControls",
    "parse_environment",
    "parse_event",
]

ACTIONS = ("failover", "failback", "status", "probe")
MAX_REASON = 500
_COMMAND_FIELDS = (
    "action",
    "reason",
    "force",
    "planned",
    "abandonDrWrites",
    "requestedBy",
    "correlationId",
)


class InvalidEventError(ValueError):
    """The event is not a command this handler accepts."""


@dataclass(frozen=True)
class Command:
    action: str
    reason: str
    force: bool
    planned: bool
    requested_by: str
    correlation_id: str
    # Failback only: go on even though dr's writes are not all on the primary (recorded).
    abandon_dr_writes: bool = False


def _command(payload: Any, source: str) -> Command:
    if not isinstance(payload, Mapping):
        raise InvalidEventError(f"{source}: expected a JSON object, got {type(payload).__name__}")
    unknown = sorted(set(payload) - set(_COMMAND_FIELDS))
    if unknown:
        raise InvalidEventError(
            f"{source}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(_COMMAND_FIELDS)}"
        )
    action = payload.get("action")
    if action not in ACTIONS:
        raise InvalidEventError(f"{source}: action {action!r} is not one of {', '.join(ACTIONS)}")
    reason = payload.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidEventError(
            f"{source}: reason must be a string of at most {MAX_REASON} characters"
        )
    flags = {}
    for flag in ("force", "planned", "abandonDrWrites"):
        value = payload.get(flag, False)
        if not isinstance(value, bool):
            raise InvalidEventError(f"{source}: {flag} must be true or false, got {value!r}")
        flags[flag] = value
    if flags["force"] and not reason.strip():
        raise InvalidEventError(f"{source}: force needs a reason, which is recorded with the run")
    if flags["force"] and action != "failback":
        raise InvalidEventError(f"{source}: force only overrides failback's guards")
    if flags["abandonDrWrites"] and (action != "failback" or not reason.strip()):
        raise InvalidEventError(
            f"{source}: abandonDrWrites is for failback only and needs a reason, which is "
            "recorded with the run"
        )
    requested_by = payload.get("requestedBy", source)
    correlation_id = payload.get("correlationId") or str(uuid.uuid4())
    for field, value in (("requestedBy", requested_by), ("correlationId", correlation_id)):
        if not isinstance(value, str) or not NAME_PATTERN.match(value):
            raise InvalidEventError(f"{source}: {field} must be a short identifier, got {value!r}")
    return Command(
        action,
        reason,
        flags["force"],
        flags["planned"],
        requested_by,
        correlation_id,
        flags["abandonDrWrites"],
    )


def parse_event(event: Any) -> Command:
    """A direct invocation, an EventBridge event (the probe schedule or a custom
    `trading.failover` event), or an SNS message carrying a command."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event: expected a JSON object, got {type(event).__name__}")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list) or len(records) != 1:
            raise InvalidEventError("sns: expected exactly one record")
        record = records[0]
        if not isinstance(record, Mapping) or record.get("EventSource") != "aws:sns":
            raise InvalidEventError("sns: the record is not an SNS notification")
        message = (
            record.get("Sns", {}).get("Message") if isinstance(record.get("Sns"), Mapping) else None
        )
        if not isinstance(message, str):
            raise InvalidEventError("sns: the notification has no message")
        try:
            return _command(json.loads(message), "sns")
        except json.JSONDecodeError as error:
            raise InvalidEventError(f"sns: the message is not JSON ({error.msg})") from None
    if "detail-type" in event:
        if event.get("source") == "aws.events" and event["detail-type"] == "Scheduled Event":
            probe = {"action": "probe", "requestedBy": "schedule"}
            # The event's own id correlates the run with EventBridge's record of it.
            if isinstance(event.get("id"), str) and NAME_PATTERN.match(event["id"]):
                probe["correlationId"] = event["id"]
            return _command(probe, "eventbridge")
        if event["detail-type"] != "trading.failover":
            raise InvalidEventError(
                f"eventbridge: detail-type {event['detail-type']!r} is not "
                "'Scheduled Event' or 'trading.failover'"
            )
        return _command(event.get("detail"), "eventbridge")
    return _command(event, "direct")


def parse_environment(env: Mapping[str, str]) -> Environment:
    """The environment the handler runs with, parsed once at cold start."""
    return Environment.from_env(env)
