"""The trading platform program: settings -> components -> exports. No resource is declared here."""

import pulumi

import settings as stack_settings
from components.baseline import SecurityBaseline, SecurityBaselineArgs
from components.connectivity import TransitGatewayPeering, TransitGatewayPeeringArgs
from components.data import DataArgs, DataReplication, PrimaryData
from components.failover import FailoverAutomation, FailoverAutomationArgs
from components.region import TradingRegion, TradingRegionArgs

config = stack_settings.load()

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
    ),
)

data_args = DataArgs(
    prefix=config.resource_prefix,
    name_prefix=config.name_prefix,
    region=config.region,
    peer_region=config.peer_region,
    database=config.database,
    records=config.records,
    vpc_id=region.vpc_id,
    data_subnet_ids=region.data_subnet_ids,
    client_security_group_id=region.node_security_group_id,
    logs_key_arn=region.logs_key_arn,
    alerts_topic_arn=region.alerts_topic_arn,
    log_retention_days=config.log_retention_days,
    replica_lag_alarm_seconds=config.replica_lag_alarm_seconds,
    account=region.account,
    peer_stack=config.replication.peer_stack,
)
in_region = pulumi.ResourceOptions(providers=[region.provider])
SecurityBaseline(
    config.role,
    SecurityBaselineArgs(
        prefix=config.resource_prefix,
        region=config.region,
        settings=config.security,
        logs_key_arn=region.logs_key_arn,
        log_retention_days=config.log_retention_days,
        account=region.account,
    ),
    in_region,
)
hub = region.transit_gateway
if hub is not None:
    pulumi.export("transitGatewayId", hub.transit_gateway_id)
    pulumi.export("transitGatewayRouteTableId", hub.route_table_id)
    if config.role == "dr" and config.connectivity.peering:
        TransitGatewayPeering(
            config.role,
            TransitGatewayPeeringArgs(
                prefix=config.resource_prefix,
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
    data = DataReplication(config.role, data_args, config.replication.reversed, in_region)
    automation = FailoverAutomation(
        config.role,
        FailoverAutomationArgs(
            prefix=config.resource_prefix,
            region=config.region,
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
            logs_key_arn=region.logs_key_arn,
            alerts_topic_arn=region.alerts_topic_arn,
            log_retention_days=config.log_retention_days,
            account=region.account,
            primary_health_check_id=data.primary_health_check_id,
            dr_health_check_id=region.health_check_id,
            primary_endpoint=data.primary_endpoint,
        ),
        in_region,
    )
    pulumi.export("failoverFunctionName", automation.function_name)
    pulumi.export("failoverStateTable", automation.state_table_name)
    pulumi.export("failoverTopicArn", automation.topic_arn)

pulumi.export("role", config.role)
pulumi.export("region", config.region)
pulumi.export("vpcId", region.vpc_id)
pulumi.export("publicSubnetIds", region.public_subnet_ids)
pulumi.export("privateSubnetIds", region.private_subnet_ids)
pulumi.export("dataSubnetIds", region.data_subnet_ids)
pulumi.export("clusterName", region.cluster_name)
pulumi.export("nodeGroupNames", region.node_group_names)
pulumi.export("kubeconfig", region.kubeconfig)
pulumi.export("keyArns", region.key_arns)
pulumi.export("alertsTopicArn", region.alerts_topic_arn)
pulumi.export("regionalEndpoint", region.regional_hostname)
pulumi.export("healthCheckId", region.health_check_id)
pulumi.export("recordName", config.dns.record_name)
# Both profiles, so failover (and a reviewer) sees the exact sizes dr scales between.
pulumi.export(
    "capacityProfiles",
    {name: profile.as_config() for name, profile in config.capacity.profiles.items()},
)
pulumi.export("activeCapacityProfile", config.capacity.active_profile)
pulumi.export("replicationDirection", config.replication.direction)
pulumi.export("databaseEngine", config.database.engine)
pulumi.export(
    "objectives",
    {"rtoSeconds": config.objectives.rto_seconds, "rpoSeconds": config.objectives.rpo_seconds},
)
for key, value in data.exports.items():
    pulumi.export(key, value)
