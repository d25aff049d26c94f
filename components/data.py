"""The data tier: `PrimaryData` (the writer's stores) and `DataReplication` (their dr copies).

Orders, positions and audit records must survive the loss of a region, so each store has a
replica in the other region: the database (a cross-region read replica, or an Aurora global
cluster's secondary), the DynamoDB tables (global-table replicas, version 2019.11.21), and the
records bucket (S3 replication with Replication Time Control).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import Evaluation, Metric, metric_alarm
from components.batch_replication import BatchReplicationRole, BatchReplicationRoleArgs
from components.context import RegionalContext
from components.database import Database, DatabaseArgs
from components.iam import service_role
from components.kms import customer_key, key_policy
from components.recovery import RoutingControls
from components.references import qualified, stack_outputs
from components.storage import (
    Lifecycle,
    SecureBucket,
    SecureBucketArgs,
    account_scoped_name,
    uses_bucket_key,
)
from outputs import DR_NEEDS_FROM_PRIMARY, StackOutput, database_source
from settings import HEALTH_CHECK_INVERSION, ROUTING_CONTROL, Records
from settings import Database as DatabaseSettings

# Table -> (partition key, TTL attribute or None). Sessions expire; orders are kept.
TABLES: Mapping[str, tuple[str, str | None]] = {
    "orders": ("order_id", None),
    "sessions": ("session_id", "expires_at"),
}
# S3 Replication Time Control's fixed objective.
S3_RTC_MINUTES = 15


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


def _data_key(args: DataArgs, parent: pulumi.Resource) -> aws.kms.Key:
    return customer_key(
        f"{args.context.prefix}-data",
        f"Data at rest in {args.context.prefix}: database, tables, records, database secrets",
        args.context.account.apply(lambda a: key_policy(a, [])),
        pulumi.ResourceOptions(parent=parent),
    )


def _database_args(
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


class PrimaryData(pulumi.ComponentResource):
    """The stores the primary region writes to. With the replication direction reversed
    (failback), its database is rebuilt as a replica of dr's writer."""

    database: Database
    exports: dict[str, Any]

    def __init__(
        self, name: str, args: DataArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:data:PrimaryData", name, None, opts)
        key = _data_key(args, self)
        replicate_from: pulumi.Input[str] | None = None
        if args.peer_stack:
            field_name = database_source_output(args.database)
            source = stack_outputs(
                f"{name}-source",
                args.peer_stack,
                (field_name,),
                "primary",
                pulumi.ResourceOptions(parent=self),
            )
            replicate_from = source.apply(lambda outputs: str(outputs[field_name]))
        self.database = Database(
            name,
            _database_args(
                args,
                args.database.instance_class,
                replicate_from,
                True,
                key.arn,
                # This stack keeps the master credentials in either direction: a failback
                # rebuilds its database as a replica, and the credentials must outlive that.
                credentials_replica_region=args.peer_region,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        tables = {table: self._table(name, args, table, key) for table in TABLES}
        records = records_buckets(name, args, key.arn, self)
        self.exports = {
            "databaseArn": self.database.arn,
            "databaseIdentifier": self.database.identifier,
            "tableNames": {table: t.name for table, t in tables.items()},
            "tableArns": {table: t.arn for table, t in tables.items()},
            "recordsBucketName": records.bucket_name,
            "recordsBucketArn": records.arn,
            "dataKeyArn": key.arn,
            "masterSecretName": self.database.master_secret_name,
        }
        if self.database.global_cluster_identifier is not None:
            self.exports["globalClusterIdentifier"] = self.database.global_cluster_identifier
        self.register_outputs(self.exports)

    def _table(self, name: str, args: DataArgs, table: str, key: aws.kms.Key) -> aws.dynamodb.Table:
        partition_key, ttl_attribute = TABLES[table]
        return aws.dynamodb.Table(
            f"{name}-{table}",
            # Global-table replicas share the table's name, so it carries no region or role.
            name=f"{args.name_prefix}-{table}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=partition_key,
            attributes=[aws.dynamodb.TableAttributeArgs(name=partition_key, type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=key.arn
            ),
            stream_enabled=True,
            stream_view_type="NEW_AND_OLD_IMAGES",
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=ttl_attribute, enabled=True)
            if ttl_attribute
            else None,
            deletion_protection_enabled=True,
            # The dr stack adds replicas with TableReplica; this stack must not remove them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["replicas"]),
        )


@dataclass
class PrimaryReferenceArgs:
    """What the dr stack reads from the primary stack."""

    peer_stack: str
    database: DatabaseSettings
    # settings.TRAFFIC_CONTROLS: the primary must switch traffic the same way.
    traffic_control: str


class PrimaryReference(pulumi.ComponentResource):
    """The primary stack's outputs, read once by the dr stack and checked before anything is
    built from them: DataReplication's sources, the failover handler's targets and, with routing
    controls, the routing control dr's failover record follows (so it exists before the region
    that holds that record)."""

    outputs: pulumi.Output[dict[str, Any]]
    # With trafficControl routing-control: the primary's routing controls; None otherwise.
    routing_controls: pulumi.Output[RoutingControls] | None

    def __init__(
        self, name: str, args: PrimaryReferenceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:data:PrimaryReference", name, None, opts)
        stack = qualified(args.peer_stack)
        checked = stack_outputs(
            f"{name}-primary",
            args.peer_stack,
            (*DR_NEEDS_FROM_PRIMARY, database_source_output(args.database)),
            "dr",
            pulumi.ResourceOptions(parent=self),
        )
        self.outputs = checked.apply(
            lambda outputs: same_traffic_control(stack, outputs, args.traffic_control)
        )
        # The reference's outputs are secret as a whole when any output is (the kubeconfig);
        # ARNs and endpoint URLs are not, and stay readable in diffs, state and policies.
        self.routing_controls = (
            pulumi.Output.unsecret(
                self.outputs.apply(lambda outputs: RoutingControls.from_outputs(stack, outputs))
            )
            if args.traffic_control == ROUTING_CONTROL
            else None
        )
        self.register_outputs({})


class TrafficControlMismatchError(Exception):
    """The primary switches traffic in another way than this stack's settings say."""


def same_traffic_control(stack: str, outputs: dict[str, Any], wanted: str) -> dict[str, Any]:
    """`outputs` of a primary that switches traffic as this stack does; a primary deployed before
    the setting existed exports none and inverted its health check."""
    theirs = outputs.get(StackOutput.TRAFFIC_CONTROL) or HEALTH_CHECK_INVERSION
    if theirs != wanted:
        raise TrafficControlMismatchError(
            f"stack {stack!r} switches traffic with {theirs} but this stack's "
            f"trading:dns.trafficControl is {wanted}: failover would flip a switch that the "
            "other record does not follow; set the same trading:dns.trafficControl in both "
            "stacks and deploy the primary first"
        )
    return outputs


class DataReplication(pulumi.ComponentResource):
    """The dr copies of the primary's stores, read from the primary stack's outputs."""

    database: Database
    primary_database_identifier: pulumi.Output[str]
    primary_health_check_id: pulumi.Output[str]
    primary_endpoint: pulumi.Output[str]
    global_cluster_identifier: pulumi.Output[str] | None
    data_key_arn: pulumi.Output[str]
    batch_replication: BatchReplicationRole
    exports: dict[str, Any]

    def __init__(
        self,
        name: str,
        args: DataArgs,
        reversed_direction: bool,
        primary: PrimaryReference,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("trading:data:DataReplication", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        database_field = database_source_output(args.database)
        source = primary.outputs
        key = _data_key(args, self)

        # Reversed, a promoted postgres replica is this stack's writer; an Aurora secondary
        # stays in the global cluster whichever region writes.
        promoted = reversed_direction and not args.database.is_aurora
        self.database = Database(
            name,
            _database_args(
                args,
                args.database.replica_instance_class,
                None if promoted else source.apply(lambda o: str(o[database_field])),
                promoted,
                key.arn,
            ),
            child,
        )
        table_replicas = {
            table: aws.dynamodb.TableReplica(
                f"{name}-{table}-replica",
                global_table_arn=source.apply(lambda o, t=table: str(o["tableArns"][t])),
                kms_key_arn=key.arn,
                point_in_time_recovery=True,
                deletion_protection_enabled=True,
                opts=child,
            )
            for table in TABLES
        }
        records = records_buckets(name, args, key.arn, self)
        # What failback's Batch Replication runs as (README, failback runbook).
        self.batch_replication = BatchReplicationRole(
            name, BatchReplicationRoleArgs(args.context.account, records.arn, key.arn), child
        )

        primary_key_arn = source.apply(lambda o: str(o["dataKeyArn"]))
        primary_bucket = _Bucket(
            source.apply(lambda o: str(o["recordsBucketName"])),
            source.apply(lambda o: str(o["recordsBucketArn"])),
            primary_key_arn,
            args.peer_region,
            source.apply(lambda o: str(o["alertsTopicArn"])),
            # The primary's records bucket is built by the same `records_buckets`.
            uses_bucket_key(primary_key_arn),
        )
        dr_bucket = _Bucket(
            records.bucket_name,
            records.arn,
            key.arn,
            args.context.region,
            args.context.alerts_topic_arn,
            records.bucket_key_enabled,
        )
        origin, target = (
            (dr_bucket, primary_bucket)
            if reversed_direction
            else (
                primary_bucket,
                dr_bucket,
            )
        )
        self._bucket_replication(origin, target, records)
        self._replication_alarms(origin, target, source)

        self.primary_database_identifier = source.apply(lambda o: str(o["databaseIdentifier"]))
        self.primary_health_check_id = source.apply(lambda o: str(o["healthCheckId"]))
        self.primary_endpoint = source.apply(lambda o: f"https://{o['regionalEndpoint']}")
        self.global_cluster_identifier = (
            source.apply(lambda o: str(o["globalClusterIdentifier"]))
            if args.database.is_aurora
            else None
        )
        self.data_key_arn = key.arn
        self.exports = {
            "databaseArn": self.database.arn,
            "databaseIdentifier": self.database.identifier,
            "tableReplicaArns": {t: r.arn for t, r in table_replicas.items()},
            "tableNames": source.apply(lambda o: o["tableNames"]),
            "recordsBucketName": records.bucket_name,
            "primaryRecordsBucketName": primary_bucket.name,
            "dataKeyArn": key.arn,
            # The primary's master credentials, replicated here under the same name: what the
            # promoted writer is reached with after a failover.
            "masterSecretName": source.apply(lambda o: str(o["masterSecretName"])),
        }
        self.register_outputs(self.exports)

    def _bucket_replication(self, origin: _Bucket, target: _Bucket, records: SecureBucket) -> None:
        name = self._name
        role = service_role(
            f"{name}-s3-replication", "s3.amazonaws.com", pulumi.ResourceOptions(parent=self)
        )
        aws.iam.RolePolicy(
            f"{name}-s3-replication",
            role=role.id,
            policy=pulumi.Output.all(origin.arn, origin.key_arn, target.arn, target.key_arn).apply(
                lambda v: replication_policy(
                    origin_arn=v[0],
                    origin_key=v[1],
                    origin_region=origin.region,
                    target_arn=v[2],
                    target_key=v[3],
                    target_region=target.region,
                    origin_bucket_key=origin.bucket_key,
                    target_bucket_key=target.bucket_key,
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-s3-replication",
            # The configuration lives on the origin bucket, so in the origin's region.
            region=origin.region,
            bucket=origin.name,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="records-to-peer-region",
                    status="Enabled",
                    priority=1,
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Enabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        ),
                        replica_modifications=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaReplicaModificationsArgs(
                            status="Enabled"
                        ),
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=target.arn,
                        storage_class="STANDARD",
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=target.key_arn
                        ),
                        replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                            status="Enabled",
                            time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(
                                minutes=S3_RTC_MINUTES
                            ),
                        ),
                        metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                            status="Enabled",
                            event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                                minutes=S3_RTC_MINUTES
                            ),
                        ),
                    ),
                )
            ],
            # Replication needs versioning on the destination first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[records.versioning]),
        )

    def _replication_alarms(
        self, origin: _Bucket, target: _Bucket, source: pulumi.Output[dict[str, Any]]
    ) -> None:
        """DynamoDB and S3 publish replication metrics in the region that writes, so these
        alarms live there and page that region's alerts topic."""
        name = self._name

        three_of_five = Evaluation(
            period_seconds=60, periods=5, missing_data="notBreaching", datapoints_to_alarm=3
        )

        def alarm(label: str, description: str, metric: Metric, threshold: float) -> None:
            metric_alarm(
                f"{name}-{label}",
                description=description,
                metric=metric,
                threshold=threshold,
                comparison="GreaterThanThreshold",
                evaluation=three_of_five,
                topic_arn=origin.alerts_topic_arn,
                region=origin.region,
                opts=pulumi.ResourceOptions(parent=self),
            )

        rpo_ms = self._args.replica_lag_alarm_seconds * 1000
        for table in TABLES:
            alarm(
                f"{table}-replication-latency",
                f"{table} takes more than {self._args.replica_lag_alarm_seconds} s to reach "
                f"{target.region} (half the RPO objective)",
                Metric(
                    "AWS/DynamoDB",
                    "ReplicationLatency",
                    {
                        "TableName": source.apply(lambda o, t=table: str(o["tableNames"][t])),
                        "ReceivingRegion": target.region,
                    },
                    "Maximum",
                ),
                rpo_ms,
            )
        s3_dimensions = {
            "SourceBucket": origin.name,
            "DestinationBucket": target.name,
            "RuleId": "records-to-peer-region",
        }
        alarm(
            "s3-replication-failures",
            "Objects of the records bucket failed to replicate to the peer region",
            Metric("AWS/S3", "OperationsFailedReplication", s3_dimensions, "Sum"),
            0,
        )
        alarm(
            "s3-replication-latency",
            f"Records replication exceeds the {S3_RTC_MINUTES}-minute Replication Time Control",
            Metric("AWS/S3", "ReplicationLatency", s3_dimensions, "Maximum"),
            S3_RTC_MINUTES * 60,
        )


@dataclass(frozen=True)
class _Bucket:
    """One end of the records replication."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    region: str
    alerts_topic_arn: pulumi.Input[str]
    # Whether the bucket encrypts with an S3 Bucket Key (see `storage.uses_bucket_key`).
    bucket_key: bool


def replication_policy(
    *,
    origin_arn: str,
    origin_key: str,
    origin_region: str,
    target_arn: str,
    target_key: str,
    target_region: str,
    origin_bucket_key: bool,
    target_bucket_key: bool,
) -> str:
    """Least privilege for S3 replication: read versions from the origin, write replicas to the
    target, and use each side's key only through S3 in its own region, for its own objects.

    With an S3 Bucket Key on the origin or the target, S3 uses the bucket ARN instead of the
    object ARN as the `aws:s3:arn` encryption context (S3 User Guide, "Replicating encrypted
    objects", Amazon S3 Bucket Keys and replication), so each key's condition then admits its
    bucket's ARN too; object ARNs stay allowed for objects written without a bucket key. The
    target key also needs kms:Decrypt then: S3 checks the bucket key's integrity with it."""
    bucket_key = origin_bucket_key or target_bucket_key

    def encryption_context(bucket_arn: str) -> str | list[str]:
        return [bucket_arn, f"{bucket_arn}/*"] if bucket_key else f"{bucket_arn}/*"

    replica_actions = ["kms:Encrypt", "kms:GenerateDataKey"]
    if bucket_key:
        replica_actions.append("kms:Decrypt")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadReplicationConfiguration",
                    "Effect": "Allow",
                    "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    "Resource": origin_arn,
                },
                {
                    "Sid": "ReadObjectVersions",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    "Resource": f"{origin_arn}/*",
                },
                {
                    "Sid": "WriteReplicas",
                    "Effect": "Allow",
                    "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    "Resource": f"{target_arn}/*",
                },
                {
                    "Sid": "DecryptOriginObjects",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": origin_key,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"s3.{origin_region}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": encryption_context(origin_arn)
                        },
                    },
                },
                {
                    "Sid": "EncryptReplicas",
                    "Effect": "Allow",
                    "Action": replica_actions,
                    "Resource": target_key,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"s3.{target_region}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": encryption_context(target_arn)
                        },
                    },
                },
            ],
        }
    )
