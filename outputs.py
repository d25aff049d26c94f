"""The stack outputs, each named once: `__main__.py` exports under these names (with the data
tier's and the routing controls' `exports`), and every reader looks them up by them: the dr
stack reading the primary (components/primary_reference.py `PrimaryReference`,
components/connectivity.py), the primary reading dr when replication is reversed
(components/primary_data.py `PrimaryData`), and the drill (drill/model.py, drill/emulated.py,
drill/simulation/topology.py, testing/emulation.py).

Standard library only: the drill imports it without the program's provider SDKs.
"""

from __future__ import annotations


class StackOutput:
    """Every stack output's name."""

    ROLE = "role"
    REGION = "region"
    VPC_ID = "vpcId"
    PUBLIC_SUBNET_IDS = "publicSubnetIds"
    PRIVATE_SUBNET_IDS = "privateSubnetIds"
    DATA_SUBNET_IDS = "dataSubnetIds"
    CLUSTER_NAME = "clusterName"
    NODE_GROUP_NAMES = "nodeGroupNames"
    KUBECONFIG = "kubeconfig"
    KEY_ARNS = "keyArns"
    ALERTS_TOPIC_ARN = "alertsTopicArn"
    REGIONAL_ENDPOINT = "regionalEndpoint"
    HEALTH_CHECK_ID = "healthCheckId"
    RECORD_NAME = "recordName"
    # How the stack switches traffic (settings.TRAFFIC_CONTROLS): dr refuses a primary that
    # switches another way, or failover would flip a switch no record follows. A primary
    # deployed before the setting existed exports none and inverted its health check.
    TRAFFIC_CONTROL = "trafficControl"
    # The primary's Route 53 ARC routing controls (components/recovery.py, RoutingControls).
    ROUTING_CONTROL_ARNS = "routingControlArns"
    ROUTING_CONTROL_ENDPOINTS = "routingControlEndpoints"
    # {profile: {"nodeGroups": {group: {minSize, desiredSize, maxSize}}, "gateway": {...}}}
    CAPACITY_PROFILES = "capacityProfiles"
    ACTIVE_CAPACITY_PROFILE = "activeCapacityProfile"
    REPLICATION_DIRECTION = "replicationDirection"
    DATABASE_ENGINE = "databaseEngine"
    # {"rtoSeconds": ..., "rpoSeconds": ...}
    OBJECTIVES = "objectives"
    TRANSIT_GATEWAY_ID = "transitGatewayId"
    TRANSIT_GATEWAY_ROUTE_TABLE_ID = "transitGatewayRouteTableId"
    # The data tier (components/primary_data.py, components/data_replication.py).
    DATABASE_ARN = "databaseArn"
    DATABASE_IDENTIFIER = "databaseIdentifier"
    GLOBAL_CLUSTER_IDENTIFIER = "globalClusterIdentifier"
    TABLE_NAMES = "tableNames"
    TABLE_ARNS = "tableArns"
    TABLE_REPLICA_ARNS = "tableReplicaArns"
    RECORDS_BUCKET_NAME = "recordsBucketName"
    RECORDS_BUCKET_ARN = "recordsBucketArn"
    PRIMARY_RECORDS_BUCKET_NAME = "primaryRecordsBucketName"
    DATA_KEY_ARN = "dataKeyArn"
    MASTER_SECRET_NAME = "masterSecretName"
    # dr's failover automation (components/failover.py).
    FAILOVER_FUNCTION_NAME = "failoverFunctionName"
    FAILOVER_STATE_TABLE = "failoverStateTable"
    FAILOVER_TOPIC_ARN = "failoverTopicArn"
    FAILOVER_COMMANDS_TOPIC_ARN = "failoverCommandsTopicArn"
    FAILOVER_COMMANDS_EVENT_BUS = "failoverCommandsEventBus"
    FAILOVER_COMMANDS_RULE = "failoverCommandsRule"
    FAILOVER_COMMANDS_DETAIL_TYPE = "failoverCommandsDetailType"
    # The drill's marker writer in each region (components/markers.py).
    MARKER_FUNCTION_NAME = "markerFunctionName"


def database_source(aurora: bool) -> str:
    """The writer's output a replica is built from: an Aurora secondary joins the global
    cluster, an RDS for PostgreSQL read replica names its source instance."""
    return StackOutput.GLOBAL_CLUSTER_IDENTIFIER if aurora else StackOutput.DATABASE_ARN


# What the dr stack reads from the primary, checked before anything is built from it; plus the
# database source by engine, and the routing controls with trafficControl routing-control.
DR_NEEDS_FROM_PRIMARY = (
    StackOutput.REGION,
    StackOutput.DATABASE_IDENTIFIER,
    StackOutput.HEALTH_CHECK_ID,
    StackOutput.REGIONAL_ENDPOINT,
    StackOutput.ALERTS_TOPIC_ARN,
    StackOutput.TABLE_ARNS,
    StackOutput.TABLE_NAMES,
    StackOutput.RECORDS_BUCKET_NAME,
    StackOutput.RECORDS_BUCKET_ARN,
    StackOutput.DATA_KEY_ARN,
    StackOutput.MASTER_SECRET_NAME,
)
# What dr's Transit Gateway peering reads from the primary.
PEERING_NEEDS_FROM_PRIMARY = (
    StackOutput.TRANSIT_GATEWAY_ID,
    StackOutput.TRANSIT_GATEWAY_ROUTE_TABLE_ID,
)
# What a drill cannot run without (drill/model.py); it reads more where a stack has it.
DRILL_NEEDS_FROM_PRIMARY = (
    StackOutput.REGION,
    StackOutput.TABLE_NAMES,
    StackOutput.RECORDS_BUCKET_NAME,
    StackOutput.OBJECTIVES,
)
DRILL_NEEDS_FROM_DR = (
    StackOutput.REGION,
    StackOutput.CLUSTER_NAME,
    StackOutput.NODE_GROUP_NAMES,
    StackOutput.CAPACITY_PROFILES,
    StackOutput.DATABASE_IDENTIFIER,
    StackOutput.DATABASE_ENGINE,
    StackOutput.FAILOVER_FUNCTION_NAME,
    StackOutput.FAILOVER_STATE_TABLE,
    StackOutput.TABLE_NAMES,
    StackOutput.RECORDS_BUCKET_NAME,
    StackOutput.OBJECTIVES,
)
# Everything the drill reads, its simulation and emulation included (drill/model.py Target,
# drill/simulation/topology.py, drill/emulated.py marker_settings, testing/emulation.py).
DRILL_READS_FROM_PRIMARY = (
    *DRILL_NEEDS_FROM_PRIMARY,
    StackOutput.TRAFFIC_CONTROL,
    StackOutput.HEALTH_CHECK_ID,
    StackOutput.MARKER_FUNCTION_NAME,
    StackOutput.CLUSTER_NAME,
    StackOutput.NODE_GROUP_NAMES,
    StackOutput.CAPACITY_PROFILES,
    StackOutput.ACTIVE_CAPACITY_PROFILE,
    StackOutput.DATABASE_IDENTIFIER,
    StackOutput.DATABASE_ARN,
    StackOutput.MASTER_SECRET_NAME,
)
DRILL_READS_FROM_DR = (
    *DRILL_NEEDS_FROM_DR,
    StackOutput.HEALTH_CHECK_ID,
    StackOutput.RECORD_NAME,
    StackOutput.REGIONAL_ENDPOINT,
    StackOutput.MARKER_FUNCTION_NAME,
    StackOutput.ACTIVE_CAPACITY_PROFILE,
    StackOutput.DATABASE_ARN,
    StackOutput.MASTER_SECRET_NAME,
)
