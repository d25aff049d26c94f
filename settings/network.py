"""`trading:network`, `trading:eks`, `trading:connectivity` and `trading:lowLatency`: where the
stack's VPC and cluster sit and how they are reached."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Self

from pydantic import Field, PrivateAttr, field_validator, model_validator

from settings.errors import ABSENT, Problems
from settings.fields import ROLE_ARN, Cidr, Flag, Ipv4Address, Listed, Matches, Model, Whole

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

CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

PrivateCidr = Annotated[
    str,
    Cidr(
        "a private IPv4 CIDR (10/8, 172.16/12 or 192.168/16) with a /16 to /20 prefix",
        lambda network: network.is_private and 16 <= network.prefixlen <= 20,
    ),
]
PublicCidr = Annotated[
    str,
    Cidr(
        "an IPv4 CIDR narrower than 0.0.0.0/0 (the operators' or CI runners' egress range)",
        lambda network: network.prefixlen > 0,
    ),
]
RoleArns = Annotated[tuple[Annotated[str, ROLE_ARN], ...], Listed("a list of IAM role ARNs")]


class Network(Model):
    vpc_cidr: PrivateCidr = Field(description="this stack's VPC")
    peer_vpc_cidr: PrivateCidr = Field(
        description="the other stack's VPC CIDR; must not overlap vpcCidr (the regions are peered)"
    )
    az_count: Annotated[int, Whole(MIN_AZ_COUNT, MAX_AZ_COUNT)] = Field(
        default=3, description="availability zones to spread over, no more than the region has"
    )
    _availability_zones: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _cidrs_apart(self) -> Self:
        problems = Problems()
        vpc = ipaddress.IPv4Network(self.vpc_cidr)
        if vpc.overlaps(ipaddress.IPv4Network(self.peer_vpc_cidr)):
            problems.invalid(
                ("peerVpcCidr",),
                self.peer_vpc_cidr,
                f"a CIDR that does not overlap network.vpcCidr {vpc} (the regions are peered)",
            )
        problems.raise_any("Network")
        return self

    @property
    def availability_zones(self) -> tuple[str, ...]:
        """The first `az_count` of the region's zones (`REGION_AZS`), set by `in_zones`."""
        return self._availability_zones

    def in_zones(self, zones: tuple[str, ...]) -> Network:
        placed = self.model_copy()
        placed._availability_zones = zones
        return placed


class EksSettings(Model):
    version: Annotated[
        str,
        Matches(
            r"^1\.(2[89]|3[0-9])$",
            'a Kubernetes minor version EKS supports, such as "1.35" (quote it in YAML)',
        ),
    ] = Field(
        default="1.35",
        description="the Kubernetes minor; components/addon_catalog.py pins its autoscaler",
    )
    public_access_cidrs: Annotated[tuple[PublicCidr, ...], Listed("a list of IPv4 CIDRs")] = Field(
        default=(),
        description="egress CIDRs of the machines that run `pulumi up` and `pulumi preview` (the "
        "public endpoint is open to these only); may be empty only with deployerInsideVpc",
    )
    admin_role_arns: RoleArns = Field(
        default=(), description="IAM roles given cluster-admin through EKS access entries"
    )
    # The stack installs Helm releases and Kubernetes resources, so the roles that run `pulumi
    # up` and `pulumi preview` need the cluster's API: a server-side dry run is authorized like
    # the change itself.
    deploy_role_arns: RoleArns = Field(
        default=(), description="roles that run `pulumi up`/`preview` (CI), given the same access"
    )
    deployer_inside_vpc: Annotated[bool, Flag("true or false")] = Field(
        default=False,
        description="true: `pulumi up`/`preview` run inside this VPC, so the endpoint can be "
        "private only (never for the first `up`: README, Bootstrap)",
    )

    @model_validator(mode="after")
    def _deployer_reaches_the_api(self) -> Self:
        problems = Problems()
        if not self.public_access_cidrs and not self.deployer_inside_vpc:
            # With a private endpoint only, `pulumi up` and `pulumi preview` must run inside the
            # VPC, which the first `up` has yet to create (README, "Bootstrap"); EKS endpoint
            # access: https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html
            problems.invalid(
                ("publicAccessCidrs",),
                [],
                "the egress CIDRs of the machines that run `pulumi up` and `pulumi preview`, or "
                "eks.deployerInsideVpc: true once they run inside this VPC (never for the first "
                "`pulumi up`, which creates the VPC)",
            )
        problems.raise_any("EksSettings")
        return self


class Vpn(Model):
    customer_gateway_ip: Annotated[
        str, Ipv4Address("the public IPv4 address of the on-premises VPN device")
    ] = Field(default=ABSENT, validate_default=True, description="the on-premises device")
    bgp_asn: Annotated[int, Whole(1, 4294967294)] = Field(description="the device's BGP ASN")
    on_prem_cidrs: Annotated[
        tuple[Annotated[str, Cidr("an IPv4 CIDR", lambda _: True)], ...],
        Listed("a list of at least one on-premises CIDR", minimum=1),
    ] = Field(description="on-premises ranges routed through the VPN; not overlapping the VPCs")

    @field_validator("customer_gateway_ip", mode="before")
    @classmethod
    def _absent_as_null(cls, address: Any) -> Any:
        """An absent address is reported like an explicit null (`customerGatewayIp = None`)."""
        return None if address is ABSENT else address


class Connectivity(Model):
    """Private paths: a Transit Gateway per region, peered between the regions (the dr stack
    owns the peering), and an optional site-to-site VPN to on-premises."""

    transit_gateway: Annotated[bool, Flag()] = Field(
        default=False, description="a Transit Gateway with the VPC attached and routed"
    )
    peering: Annotated[bool, Flag()] = Field(
        default=False,
        description="inter-region TGW peering (the dr stack creates and accepts it; both stacks "
        "need transitGateway)",
    )
    amazon_side_asn: Annotated[int, Whole(64512, 65534)] = Field(
        default=64512, description="the TGW's BGP ASN (give each region its own)"
    )
    vpn: Vpn | None = Field(default=None, description="a site-to-site VPN on the TGW")

    @model_validator(mode="after")
    def _attachments_need_the_gateway(self) -> Self:
        problems = Problems()
        if (self.peering or self.vpn) and not self.transit_gateway:
            problems.invalid(
                ("transitGateway",),
                False,
                "true when connectivity.peering or connectivity.vpn is set (both attach to it)",
            )
        problems.raise_any("Connectivity")
        return self


class LowLatency(Model):
    """The latency-critical node group: one AZ, a cluster placement group, ENA Express."""

    availability_zones: Annotated[
        tuple[str, ...],
        Listed("exactly one AZ (a cluster placement group cannot span AZs), as a list"),
    ] = Field(description="exactly one of the stack's AZs, as a list")
    ena_express: Annotated[bool, Flag()] = Field(
        default=False, description="true on instance types that support ENA Express"
    )

    @property
    def availability_zone(self) -> str:
        return self.availability_zones[0]
