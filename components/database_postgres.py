"""The `postgres` engine path of `Database`: an RDS PostgreSQL instance, the writer or a
cross-region read replica of the writer's ARN, with its TLS-only parameter group, its log
groups and its CPU, storage and replica-lag alarms.

Apart from the Aurora path (components/database_aurora.py): the two declare different resources
and share only components/database_engine.py.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.database_engine import (
    CA_CERTIFICATE,
    DATABASE_NAME,
    MASTER_USERNAME,
    MONITORING_INTERVAL_SECONDS,
    PERFORMANCE_INSIGHTS_RETENTION_DAYS,
    DatabaseEndpoints,
    EngineFoundation,
    database_alarm,
    lag_alarm,
    log_groups,
    parameter_family,
)
from settings import AUTO_MINOR_VERSION_UPGRADE


def rds_instance(foundation: EngineFoundation) -> DatabaseEndpoints:
    """The instance, writer or replica as `args.replicate_from` says, and its alarms."""
    args = foundation.args
    exports = ("postgresql", "upgrade")
    logs = log_groups(foundation, "instance", args.identifier, exports)
    parameters = aws.rds.ParameterGroup(
        f"{foundation.name}-params",
        name=args.identifier,
        family=parameter_family(args.settings),
        description=f"TLS-only connections to {args.identifier}",
        parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
        # The failover Lambda fences a writer by setting `default_transaction_read_only`
        # in this group; `pulumi up` after a refresh would otherwise reset it and unfence
        # the old primary. A parameter added here later applies to new groups only.
        opts=pulumi.ResourceOptions.merge(
            foundation.child, pulumi.ResourceOptions(ignore_changes=["parameters"])
        ),
    )
    # A replica inherits engine, credentials and storage from its writer. A writer without
    # `password` is a promoted replica (failback direction): it keeps the password it
    # replicated, the one in the primary stack's secret.
    writer = not args.is_replica
    instance = aws.rds.Instance(
        f"{foundation.name}-db",
        identifier=args.identifier,
        replicate_source_db=args.replicate_from,
        engine="postgres" if writer else None,
        engine_version=args.settings.engine_version if writer else None,
        username=MASTER_USERNAME if writer else None,
        db_name=DATABASE_NAME if writer else None,
        password=foundation.password if writer else None,
        allocated_storage=args.settings.allocated_storage_gb if writer else None,
        instance_class=args.instance_class,
        max_allocated_storage=args.settings.allocated_storage_gb * 4,
        storage_type="gp3",
        storage_encrypted=True,
        kms_key_id=args.kms_key_arn,
        multi_az=args.multi_az,
        db_subnet_group_name=foundation.subnet_group_name,
        vpc_security_group_ids=[foundation.security_group_id],
        parameter_group_name=parameters.name,
        publicly_accessible=False,
        backup_retention_period=args.settings.backup_retention_days,
        backup_window="03:00-04:00",
        maintenance_window="sun:04:30-sun:05:30",
        copy_tags_to_snapshot=True,
        deletion_protection=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{args.identifier}-final",
        iam_database_authentication_enabled=True,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=args.kms_key_arn,
        performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
        monitoring_interval=MONITORING_INTERVAL_SECONDS,
        monitoring_role_arn=foundation.monitoring_role_arn,
        enabled_cloudwatch_logs_exports=list(exports),
        auto_minor_version_upgrade=AUTO_MINOR_VERSION_UPGRADE,
        ca_cert_identifier=CA_CERTIFICATE,
        # The identifier is fixed (failover finds the database by it), so a replacement, as
        # when failback rebuilds a writer as a replica, must delete first; deletion
        # protection keeps that a deliberate step (README, "Failback runbook").
        opts=pulumi.ResourceOptions(
            parent=foundation.parent, depends_on=logs, delete_before_replace=True
        ),
    )
    _health_alarms(foundation, instance)
    if args.is_replica:
        lag_alarm(foundation, "ReplicaLag", {"DBInstanceIdentifier": instance.identifier}, 1)
    return DatabaseEndpoints(instance.arn, instance.identifier, instance.address)


def _health_alarms(foundation: EngineFoundation, instance: aws.rds.Instance) -> None:
    """CPU saturation and storage running out, on the writer and the replica alike."""
    storage_floor = foundation.args.settings.allocated_storage_gb * 1024**3 // 10
    dimensions = {"DBInstanceIdentifier": instance.identifier}
    database_alarm(
        foundation, "cpu", "CPUUtilization", 80, "GreaterThanThreshold", dimensions=dimensions
    )
    database_alarm(
        foundation,
        "free-storage",
        "FreeStorageSpace",
        storage_floor,
        "LessThanThreshold",
        dimensions=dimensions,
    )
