"""`Settings`, the whole `trading:*` namespace of one stack, and the rules that judge one key by
another.

Each cross-key rule is a validator of the key it judges, reading the keys it depends on from
`info.data`, which holds only the fields declared above it that validated (pydantic,
"Validators", validation data: https://docs.pydantic.dev/latest/concepts/validators/): a rule
whose inputs are themselves invalid stays silent, since their own problems are already reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

import pulumi
from pydantic import Field, ValidationError, ValidationInfo, field_validator

import naming
from settings.capacity import LATENCY_NODE_GROUP, Capacity
from settings.data import Database, Objectives, Records, Replication
from settings.errors import NAMESPACE, Problems, SettingsError, invalid, problems
from settings.fields import Matches, Model, OneOf
from settings.network import REGION_AZS, Connectivity, EksSettings, LowLatency, Network
from settings.operations import Dns, Failover, Gateway, Observability, SecurityBaseline

ROLES = ("primary", "dr")
# The values CloudWatch Logs accepts for retention.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)

Region = Annotated[str, OneOf(*REGION_AZS)]
_STACK_NAME = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$"


def _empty() -> Any:
    """The default of an optional object whose rules still judge its absence."""
    return {}


class Settings(Model):
    role: Annotated[Literal["primary", "dr"], OneOf(*ROLES)] = Field(
        description="what this stack is: primary (serves traffic, owns the data) | dr (pilot "
        "light, holds the replicas)"
    )
    region: Region = Field(description="the AWS region this stack deploys into")
    peer_region: Region = Field(
        description="the other stack's region (the primary's for dr, dr's for primary)"
    )
    name_prefix: Annotated[
        str,
        Matches(
            r"^[a-z][a-z0-9-]{1,19}$",
            "2-20 lowercase letters, digits or hyphens, starting with a letter",
        ),
    ] = Field(
        default="trading",
        description="prefix of physical names; the cluster is <namePrefix>-<role>",
    )
    network: Network = Field(description="this stack's VPC")
    capacity: Capacity = Field(
        description="the full and pilot-light sizes and which one is active; a pilot-light size "
        "may not exceed the matching full size"
    )
    eks: EksSettings = Field(
        default_factory=_empty, validate_default=True, description="the EKS cluster"
    )
    database: Database = Field(description="the relational data tier")
    objectives: Objectives = Field(description="recovery time and point objectives, in seconds")
    log_retention_days: Annotated[
        int, OneOf(*LOG_RETENTION_DAYS, allowed=", ".join(map(str, LOG_RETENTION_DAYS)))
    ] = Field(default=90, description="retention of every CloudWatch log group, in days")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="tags on every taggable AWS resource (the provider's default tags); keys "
        "1-128 characters, not starting with aws:",
    )
    primary_stack: Annotated[
        str | None, Matches(_STACK_NAME, "a Pulumi stack name such as 'primary'")
    ] = Field(
        default=None,
        description="the stack whose data dr replicates, by its stack name (the organization and "
        "project are the backend's); required in dr unless replication.direction is "
        "dr-to-primary",
    )
    dr_stack: Annotated[str | None, Matches(_STACK_NAME, "a Pulumi stack name such as 'dr'")] = (
        Field(
            default=None,
            description="the dr stack's name, read by the primary only while "
            "replication.direction is dr-to-primary (failback: primary rebuilt as dr's replica)",
        )
    )
    replication: Replication = Field(
        default_factory=Replication, validate_default=True, description="which way data flows"
    )
    records: Records = Field(
        default_factory=Records,
        description="lifecycle of the trade and audit records bucket",
    )
    failover: Failover = Field(
        default_factory=Failover,
        validate_default=True,
        description="detection and notification of failover, read by the dr stack",
    )
    dns: Dns = Field(description="DNS failover in an existing Route 53 hosted zone")
    gateway: Gateway = Field(
        default_factory=Gateway, description="the order gateway and its entry point"
    )
    observability: Observability = Field(
        default_factory=Observability, description="monitoring and who is paged"
    )
    connectivity: Connectivity = Field(
        default_factory=Connectivity,
        description="private paths, everything off by default (it costs money)",
    )
    low_latency: LowLatency | None = Field(
        default=None,
        validate_default=True,
        description="a latency-critical node group `latency` (give it a size in both profiles) in "
        "one AZ with a cluster placement group",
    )
    security: SecurityBaseline = Field(
        default_factory=SecurityBaseline,
        description="switch off what the account manages centrally (the trail is multi-region: "
        "keep cloudtrail on in one stack per account)",
    )

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

    @field_validator("peer_region")
    @classmethod
    def _another_region(cls, peer: str, info: ValidationInfo) -> str:
        region = info.data.get("region")
        if peer == region:
            raise invalid(f"a region other than trading:region ({region})")
        return peer

    @field_validator("name_prefix")
    @classmethod
    def _names_fit(cls, prefix: str, info: ValidationInfo) -> str:
        problems = Problems()
        if "role" in info.data:
            for overflow in naming.overflows(f"{prefix}-{info.data['role']}"):
                problems.invalid((), prefix, f"a shorter prefix: {overflow}")
        problems.raise_any("namePrefix")
        return prefix

    @field_validator("network")
    @classmethod
    def _zones_of_the_region(cls, network: Network, info: ValidationInfo) -> Network:
        if "region" not in info.data:
            return network
        region = info.data["region"]
        zones = REGION_AZS[region]
        problems = Problems()
        if network.az_count > len(zones):
            allowed = f"at most {len(zones)} in {region} ({', '.join(zones)})"
            problems.invalid(("azCount",), network.az_count, allowed)
        problems.raise_any("network")
        return network.in_zones(zones[: network.az_count])

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_keys_and_values(cls, tags: Any) -> Any:
        if not isinstance(tags, Mapping):
            raise invalid("an object of tag keys to string values")
        problems = Problems()
        for key, value in tags.items():
            if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
                problems.invalid((key,), value, "a key of 1-128 characters not starting with aws:")
            elif not isinstance(value, str) or len(value) > 256:
                problems.invalid((key,), value, "a string of at most 256 characters")
        problems.raise_any("tags")
        return tags

    @field_validator("replication")
    @classmethod
    def _peer_stack(cls, replication: Replication, info: ValidationInfo) -> Replication:
        role, direction = info.data.get("role"), replication.direction
        problems = Problems()
        database = info.data.get("database")
        # In dr, dr-to-primary reverses what a redeploy can reverse; with Aurora that is the
        # records bucket alone (the global database moves its writer itself). The primary's
        # dr-to-primary rebuilds its database as dr's replica, which an Aurora member cannot be.
        if (
            replication.reversed
            and role == "primary"
            and database is not None
            and database.is_aurora
        ):
            problems.invalid(
                ("direction",),
                direction,
                "primary-to-dr in the primary with database.engine aurora-postgresql: an Aurora "
                "global database moves its writer with a managed failover or switchover, not by "
                "redeploying (in dr, dr-to-primary reverses the records bucket alone)",
            )
        # dr always reads the primary's outputs (it replicates the primary's tables and bucket);
        # the primary reads dr's only while dr holds the writer.
        if role is None or (role == "primary" and not replication.reversed):
            problems.raise_any("replication")
            return replication
        key, field, example = (
            ("primaryStack", "primary_stack", "primary")
            if role == "dr"
            else ("drStack", "dr_stack", "dr")
        )
        if field in info.data and info.data[field] is None:
            problems.required(
                (),
                f"the stack this stack reads outputs from, such as {example!r}",
                when=f"when trading:role is {role} and trading:replication.direction is "
                f"{direction}",
                key=key,
            )
        problems.raise_any("replication")
        return replication.reading(info.data.get(field) or "")

    @field_validator("failover")
    @classmethod
    def _someone_is_paged(cls, failover: Failover, info: ValidationInfo) -> Failover:
        problems = Problems()
        manual = info.data.get("role") == "dr" and failover.mode == "manual"
        if manual and not failover.notify_emails and not failover.notify_https_endpoints:
            # In manual mode the failover is only recommended, by a page: with no subscriber on
            # the failover topic (dr's) an outage would page nobody.
            problems.invalid(
                ("notifyEmails",),
                [],
                "at least one address (or a failover.notifyHttpsEndpoints URL) when "
                "failover.mode is manual: the failover recommendation is a page to them",
            )
        problems.raise_any("failover")
        return failover

    @field_validator("connectivity")
    @classmethod
    def _vpn_apart_from_the_vpcs(
        cls, connectivity: Connectivity, info: ValidationInfo
    ) -> Connectivity:
        network: Network | None = info.data.get("network")
        problems = Problems()
        for index, cidr in enumerate(connectivity.vpn.on_prem_cidrs if connectivity.vpn else ()):
            overlaps = [
                vpc
                for vpc in ((network.vpc_cidr, network.peer_vpc_cidr) if network else ())
                if IPv4Network(cidr).overlaps(IPv4Network(vpc))
            ]
            if overlaps:
                problems.invalid(
                    ("vpn", "onPremCidrs", index),
                    cidr,
                    f"a CIDR that does not overlap the VPCs ({', '.join(overlaps)})",
                )
        problems.raise_any("connectivity")
        return connectivity

    @field_validator("low_latency")
    @classmethod
    def _one_zone_and_a_latency_group(
        cls, low_latency: LowLatency | None, info: ValidationInfo
    ) -> LowLatency | None:
        network: Network | None = info.data.get("network")
        capacity: Capacity | None = info.data.get("capacity")
        problems = Problems()
        allowed = ", ".join(network.availability_zones) if network else "one of the stack's AZs"
        zones = list(low_latency.availability_zones) if low_latency else []
        if low_latency and len(zones) != 1:
            problems.invalid(
                ("availabilityZones",),
                zones,
                f"exactly one AZ (a cluster placement group cannot span AZs), one of {allowed}",
            )
        elif low_latency and network and zones[0] not in network.availability_zones:
            problems.invalid(("availabilityZones",), zones, f"one of {allowed}")
        for name, profile in capacity.profiles.items() if capacity else ():
            if (LATENCY_NODE_GROUP in profile.node_groups) != (low_latency is not None):
                problems.invalid(
                    (),
                    profile.node_groups.get(LATENCY_NODE_GROUP),
                    "a size exactly when trading:lowLatency is set",
                    key=f"capacity.profiles.{name}.nodeGroups.{LATENCY_NODE_GROUP}",
                )
        problems.raise_any("lowLatency")
        return low_latency


STRING_KEYS = ("role", "region", "peerRegion", "namePrefix", "primaryStack", "drStack")
CONFIG_KEYS = tuple(str(field.alias) for field in Settings.model_fields.values())
STRUCTURED_KEYS = tuple(key for key in CONFIG_KEYS if key not in STRING_KEYS)


def parse(raw: Mapping[str, Any], secret: frozenset[str] = frozenset()) -> Settings:
    """Validate raw `trading:*` values (keys without the namespace) into `Settings`, or raise
    one `SettingsError` naming every problem; the values of the keys in `secret` (set with
    `--secret`) are masked in it, since the error reaches logs and CI output."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        raise SettingsError(problems(error, Settings, secret)) from None


def given_keys() -> set[str]:
    """Every `trading:*` key the stack sets, without the namespace: the language host passes
    the stack's config as PULUMI_CONFIG (engine/cmd/pulumi-language-python), mocks and inline
    programs through `set_all_config`."""
    given = set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.get_config_env())
    prefix = f"{NAMESPACE}:"
    return {key.removeprefix(prefix) for key in given if key.startswith(prefix)}


def load() -> Settings:
    """Read every `trading:*` key of the current stack and validate it. A key no setting has
    (a typo such as `trading:capcity`) is refused with the others, not ignored."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {key: config.get(key) for key in STRING_KEYS}
    raw |= {key: config.get_object(key) for key in STRUCTURED_KEYS}
    given = given_keys()
    raw |= {key: config.get(key) for key in sorted(given - set(CONFIG_KEYS))}
    # The language host lists secret keys in PULUMI_CONFIG_SECRET_KEYS (JSON `null` when there
    # are none); set_all_config keeps them where is_config_secret looks.
    listed = set(pulumi.runtime.get_config_secret_keys_env() or ())
    secret = frozenset(
        k
        for k in given
        if f"{NAMESPACE}:{k}" in listed or pulumi.runtime.is_config_secret(f"{NAMESPACE}:{k}")
    )
    return parse({key: value for key, value in raw.items() if value is not None}, secret)
