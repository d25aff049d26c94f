"""`trading:capacity`: the full and pilot-light sizes and which one this stack runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from settings.errors import Problems
from settings.fields import Listed, Matches, Model, OneOf, Whole

PROFILE_NAMES = ("full", "pilot-light")
NODE_GROUP_ROLES = ("system", "trading")
# Present in both profiles exactly when trading:lowLatency is set.
LATENCY_NODE_GROUP = "latency"
NAT_MODES = ("per-az", "single")
# Families without ENA enhanced networking (older generations): refused for trading nodes.
NON_ENA_FAMILIES = ("t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "r3", "i2", "d2")

InstanceType = Annotated[
    str, Matches(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", "an EC2 instance type like c7i.2xlarge")
]
Size = Annotated[int, Whole(0, 1000)]
Replicas = Annotated[int, Whole(1, 500)]
NOT_LARGER = "a pilot light is never larger than full capacity"


class NodeGroupSize(Model):
    instance_types: Annotated[
        tuple[InstanceType, ...], Listed("a list of at least one EC2 instance type", minimum=1)
    ] = Field(description="instance types the group may launch, first preferred")
    min_size: Size = Field(description="nodes the group never goes below")
    desired_size: Size = Field(description="nodes at rest; the cluster autoscaler moves it")
    max_size: Size = Field(description="the cluster autoscaler's ceiling, at least 1")

    @model_validator(mode="after")
    def _sizes_in_order(self) -> Self:
        problems = Problems()
        sizes = {"minSize": self.min_size, "desiredSize": self.desired_size}
        if not self.min_size <= self.desired_size <= self.max_size:
            problems.invalid(
                (), sizes | {"maxSize": self.max_size}, "minSize <= desiredSize <= maxSize"
            )
        elif self.max_size == 0:
            problems.invalid(("maxSize",), 0, "at least 1 (EKS rejects a node group of max 0)")
        problems.raise_any("NodeGroupSize")
        return self


class NodeGroups(Model):
    system: NodeGroupSize = Field(description="cluster add-ons")
    trading: NodeGroupSize = Field(description="the order gateway")
    latency: NodeGroupSize | None = Field(
        default=None,
        description="the latency-critical group, exactly when trading:lowLatency is set",
    )

    @model_validator(mode="after")
    def _trading_nodes_have_ena(self) -> Self:
        problems = Problems()
        for group in ("trading", "latency"):
            size: NodeGroupSize | None = getattr(self, group)
            for index, instance_type in enumerate(size.instance_types if size else ()):
                if instance_type.split(".")[0] in NON_ENA_FAMILIES:
                    problems.invalid(
                        (group, "instanceTypes", index),
                        instance_type,
                        "an instance type with ENA enhanced networking (current generations)",
                    )
        problems.raise_any("NodeGroups")
        return self


class GatewaySize(Model):
    """The order gateway's pods: replicas at rest and the autoscaler's ceiling."""

    replicas: Replicas = Field(description="pods at rest")
    max_replicas: Replicas = Field(description="the pod autoscaler's ceiling")

    @model_validator(mode="after")
    def _replicas_under_ceiling(self) -> Self:
        problems = Problems()
        if self.replicas > self.max_replicas:
            value = {"replicas": self.replicas, "maxReplicas": self.max_replicas}
            problems.invalid((), value, "replicas <= maxReplicas")
        problems.raise_any("GatewaySize")
        return self


class AddonRequests(Model):
    """CPU and memory requests of each add-on pod (Prometheus, Grafana, the autoscaler,
    metrics-server): small at the pilot light, sized for production at full."""

    cpu: Annotated[
        str,
        Matches(
            r"^([1-9][0-9]{0,3}m|[1-9][0-9]?(\.[0-9]+)?)$",
            'a Kubernetes CPU quantity like "250m" or "1"',
        ),
    ] = Field(description="CPU request")
    memory: Annotated[
        str,
        Matches(r"^[1-9][0-9]{0,5}(Mi|Gi)$", 'a Kubernetes memory quantity like "512Mi" or "2Gi"'),
    ] = Field(description="memory request")


class CapacityProfile(Model):
    nat_gateways: Annotated[Literal["per-az", "single"], OneOf(*NAT_MODES)] = Field(
        description="a NAT gateway per AZ, or a single one for the whole VPC"
    )
    groups: NodeGroups = Field(alias="nodeGroups", description="the node groups' sizes")
    gateway: GatewaySize = Field(description="the order gateway's pods")
    addons: AddonRequests = Field(description="requests of each add-on pod")

    @property
    def nat_gateway_per_az(self) -> bool:
        return self.nat_gateways == "per-az"

    def as_config(self) -> dict[str, Any]:
        """The profile in the shape of its config, as exported for failover and reviewers."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def node_groups(self) -> Mapping[str, NodeGroupSize]:
        """The groups this profile sizes, by role: `system`, `trading`, and `latency` if set."""
        groups = {"system": self.groups.system, "trading": self.groups.trading}
        return groups | ({LATENCY_NODE_GROUP: self.groups.latency} if self.groups.latency else {})


class CapacityProfiles(Model):
    # Both profiles are required in every stack: failover scales dr to `full` from the dr
    # stack's own settings, never by asking the region that just failed.
    full: CapacityProfile = Field(description="the size that serves production traffic")
    pilot_light: CapacityProfile = Field(
        alias="pilot-light", description="the minimal size dr runs until failover"
    )

    @model_validator(mode="after")
    def _pilot_light_within_full(self) -> Self:
        problems = Problems()
        full, pilot = self.full, self.pilot_light
        for group in sorted(set(full.node_groups) & set(pilot.node_groups)):
            large, small = full.node_groups[group], pilot.node_groups[group]
            for label, low, high in (
                ("minSize", small.min_size, large.min_size),
                ("desiredSize", small.desired_size, large.desired_size),
                ("maxSize", small.max_size, large.max_size),
            ):
                if low > high:
                    problems.invalid(
                        ("pilot-light", "nodeGroups", group, label),
                        low,
                        f"at most the full profile's {label} ({high}): {NOT_LARGER}",
                    )
        for label, low, high in (
            ("replicas", pilot.gateway.replicas, full.gateway.replicas),
            ("maxReplicas", pilot.gateway.max_replicas, full.gateway.max_replicas),
        ):
            if low > high:
                problems.invalid(
                    ("pilot-light", "gateway", label),
                    low,
                    f"at most the full profile's {label} ({high}): {NOT_LARGER}",
                )
        problems.raise_any("CapacityProfiles")
        return self


class Capacity(Model):
    active_profile: Annotated[Literal["full", "pilot-light"], OneOf(*PROFILE_NAMES)] = Field(
        description="the profile this stack deploys at"
    )
    sizes: CapacityProfiles = Field(
        alias="profiles",
        description="both profiles; dr keeps `full` too, so failover scales dr to it without "
        "asking the failed region",
    )

    @property
    def profiles(self) -> Mapping[str, CapacityProfile]:
        return {"full": self.sizes.full, "pilot-light": self.sizes.pilot_light}

    @property
    def active(self) -> CapacityProfile:
        return self.profiles[self.active_profile]

    @property
    def full(self) -> CapacityProfile:
        return self.sizes.full

    @property
    def pilot_light(self) -> CapacityProfile:
        return self.sizes.pilot_light
