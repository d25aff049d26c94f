"""The regional VPC: three subnet tiers per AZ, egress, private AWS endpoints and flow logs."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import RegionalContext
from components.iam import log_writer_role

# Interface endpoints that let nodes in private subnets pull images, assume IRSA roles, ship
# logs and call EC2 without crossing a NAT gateway.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sts", "logs", "ec2")
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs of each tier, one per AZ, carved deterministically from the VPC CIDR.

    Private subnets take the first eighths of the VPC (pods get VPC addresses, so they need
    room); the last eighth is cut into /24-sized blocks (relative to a /16) for the public and
    data tiers.
    """

    public: tuple[str, ...]
    private: tuple[str, ...]
    data: tuple[str, ...]

    @classmethod
    def for_vpc(cls, vpc_cidr: str, az_count: int) -> SubnetPlan:
        eighths = list(ipaddress.IPv4Network(vpc_cidr).subnets(prefixlen_diff=3))
        small = list(eighths[-1].subnets(prefixlen_diff=5))
        return cls(
            public=tuple(str(n) for n in small[:az_count]),
            private=tuple(str(n) for n in eighths[:az_count]),
            data=tuple(str(n) for n in small[8 : 8 + az_count]),
        )


@dataclass
class NetworkArgs:
    # Subnets are tagged for the context's cluster, so load balancers find them.
    context: RegionalContext
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    nat_gateway_per_az: bool


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    data_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    data_route_table_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:network:Network", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        plan = SubnetPlan.for_vpc(args.vpc_cidr, len(args.availability_zones))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=self._child,
        )
        self.vpc_id = self.vpc.id
        self._public_tier(plan)
        self._private_tier(plan)
        self._data_tier(plan)
        self._gateway_endpoints()
        self._interface_endpoints()
        self._flow_logs()

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "dataSubnetIds": self.data_subnet_ids,
            }
        )

    def _subnet(self, tier: str, index: int, cidr: str, tags: dict[str, str]) -> aws.ec2.Subnet:
        zone = self._args.availability_zones[index]
        return aws.ec2.Subnet(
            f"{self._name}-{tier}-{zone}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,
            tags={"Name": f"{self._name}-{tier}-{zone}", "tier": tier, **tags},
            opts=self._child,
        )

    def _public_tier(self, plan: SubnetPlan) -> None:
        cluster_tag = {f"kubernetes.io/cluster/{self._args.context.cluster_name}": "shared"}
        subnets = [
            self._subnet("public", i, cidr, {"kubernetes.io/role/elb": "1", **cluster_tag})
            for i, cidr in enumerate(plan.public)
        ]
        self.public_subnet_ids = [s.id for s in subnets]
        igw = aws.ec2.InternetGateway(
            f"{self._name}-igw",
            vpc_id=self.vpc.id,
            tags={"Name": f"{self._name}-igw"},
            opts=self._child,
        )
        table = aws.ec2.RouteTable(
            f"{self._name}-public-rt",
            vpc_id=self.vpc.id,
            tags={"Name": f"{self._name}-public-rt"},
            opts=self._child,
        )
        aws.ec2.Route(
            f"{self._name}-public-default",
            route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=self._child,
        )
        for subnet, zone in zip(subnets, self._args.availability_zones, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-public-{zone}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child,
            )
        nat_zones = (
            self._args.availability_zones
            if self._args.nat_gateway_per_az
            else self._args.availability_zones[:1]
        )
        self._nat_gateway_ids = []
        for subnet, zone in zip(subnets, nat_zones, strict=False):
            eip = aws.ec2.Eip(
                f"{self._name}-nat-{zone}",
                domain="vpc",
                tags={"Name": f"{self._name}-nat-{zone}"},
                opts=self._child,
            )
            nat = aws.ec2.NatGateway(
                f"{self._name}-nat-{zone}",
                allocation_id=eip.id,
                subnet_id=subnet.id,
                tags={"Name": f"{self._name}-nat-{zone}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            self._nat_gateway_ids.append(nat.id)

    def _private_tier(self, plan: SubnetPlan) -> None:
        cluster_tag = {f"kubernetes.io/cluster/{self._args.context.cluster_name}": "shared"}
        self.private_subnet_ids = []
        self.private_route_table_ids = []
        for i, cidr in enumerate(plan.private):
            zone = self._args.availability_zones[i]
            subnet = self._subnet(
                "private", i, cidr, {"kubernetes.io/role/internal-elb": "1", **cluster_tag}
            )
            table = aws.ec2.RouteTable(
                f"{self._name}-private-rt-{zone}",
                vpc_id=self.vpc.id,
                tags={"Name": f"{self._name}-private-rt-{zone}"},
                opts=self._child,
            )
            # With a single NAT gateway (pilot light) every AZ egresses through the first one.
            nat_id = self._nat_gateway_ids[i % len(self._nat_gateway_ids)]
            aws.ec2.Route(
                f"{self._name}-private-default-{zone}",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_id,
                opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-{zone}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child,
            )
            self.private_subnet_ids.append(subnet.id)
            self.private_route_table_ids.append(table.id)

    def _data_tier(self, plan: SubnetPlan) -> None:
        # The data tier has no route to the internet: databases only talk inside the VPC and to
        # AWS services through the gateway endpoints.
        table = aws.ec2.RouteTable(
            f"{self._name}-data-rt",
            vpc_id=self.vpc.id,
            tags={"Name": f"{self._name}-data-rt"},
            opts=self._child,
        )
        self.data_route_table_id = table.id
        self.data_subnet_ids = []
        for i, cidr in enumerate(plan.data):
            zone = self._args.availability_zones[i]
            subnet = self._subnet("data", i, cidr, {})
            aws.ec2.RouteTableAssociation(
                f"{self._name}-data-{zone}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child,
            )
            self.data_subnet_ids.append(subnet.id)

    def _gateway_endpoints(self) -> None:
        for service in GATEWAY_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{self._args.context.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[*self.private_route_table_ids, self.data_route_table_id],
                tags={"Name": f"{self._name}-{service}-endpoint"},
                opts=self._child,
            )

    def _interface_endpoints(self) -> None:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to AWS interface endpoints",
            tags={"Name": f"{self._name}-endpoints-sg"},
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https",
            security_group_id=group.id,
            cidr_ipv4=self._args.vpc_cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from the VPC",
            opts=self._child,
        )
        for service in INTERFACE_ENDPOINT_SERVICES:
            label = service.replace(".", "-")
            aws.ec2.VpcEndpoint(
                f"{self._name}-{label}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{self._args.context.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[group.id],
                tags={"Name": f"{self._name}-{label}-endpoint"},
                opts=self._child,
            )

    def _flow_logs(self) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=f"/trading/{self._args.context.cluster_name}/vpc-flow-logs",
            kms_key_id=self._args.context.logs_key_arn,
            retention_in_days=self._args.context.log_retention_days,
            opts=self._child,
        )
        role = log_writer_role(
            f"{self._name}-flow-logs", "vpc-flow-logs.amazonaws.com", log_group, self._child
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=self._child,
        )
