"""Typed, validated stack settings: the only place that reads `trading:*` configuration.

`parse()` turns the raw config mapping into frozen dataclasses or raises one `SettingsError`
listing every problem, each naming the key, the bad value and what is allowed. `load()` reads
the mapping from `pulumi.Config`; components receive the typed objects, never the config.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

import naming

NAMESPACE = "trading"

ROLES = ("primary", "dr")
PROFILE_NAMES = ("full", "pilot-light")
NODE_GROUP_ROLES = ("system", "trading")
# Present in both profiles exactly when trading:lowLatency is set.
LATENCY_NODE_GROUP = "latency"
NAT_MODES = ("per-az", "single")
DATABASE_ENGINES = ("postgres", "aurora-postgresql")
REPLICATION_DIRECTIONS = ("primary-to-dr", "dr-to-primary")
FAILOVER_MODES = ("manual", "automatic")
API_AUTHORIZATIONS = ("iam", "none")

# Availability zones usable for EKS and the instance families we run, in the order subnets take
# them. us-east-1e is left out on purpose: it cannot launch current-generation instances.
# AZ names differ from the physical zones per account, but these names exist in every account.
REGION_AZS: dict[str, tuple[str, ...]] = {
    "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"),
    "us-east-2": ("us-east-2a", "us-east-2b", "us-east-2c"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"),
    "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
    "eu-central-1": ("eu-central-1a", "eu-central-1b", "eu-central-1c"),
}

# EKS needs subnets in two AZs at least; the subnet plan (see `Network`) has room for six.
MIN_AZ_COUNT = 2
MAX_AZ_COUNT = 6

# The values CloudWatch Logs accepts for retention.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)

# The design's ceiling: one region lost costs at most 15 minutes of service and 5 of data.
MAX_RTO_SECONDS = 900
MAX_RPO_SECONDS = 300

CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_DB_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9]+$")
_K8S_VERSION = re.compile(r"^1\.(2[89]|3[0-9])$")
_CPU = re.compile(r"^([1-9][0-9]{0,3}m|[1-9][0-9]?(\.[0-9]+)?)$")
_MEMORY = re.compile(r"^[1-9][0-9]{0,5}(Mi|Gi)$")
_RETENTION = re.compile(r"^[1-9][0-9]{0,3}[dhw]$")
# Families without ENA enhanced networking (older generations): refused for trading nodes.
NON_ENA_FAMILIES = ("t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "r3", "i2", "d2")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,32}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_IMAGE = re.compile(
    r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$"
)
HEALTH_CHECK_INTERVALS = (10, 30)
# How failover moves clients (README, "Traffic control"): ARC routing controls flipped on ARC's
# five-region data plane (the default), or the primary's health check inverted through the
# Route 53 API, whose control plane is in us-east-1 (cheaper, no ARC cluster).
ROUTING_CONTROL = "routing-control"
HEALTH_CHECK_INVERSION = "health-check-inversion"
TRAFFIC_CONTROLS = (ROUTING_CONTROL, HEALTH_CHECK_INVERSION)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS_URL = re.compile(r"^https://[^\s/]+(/\S*)?$")
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class SettingsError(ValueError):
    """Every problem found in the stack's `trading:*` configuration, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class NodeGroupSize:
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int


@dataclass(frozen=True)
class GatewaySize:
    """The order gateway's pods: replicas at rest and the autoscaler's ceiling."""

    replicas: int
    max_replicas: int


@dataclass(frozen=True)
class AddonRequests:
    """CPU and memory requests of each add-on pod (Prometheus, Grafana, the autoscaler,
    metrics-server): small at the pilot light, sized for production at full."""

    cpu: str
    memory: str


@dataclass(frozen=True)
class CapacityProfile:
    name: str
    nat_gateways: str
    node_groups: Mapping[str, NodeGroupSize]
    gateway: GatewaySize
    addons: AddonRequests

    @property
    def nat_gateway_per_az(self) -> bool:
        return self.nat_gateways == "per-az"

    def as_config(self) -> dict[str, Any]:
        """The profile in the shape of its config, as exported for failover and reviewers."""
        return {
            "natGateways": self.nat_gateways,
            "nodeGroups": {
                group: {
                    "instanceTypes": list(size.instance_types),
                    "minSize": size.min_size,
                    "desiredSize": size.desired_size,
                    "maxSize": size.max_size,
                }
                for group, size in self.node_groups.items()
            },
            "gateway": {
                "replicas": self.gateway.replicas,
                "maxReplicas": self.gateway.max_replicas,
            },
            "addons": {"cpu": self.addons.cpu, "memory": self.addons.memory},
        }


@dataclass(frozen=True)
class Capacity:
    active_profile: str
    profiles: Mapping[str, CapacityProfile]

    @property
    def active(self) -> CapacityProfile:
        return self.profiles[self.active_profile]

    @property
    def full(self) -> CapacityProfile:
        return self.profiles["full"]

    @property
    def pilot_light(self) -> CapacityProfile:
        return self.profiles["pilot-light"]


@dataclass(frozen=True)
class Network:
    vpc_cidr: str
    peer_vpc_cidr: str
    availability_zones: tuple[str, ...]


@dataclass(frozen=True)
class EksSettings:
    version: str
    public_access_cidrs: tuple[str, ...]
    admin_role_arns: tuple[str, ...]
    # Roles that run `pulumi up` and `pulumi preview` (CI, operators): the stack installs Helm
    # releases and Kubernetes resources, so they need the cluster's API.
    deploy_role_arns: tuple[str, ...] = ()
    deployer_inside_vpc: bool = False


@dataclass(frozen=True)
class Database:
    engine: str
    engine_version: str
    instance_class: str
    replica_instance_class: str
    allocated_storage_gb: int
    backup_retention_days: int

    @property
    def is_aurora(self) -> bool:
        return self.engine == "aurora-postgresql"

    @property
    def major_version(self) -> str:
        return self.engine_version.split(".", 1)[0]


@dataclass(frozen=True)
class Replication:
    """Which way data flows. `dr-to-primary` is the failback set-up: dr holds the writer and the
    former primary is rebuilt as its replica (README, "Failback runbook")."""

    direction: str
    # The stack whose outputs this one reads: the primary, for dr; dr, for the primary while
    # the direction is reversed; empty otherwise.
    peer_stack: str

    @property
    def reversed(self) -> bool:
        return self.direction == "dr-to-primary"


@dataclass(frozen=True)
class Failover:
    """Detection and notification of the failover automation (dr stack)."""

    mode: str
    probe_failure_threshold: int
    probe_interval_minutes: int
    notify_emails: tuple[str, ...]
    notify_https_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Records:
    """Lifecycle of the trade and audit records bucket."""

    archive_after_days: int
    noncurrent_expiry_days: int
    access_log_expiry_days: int


@dataclass(frozen=True)
class Dns:
    """DNS failover in an existing hosted zone: one record, PRIMARY in the primary stack and
    SECONDARY in dr, each following its own region's switch: a routing control, or the region's
    health check (`traffic_control`)."""

    zone_id: str
    zone_name: str
    record_name: str
    health_check_interval_seconds: int
    health_check_failure_threshold: int
    traffic_control: str = ROUTING_CONTROL

    @property
    def uses_routing_controls(self) -> bool:
        return self.traffic_control == ROUTING_CONTROL

    def regional_name(self, region: str) -> str:
        """The region's own hostname: what its health check probes, bypassing failover."""
        return f"{region}.{self.record_name}"


@dataclass(frozen=True)
class Gateway:
    """The order gateway workload and its public entry point."""

    image: str
    args: tuple[str, ...]
    port: int
    throttle_rate_limit: int
    throttle_burst_limit: int
    # iam: callers sign requests (SigV4) with IAM credentials allowed execute-api:Invoke;
    # none: a deliberately public API, behind WAF and throttling only.
    authorization: str = "iam"


@dataclass(frozen=True)
class Observability:
    """Monitoring inside the cluster and who is paged."""

    prometheus_retention: str
    prometheus_storage_gb: int
    alert_emails: tuple[str, ...]


@dataclass(frozen=True)
class Vpn:
    customer_gateway_ip: str
    bgp_asn: int
    on_prem_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class Connectivity:
    """Private paths: a Transit Gateway per region, peered between the regions (the dr stack
    owns the peering), and an optional site-to-site VPN to on-premises."""

    transit_gateway: bool
    peering: bool
    amazon_side_asn: int
    vpn: Vpn | None


@dataclass(frozen=True)
class LowLatency:
    """The latency-critical node group: one AZ, a cluster placement group, ENA Express."""

    availability_zone: str
    ena_express: bool


@dataclass(frozen=True)
class SecurityBaseline:
    """Account services each stack may switch off where they are managed centrally."""

    cloudtrail: bool
    guardduty: bool
    security_hub: bool
    config_recorder: bool
    access_analyzer: bool


@dataclass(frozen=True)
class Objectives:
    rto_seconds: int
    rpo_seconds: int


@dataclass(frozen=True)
class Settings:
    role: str
    region: str
    peer_region: str
    name_prefix: str
    network: Network
    capacity: Capacity
    eks: EksSettings
    database: Database
    objectives: Objectives
    log_retention_days: int
    tags: Mapping[str, str]
    replication: Replication
    records: Records
    failover: Failover
    dns: Dns
    gateway: Gateway
    observability: Observability
    connectivity: Connectivity
    low_latency: LowLatency | None
    security: SecurityBaseline

    @property
    def replica_lag_alarm_seconds(self) -> int:
        """Replica lag that pages: half the RPO, so there is time to act before it is spent."""
        return max(1, self.objectives.rpo_seconds // 2)

    @property
    def resource_prefix(self) -> str:
        """Prefix of physical names (`trading-primary`), unique per account and region."""
        return f"{self.name_prefix}-{self.role}"

    @property
    def cluster_name(self) -> str:
        return self.resource_prefix

    @property
    def resource_tags(self) -> dict[str, str]:
        """Tags for every taggable resource: the configured ones plus the stack's role."""
        return {**self.tags, "trading-role": self.role}


class _Reader:
    """Walks the raw config, collecting problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{NAMESPACE}:{key} = {value!r} is not valid; allowed: {allowed}")

    def missing(self, key: str, allowed: str) -> None:
        self.problems.append(f"{NAMESPACE}:{key} is required; allowed: {allowed}")

    def obj(self, key: str, value: Any, fields: Mapping[str, str]) -> dict[str, Any]:
        """A mapping whose keys are all among `fields` (name -> what the field holds)."""
        if not isinstance(value, Mapping):
            self.fail(key, value, "an object with keys " + ", ".join(fields))
            return {}
        for unknown in sorted(set(value) - set(fields)):
            self.fail(f"{key}.{unknown}", value[unknown], "known keys " + ", ".join(fields))
        return dict(value)

    def field(
        self, key: str, raw: Mapping[str, Any], name: str, allowed: str, default: Any = None
    ) -> Any:
        if name in raw:
            return raw[name]
        if default is None:
            self.missing(f"{key}.{name}" if key else name, allowed)
        return default

    def integer(self, key: str, value: Any, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.fail(key, value, f"a whole number from {low} to {high}")
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(key, value, f"a whole number from {low} to {high}")
            return None
        if number != float(value) or not low <= number <= high:
            self.fail(key, value, f"a whole number from {low} to {high}")
            return None
        return number

    def choice(self, key: str, value: Any, allowed: tuple[str, ...]) -> str | None:
        if value not in allowed:
            self.fail(key, value, " | ".join(allowed))
            return None
        return str(value)

    def matching(self, key: str, value: Any, pattern: re.Pattern[str], allowed: str) -> str | None:
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(key, value, allowed)
            return None
        return value

    def strings(
        self, key: str, value: Any, check: Callable[[str, Any], str | None]
    ) -> tuple[str, ...] | None:
        if not isinstance(value, list):
            self.fail(key, value, "a list")
            return None
        checked = [check(f"{key}[{i}]", item) for i, item in enumerate(value)]
        if any(item is None for item in checked):
            return None
        return tuple(item for item in checked if item is not None)


def _private_network(reader: _Reader, key: str, value: Any) -> ipaddress.IPv4Network | None:
    allowed = "a private IPv4 CIDR (10/8, 172.16/12 or 192.168/16) with a /16 to /20 prefix"
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except (ValueError, TypeError):
        reader.fail(key, value, allowed)
        return None
    if not network.is_private or not 16 <= network.prefixlen <= 20:
        reader.fail(key, value, allowed)
        return None
    return network


def _public_cidr(reader: _Reader, key: str, value: Any) -> str | None:
    allowed = "an IPv4 CIDR narrower than 0.0.0.0/0 (the operators' or CI runners' egress range)"
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except (ValueError, TypeError):
        reader.fail(key, value, allowed)
        return None
    if network.prefixlen == 0:
        reader.fail(key, value, allowed)
        return None
    return str(network)


def _network(reader: _Reader, raw: Any, region: str | None) -> Network | None:
    fields = {"vpcCidr": "CIDR", "peerVpcCidr": "CIDR", "azCount": "int"}
    values = reader.obj("network", raw, fields)
    vpc = _private_network(
        reader, "network.vpcCidr", reader.field("network", values, "vpcCidr", "a private CIDR")
    )
    peer = _private_network(
        reader,
        "network.peerVpcCidr",
        reader.field("network", values, "peerVpcCidr", "the other stack's VPC CIDR"),
    )
    az_count = reader.integer(
        "network.azCount", values.get("azCount", 3), MIN_AZ_COUNT, MAX_AZ_COUNT
    )
    if vpc and peer and vpc.overlaps(peer):
        reader.fail(
            "network.peerVpcCidr",
            str(peer),
            f"a CIDR that does not overlap network.vpcCidr {vpc} (the regions are peered)",
        )
    if region not in REGION_AZS or az_count is None or vpc is None or peer is None:
        return None
    zones = REGION_AZS[region]
    if az_count > len(zones):
        reader.fail(
            "network.azCount",
            az_count,
            f"at most {len(zones)} in {region} ({', '.join(zones)})",
        )
        return None
    return Network(str(vpc), str(peer), zones[:az_count])


def _node_group(reader: _Reader, key: str, raw: Any) -> NodeGroupSize | None:
    fields = {"instanceTypes": "list", "minSize": "int", "desiredSize": "int", "maxSize": "int"}
    values = reader.obj(key, raw, fields)
    types = reader.strings(
        f"{key}.instanceTypes",
        reader.field(key, values, "instanceTypes", "a list of EC2 instance types"),
        lambda k, v: reader.matching(k, v, _INSTANCE_TYPE, "an EC2 instance type like c7i.2xlarge"),
    )
    if types == ():
        reader.fail(f"{key}.instanceTypes", [], "at least one EC2 instance type")
    sizes = [
        reader.integer(f"{key}.{name}", reader.field(key, values, name, "a whole number"), 0, 1000)
        for name in ("minSize", "desiredSize", "maxSize")
    ]
    low, desired, high = sizes
    if low is None or desired is None or high is None or not types:
        return None
    if not low <= desired <= high:
        reader.fail(
            key,
            {"minSize": low, "desiredSize": desired, "maxSize": high},
            "minSize <= desiredSize <= maxSize",
        )
        return None
    if high == 0:
        reader.fail(f"{key}.maxSize", high, "at least 1 (EKS rejects a node group of max 0)")
        return None
    return NodeGroupSize(types, low, desired, high)


def _profile(reader: _Reader, name: str, raw: Any) -> CapacityProfile | None:
    key = f"capacity.profiles.{name}"
    values = reader.obj(
        key,
        raw,
        {"natGateways": "str", "nodeGroups": "object", "gateway": "object", "addons": "object"},
    )
    nat = reader.choice(
        f"{key}.natGateways",
        reader.field(key, values, "natGateways", " | ".join(NAT_MODES)),
        NAT_MODES,
    )
    groups_raw = reader.obj(
        f"{key}.nodeGroups",
        reader.field(key, values, "nodeGroups", "an object with " + ", ".join(NODE_GROUP_ROLES)),
        dict.fromkeys((*NODE_GROUP_ROLES, LATENCY_NODE_GROUP), "node group"),
    )
    present = [
        *NODE_GROUP_ROLES,
        *([LATENCY_NODE_GROUP] if LATENCY_NODE_GROUP in groups_raw else []),
    ]
    groups = {
        group: _node_group(
            reader,
            f"{key}.nodeGroups.{group}",
            reader.field(f"{key}.nodeGroups", groups_raw, group, "a node group size"),
        )
        for group in present
    }
    gateway = _gateway_size(
        reader,
        f"{key}.gateway",
        reader.field(key, values, "gateway", "an object with replicas and maxReplicas"),
    )
    addons = _addon_requests(
        reader,
        f"{key}.addons",
        reader.field(key, values, "addons", "an object with cpu and memory"),
    )
    if nat is None or gateway is None or addons is None:
        return None
    if any(size is None for size in groups.values()):
        return None
    return CapacityProfile(
        name, nat, {g: s for g, s in groups.items() if s is not None}, gateway, addons
    )


def _addon_requests(reader: _Reader, key: str, raw: Any) -> AddonRequests | None:
    values = reader.obj(key, raw, {"cpu": "quantity", "memory": "quantity"})
    cpu = reader.matching(
        f"{key}.cpu",
        reader.field(key, values, "cpu", "a CPU quantity"),
        _CPU,
        'a Kubernetes CPU quantity like "250m" or "1"',
    )
    memory = reader.matching(
        f"{key}.memory",
        reader.field(key, values, "memory", "a memory quantity"),
        _MEMORY,
        'a Kubernetes memory quantity like "512Mi" or "2Gi"',
    )
    if cpu is None or memory is None:
        return None
    return AddonRequests(cpu, memory)


def _gateway_size(reader: _Reader, key: str, raw: Any) -> GatewaySize | None:
    values = reader.obj(key, raw, {"replicas": "int", "maxReplicas": "int"})
    replicas = reader.integer(
        f"{key}.replicas", reader.field(key, values, "replicas", "1-500"), 1, 500
    )
    ceiling = reader.integer(
        f"{key}.maxReplicas", reader.field(key, values, "maxReplicas", "1-500"), 1, 500
    )
    if replicas is None or ceiling is None:
        return None
    if replicas > ceiling:
        reader.fail(key, {"replicas": replicas, "maxReplicas": ceiling}, "replicas <= maxReplicas")
        return None
    return GatewaySize(replicas, ceiling)


def _capacity(reader: _Reader, raw: Any) -> Capacity | None:
    values = reader.obj("capacity", raw, {"activeProfile": "str", "profiles": "object"})
    active = reader.choice(
        "capacity.activeProfile",
        reader.field("capacity", values, "activeProfile", " | ".join(PROFILE_NAMES)),
        PROFILE_NAMES,
    )
    # Both profiles are required in every stack: failover scales dr to `full` from the dr
    # stack's own settings, never by asking the region that just failed.
    profiles_raw = reader.obj(
        "capacity.profiles",
        reader.field("capacity", values, "profiles", "an object with full and pilot-light"),
        dict.fromkeys(PROFILE_NAMES, "profile"),
    )
    profiles = {
        name: _profile(
            reader,
            name,
            reader.field("capacity.profiles", profiles_raw, name, "a capacity profile"),
        )
        for name in PROFILE_NAMES
    }
    full, pilot = profiles["full"], profiles["pilot-light"]
    if active is None or full is None or pilot is None:
        return None
    for group in sorted(set(full.node_groups) & set(pilot.node_groups)):
        for attr, label in (
            ("min_size", "minSize"),
            ("desired_size", "desiredSize"),
            ("max_size", "maxSize"),
        ):
            small, large = (
                getattr(pilot.node_groups[group], attr),
                getattr(full.node_groups[group], attr),
            )
            if small > large:
                reader.fail(
                    f"capacity.profiles.pilot-light.nodeGroups.{group}.{label}",
                    small,
                    f"at most the full profile's {label} ({large}): a pilot light is never "
                    "larger than full capacity",
                )
    for attr, label in (("replicas", "replicas"), ("max_replicas", "maxReplicas")):
        small, large = getattr(pilot.gateway, attr), getattr(full.gateway, attr)
        if small > large:
            reader.fail(
                f"capacity.profiles.pilot-light.gateway.{label}",
                small,
                f"at most the full profile's {label} ({large}): a pilot light is never "
                "larger than full capacity",
            )
    return Capacity(active, {"full": full, "pilot-light": pilot})


def _eks(reader: _Reader, raw: Any) -> EksSettings | None:
    values = reader.obj(
        "eks",
        raw,
        {
            "version": "str",
            "publicAccessCidrs": "list",
            "adminRoleArns": "list",
            "deployRoleArns": "list",
            "deployerInsideVpc": "bool",
        },
    )
    version = reader.matching(
        "eks.version",
        values.get("version", "1.35"),
        _K8S_VERSION,
        'a Kubernetes minor version EKS supports, such as "1.35" (quote it in YAML)',
    )
    cidrs = reader.strings(
        "eks.publicAccessCidrs",
        values.get("publicAccessCidrs", []),
        lambda k, v: _public_cidr(reader, k, v),
    )
    admins = reader.strings(
        "eks.adminRoleArns",
        values.get("adminRoleArns", []),
        lambda k, v: reader.matching(k, v, _ROLE_ARN, "an IAM role ARN"),
    )
    deployers = reader.strings(
        "eks.deployRoleArns",
        values.get("deployRoleArns", []),
        lambda k, v: reader.matching(k, v, _ROLE_ARN, "an IAM role ARN"),
    )
    inside = values.get("deployerInsideVpc", False)
    if not isinstance(inside, bool):
        reader.fail("eks.deployerInsideVpc", inside, "true or false")
        return None
    if cidrs == () and not inside:
        # The stack installs Helm releases and Kubernetes resources through the cluster's API:
        # with a private endpoint only, `pulumi up` and `pulumi preview` must run inside the
        # VPC, which the first `up` has yet to create (README, "Bootstrap").
        reader.fail(
            "eks.publicAccessCidrs",
            [],
            "the egress CIDRs of the machines that run `pulumi up` and `pulumi preview`, or "
            "eks.deployerInsideVpc: true once they run inside this VPC (never for the first "
            "`pulumi up`, which creates the VPC)",
        )
        return None
    if version is None or cidrs is None or admins is None or deployers is None:
        return None
    return EksSettings(version, cidrs, admins, deployers, inside)


# Minor engine upgrades are automatic on every RDS instance (components.database applies this): RDS
# moves the minor in the maintenance window and retires old minors, so a configured minor would
# be reverted (or refused) on the next `up`. Only a major version, digits alone, is accepted.
AUTO_MINOR_VERSION_UPGRADE = True
_MAJOR_VERSION = re.compile(r"^[1-9][0-9]*$")
_MAJOR_VERSION_ALLOWED = (
    'a major version only, digits like "16": minor upgrades are automatic '
    "(autoMinorVersionUpgrade), so RDS chooses and moves the minor"
)


# An Aurora global database runs one engine version in every region, and its minor is upgraded
# on the global cluster, not automatically (Aurora User Guide, "Upgrading an Amazon Aurora
# global database"); the provider also records the version AWS reports for a global cluster, so
# a major alone would show as a change on every `up`. Aurora takes major.minor.
_AURORA_VERSION = re.compile(r"^[1-9][0-9]*\.[0-9]+$")
_AURORA_VERSION_ALLOWED = (
    'major.minor like "16.6": an Aurora global database runs the same version in both regions '
    "and its minor is upgraded on the global cluster, not automatically"
)


# The RDS Data API, which the drill's marker writer uses on Aurora, starts at these minors and
# does not run on T instance classes (Aurora User Guide, "Supported Regions and Aurora DB
# engines for the RDS Data API" and "Data API limitations").
_DATA_API_MINIMUM = {13: 11, 14: 8, 15: 3, 16: 1}
_DATA_API_ALLOWED = "13.11, 14.8, 15.3, 16.1 or later (the RDS Data API the drill uses)"


def _data_api_ready(reader: _Reader, version: str | None, classes: list[str | None]) -> None:
    if version is not None:
        major, minor = (int(part) for part in version.split("."))
        if minor < _DATA_API_MINIMUM.get(major, 0) or major < min(_DATA_API_MINIMUM):
            reader.fail("database.engineVersion", version, _DATA_API_ALLOWED)
    for key, chosen in zip(("instanceClass", "replicaInstanceClass"), classes, strict=True):
        if chosen is not None and chosen.startswith("db.t"):
            reader.fail(
                f"database.{key}",
                chosen,
                "a non-burstable class (not db.t*): the RDS Data API does not run on T classes",
            )


def _engine_version(reader: _Reader, values: Mapping[str, Any], engine: str | None) -> str | None:
    aurora = engine == "aurora-postgresql"
    if "engineVersion" not in values:
        reader.missing(
            "database.engineVersion", _AURORA_VERSION_ALLOWED if aurora else _MAJOR_VERSION_ALLOWED
        )
        return None
    version = values["engineVersion"]
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)  # `engineVersion: 16` unquoted in YAML
    if aurora:
        return reader.matching(
            "database.engineVersion", version, _AURORA_VERSION, _AURORA_VERSION_ALLOWED
        )
    if AUTO_MINOR_VERSION_UPGRADE:
        return reader.matching(
            "database.engineVersion", version, _MAJOR_VERSION, _MAJOR_VERSION_ALLOWED
        )
    if not (isinstance(version, str) and version.strip()):
        reader.fail("database.engineVersion", version, 'a version string like "16"')
        return None
    return version


def _database(reader: _Reader, raw: Any) -> Database | None:
    fields = {
        "engine": "str",
        "engineVersion": "str",
        "instanceClass": "str",
        "replicaInstanceClass": "str",
        "allocatedStorageGb": "int",
        "backupRetentionDays": "int",
    }
    values = reader.obj("database", raw, fields)
    engine = reader.choice(
        "database.engine",
        reader.field("database", values, "engine", " | ".join(DATABASE_ENGINES)),
        DATABASE_ENGINES,
    )
    version = _engine_version(reader, values, engine)
    instance_class = reader.matching(
        "database.instanceClass",
        reader.field("database", values, "instanceClass", "an RDS instance class"),
        _DB_INSTANCE_CLASS,
        "an RDS instance class like db.r7g.xlarge",
    )
    replica_class = reader.matching(
        "database.replicaInstanceClass",
        values.get("replicaInstanceClass", instance_class),
        _DB_INSTANCE_CLASS,
        "an RDS instance class like db.r7g.large (default: database.instanceClass)",
    )
    storage = reader.integer(
        "database.allocatedStorageGb", values.get("allocatedStorageGb", 100), 20, 65536
    )
    # Point-in-time recovery needs a week of backups to cover a failback's re-sync window.
    retention = reader.integer(
        "database.backupRetentionDays", values.get("backupRetentionDays", 14), 7, 35
    )
    if engine == "aurora-postgresql":
        _data_api_ready(reader, version, [instance_class, replica_class])
    if engine is None or version is None or instance_class is None or replica_class is None:
        return None
    if storage is None or retention is None:
        return None
    return Database(engine, str(version), instance_class, replica_class, storage, retention)


def _objectives(reader: _Reader, raw: Any) -> Objectives | None:
    values = reader.obj("objectives", raw, {"rtoSeconds": "int", "rpoSeconds": "int"})
    rto = reader.integer(
        "objectives.rtoSeconds",
        reader.field("objectives", values, "rtoSeconds", f"seconds, 60 to {MAX_RTO_SECONDS}"),
        60,
        MAX_RTO_SECONDS,
    )
    rpo = reader.integer(
        "objectives.rpoSeconds",
        reader.field("objectives", values, "rpoSeconds", f"seconds, 1 to {MAX_RPO_SECONDS}"),
        1,
        MAX_RPO_SECONDS,
    )
    if rto is None or rpo is None:
        return None
    return Objectives(rto, rpo)


def _stack_reference(reader: _Reader, key: str, value: Any, example: str) -> str:
    if not isinstance(value, str) or not _STACK_NAME.match(value):
        reader.fail(key, value, f"a Pulumi stack name such as {example!r}")
        return ""
    return value


def _replication(reader: _Reader, raw: Mapping[str, Any], role: str | None) -> Replication | None:
    values = reader.obj("replication", raw.get("replication", {}), {"direction": "str"})
    direction = reader.choice(
        "replication.direction",
        values.get("direction", "primary-to-dr"),
        REPLICATION_DIRECTIONS,
    )
    if direction is None or role is None:
        return None
    # dr always reads the primary's outputs (it replicates the primary's tables and bucket);
    # the primary reads dr's only while dr holds the writer.
    if role == "primary" and direction == "primary-to-dr":
        return Replication(direction, "")
    key, example = ("primaryStack", "primary") if role == "dr" else ("drStack", "dr")
    if key not in raw:
        reader.problems.append(
            f"{NAMESPACE}:{key} is required when trading:role is {role} and "
            f"trading:replication.direction is {direction}; allowed: the stack this stack reads "
            f"outputs from, such as {example!r}"
        )
        return None
    return Replication(direction, _stack_reference(reader, key, raw[key], example))


def _records(reader: _Reader, raw: Any) -> Records | None:
    fields = {
        "archiveAfterDays": "int",
        "noncurrentVersionExpiryDays": "int",
        "accessLogExpiryDays": "int",
    }
    values = reader.obj("records", raw, fields)
    # S3 moves objects to STANDARD_IA only after 30 days.
    archive = reader.integer(
        "records.archiveAfterDays", values.get("archiveAfterDays", 90), 30, 3650
    )
    noncurrent = reader.integer(
        "records.noncurrentVersionExpiryDays",
        values.get("noncurrentVersionExpiryDays", 365),
        1,
        3650,
    )
    access_logs = reader.integer(
        "records.accessLogExpiryDays", values.get("accessLogExpiryDays", 400), 1, 3650
    )
    if archive is None or noncurrent is None or access_logs is None:
        return None
    return Records(archive, noncurrent, access_logs)


def _failover(reader: _Reader, raw: Any, role: str | None) -> Failover | None:
    fields = {
        "mode": "str",
        "probeFailureThreshold": "int",
        "probeIntervalMinutes": "int",
        "notifyEmails": "list",
        "notifyHttpsEndpoints": "list",
    }
    values = reader.obj("failover", raw, fields)
    mode = reader.choice("failover.mode", values.get("mode", "manual"), FAILOVER_MODES)
    threshold = reader.integer(
        "failover.probeFailureThreshold", values.get("probeFailureThreshold", 3), 1, 20
    )
    interval = reader.integer(
        "failover.probeIntervalMinutes", values.get("probeIntervalMinutes", 1), 1, 15
    )
    emails = reader.strings(
        "failover.notifyEmails",
        values.get("notifyEmails", []),
        lambda k, v: reader.matching(k, v, _EMAIL, "an email address"),
    )
    endpoints = reader.strings(
        "failover.notifyHttpsEndpoints",
        values.get("notifyHttpsEndpoints", []),
        lambda k, v: reader.matching(k, v, _HTTPS_URL, "an https:// URL (a paging service)"),
    )
    if mode is None or threshold is None or interval is None or emails is None:
        return None
    if endpoints is None:
        return None
    if role == "dr" and mode == "manual" and not emails and not endpoints:
        # In manual mode the failover is only recommended, by a page: with no subscriber on
        # the failover topic (dr's) an outage would page nobody.
        reader.fail(
            "failover.notifyEmails",
            [],
            "at least one address (or a failover.notifyHttpsEndpoints URL) when "
            "failover.mode is manual: the failover recommendation is a page to them",
        )
        return None
    return Failover(mode, threshold, interval, emails, endpoints)


def _dns(reader: _Reader, raw: Any) -> Dns | None:
    fields = {
        "zoneId": "str",
        "zoneName": "str",
        "recordName": "str",
        "healthCheckIntervalSeconds": "int",
        "healthCheckFailureThreshold": "int",
        "trafficControl": "str",
    }
    values = reader.obj("dns", raw, fields)
    zone_id = reader.matching(
        "dns.zoneId",
        reader.field("dns", values, "zoneId", "the id of an existing Route 53 hosted zone"),
        _ZONE_ID,
        "a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ",
    )
    zone = reader.matching(
        "dns.zoneName",
        reader.field("dns", values, "zoneName", "the hosted zone's domain"),
        _DOMAIN,
        "a lowercase domain name like trading.example.com",
    )
    record = reader.matching(
        "dns.recordName",
        reader.field("dns", values, "recordName", "a name in the zone"),
        _DOMAIN,
        "a lowercase host name like api.trading.example.com",
    )
    if zone and record and not (record == zone or record.endswith(f".{zone}")):
        reader.fail("dns.recordName", record, f"a name inside dns.zoneName ({zone})")
        record = None
    interval = values.get("healthCheckIntervalSeconds", 10)
    if interval not in HEALTH_CHECK_INTERVALS:
        reader.fail("dns.healthCheckIntervalSeconds", interval, "10 or 30 (what Route 53 offers)")
    threshold = reader.integer(
        "dns.healthCheckFailureThreshold", values.get("healthCheckFailureThreshold", 3), 1, 10
    )
    traffic = reader.choice(
        "dns.trafficControl", values.get("trafficControl", ROUTING_CONTROL), TRAFFIC_CONTROLS
    )
    if zone_id is None or zone is None or record is None or threshold is None or traffic is None:
        return None
    if interval not in HEALTH_CHECK_INTERVALS:
        return None
    return Dns(zone_id, zone, record, int(interval), threshold, traffic)


def _gateway(reader: _Reader, raw: Any) -> Gateway | None:
    fields = {
        "image": "str",
        "args": "list",
        "port": "int",
        "throttleRateLimit": "int",
        "throttleBurstLimit": "int",
        "authorization": "str",
    }
    values = reader.obj("gateway", raw, fields)
    image = reader.matching(
        "gateway.image",
        values.get("image", "hashicorp/http-echo:1.0.0"),
        _IMAGE,
        "an image pinned by tag or digest, never latest (e.g. registry/gateway:1.4.2)",
    )
    if image and image.endswith(":latest"):
        reader.fail("gateway.image", image, "an image pinned by tag or digest, never latest")
        image = None
    args = reader.strings(
        "gateway.args",
        values.get("args", ["-listen=:5678", "-text=ok"]),
        lambda k, v: v if isinstance(v, str) else reader.fail(k, v, "a string"),
    )
    port = reader.integer("gateway.port", values.get("port", 5678), 1024, 65535)
    rate = reader.integer(
        "gateway.throttleRateLimit", values.get("throttleRateLimit", 1000), 1, 10000
    )
    burst = reader.integer(
        "gateway.throttleBurstLimit", values.get("throttleBurstLimit", 2000), 1, 5000
    )
    authorization = reader.choice(
        "gateway.authorization", values.get("authorization", "iam"), API_AUTHORIZATIONS
    )
    if image is None or args is None or port is None or rate is None or burst is None:
        return None
    if authorization is None:
        return None
    return Gateway(image, args, port, rate, burst, authorization)


def _observability(reader: _Reader, raw: Any) -> Observability | None:
    fields = {"prometheusRetention": "str", "prometheusStorageGb": "int", "alertEmails": "list"}
    values = reader.obj("observability", raw, fields)
    retention = reader.matching(
        "observability.prometheusRetention",
        values.get("prometheusRetention", "15d"),
        _RETENTION,
        'a Prometheus duration like "15d" or "2w"',
    )
    storage = reader.integer(
        "observability.prometheusStorageGb", values.get("prometheusStorageGb", 50), 10, 16000
    )
    emails = reader.strings(
        "observability.alertEmails",
        values.get("alertEmails", []),
        lambda k, v: reader.matching(k, v, _EMAIL, "an email address"),
    )
    if retention is None or storage is None or emails is None:
        return None
    return Observability(retention, storage, emails)


def _bool(reader: _Reader, key: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        reader.fail(key, value, "true | false")
        return None
    return value


def _connectivity(reader: _Reader, raw: Any, network: Network | None) -> Connectivity | None:
    fields = {"transitGateway": "bool", "peering": "bool", "amazonSideAsn": "int", "vpn": "object"}
    values = reader.obj("connectivity", raw, fields)
    tgw = _bool(reader, "connectivity.transitGateway", values.get("transitGateway", False))
    peering = _bool(reader, "connectivity.peering", values.get("peering", False))
    asn = reader.integer(
        "connectivity.amazonSideAsn", values.get("amazonSideAsn", 64512), 64512, 65534
    )
    vpn = None
    if "vpn" in values:
        vpn = _vpn(reader, values["vpn"], network)
        if vpn is None:
            return None
    if tgw is None or peering is None or asn is None:
        return None
    if (peering or vpn) and not tgw:
        reader.fail(
            "connectivity.transitGateway",
            tgw,
            "true when connectivity.peering or connectivity.vpn is set (both attach to it)",
        )
        return None
    return Connectivity(tgw, peering, asn, vpn)


def _vpn(reader: _Reader, raw: Any, network: Network | None) -> Vpn | None:
    fields = {"customerGatewayIp": "str", "bgpAsn": "int", "onPremCidrs": "list"}
    values = reader.obj("connectivity.vpn", raw, fields)
    address = values.get("customerGatewayIp")
    try:
        ip = ipaddress.IPv4Address(address)
    except (ValueError, TypeError):
        reader.problems.append(
            f"{NAMESPACE}:connectivity.vpn.customerGatewayIp = {address!r} is not valid; "
            "allowed: the public IPv4 address of the on-premises VPN device"
        )
        return None
    asn = reader.integer(
        "connectivity.vpn.bgpAsn",
        reader.field("connectivity.vpn", values, "bgpAsn", "an ASN"),
        1,
        4294967294,
    )
    cidrs: list[str] = []
    for index, value in enumerate(values.get("onPremCidrs") or []):
        key = f"connectivity.vpn.onPremCidrs[{index}]"
        try:
            cidr = ipaddress.IPv4Network(value, strict=True)
        except (ValueError, TypeError):
            reader.fail(key, value, "an IPv4 CIDR")
            continue
        overlaps = [
            str(vpc)
            for vpc in ((network.vpc_cidr, network.peer_vpc_cidr) if network else ())
            if cidr.overlaps(ipaddress.IPv4Network(vpc))
        ]
        if overlaps:
            reader.fail(
                key, value, f"a CIDR that does not overlap the VPCs ({', '.join(overlaps)})"
            )
            continue
        cidrs.append(str(cidr))
    if asn is None or len(cidrs) != len(values.get("onPremCidrs") or []):
        return None
    if not cidrs:
        reader.fail("connectivity.vpn.onPremCidrs", [], "at least one on-premises CIDR")
        return None
    return Vpn(str(ip), asn, tuple(cidrs))


def _low_latency(reader: _Reader, raw: Any, network: Network | None) -> LowLatency | None:
    values = reader.obj("lowLatency", raw, {"availabilityZones": "list", "enaExpress": "bool"})
    zones = values.get("availabilityZones")
    allowed = ", ".join(network.availability_zones) if network else "one of the stack's AZs"
    if not isinstance(zones, list) or len(zones) != 1:
        reader.fail(
            "lowLatency.availabilityZones",
            zones,
            f"exactly one AZ (a cluster placement group cannot span AZs), one of {allowed}",
        )
        return None
    if network and zones[0] not in network.availability_zones:
        reader.fail("lowLatency.availabilityZones", zones, f"one of {allowed}")
        return None
    ena_express = _bool(reader, "lowLatency.enaExpress", values.get("enaExpress", False))
    if ena_express is None:
        return None
    return LowLatency(str(zones[0]), ena_express)


def _security(reader: _Reader, raw: Any) -> SecurityBaseline | None:
    names = ("cloudtrail", "guardduty", "securityHub", "configRecorder", "accessAnalyzer")
    values = reader.obj("security", raw, dict.fromkeys(names, "bool"))
    flags = [_bool(reader, f"security.{n}", values.get(n, True)) for n in names]
    if any(flag is None for flag in flags):
        return None
    return SecurityBaseline(*(bool(f) for f in flags))


def _ena_instance_types(reader: _Reader, capacity: Capacity | None) -> None:
    if capacity is None:
        return
    for profile in capacity.profiles.values():
        for group, size in profile.node_groups.items():
            for index, instance_type in enumerate(size.instance_types):
                if group != "system" and instance_type.split(".")[0] in NON_ENA_FAMILIES:
                    reader.fail(
                        f"capacity.profiles.{profile.name}.nodeGroups.{group}.instanceTypes[{index}]",
                        instance_type,
                        "an instance type with ENA enhanced networking (current generations)",
                    )


def _tags(reader: _Reader, raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, Mapping):
        reader.fail("tags", raw, "an object of tag keys to string values")
        return None
    tags: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            reader.fail(f"tags.{key}", value, "a key of 1-128 characters not starting with aws:")
        elif not isinstance(value, str) or len(value) > 256:
            reader.fail(f"tags.{key}", value, "a string of at most 256 characters")
        else:
            tags[key] = value
    return tags if len(tags) == len(raw) else None


def parse(raw: Mapping[str, Any]) -> Settings:
    """Validate raw `trading:*` values (keys without the namespace) into `Settings`."""
    reader = _Reader()
    role = reader.choice("role", reader.field("", raw, "role", " | ".join(ROLES)), ROLES)
    regions = tuple(REGION_AZS)
    region = reader.choice("region", reader.field("", raw, "region", ", ".join(regions)), regions)
    peer_region = reader.choice(
        "peerRegion", reader.field("", raw, "peerRegion", ", ".join(regions)), regions
    )
    if region is not None and region == peer_region:
        reader.fail("peerRegion", peer_region, f"a region other than trading:region ({region})")
    name_prefix = reader.matching(
        "namePrefix",
        raw.get("namePrefix", "trading"),
        _NAME_PREFIX,
        "2-20 lowercase letters, digits or hyphens, starting with a letter",
    )
    if name_prefix is not None and role is not None:
        for overflow in naming.overflows(f"{name_prefix}-{role}"):
            reader.fail("namePrefix", name_prefix, f"a shorter prefix: {overflow}")
    network = _network(reader, reader.field("", raw, "network", "an object"), region)
    capacity = _capacity(reader, reader.field("", raw, "capacity", "an object"))
    eks = _eks(reader, raw.get("eks", {}))
    database = _database(reader, reader.field("", raw, "database", "an object"))
    objectives = _objectives(reader, reader.field("", raw, "objectives", "an object"))
    retention = raw.get("logRetentionDays", 90)
    if retention not in LOG_RETENTION_DAYS:
        reader.fail("logRetentionDays", retention, ", ".join(map(str, LOG_RETENTION_DAYS)))
    tags = _tags(reader, raw.get("tags", {}))
    replication = _replication(reader, raw, role)
    if replication and replication.reversed and database and database.is_aurora:
        reader.fail(
            "replication.direction",
            replication.direction,
            "primary-to-dr with database.engine aurora-postgresql: an Aurora global database "
            "moves its writer with a managed failover or switchover, not by redeploying",
        )
    records = _records(reader, raw.get("records", {}))
    failover = _failover(reader, raw.get("failover", {}), role)
    dns = _dns(reader, reader.field("", raw, "dns", "an object"))
    gateway = _gateway(reader, raw.get("gateway", {}))
    observability = _observability(reader, raw.get("observability", {}))
    connectivity = _connectivity(reader, raw.get("connectivity", {}), network)
    low_latency = _low_latency(reader, raw["lowLatency"], network) if "lowLatency" in raw else None
    if capacity is not None:
        for profile in capacity.profiles.values():
            if (LATENCY_NODE_GROUP in profile.node_groups) != ("lowLatency" in raw):
                reader.fail(
                    f"capacity.profiles.{profile.name}.nodeGroups.{LATENCY_NODE_GROUP}",
                    profile.node_groups.get(LATENCY_NODE_GROUP),
                    "a size exactly when trading:lowLatency is set",
                )
    _ena_instance_types(reader, capacity)
    security = _security(reader, raw.get("security", {}))
    if reader.problems:
        raise SettingsError(reader.problems)
    assert role and region and peer_region and name_prefix and network and capacity and eks
    assert database and objectives and tags is not None and replication and records and failover
    assert dns and gateway and observability and connectivity and security
    return Settings(
        role=role,
        region=region,
        peer_region=peer_region,
        name_prefix=name_prefix,
        network=network,
        capacity=capacity,
        eks=eks,
        database=database,
        objectives=objectives,
        log_retention_days=int(retention),
        tags=tags,
        replication=replication,
        records=records,
        failover=failover,
        dns=dns,
        gateway=gateway,
        observability=observability,
        connectivity=connectivity,
        low_latency=low_latency,
        security=security,
    )


STRING_KEYS = ("role", "region", "peerRegion", "namePrefix", "primaryStack", "drStack")
STRUCTURED_KEYS = (
    "network",
    "capacity",
    "eks",
    "database",
    "objectives",
    "logRetentionDays",
    "tags",
    "replication",
    "records",
    "failover",
    "dns",
    "gateway",
    "observability",
    "connectivity",
    "lowLatency",
    "security",
)


def load() -> Settings:
    """Read every `trading:*` key of the current stack and validate it."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {key: config.get(key) for key in STRING_KEYS}
    raw |= {key: config.get_object(key) for key in STRUCTURED_KEYS}
    return parse({key: value for key, value in raw.items() if value is not None})
