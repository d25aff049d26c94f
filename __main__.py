"""The trading platform program: settings -> components -> exports. No resource is declared here."""

import pulumi

import settings as stack_settings
from components.baseline import SecurityBaseline, SecurityBaselineArgs
from components.connectivity import TransitGatewayPeering, TransitGatewayPeeringArgs
from components.data import DataArgs
from components.data_replication import DataReplication
from components.failover import FailoverAutomation
from components.failover_args import FailoverAutomationArgs
from components.markers import MarkerWriter, MarkerWriterArgs
from components.primary_data import PrimaryData
from components.primary_reference import PrimaryReference, PrimaryReferenceArgs
from components.recovery import RecoveryControls, RecoveryControlsArgs, RegionControl
from components.region import TradingRegion, TradingRegionArgs
from outputs import StackOutput

config = stack_settings.load()

# Traffic control (README, "Traffic control"): with routing controls, the primary owns the ARC
# cluster and both controls (dr cannot be read by the primary: its stack reference would be a
# cycle), and each region's failover record follows the control named after its role; dr reads
# its control from the primary's outputs, before building the region that holds its record.
recovery: RecoveryControls | None = None
primary_reference: PrimaryReference | None = None
routing_control: RegionControl | None = None
if config.role == "primary":
    if config.dns.uses_routing_controls:
        recovery = RecoveryControls(
            config.role,
            RecoveryControlsArgs(name_prefix=config.name_prefix, tags=config.resource_tags),
        )
        routing_control = RegionControl(recovery.arns[config.role], recovery.endpoints)
else:
    primary_reference = PrimaryReference(
        config.role,
        PrimaryReferenceArgs(
            peer_stack=config.replication.peer_stack,
            database=config.database,
            traffic_control=config.dns.traffic_control,
        ),
    )
    if primary_reference.routing_controls is not None:
        routing_control = RegionControl(
            primary_reference.routing_controls.apply(lambda controls: controls.arns[config.role]),
            primary_reference.routing_controls.apply(lambda controls: controls.endpoint_list()),
        )

region = TradingRegion(
    config.role,
    TradingRegionArgs(
        region=config.region,
        cluster_name=config.cluster_name,
        network=config.network,
        capacity=config.capacity.active,
        eks=config.eks,
        log_retention_days=config.log_retention_days,
        tags=config.resource_tags,
        dns=config.dns,
        gateway=config.gateway,
        failover_type="PRIMARY" if config.role == "primary" else "SECONDARY",
        node_groups_scaled_by_failover=config.role == "dr",
        observability=config.observability,
        low_latency=config.low_latency,
        connectivity=config.connectivity,
        routing_control=routing_control,
    ),
)

context = region.context
data_args = DataArgs(
    context=context,
    name_prefix=config.name_prefix,
    peer_region=config.peer_region,
    database=config.database,
    records=config.records,
    vpc_id=region.vpc_id,
    data_subnet_ids=region.data_subnet_ids,
    client_security_group_id=region.node_security_group_id,
    replica_lag_alarm_seconds=config.replica_lag_alarm_seconds,
    peer_stack=config.replication.peer_stack,
)
in_region = context.in_region()
SecurityBaseline(
    config.role, SecurityBaselineArgs(context=context, settings=config.security), in_region
)
hub = region.transit_gateway
if hub is not None:
    pulumi.export(StackOutput.TRANSIT_GATEWAY_ID, hub.transit_gateway_id)
    pulumi.export(StackOutput.TRANSIT_GATEWAY_ROUTE_TABLE_ID, hub.route_table_id)
    if config.role == "dr" and config.connectivity.peering:
        TransitGatewayPeering(
            config.role,
            TransitGatewayPeeringArgs(
                context=context,
                transit_gateway_id=hub.transit_gateway_id,
                route_table_id=hub.route_table_id,
                vpc_cidr=config.network.vpc_cidr,
                peer_region=config.peer_region,
                peer_stack=config.replication.peer_stack,
                peer_vpc_cidr=config.network.peer_vpc_cidr,
            ),
            in_region,
        )
data: PrimaryData | DataReplication
if config.role == "primary":
    data = PrimaryData(config.role, data_args, in_region)
else:
    assert primary_reference is not None
    data = DataReplication(
        config.role, data_args, config.replication.reversed, primary_reference, in_region
    )
    routing = primary_reference.routing_controls
    automation = FailoverAutomation(
        config.role,
        FailoverAutomationArgs(
            context=context,
            primary_region=config.peer_region,
            cluster_name=config.cluster_name,
            node_group_names=region.node_group_names,
            full=config.capacity.full,
            pilot_light=config.capacity.pilot_light,
            db_engine=config.database.engine,
            db_identifier=data.database.identifier,
            primary_db_identifier=data.primary_database_identifier,
            global_cluster_identifier=data.global_cluster_identifier,
            settings=config.failover,
            data_key_arn=data.data_key_arn,
            # With routing controls the handler moves traffic on ARC's data plane and must not
            # touch Route 53 health checks: no primary check to invert. dr's HTTPS check still
            # exists (its alarm pages on dr's /health, and the drill reads it); it is not what
            # dr's failover record follows. The handler checks dr's /health itself, through
            # dr_endpoint.
            primary_health_check_id="" if routing is not None else data.primary_health_check_id,
            dr_health_check_id=region.health_check_id,
            primary_endpoint=data.primary_endpoint,
            dr_endpoint=f"https://{region.regional_hostname}",
            traffic_control=config.dns.traffic_control,
            routing_control_arns=routing.apply(lambda c: dict(c.arns))
            if routing is not None
            else None,
            routing_control_endpoints=routing.apply(lambda c: c.endpoint_list())
            if routing is not None
            else None,
            vpc_id=region.vpc_id,
            private_subnet_ids=region.private_subnet_ids,
            cluster_security_group_id=region.node_security_group_id,
            records_bucket_name=data.exports[StackOutput.RECORDS_BUCKET_NAME],
            primary_records_bucket_name=data.exports[StackOutput.PRIMARY_RECORDS_BUCKET_NAME],
            batch_replication_role_arn=data.batch_replication.role_arn,
            batch_replication_report_prefix=data.batch_replication.report_prefix,
        ),
        in_region,
    )
    pulumi.export(StackOutput.FAILOVER_FUNCTION_NAME, automation.function_name)
    pulumi.export(StackOutput.FAILOVER_STATE_TABLE, automation.state_table_name)
    pulumi.export(StackOutput.FAILOVER_TOPIC_ARN, automation.topic_arn)
    pulumi.export(StackOutput.FAILOVER_COMMANDS_TOPIC_ARN, automation.commands_topic_arn)
    pulumi.export(StackOutput.FAILOVER_COMMANDS_EVENT_BUS, automation.commands_event_bus_name)
    pulumi.export(StackOutput.FAILOVER_COMMANDS_RULE, automation.commands_rule_name)
    pulumi.export(StackOutput.FAILOVER_COMMANDS_DETAIL_TYPE, automation.commands_detail_type)

# The drill's marker writer in each region (README, "Failover drill").
table_arns = data.exports[
    StackOutput.TABLE_ARNS if config.role == "primary" else StackOutput.TABLE_REPLICA_ARNS
]
markers = MarkerWriter(
    config.role,
    MarkerWriterArgs(
        context=context,
        table_name=pulumi.Output.from_input(data.exports[StackOutput.TABLE_NAMES]).apply(
            lambda names: str(names["orders"])
        ),
        table_arn=table_arns["orders"],
        bucket_name=data.exports[StackOutput.RECORDS_BUCKET_NAME],
        bucket_arn=pulumi.Output.from_input(data.exports[StackOutput.RECORDS_BUCKET_NAME]).apply(
            lambda name: f"arn:aws:s3:::{name}"
        ),
        data_key_arn=data.exports[StackOutput.DATA_KEY_ARN],
        db_engine=config.database.engine,
        db_cluster_arn=data.database.arn if config.database.is_aurora else None,
        db_secret_name=data.exports[StackOutput.MASTER_SECRET_NAME]
        if config.database.is_aurora
        else None,
    ),
    in_region,
)
pulumi.export(StackOutput.MARKER_FUNCTION_NAME, markers.function_name)

pulumi.export(StackOutput.ROLE, config.role)
pulumi.export(StackOutput.REGION, config.region)
pulumi.export(StackOutput.VPC_ID, region.vpc_id)
pulumi.export(StackOutput.PUBLIC_SUBNET_IDS, region.public_subnet_ids)
pulumi.export(StackOutput.PRIVATE_SUBNET_IDS, region.private_subnet_ids)
pulumi.export(StackOutput.DATA_SUBNET_IDS, region.data_subnet_ids)
pulumi.export(StackOutput.CLUSTER_NAME, region.cluster_name)
pulumi.export(StackOutput.NODE_GROUP_NAMES, region.node_group_names)
pulumi.export(StackOutput.KUBECONFIG, region.kubeconfig)
pulumi.export(StackOutput.KEY_ARNS, region.key_arns)
pulumi.export(StackOutput.ALERTS_TOPIC_ARN, context.alerts_topic_arn)
pulumi.export(StackOutput.REGIONAL_ENDPOINT, region.regional_hostname)
pulumi.export(StackOutput.HEALTH_CHECK_ID, region.health_check_id)
pulumi.export(StackOutput.RECORD_NAME, config.dns.record_name)
pulumi.export(StackOutput.TRAFFIC_CONTROL, config.dns.traffic_control)
if recovery is not None:
    for key, value in recovery.exports.items():
        pulumi.export(key, value)
# Both profiles, so failover (and a reviewer) sees the exact sizes dr scales between.
pulumi.export(
    StackOutput.CAPACITY_PROFILES,
    {name: profile.as_config() for name, profile in config.capacity.profiles.items()},
)
pulumi.export(StackOutput.ACTIVE_CAPACITY_PROFILE, config.capacity.active_profile)
pulumi.export(StackOutput.REPLICATION_DIRECTION, config.replication.direction)
pulumi.export(StackOutput.DATABASE_ENGINE, config.database.engine)
pulumi.export(
    StackOutput.OBJECTIVES,
    {"rtoSeconds": config.objectives.rto_seconds, "rpoSeconds": config.objectives.rpo_seconds},
)
for key, value in data.exports.items():
    pulumi.export(key, value)
