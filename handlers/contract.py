"""The failover Lambda's environment: the one definition of every variable's name, shape and
allowed values, imported by the writer (components/failover.py, the dr stack) and by every
reader (the handler through handlers/model.py, the simulation, the emulation, the drill).

`Environment.to_env()` writes the variables, `Environment.from_env()` parses them, and both go
through the same checks: the dr stack cannot declare an environment the handler would refuse at
cold start. A writer whose values are not all known at once (a Pulumi program, whose resource
attributes arrive one by one) encodes each variable with `Environment.encode()`, the same
encoding `to_env()` uses. Standard library only: this module ships in the Lambda's archive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

AURORA = "aurora-postgresql"
ENGINES = ("postgres", AURORA)
FAILOVER_MODES = ("manual", "automatic")
ROUTING_CONTROL = "routing-control"
HEALTH_CHECK_INVERSION = "health-check-inversion"
TRAFFIC_CONTROLS = (ROUTING_CONTROL, HEALTH_CHECK_INVERSION)
PROBE_FAILURE_THRESHOLDS = range(1, 21)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+-]{0,254}$")
ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
HTTPS_URL_PATTERN = re.compile(r"^https://[^\s/]+(/\S*)?$")
WHOLE_NUMBER_PATTERN = re.compile(r"^[0-9]{1,9}$")
# General purpose bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and
# ending with a letter or digit
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
KEY_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")

_NAME_RULE = "a name of letters, digits and _.:/=+- (at most 255)"
_ARN_RULE = "an ARN (arn:aws:<service>:<region>:<12-digit account>:<resource>)"
_REGION_RULE = "an AWS region such as us-west-2"
_HTTPS_RULE = "an https:// URL"
_BUCKET_RULE = "an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)"
_ROLE_ARN_RULE = "an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
_KEY_PREFIX_RULE = "a key prefix of letters, digits and _.- segments joined by /"
_SIZES_SHAPE = "{group: {minSize, desiredSize, maxSize}}"
_GATEWAY_SHAPE = (
    '{"namespace", "deployment", "hpa", "full": {"replicas", "maxReplicas"}, '
    '"pilotLight": {"replicas", "maxReplicas"}}'
)
_ROUTING_CONTROLS_SHAPE = '{"primary": arn, "dr": arn}'
_ENDPOINTS_SHAPE = '[{"region": region, "endpoint": "https://..."}]'


class InvalidEnvironmentError(ValueError):
    """A deployment setting (environment variable) is missing or malformed."""


def _malformed(name: str, value: Any, allowed: str) -> InvalidEnvironmentError:
    return InvalidEnvironmentError(
        f"environment variable {name}={value!r} is malformed: expected {allowed}"
    )


def _not_one_of(name: str, value: Any, allowed: tuple[str, ...]) -> InvalidEnvironmentError:
    return InvalidEnvironmentError(
        f"environment variable {name}={value!r} is not one of {', '.join(allowed)}"
    )


def _not_json(name: str, value: Any, shape: str) -> InvalidEnvironmentError:
    return InvalidEnvironmentError(
        f"environment variable {name} must be JSON {shape}, got {value!r}"
    )


@dataclass(frozen=True)
class NodeGroupSize:
    min_size: int
    desired_size: int
    max_size: int

    def document(self) -> dict[str, int]:
        return {
            "minSize": self.min_size,
            "desiredSize": self.desired_size,
            "maxSize": self.max_size,
        }


@dataclass(frozen=True)
class GatewaySize:
    replicas: int
    max_replicas: int

    def document(self) -> dict[str, int]:
        return {"replicas": self.replicas, "maxReplicas": self.max_replicas}


@dataclass(frozen=True)
class GatewayControl:
    """The order gateway's Deployment and HPA in the dr cluster, and the sizes failover and
    failback set on them."""

    namespace: str
    deployment: str
    hpa: str
    full: GatewaySize
    pilot_light: GatewaySize

    def document(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "deployment": self.deployment,
            "hpa": self.hpa,
            "full": self.full.document(),
            "pilotLight": self.pilot_light.document(),
        }


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

    # The variables. AWS_REGION is Lambda's own: the runtime sets it and a function's
    # configuration cannot (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html,
    # "Defined runtime environment variables"), so `to_env()` never writes it.
    REGION: ClassVar[str] = "AWS_REGION"
    CLUSTER_NAME: ClassVar[str] = "CLUSTER_NAME"
    NODE_GROUPS: ClassVar[str] = "NODE_GROUPS"
    FULL_PROFILE: ClassVar[str] = "FULL_PROFILE"
    PILOT_LIGHT_PROFILE: ClassVar[str] = "PILOT_LIGHT_PROFILE"
    GATEWAY: ClassVar[str] = "GATEWAY"
    DB_ENGINE: ClassVar[str] = "DB_ENGINE"
    DB_IDENTIFIER: ClassVar[str] = "DB_IDENTIFIER"
    GLOBAL_CLUSTER_IDENTIFIER: ClassVar[str] = "GLOBAL_CLUSTER_IDENTIFIER"
    PRIMARY_REGION: ClassVar[str] = "PRIMARY_REGION"
    PRIMARY_DB_IDENTIFIER: ClassVar[str] = "PRIMARY_DB_IDENTIFIER"
    STATE_TABLE: ClassVar[str] = "STATE_TABLE"
    TOPIC_ARN: ClassVar[str] = "TOPIC_ARN"
    PRIMARY_HEALTH_CHECK_ID: ClassVar[str] = "PRIMARY_HEALTH_CHECK_ID"
    DR_HEALTH_CHECK_ID: ClassVar[str] = "DR_HEALTH_CHECK_ID"
    PRIMARY_ENDPOINT: ClassVar[str] = "PRIMARY_ENDPOINT"
    DR_ENDPOINT: ClassVar[str] = "DR_ENDPOINT"
    FAILOVER_MODE: ClassVar[str] = "FAILOVER_MODE"
    PROBE_FAILURE_THRESHOLD: ClassVar[str] = "PROBE_FAILURE_THRESHOLD"
    TRAFFIC_CONTROL: ClassVar[str] = "TRAFFIC_CONTROL"
    ROUTING_CONTROLS: ClassVar[str] = "ROUTING_CONTROLS"
    ROUTING_CONTROL_ENDPOINTS: ClassVar[str] = "ROUTING_CONTROL_ENDPOINTS"
    # Failback's S3 Batch Replication of the objects dr wrote (handlers/steps.py,
    # replicate_dr_objects): set all four, or none.
    RECORDS_BUCKET: ClassVar[str] = "RECORDS_BUCKET"
    PRIMARY_RECORDS_BUCKET: ClassVar[str] = "PRIMARY_RECORDS_BUCKET"
    BATCH_REPLICATION_ROLE_ARN: ClassVar[str] = "BATCH_REPLICATION_ROLE_ARN"
    BATCH_REPLICATION_REPORT_PREFIX: ClassVar[str] = "BATCH_REPLICATION_REPORT_PREFIX"

    region: str
    cluster_name: str
    full: Mapping[str, NodeGroupSize]
    pilot_light: Mapping[str, NodeGroupSize]
    node_groups: Mapping[str, str]
    db_engine: str
    db_identifier: str
    # Aurora only: the global cluster whose writer moves; "" on RDS for PostgreSQL.
    global_cluster_identifier: str
    primary_region: str
    primary_db_identifier: str
    state_table: str
    topic_arn: str
    # "" where there is no such check (with routing controls the primary's steers nothing).
    primary_health_check_id: str = ""
    dr_health_check_id: str = ""
    # The primary's regional endpoint, "" when unknown: the probe's canary.
    primary_endpoint: str = ""
    # dr's own regional endpoint, "" when unknown: a failover is verified through it.
    dr_endpoint: str = ""
    failover_mode: str = "manual"
    probe_failure_threshold: int = 3
    traffic_control: str = HEALTH_CHECK_INVERSION
    # With traffic control routing-control only.
    routing_controls: RoutingControls | None = None
    gateway: GatewayControl | None = None
    # dr's records bucket, the primary's, the role S3 Batch Operations assumes, and where in
    # dr's bucket the job's manifest and completion report go; "" where not deployed.
    records_bucket: str = ""
    primary_records_bucket: str = ""
    batch_replication_role_arn: str = ""
    batch_replication_report_prefix: str = ""

    def __post_init__(self) -> None:
        for name, value in self._variables().items():
            if value is not None:
                _CHECKS[name](name, value)
        self._check_together()

    def _variables(self) -> dict[str, Any]:
        """Each variable's value, as `encode` takes it; None where the variable is not set."""
        return {
            self.REGION: self.region,
            self.CLUSTER_NAME: self.cluster_name,
            self.NODE_GROUPS: self.node_groups,
            self.FULL_PROFILE: self.full,
            self.PILOT_LIGHT_PROFILE: self.pilot_light,
            self.GATEWAY: self.gateway,
            self.DB_ENGINE: self.db_engine,
            self.DB_IDENTIFIER: self.db_identifier,
            self.GLOBAL_CLUSTER_IDENTIFIER: self.global_cluster_identifier,
            self.PRIMARY_REGION: self.primary_region,
            self.PRIMARY_DB_IDENTIFIER: self.primary_db_identifier,
            self.STATE_TABLE: self.state_table,
            self.TOPIC_ARN: self.topic_arn,
            self.PRIMARY_HEALTH_CHECK_ID: self.primary_health_check_id,
            self.DR_HEALTH_CHECK_ID: self.dr_health_check_id,
            self.PRIMARY_ENDPOINT: self.primary_endpoint,
            self.DR_ENDPOINT: self.dr_endpoint,
            self.FAILOVER_MODE: self.failover_mode,
            self.PROBE_FAILURE_THRESHOLD: self.probe_failure_threshold,
            self.TRAFFIC_CONTROL: self.traffic_control,
            self.ROUTING_CONTROLS: self.routing_controls,
            self.ROUTING_CONTROL_ENDPOINTS: self.routing_controls,
            self.RECORDS_BUCKET: self.records_bucket,
            self.PRIMARY_RECORDS_BUCKET: self.primary_records_bucket,
            self.BATCH_REPLICATION_ROLE_ARN: self.batch_replication_role_arn,
            self.BATCH_REPLICATION_REPORT_PREFIX: self.batch_replication_report_prefix,
        }

    @property
    def object_replication_names(self) -> tuple[str, ...]:
        return (
            self.RECORDS_BUCKET,
            self.PRIMARY_RECORDS_BUCKET,
            self.BATCH_REPLICATION_ROLE_ARN,
            self.BATCH_REPLICATION_REPORT_PREFIX,
        )

    def _check_together(self) -> None:
        if set(self.full) != set(self.node_groups) or set(self.pilot_light) != set(
            self.node_groups
        ):
            raise InvalidEnvironmentError(
                f"environment variables {self.NODE_GROUPS}, {self.FULL_PROFILE} and "
                f"{self.PILOT_LIGHT_PROFILE} must name the same node groups, got "
                f"{sorted(self.node_groups)}, {sorted(self.full)} and {sorted(self.pilot_light)}"
            )
        aurora = self.db_engine == AURORA
        if aurora != bool(self.global_cluster_identifier):
            raise InvalidEnvironmentError(
                f"environment variable {self.GLOBAL_CLUSTER_IDENTIFIER}="
                f"{self.global_cluster_identifier!r} with {self.DB_ENGINE}={self.db_engine!r}: "
                f"{AURORA} needs its global cluster's identifier, postgres has none (empty)"
            )
        routed = self.traffic_control == ROUTING_CONTROL
        if routed != (self.routing_controls is not None):
            raise InvalidEnvironmentError(
                f"environment variables {self.ROUTING_CONTROLS} and "
                f"{self.ROUTING_CONTROL_ENDPOINTS} are set exactly when "
                f"{self.TRAFFIC_CONTROL} is {ROUTING_CONTROL}; it is {self.traffic_control!r}"
            )
        values = self._variables()
        given = [name for name in self.object_replication_names if values[name]]
        if given and len(given) != len(self.object_replication_names):
            missing = [n for n in self.object_replication_names if n not in given]
            raise InvalidEnvironmentError(
                f"environment variables {', '.join(self.object_replication_names)} are set "
                f"together or not at all; {', '.join(given)} set, {', '.join(missing)} empty"
            )

    def to_env(self) -> dict[str, str]:
        """The variables the dr stack sets on the function: all but AWS_REGION."""
        return {
            name: self.encode(name, value)
            for name, value in self._variables().items()
            if name != self.REGION and value is not None
        }

    @classmethod
    def encode(cls, name: str, value: Any) -> str:
        """Variable `name` holding `value` (a field's type: a str, a NodeGroupSize mapping, a
        GatewayControl, RoutingControls for both routing variables), checked as the handler
        checks it. Raises InvalidEnvironmentError naming the variable and what it allows."""
        if name not in _CHECKS:
            raise InvalidEnvironmentError(
                f"{name!r} is not a variable of the failover environment; known: "
                f"{', '.join(sorted(_CHECKS))}"
            )
        _CHECKS[name](name, value)
        return _ENCODERS.get(name, str)(value)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Environment:
        """The environment the Lambda runs with (os.environ, which holds more than these)."""
        engine = _required(env, cls.DB_ENGINE)
        traffic = env.get(cls.TRAFFIC_CONTROL) or HEALTH_CHECK_INVERSION
        threshold = env.get(cls.PROBE_FAILURE_THRESHOLD) or "3"
        if not WHOLE_NUMBER_PATTERN.match(threshold):
            raise _malformed(cls.PROBE_FAILURE_THRESHOLD, threshold, "a whole number 1-20")
        return cls(
            region=_required(env, cls.REGION),
            cluster_name=_required(env, cls.CLUSTER_NAME),
            full=_sizes(env, cls.FULL_PROFILE),
            pilot_light=_sizes(env, cls.PILOT_LIGHT_PROFILE),
            node_groups=_node_groups(env, cls.NODE_GROUPS),
            db_engine=engine,
            db_identifier=_required(env, cls.DB_IDENTIFIER),
            # Read for Aurora only: a postgres stack leaves it empty.
            global_cluster_identifier=(
                _required(env, cls.GLOBAL_CLUSTER_IDENTIFIER) if engine == AURORA else ""
            ),
            primary_region=_required(env, cls.PRIMARY_REGION),
            primary_db_identifier=_required(env, cls.PRIMARY_DB_IDENTIFIER),
            state_table=_required(env, cls.STATE_TABLE),
            topic_arn=_required(env, cls.TOPIC_ARN),
            primary_health_check_id=env.get(cls.PRIMARY_HEALTH_CHECK_ID, ""),
            dr_health_check_id=env.get(cls.DR_HEALTH_CHECK_ID, ""),
            primary_endpoint=env.get(cls.PRIMARY_ENDPOINT, ""),
            dr_endpoint=env.get(cls.DR_ENDPOINT, ""),
            failover_mode=env.get(cls.FAILOVER_MODE) or "manual",
            probe_failure_threshold=int(threshold),
            traffic_control=traffic,
            # Read with routing controls only: with health check inversion they steer nothing.
            routing_controls=_routing_controls(env) if traffic == ROUTING_CONTROL else None,
            gateway=_gateway(env, cls.GATEWAY) if cls.GATEWAY in env else None,
            records_bucket=env.get(cls.RECORDS_BUCKET, ""),
            primary_records_bucket=env.get(cls.PRIMARY_RECORDS_BUCKET, ""),
            batch_replication_role_arn=env.get(cls.BATCH_REPLICATION_ROLE_ARN, ""),
            batch_replication_report_prefix=env.get(cls.BATCH_REPLICATION_REPORT_PREFIX, ""),
        )


# -- reading -------------------------------------------------------------------------------


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise InvalidEnvironmentError(f"environment variable {name} is missing")
    return value


def _document(env: Mapping[str, str], name: str, shape: str) -> Any:
    raw = _required(env, name)
    try:
        return json.loads(raw)
    except ValueError:
        raise _not_json(name, raw, shape) from None


def _integer(value: Any) -> int:
    """A whole number as JSON gives it (never a bool, a fraction or a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError(value)
    return int(value)


def _node_groups(env: Mapping[str, str], name: str) -> dict[str, str]:
    decoded = _document(env, name, "{group: name}")
    if not isinstance(decoded, dict):
        raise _not_json(name, env[name], "{group: name}")
    return decoded


def _sizes(env: Mapping[str, str], name: str) -> dict[str, NodeGroupSize]:
    decoded = _document(env, name, _SIZES_SHAPE)
    try:
        return {
            group: NodeGroupSize(
                _integer(s["minSize"]), _integer(s["desiredSize"]), _integer(s["maxSize"])
            )
            for group, s in decoded.items()
        }
    except (TypeError, KeyError, AttributeError):
        raise _not_json(name, env[name], _SIZES_SHAPE) from None


def _gateway(env: Mapping[str, str], name: str) -> GatewayControl:
    raw = _document(env, name, _GATEWAY_SHAPE)
    try:
        sizes = [
            GatewaySize(_integer(raw[k]["replicas"]), _integer(raw[k]["maxReplicas"]))
            for k in ("full", "pilotLight")
        ]
        return GatewayControl(raw["namespace"], raw["deployment"], raw["hpa"], *sizes)
    except (TypeError, KeyError):
        raise _not_json(name, env[name], _GATEWAY_SHAPE) from None


def _routing_controls(env: Mapping[str, str]) -> RoutingControls:
    arns_name = Environment.ROUTING_CONTROLS
    arns = _document(env, arns_name, _ROUTING_CONTROLS_SHAPE)
    if not isinstance(arns, dict) or set(arns) != {"primary", "dr"}:
        raise _not_json(arns_name, env[arns_name], _ROUTING_CONTROLS_SHAPE)
    endpoints_name = Environment.ROUTING_CONTROL_ENDPOINTS
    listed = _document(env, endpoints_name, _ENDPOINTS_SHAPE)
    if not isinstance(listed, list) or not all(
        isinstance(e, dict) and set(e) == {"region", "endpoint"} for e in listed
    ):
        raise _not_json(endpoints_name, env[endpoints_name], _ENDPOINTS_SHAPE)
    return RoutingControls(
        arns["primary"], arns["dr"], tuple((e["region"], e["endpoint"]) for e in listed)
    )


# -- checking, one variable at a time --------------------------------------------------------


Check = Callable[[str, Any], None]


def _pattern(pattern: re.Pattern[str], allowed: str, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> None:
        if optional and value == "":
            return
        if not isinstance(value, str) or not pattern.match(value):
            raise _malformed(name, value, allowed + (' or "" (none)' if optional else ""))

    return check


def _choice(allowed: tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> None:
        if value not in allowed:
            raise _not_one_of(name, value, allowed)

    return check


def _check_threshold(name: str, value: Any) -> None:
    if isinstance(value, bool) or value not in PROBE_FAILURE_THRESHOLDS:
        raise _malformed(name, value, "a whole number 1-20")


def _check_node_groups(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not value:
        raise _malformed(name, value, "at least one {group: node group name}")
    for group, group_name in value.items():
        if not (isinstance(group, str) and NAME_PATTERN.match(group)):
            raise _malformed(name, group, f"node group roles as {_NAME_RULE}")
        if not (isinstance(group_name, str) and NAME_PATTERN.match(group_name)):
            raise _malformed(name, group_name, f"node group names as {_NAME_RULE}")


def _check_sizes(name: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not all(
        isinstance(s, NodeGroupSize) for s in value.values()
    ):
        raise _malformed(name, value, _SIZES_SHAPE)
    for group, size in value.items():
        if not 0 <= size.min_size <= size.desired_size <= size.max_size:
            raise InvalidEnvironmentError(
                f"environment variable {name}: {group} has {size.document()}; allowed is "
                "0 <= minSize <= desiredSize <= maxSize"
            )


def _check_gateway(name: str, value: Any) -> None:
    if not isinstance(value, GatewayControl):
        raise _malformed(name, value, _GATEWAY_SHAPE)
    for part in (value.namespace, value.deployment, value.hpa):
        if not (isinstance(part, str) and NAME_PATTERN.match(part)):
            raise _malformed(name, part, f"Kubernetes object names as {_NAME_RULE}")
    for size in (value.full, value.pilot_light):
        if not 1 <= size.replicas <= size.max_replicas:
            raise InvalidEnvironmentError(
                f"environment variable {name}: {size.document()}; allowed is "
                "1 <= replicas <= maxReplicas"
            )


def _check_routing_controls(name: str, value: Any) -> None:
    if not isinstance(value, RoutingControls):
        raise _malformed(name, value, _ROUTING_CONTROLS_SHAPE)
    for side, arn in (("primary", value.primary), ("dr", value.dr)):
        if not (isinstance(arn, str) and ARN_PATTERN.match(arn)):
            raise _malformed(name, arn, f"the {side} routing control as {_ARN_RULE}")


def _check_endpoints(name: str, value: Any) -> None:
    if not isinstance(value, RoutingControls) or not value.endpoints:
        raise _malformed(name, value, f"at least one endpoint, {_ENDPOINTS_SHAPE}")
    for region, url in value.endpoints:
        if not (isinstance(region, str) and REGION_PATTERN.match(region)):
            raise _malformed(name, region, f"each endpoint's region as {_REGION_RULE}")
        if not (isinstance(url, str) and HTTPS_URL_PATTERN.match(url)):
            raise _malformed(name, url, f"each endpoint as {_HTTPS_RULE}")


_CHECKS: dict[str, Check] = {
    Environment.REGION: _pattern(REGION_PATTERN, _REGION_RULE),
    Environment.CLUSTER_NAME: _pattern(NAME_PATTERN, _NAME_RULE),
    Environment.NODE_GROUPS: _check_node_groups,
    Environment.FULL_PROFILE: _check_sizes,
    Environment.PILOT_LIGHT_PROFILE: _check_sizes,
    Environment.GATEWAY: _check_gateway,
    Environment.DB_ENGINE: _choice(ENGINES),
    Environment.DB_IDENTIFIER: _pattern(NAME_PATTERN, _NAME_RULE),
    Environment.GLOBAL_CLUSTER_IDENTIFIER: _pattern(NAME_PATTERN, _NAME_RULE, optional=True),
    Environment.PRIMARY_REGION: _pattern(REGION_PATTERN, _REGION_RULE),
    Environment.PRIMARY_DB_IDENTIFIER: _pattern(NAME_PATTERN, _NAME_RULE),
    Environment.STATE_TABLE: _pattern(NAME_PATTERN, _NAME_RULE),
    Environment.TOPIC_ARN: _pattern(ARN_PATTERN, _ARN_RULE),
    Environment.PRIMARY_HEALTH_CHECK_ID: _pattern(NAME_PATTERN, _NAME_RULE, optional=True),
    Environment.DR_HEALTH_CHECK_ID: _pattern(NAME_PATTERN, _NAME_RULE, optional=True),
    Environment.PRIMARY_ENDPOINT: _pattern(HTTPS_URL_PATTERN, _HTTPS_RULE, optional=True),
    Environment.DR_ENDPOINT: _pattern(HTTPS_URL_PATTERN, _HTTPS_RULE, optional=True),
    Environment.FAILOVER_MODE: _choice(FAILOVER_MODES),
    Environment.PROBE_FAILURE_THRESHOLD: _check_threshold,
    Environment.TRAFFIC_CONTROL: _choice(TRAFFIC_CONTROLS),
    Environment.ROUTING_CONTROLS: _check_routing_controls,
    Environment.ROUTING_CONTROL_ENDPOINTS: _check_endpoints,
    Environment.RECORDS_BUCKET: _pattern(BUCKET_PATTERN, _BUCKET_RULE, optional=True),
    Environment.PRIMARY_RECORDS_BUCKET: _pattern(BUCKET_PATTERN, _BUCKET_RULE, optional=True),
    Environment.BATCH_REPLICATION_ROLE_ARN: _pattern(
        ROLE_ARN_PATTERN, _ROLE_ARN_RULE, optional=True
    ),
    Environment.BATCH_REPLICATION_REPORT_PREFIX: _pattern(
        KEY_PREFIX_PATTERN, _KEY_PREFIX_RULE, optional=True
    ),
}

# -- writing -------------------------------------------------------------------------------


def _encode_sizes(sizes: Mapping[str, NodeGroupSize]) -> str:
    return json.dumps({group: size.document() for group, size in sizes.items()})


_ENCODERS: dict[str, Callable[[Any], str]] = {
    Environment.NODE_GROUPS: lambda groups: json.dumps(dict(groups)),
    Environment.FULL_PROFILE: _encode_sizes,
    Environment.PILOT_LIGHT_PROFILE: _encode_sizes,
    Environment.GATEWAY: lambda gateway: json.dumps(gateway.document()),
    Environment.ROUTING_CONTROLS: lambda controls: json.dumps(
        {"primary": controls.primary, "dr": controls.dr}
    ),
    Environment.ROUTING_CONTROL_ENDPOINTS: lambda controls: json.dumps(
        [{"region": region, "endpoint": url} for region, url in controls.endpoints]
    ),
}
