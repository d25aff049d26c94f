"""The `aurora-postgresql` engine path of `Database`: an Aurora global database. The writer stack
creates the global cluster and its primary cluster, the replica stack a secondary cluster in it;
each cluster has its instances, its TLS-only parameter group, its log group and its alarms.

Apart from the RDS instance path (components/database_postgres.py): the two declare different
resources and share only components/database_engine.py.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.database_engine import (
    CA_CERTIFICATE,
    DATABASE_NAME,
    MASTER_USERNAME,
    MONITORING_INTERVAL_SECONDS,
    DatabaseEndpoints,
    EngineFoundation,
    database_alarm,
    lag_alarm,
    log_groups,
    parameter_family,
)

# After the 03:00-04:00 backup window, UTC, the same in both regions.
AURORA_MAINTENANCE_WINDOW = "sun:05:00-sun:06:00"


def aurora_cluster(foundation: EngineFoundation) -> DatabaseEndpoints:
    """The writer's global and primary clusters, or a secondary cluster in the global
    cluster `args.replicate_from` names; its instances and alarms."""
    args = foundation.args
    child = foundation.child
    global_cluster_identifier: pulumi.Output[str] | None = None
    exports = ("postgresql",)
    logs = log_groups(foundation, "cluster", args.identifier, exports)
    parameters = aws.rds.ClusterParameterGroup(
        f"{foundation.name}-params",
        name=args.identifier,
        family=parameter_family(args.settings),
        description=f"TLS-only connections to {args.identifier}",
        parameters=[aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
        opts=child,
    )
    if args.replicate_from is not None:
        global_id = args.replicate_from
    else:
        global_cluster = aws.rds.GlobalCluster(
            f"{foundation.name}-global",
            global_cluster_identifier=args.global_cluster_identifier,
            engine="aurora-postgresql",
            engine_version=args.settings.engine_version,
            database_name=DATABASE_NAME,
            storage_encrypted=True,
            deletion_protection=True,
            opts=child,
        )
        global_id = global_cluster.id
        global_cluster_identifier = global_cluster.global_cluster_identifier
    # A secondary cluster takes the global database's credentials; setting them is refused.
    writer = not args.is_replica
    cluster = aws.rds.Cluster(
        f"{foundation.name}-cluster",
        cluster_identifier=args.identifier,
        global_cluster_identifier=global_id,
        engine="aurora-postgresql",
        engine_version=args.settings.engine_version,
        master_username=MASTER_USERNAME if writer else None,
        master_password=foundation.password if writer else None,
        database_name=DATABASE_NAME if writer else None,
        storage_encrypted=True,
        kms_key_id=args.kms_key_arn,
        db_subnet_group_name=foundation.subnet_group_name,
        vpc_security_group_ids=[foundation.security_group_id],
        db_cluster_parameter_group_name=parameters.name,
        backup_retention_period=args.settings.backup_retention_days,
        preferred_backup_window="03:00-04:00",
        # One window for both regions' clusters: a managed switchover or failover needs the
        # same engine version and patch level in both (Aurora User Guide, "Upgrading an
        # Amazon Aurora global database"), so maintenance must not patch one region days
        # before the other.
        preferred_maintenance_window=AURORA_MAINTENANCE_WINDOW,
        copy_tags_to_snapshot=True,
        deletion_protection=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{args.identifier}-final",
        iam_database_authentication_enabled=True,
        # The RDS Data API, which the drill's marker writer uses (components/markers.py):
        # Aurora PostgreSQL provisioned clusters from 16.1 (Aurora User Guide,
        # "Supported Regions and Aurora DB engines for the RDS Data API").
        enable_http_endpoint=True,
        enabled_cloudwatch_logs_exports=list(exports),
        # A global failover or switchover rewrites the first two on both clusters. The
        # version is the global cluster's to change: pulumi-aws advises ignoring it on
        # member clusters, whose own diff would fight the global cluster's upgrade
        # (https://www.pulumi.com/registry/packages/aws/api-docs/rds/globalcluster/,
        # "Upgrading Engine Versions"); a minor upgrade is the README's runbook.
        opts=pulumi.ResourceOptions(
            parent=foundation.parent,
            depends_on=logs,
            ignore_changes=[
                "replicationSourceIdentifier",
                "globalClusterIdentifier",
                "engineVersion",
            ],
        ),
    )
    for index in range(2 if args.multi_az else 1):
        aws.rds.ClusterInstance(
            f"{foundation.name}-instance-{index}",
            identifier=f"{args.identifier}-{index}",
            cluster_identifier=cluster.id,
            instance_class=args.instance_class,
            engine=aws.rds.EngineType.AURORA_POSTGRESQL,
            db_subnet_group_name=foundation.subnet_group_name,
            publicly_accessible=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            monitoring_interval=MONITORING_INTERVAL_SECONDS,
            monitoring_role_arn=foundation.monitoring_role_arn,
            # A global database's minor is upgraded on the global cluster (settings).
            auto_minor_version_upgrade=False,
            ca_cert_identifier=CA_CERTIFICATE,
            opts=child,
        )
    # By role, not instance: Aurora moves the writer role between instances, and AWS
    # advises alarms on the WRITER and READER role metrics (Aurora User Guide, "Creating
    # CloudWatch alarms to monitor Amazon Aurora",
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/creating_alarms.html).
    # Both roles in both regions: a secondary has only readers until a failover makes one
    # its writer. No storage alarm: the cluster volume grows by itself ("Managing
    # performance and scaling for Aurora DB clusters", storage scaling).
    for label, role in (("cpu", "WRITER"), ("reader-cpu", "READER")):
        database_alarm(
            foundation,
            label,
            "CPUUtilization",
            80,
            "GreaterThanThreshold",
            dimensions={"DBClusterIdentifier": cluster.cluster_identifier, "Role": role},
            statistic="Maximum",
        )
    if args.is_replica:
        # Aurora reports global replication lag in milliseconds.
        lag_alarm(
            foundation,
            "AuroraGlobalDBReplicationLag",
            {"DBClusterIdentifier": cluster.cluster_identifier},
            1000,
        )
    return DatabaseEndpoints(
        cluster.arn, cluster.cluster_identifier, cluster.endpoint, global_cluster_identifier
    )
