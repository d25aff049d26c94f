"""What the failover Lambda is asked to do (the event) and what it works on (its environment).

Both are parsed and validated before any AWS client exists: a malformed event or a bad setting
is refused with a message that names the field, and touches nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACTIONS = ("failover", "failback", "status", "probe")
ENGINES = ("postgres", "aurora-postgresql")
FAILOVER_MODES = ("manual", "automatic")
TRAFFIC_CONTROLS = ("routing-control", "health-check-inversion")
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
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+-]{0,254}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class InvalidEventError(ValueError):
    """The event is not a command this handler accepts."""


class InvalidEnvironmentError(ValueError):
    """A deployment setting (environment variable) is missing or malformed."""


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
        if not isinstance(value, str) or not _NAME.match(value):
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
            if isinstance(event.get("id"), str) and _NAME.match(event["id"]):
                probe["correlationId"] = event["id"]
            return _command(probe, "eventbridge")
        if event["detail-type"] != "trading.failover":
            raise InvalidEventError(
                f"eventbridge: detail-type {event['detail-type']!r} is not "
                "'Scheduled Event' or 'trading.failover'"
            )
        return _command(event.get("detail"), "eventbridge")
    return _command(event, "direct")


@dataclass(frozen=True)
class NodeGroupSize:
    min_size: int
    desired_size: int
    max_size: int


@dataclass(frozen=True)
class GatewaySize:
    replicas: int
    max_replicas: int


@dataclass(frozen=True)
class GatewayControl:
    """The order gateway's Deployment and HPA in the dr cluster, and the sizes failover and
    failback set on them."""

    namespace: str
    deployment: str
    hpa: str
    full: GatewaySize
    pilot_light: GatewaySize


@dataclass(frozen=True)
class RoutingControls:
    """Route 53 ARC: the two routing controls (On sends a region traffic) and the cluster's
    regional data-plane endpoints, as (region, url)."""

    primary: str
    dr: str
    endpoints: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Environment:
    """Everything the handler acts on, given to the Lambda by the dr stack. Sizes come from the
    dr stack's own copy of the capacity profiles, never from the region that failed."""

    region: str
    cluster_name: str
    full: Mapping[str, NodeGroupSize]
    pilot_light: Mapping[str, NodeGroupSize]
    node_groups: Mapping[str, str]
    db_engine: str
    db_identifier: str
    global_cluster_identifier: str
    primary_region: str
    primary_db_identifier: str
    state_table: str
    topic_arn: str
    primary_health_check_id: str
    dr_health_check_id: str
    primary_endpoint: str
    failover_mode: str
    probe_failure_threshold: int
    traffic_control: str = "health-check-inversion"
    routing_controls: RoutingControls | None = None
    gateway: GatewayControl | None = None


def _require(env: Mapping[str, str], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = env.get(name, "")
    if not value:
        raise InvalidEnvironmentError(f"environment variable {name} is missing")
    if pattern is not None and not pattern.match(value):
        raise InvalidEnvironmentError(f"environment variable {name}={value!r} is malformed")
    return value


def _sizes(env: Mapping[str, str], name: str) -> dict[str, NodeGroupSize]:
    raw = _require(env, name)
    try:
        decoded = json.loads(raw)
        sizes = {
            group: NodeGroupSize(int(s["minSize"]), int(s["desiredSize"]), int(s["maxSize"]))
            for group, s in decoded.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InvalidEnvironmentError(
            f"environment variable {name} must be JSON {{group: {{minSize, desiredSize, maxSize}}}}"
        ) from None
    for group, size in sizes.items():
        if not 0 <= size.min_size <= size.desired_size <= size.max_size:
            raise InvalidEnvironmentError(
                f"environment variable {name}: {group} has min > desired or desired > max"
            )
    return sizes


def _json(env: Mapping[str, str], name: str, shape: str) -> Any:
    try:
        return json.loads(_require(env, name))
    except ValueError:
        raise InvalidEnvironmentError(f"environment variable {name} must be JSON {shape}") from None


def _routing_controls(env: Mapping[str, str]) -> RoutingControls:
    shape = '{"primary": arn, "dr": arn}'
    arns = _json(env, "ROUTING_CONTROLS", shape)
    if not isinstance(arns, dict) or set(arns) != {"primary", "dr"}:
        raise InvalidEnvironmentError(f"environment variable ROUTING_CONTROLS must be JSON {shape}")
    for side, arn in arns.items():
        if not isinstance(arn, str) or not _ARN.match(arn):
            raise InvalidEnvironmentError(
                f"environment variable ROUTING_CONTROLS: {side}={arn!r} is not an ARN"
            )
    endpoints_shape = '[{"region": region, "endpoint": "https://..."}]'
    raw = _json(env, "ROUTING_CONTROL_ENDPOINTS", endpoints_shape)
    endpoints = []
    for item in raw if isinstance(raw, list) else [None]:
        region = item.get("region") if isinstance(item, dict) else None
        url = item.get("endpoint") if isinstance(item, dict) else None
        if not (
            isinstance(region, str)
            and _REGION.match(region)
            and isinstance(url, str)
            and url.startswith("https://")
        ):
            raise InvalidEnvironmentError(
                f"environment variable ROUTING_CONTROL_ENDPOINTS must be JSON {endpoints_shape}"
                f", got the item {item!r}"
            )
        endpoints.append((region, url))
    if not endpoints:
        raise InvalidEnvironmentError(
            "environment variable ROUTING_CONTROL_ENDPOINTS lists no endpoint"
        )
    return RoutingControls(arns["primary"], arns["dr"], tuple(endpoints))


def _gateway(env: Mapping[str, str]) -> GatewayControl:
    shape = (
        '{"namespace", "deployment", "hpa", "full": {"replicas", "maxReplicas"}, '
        '"pilotLight": {"replicas", "maxReplicas"}}'
    )
    raw = _json(env, "GATEWAY", shape)
    try:
        names = [raw[k] for k in ("namespace", "deployment", "hpa")]
        sizes = [
            GatewaySize(int(raw[k]["replicas"]), int(raw[k]["maxReplicas"]))
            for k in ("full", "pilotLight")
        ]
    except (TypeError, KeyError, ValueError):
        raise InvalidEnvironmentError(
            f"environment variable GATEWAY must be JSON {shape}"
        ) from None
    if not all(isinstance(n, str) and _NAME.match(n) for n in names):
        raise InvalidEnvironmentError(f"environment variable GATEWAY: bad name in {names!r}")
    if not all(1 <= s.replicas <= s.max_replicas for s in sizes):
        raise InvalidEnvironmentError(
            "environment variable GATEWAY: replicas must be 1 to maxReplicas"
        )
    return GatewayControl(*names, *sizes)


def parse_environment(env: Mapping[str, str]) -> Environment:
    node_groups_raw = _require(env, "NODE_GROUPS")
    try:
        node_groups = {str(k): str(v) for k, v in json.loads(node_groups_raw).items()}
    except (ValueError, AttributeError):
        raise InvalidEnvironmentError(
            "environment variable NODE_GROUPS must be JSON {group: name}"
        ) from None
    full = _sizes(env, "FULL_PROFILE")
    pilot = _sizes(env, "PILOT_LIGHT_PROFILE")
    if set(full) != set(node_groups) or set(pilot) != set(node_groups):
        raise InvalidEnvironmentError(
            "environment variables NODE_GROUPS, FULL_PROFILE and PILOT_LIGHT_PROFILE must name "
            "the same node groups"
        )
    engine = _require(env, "DB_ENGINE")
    if engine not in ENGINES:
        raise InvalidEnvironmentError(
            f"environment variable DB_ENGINE={engine!r} is not one of {ENGINES}"
        )
    mode = env.get("FAILOVER_MODE", "manual")
    if mode not in FAILOVER_MODES:
        raise InvalidEnvironmentError(
            f"environment variable FAILOVER_MODE={mode!r} is not one of {FAILOVER_MODES}"
        )
    try:
        threshold = int(env.get("PROBE_FAILURE_THRESHOLD", "3"))
    except ValueError:
        threshold = 0
    if not 1 <= threshold <= 20:
        raise InvalidEnvironmentError("environment variable PROBE_FAILURE_THRESHOLD must be 1-20")
    traffic = env.get("TRAFFIC_CONTROL", "health-check-inversion")
    if traffic not in TRAFFIC_CONTROLS:
        raise InvalidEnvironmentError(
            f"environment variable TRAFFIC_CONTROL={traffic!r} is not one of {TRAFFIC_CONTROLS}"
        )
    topic = _require(env, "TOPIC_ARN", _ARN)
    global_cluster = (
        _require(env, "GLOBAL_CLUSTER_IDENTIFIER", _NAME) if engine == "aurora-postgresql" else ""
    )
    return Environment(
        region=_require(env, "AWS_REGION", _REGION),
        cluster_name=_require(env, "CLUSTER_NAME", _NAME),
        full=full,
        pilot_light=pilot,
        node_groups=node_groups,
        db_engine=engine,
        db_identifier=_require(env, "DB_IDENTIFIER", _NAME),
        global_cluster_identifier=global_cluster,
        primary_region=_require(env, "PRIMARY_REGION", _REGION),
        primary_db_identifier=_require(env, "PRIMARY_DB_IDENTIFIER", _NAME),
        state_table=_require(env, "STATE_TABLE", _NAME),
        topic_arn=topic,
        primary_health_check_id=env.get("PRIMARY_HEALTH_CHECK_ID", ""),
        dr_health_check_id=env.get("DR_HEALTH_CHECK_ID", ""),
        primary_endpoint=env.get("PRIMARY_ENDPOINT", ""),
        failover_mode=mode,
        probe_failure_threshold=threshold,
        traffic_control=traffic,
        routing_controls=_routing_controls(env) if traffic == "routing-control" else None,
        gateway=_gateway(env) if "GATEWAY" in env else None,
    )
