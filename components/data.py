"""The data tier's shared parts: what `PrimaryData` (components/primary_data.py, the writer's
stores) and `DataReplication` (components/data_replication.py, their dr copies) build the same
way: `DataArgs`, the tables, the data key, the database's arguments and the records buckets.

Orders, positions and audit records must survive the loss of a region, so each store has a
replica in the other region: the database (a cross-region read replica, or an Aurora global
cluster's secondary), the DynamoDB tables (global-table replicas, version 2019.11.21), and the
records bucket (S3 replication with Replication Time Control, components/records_replication.py).
The dr stack reads the primary's stores through components/primary_reference.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import RegionalContext
from components.database import DatabaseArgs
from components.kms import customer_key, key_policy
from components.storage import Lifecycle, SecureBucket, SecureBucketArgs, account_scoped_name
from outputs import database_source
from settings import Database as DatabaseSettings
from settings import Records

# Table -> (partition key, TTL attribute or None). Sessions expire; orders are kept.
TABLES: Mapping[str, tuple[str, str | None]] = {
    "orders": ("order_id", None),
    "sessions": ("session_id", "expires_at"),
}


@dataclass
class DataArgs:
    """What both data components need from the region they live in."""

    context: RegionalContext
    name_prefix: str
    peer_region: str
    database: DatabaseSettings
    records: Records
    vpc_id: pulumi.Input[str]
    data_subnet_ids: Sequence[pulumi.Input[str]]
    client_security_group_id: pulumi.Input[str]
    replica_lag_alarm_seconds: int
    # The stack whose outputs this one reads ("" when it reads none).
    peer_stack: str = ""


def records_buckets(
    name: str, args: DataArgs, key_arn: pulumi.Input[str], parent: pulumi.Resource
) -> SecureBucket:
    """The records bucket and its access-log bucket; returns the records bucket."""
    records_name = account_scoped_name(args.context.account, f"{args.context.prefix}-records")
    log_name = account_scoped_name(args.context.account, f"{args.context.prefix}-access-logs")
    records_arn = records_name.apply(lambda n: f"arn:aws:s3:::{n}")
    access_logs = SecureBucket(
        f"{name}-access-logs",
        SecureBucketArgs(
            bucket_name=log_name,
            kms_key_arn=None,
            lifecycle=Lifecycle(None, 30, args.records.access_log_expiry_days),
            receives_access_logs_from=(
                records_arn,
                args.context.account.apply(lambda a: a.account_id),
            ),
        ),
        pulumi.ResourceOptions(parent=parent),
    )
    return SecureBucket(
        f"{name}-records",
        SecureBucketArgs(
            bucket_name=records_name,
            kms_key_arn=key_arn,
            lifecycle=Lifecycle(
                args.records.archive_after_days, args.records.noncurrent_expiry_days
            ),
            access_log_bucket=access_logs.bucket_name,
        ),
        pulumi.ResourceOptions(parent=parent),
    )


def data_key(args: DataArgs, parent: pulumi.Resource) -> aws.kms.Key:
    return customer_key(
        f"{args.context.prefix}-data",
        f"Data at rest in {args.context.prefix}: database, tables, records, database secrets",
        args.context.account.apply(lambda a: key_policy(a, [])),
        pulumi.ResourceOptions(parent=parent),
    )


def database_args(
    args: DataArgs,
    instance_class: str,
    replicate_from: pulumi.Input[str] | None,
    multi_az: bool,
    key_arn: pulumi.Input[str],
    *,
    credentials_replica_region: str | None = None,
) -> DatabaseArgs:
    return DatabaseArgs(
        identifier=f"{args.context.prefix}-db",
        settings=args.database,
        instance_class=instance_class,
        replicate_from=replicate_from,
        multi_az=multi_az,
        kms_key_arn=key_arn,
        logs_key_arn=args.context.logs_key_arn,
        log_retention_days=args.context.log_retention_days,
        vpc_id=args.vpc_id,
        subnet_ids=args.data_subnet_ids,
        client_security_group_id=args.client_security_group_id,
        alerts_topic_arn=args.context.alerts_topic_arn,
        replica_lag_alarm_seconds=args.replica_lag_alarm_seconds,
        global_cluster_identifier=f"{args.name_prefix}-global",
        credentials_replica_region=credentials_replica_region,
    )


def database_source_output(database: DatabaseSettings) -> str:
    """The writer's output a replica is built from, by engine."""
    return database_source(database.is_aurora)
