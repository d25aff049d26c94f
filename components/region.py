"""`TradingRegion`: everything one region runs, primary or dr, sized by its capacity profile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import current_account
from components.addons import ClusterAddons, ClusterAddonsArgs
from components.alerts import Alerts, AlertsArgs
from components.cluster import TradingCluster, TradingClusterArgs
from components.connectivity import TransitGatewayHub, TransitGatewayHubArgs
from components.context import RegionalContext
from components.dns import DnsFailover, DnsFailoverArgs
from components.entry import RegionalEntry, RegionalEntryArgs
from components.gateway import OrderGateway, OrderGatewayArgs, serving_port
from components.kms import customer_key, key_policy, logs_usage
from components.lb_controller import LoadBalancerController, LoadBalancerControllerArgs
from components.network import Network, NetworkArgs
from components.observability import RegionMonitoring, RegionMonitoringArgs
from components.recovery import RegionControl
from components.write_gate import WriteGateArgs
from settings import (
    CapacityProfile,
    Connectivity,
    Dns,
    EksSettings,
    Gateway,
    LowLatency,
    Observability,
)
from settings import Network as NetworkSettings


@dataclass
class TradingRegionArgs:
    region: str
    cluster_name: str
    network: NetworkSettings
    capacity: CapacityProfile
    eks: EksSettings
    log_retention_days: int
    tags: Mapping[str, str]
    dns: Dns
    gateway: Gateway
    # PRIMARY or SECONDARY: this region's side of the DNS failover.
    failover_type: str
    observability: Observability
    low_latency: LowLatency | None
    connectivity: Connectivity
    # The failover handler resizes this region's node groups (dr).
    node_groups_scaled_by_failover: bool = False
    # The ARC routing control this region's failover record (components/dns.py) and its
    # gateway's write gate (components/write_gate.py) follow, with trading:dns.trafficControl
    # routing-control; None: the record follows the region's HTTPS check, and there is no gate.
    routing_control: RegionControl | None = None


class TradingRegion(pulumi.ComponentResource):
    # What the region's components, and the stack's other regional ones, build on.
    context: RegionalContext
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    data_subnet_ids: list[pulumi.Output[str]]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_group_names: dict[str, str]
    node_security_group_id: pulumi.Output[str]
    key_arns: dict[str, pulumi.Output[str]]
    regional_hostname: str
    health_check_id: pulumi.Output[str]
    transit_gateway: TransitGatewayHub | None

    def __init__(
        self, name: str, args: TradingRegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:index:TradingRegion", name, None, opts)
        # One explicit provider per region: pulumi-eks needs it, and its default tags put the
        # configured tags on every taggable resource below.
        provider = aws.Provider(
            f"{name}-aws",
            region=args.region,
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(args.tags)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_region = pulumi.ResourceOptions(parent=self, providers=[provider])
        account = current_account(args.region, provider)
        logs_key = customer_key(
            f"{args.cluster_name}-logs",
            f"CloudWatch Logs encryption for {args.cluster_name} (flow logs, EKS control plane)",
            account.apply(lambda a: key_policy(a, logs_usage(a))),
            in_region,
        )
        alerts = Alerts(
            name,
            AlertsArgs(args.cluster_name, account, args.observability.alert_emails),
            in_region,
        )
        context = RegionalContext(
            region=args.region,
            prefix=args.cluster_name,
            cluster_name=args.cluster_name,
            provider=provider,
            account=account,
            logs_key_arn=logs_key.arn,
            log_retention_days=args.log_retention_days,
            alerts_topic_arn=alerts.topic_arn,
        )
        self.context = context

        network = Network(
            name,
            NetworkArgs(
                context=context,
                vpc_cidr=args.network.vpc_cidr,
                availability_zones=args.network.availability_zones,
                nat_gateway_per_az=args.capacity.nat_gateway_per_az,
            ),
            in_region,
        )
        cluster = TradingCluster(
            name,
            TradingClusterArgs(
                context=context,
                version=args.eks.version,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                public_access_cidrs=args.eks.public_access_cidrs,
                admin_role_arns=args.eks.admin_role_arns,
                deploy_role_arns=args.eks.deploy_role_arns,
                scaled_by_failover=args.node_groups_scaled_by_failover,
                node_groups=args.capacity.node_groups,
                availability_zones=args.network.availability_zones,
                low_latency=args.low_latency,
            ),
            in_region,
        )
        ClusterAddons(
            name,
            ClusterAddonsArgs(
                context=context,
                cluster=cluster.cluster,
                node_groups=cluster.node_groups,
                oidc=cluster.oidc,
                kubernetes=cluster.kubernetes,
                requests=args.capacity.addons,
                observability=args.observability,
                alerts_key_arn=alerts.key_arn,
            ),
            in_region,
        )
        entry = self._serve(name, args, network, cluster)
        self.transit_gateway = (
            TransitGatewayHub(
                name,
                TransitGatewayHubArgs(
                    context=context,
                    settings=args.connectivity,
                    vpc_id=network.vpc_id,
                    attachment_subnet_ids=network.private_subnet_ids,
                    route_table_ids=[*network.private_route_table_ids, network.data_route_table_id],
                    peer_vpc_cidr=args.network.peer_vpc_cidr,
                ),
                in_region,
            )
            if args.connectivity.transit_gateway
            else None
        )
        RegionMonitoring(name, RegionMonitoringArgs(context, entry.api_name), in_region)

        self.vpc_id = network.vpc_id
        self.public_subnet_ids = network.public_subnet_ids
        self.private_subnet_ids = network.private_subnet_ids
        self.data_subnet_ids = network.data_subnet_ids
        self.cluster_name = cluster.cluster_name
        self.kubeconfig = cluster.kubeconfig
        self.node_group_names = cluster.node_group_names
        self.node_security_group_id = cluster.node_security_group_id
        self.key_arns = {
            "logs": logs_key.arn,
            "eksSecrets": cluster.secrets_key_arn,
            "alerts": alerts.key_arn,
        }
        self.register_outputs(
            {
                "regionalHostname": self.regional_hostname,
                "healthCheckId": self.health_check_id,
                "vpcId": self.vpc_id,
                "clusterName": self.cluster_name,
                "nodeGroupNames": self.node_group_names,
                "keyArns": self.key_arns,
                "alertsTopicArn": context.alerts_topic_arn,
            }
        )

    def _serve(
        self, name: str, args: TradingRegionArgs, network: Network, cluster: TradingCluster
    ) -> RegionalEntry:
        """The order gateway, the public entry in front of it, and this region's DNS side."""
        context = self.context
        in_region = context.in_region(parent=self)
        entry = RegionalEntry(
            name,
            RegionalEntryArgs(
                context=context,
                dns=args.dns,
                gateway=args.gateway,
                pod_port=serving_port(args.gateway, gated=args.routing_control is not None),
                vpc_id=network.vpc_id,
                vpc_cidr=args.network.vpc_cidr,
                private_subnet_ids=network.private_subnet_ids,
                node_security_group_id=cluster.node_security_group_id,
            ),
            in_region,
        )
        controller = LoadBalancerController(
            name,
            LoadBalancerControllerArgs(
                cluster_name=context.cluster_name,
                region=context.region,
                vpc_id=network.vpc_id,
                oidc=cluster.oidc,
                target_group_arn=entry.target_group_arn,
                kubernetes=cluster.kubernetes,
                node_groups=cluster.node_groups,
            ),
            in_region,
        )
        OrderGateway(
            name,
            OrderGatewayArgs(
                gateway=args.gateway,
                size=args.capacity.gateway,
                target_group_arn=entry.target_group_arn,
                provider=cluster.kubernetes,
                controller=controller.release,
                scaled_by_failover=args.node_groups_scaled_by_failover,
                write_gate=(
                    WriteGateArgs(
                        context,
                        args.routing_control,
                        cluster.oidc,
                        args.gateway.write_gate_image,
                    )
                    if args.routing_control is not None
                    else None
                ),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        dns = DnsFailover(
            name,
            DnsFailoverArgs(
                context=context,
                failover_type=args.failover_type,
                dns=args.dns,
                regional_hostname=entry.hostname,
                public_domain=entry.domain,
                regional_domain=entry.regional_domain,
                routing_control_arn=(
                    args.routing_control.arn if args.routing_control is not None else None
                ),
            ),
            in_region,
        )
        self.regional_hostname = entry.hostname
        self.health_check_id = dns.health_check_id
        return entry
