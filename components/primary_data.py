"""`PrimaryData`: the stores the primary region writes to (database, tables, records bucket).

Apart from `DataReplication` (components/data_replication.py), its dr copies: the two never
exist in the same stack, and they share only what components/data.py builds for both.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.data import (
    TABLES,
    DataArgs,
    data_key,
    database_args,
    database_source_output,
    records_buckets,
)
from components.database import Database
from components.references import stack_outputs


class PrimaryData(pulumi.ComponentResource):
    """The stores the primary region writes to. With the replication direction reversed
    (failback), its database is rebuilt as a replica of dr's writer."""

    database: Database
    exports: dict[str, Any]

    def __init__(
        self, name: str, args: DataArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:data:PrimaryData", name, None, opts)
        key = data_key(args, self)
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
            database_args(
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
