"""Private paths between the regions and to on-premises.

`TransitGatewayHub` (every stack with `connectivity.transitGateway`): the region's Transit
Gateway, the VPC attached and propagated, routes from the private and data route tables to the
peer VPC and on-prem CIDRs, and the optional site-to-site VPN (BGP, both tunnels set).

`TransitGatewayPeering` (dr stack with `connectivity.peering`): the inter-region peering,
requested from dr and accepted in the primary region, with a static route on each side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import RegionalContext
from components.references import stack_outputs
from outputs import PEERING_NEEDS_FROM_PRIMARY, StackOutput
from settings import Connectivity, Vpn

TUNNELS = ("tunnel1", "tunnel2")


@dataclass
class TransitGatewayHubArgs:
    context: RegionalContext
    settings: Connectivity
    vpc_id: pulumi.Input[str]
    attachment_subnet_ids: Sequence[pulumi.Input[str]]
    route_table_ids: Sequence[pulumi.Input[str]]
    peer_vpc_cidr: str


class TransitGatewayHub(pulumi.ComponentResource):
    transit_gateway_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TransitGatewayHubArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:network:TransitGatewayHub", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2transitgateway.TransitGateway(
            f"{name}-tgw",
            description=f"{args.context.prefix} hub",
            amazon_side_asn=args.settings.amazon_side_asn,
            # Associations default to the main route table; propagations are declared one by
            # one below, so what reaches the table is visible in the program.
            default_route_table_association="enable",
            default_route_table_propagation="disable",
            auto_accept_shared_attachments="disable",
            dns_support="enable",
            tags={"Name": f"{args.context.prefix}-tgw"},
            opts=self._child,
        )
        self.transit_gateway_id = gateway.id
        self.route_table_id = gateway.association_default_route_table_id
        attachment = aws.ec2transitgateway.VpcAttachment(
            f"{name}-vpc",
            transit_gateway_id=gateway.id,
            vpc_id=args.vpc_id,
            subnet_ids=list(args.attachment_subnet_ids),
            dns_support="enable",
            tags={"Name": f"{args.context.prefix}-vpc"},
            opts=self._child,
        )
        self._propagate("vpc", attachment.id)
        destinations = [args.peer_vpc_cidr] if args.settings.peering else []
        if args.settings.vpn:
            self._vpn(args.settings.vpn, gateway)
            destinations += list(args.settings.vpn.on_prem_cidrs)
        for index, table in enumerate(args.route_table_ids):
            for cidr in destinations:
                aws.ec2.Route(
                    f"{name}-to-{cidr.replace('/', '_')}-{index}",
                    route_table_id=table,
                    destination_cidr_block=cidr,
                    transit_gateway_id=gateway.id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
                )
        self.register_outputs(
            {"transitGatewayId": self.transit_gateway_id, "routeTableId": self.route_table_id}
        )

    def _propagate(self, label: str, attachment_id: pulumi.Input[str]) -> None:
        aws.ec2transitgateway.RouteTablePropagation(
            f"{self._name}-{label}-propagation",
            transit_gateway_attachment_id=attachment_id,
            transit_gateway_route_table_id=self.route_table_id,
            opts=self._child,
        )

    def _vpn(self, vpn: Vpn, gateway: aws.ec2transitgateway.TransitGateway) -> None:
        name = self._name
        customer = aws.ec2.CustomerGateway(
            f"{name}-on-prem",
            bgp_asn=str(vpn.bgp_asn),
            ip_address=vpn.customer_gateway_ip,
            type="ipsec.1",
            tags={"Name": f"{self._args.context.prefix}-on-prem"},
            opts=self._child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-vpn-logs",
            name=f"/trading/{self._args.context.prefix}/vpn",
            kms_key_id=self._args.context.logs_key_arn,
            retention_in_days=self._args.context.log_retention_days,
            opts=self._child,
        )
        tunnel = {
            # IKEv2 with AES-256, SHA-256 and DH group 20 only: no downgrade to the defaults'
            # weaker proposals.
            f"{t}_{option}": value
            for t in TUNNELS
            for option, value in (
                ("ike_versions", ["ikev2"]),
                ("phase1_encryption_algorithms", ["AES256"]),
                ("phase2_encryption_algorithms", ["AES256"]),
                ("phase1_integrity_algorithms", ["SHA2-256"]),
                ("phase2_integrity_algorithms", ["SHA2-256"]),
                ("phase1_dh_group_numbers", [20]),
                ("phase2_dh_group_numbers", [20]),
                ("dpd_timeout_action", "restart"),
                (
                    "log_options",
                    aws.ec2.VpnConnectionTunnel1LogOptionsArgs(
                        cloudwatch_log_options=aws.ec2.VpnConnectionTunnel1LogOptionsCloudwatchLogOptionsArgs(
                            log_enabled=True, log_group_arn=logs.arn, log_output_format="json"
                        )
                    )
                    if t == "tunnel1"
                    else aws.ec2.VpnConnectionTunnel2LogOptionsArgs(
                        cloudwatch_log_options=aws.ec2.VpnConnectionTunnel2LogOptionsCloudwatchLogOptionsArgs(
                            log_enabled=True, log_group_arn=logs.arn, log_output_format="json"
                        )
                    ),
                ),
            )
        }
        connection = aws.ec2.VpnConnection(
            f"{name}-vpn",
            customer_gateway_id=customer.id,
            transit_gateway_id=gateway.id,
            type="ipsec.1",
            # BGP: on-prem routes propagate into the Transit Gateway's route table.
            static_routes_only=False,
            tags={"Name": f"{self._args.context.prefix}-vpn"},
            opts=self._child,
            **tunnel,  # type: ignore[arg-type]
        )
        self._propagate("vpn", connection.transit_gateway_attachment_id)


@dataclass
class TransitGatewayPeeringArgs:
    context: RegionalContext
    transit_gateway_id: pulumi.Input[str]
    route_table_id: pulumi.Input[str]
    vpc_cidr: str
    peer_region: str
    # The primary stack, whose Transit Gateway outputs the peering needs.
    peer_stack: str
    peer_vpc_cidr: str


class TransitGatewayPeering(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: TransitGatewayPeeringArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("trading:network:TransitGatewayPeering", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        peer = stack_outputs(
            f"{name}-peer",
            args.peer_stack,
            PEERING_NEEDS_FROM_PRIMARY,
            "dr (Transit Gateway peering)",
            child,
        )
        peering = aws.ec2transitgateway.PeeringAttachment(
            f"{name}-peering",
            transit_gateway_id=args.transit_gateway_id,
            peer_transit_gateway_id=peer.apply(lambda o: str(o[StackOutput.TRANSIT_GATEWAY_ID])),
            peer_region=args.peer_region,
            tags={"Name": f"{args.context.prefix}-peering"},
            opts=child,
        )
        # Accepted in the peer's region from this stack, so one `pulumi up` completes it.
        accepter = aws.ec2transitgateway.PeeringAttachmentAccepter(
            f"{name}-peering-accepter",
            region=args.peer_region,
            transit_gateway_attachment_id=peering.id,
            tags={"Name": f"{args.context.prefix}-peering"},
            opts=child,
        )
        after_acceptance = pulumi.ResourceOptions(parent=self, depends_on=[accepter])
        aws.ec2transitgateway.Route(
            f"{name}-to-peer",
            transit_gateway_route_table_id=args.route_table_id,
            destination_cidr_block=args.peer_vpc_cidr,
            transit_gateway_attachment_id=peering.id,
            opts=after_acceptance,
        )
        aws.ec2transitgateway.Route(
            f"{name}-from-peer",
            region=args.peer_region,
            transit_gateway_route_table_id=peer.apply(
                lambda o: str(o[StackOutput.TRANSIT_GATEWAY_ROUTE_TABLE_ID])
            ),
            destination_cidr_block=args.vpc_cidr,
            transit_gateway_attachment_id=peering.id,
            opts=after_acceptance,
        )
        self.register_outputs({"peeringAttachmentId": peering.id})
