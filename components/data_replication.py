"""`DataReplication`: the dr copies of the primary's stores, read from the primary stack's outputs.

The database as a replica (or, replication reversed, the promoted writer), the DynamoDB tables'
global-table replicas, the records bucket with its replication in either direction
(components/records_replication.py), the role failback's Batch Replication runs as, and the
replication alarms in the region that writes. Apart from `PrimaryData`
(components/primary_data.py): the two never exist in the same stack.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import Evaluation, Metric, metric_alarm
from components.batch_replication import BatchReplicationRole, BatchReplicationRoleArgs
from components.data import (
    TABLES,
    DataArgs,
    data_key,
    database_args,
    database_source_output,
    records_buckets,
)
from components.database import Database
from components.primary_reference import PrimaryReference
from components.records_replication import (
    RULE_ID,
    S3_RTC_MINUTES,
    ReplicationEnd,
    bucket_replication,
)
from components.storage import uses_bucket_key


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
        key = data_key(args, self)

        # Reversed, a promoted postgres replica is this stack's writer; an Aurora secondary
        # stays in the global cluster whichever region writes.
        promoted = reversed_direction and not args.database.is_aurora
        self.database = Database(
            name,
            database_args(
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
        primary_bucket = ReplicationEnd(
            source.apply(lambda o: str(o["recordsBucketName"])),
            source.apply(lambda o: str(o["recordsBucketArn"])),
            primary_key_arn,
            args.peer_region,
            source.apply(lambda o: str(o["alertsTopicArn"])),
            # The primary's records bucket is built by the same `records_buckets`.
            uses_bucket_key(primary_key_arn),
        )
        dr_bucket = ReplicationEnd(
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
        bucket_replication(name, origin, target, records.versioning, self)
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

    def _replication_alarms(
        self, origin: ReplicationEnd, target: ReplicationEnd, source: pulumi.Output[dict[str, Any]]
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
            "RuleId": RULE_ID,
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
