"""`Database`: the PostgreSQL tier, as a writer or as a cross-region replica.

Two engines, one interface:
- `postgres`: an RDS instance; the replica is a cross-region read replica of the writer's ARN.
- `aurora-postgresql`: an Aurora global database; the writer stack creates the global cluster
  and its primary cluster, the replica stack a secondary cluster in it.

Credentials, both engines: RDS cannot manage the master password in Secrets Manager for a DB
instance with read replicas, for a read replica, or for a cluster in an Aurora global database
(RDS and Aurora User Guides, "Limitations for Secrets Manager integration"). So the stack that
keeps the credentials (the primary's, in either replication direction) generates the password,
stores it in a Secrets Manager secret under the data key and replicates that secret to the peer
region; the replica inherits the password with the data, so after a failover the promoted
writer takes the same credentials, read from the secret's replica in its own region.
Applications use IAM database authentication, which every instance and cluster enables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.alarms import Evaluation, Metric, metric_alarm
from components.iam import service_role
from settings import AUTO_MINOR_VERSION_UPGRADE
from settings import Database as DatabaseSettings

PORT = 5432
MASTER_USERNAME = "trading_admin"
DATABASE_NAME = "trading"
MONITORING_INTERVAL_SECONDS = 15
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
# After the 03:00-04:00 backup window, UTC, the same in both regions.
AURORA_MAINTENANCE_WINDOW = "sun:05:00-sun:06:00"
# The key of the credentials' replica: Secrets Manager's own key in the replica's region. A
# customer key there would belong either to this stack, which then holds a resource in the
# peer region, or to the peer stack, which does not exist yet when this one first deploys.
SECRET_REPLICA_KEY = "alias/aws/secretsmanager"


@dataclass
class DatabaseArgs:
    identifier: str
    settings: DatabaseSettings
    instance_class: str
    # None: this stack holds the writer. Otherwise what to replicate: the writer instance's ARN
    # (postgres) or the global cluster's identifier (aurora-postgresql).
    replicate_from: pulumi.Input[str] | None
    multi_az: bool
    kms_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    client_security_group_id: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    replica_lag_alarm_seconds: int
    # Aurora only: the global cluster a writer creates.
    global_cluster_identifier: str = ""
    # Set in the stack that keeps the master credentials (the primary's, whichever way data
    # flows) to the region their replica goes to; None in the peer stack, whose database
    # inherits them from its source.
    credentials_replica_region: str | None = None


class Database(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    identifier: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    global_cluster_identifier: pulumi.Output[str] | None
    master_secret_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:data:Database", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.global_cluster_identifier = None
        self.master_secret_name = None

        self._security_group = self._firewall()
        self._subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=args.identifier,
            subnet_ids=list(args.subnet_ids),
            description=f"Data subnets of {args.identifier}",
            opts=self._child,
        )
        self._monitoring_role = self._monitoring()
        password = self._master_credentials(args.credentials_replica_region)
        if args.settings.is_aurora:
            self._aurora(password)
        else:
            self._instance(password)
        self.register_outputs({"arn": self.arn, "identifier": self.identifier})

    @property
    def is_replica(self) -> bool:
        return self._args.replicate_from is not None

    def _firewall(self) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-sg",
            vpc_id=self._args.vpc_id,
            description=f"PostgreSQL {self._args.identifier}: the EKS nodes only",
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-from-nodes",
            security_group_id=group.id,
            referenced_security_group_id=self._args.client_security_group_id,
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            description="PostgreSQL from the EKS nodes",
            opts=self._child,
        )
        return group

    def _monitoring(self) -> aws.iam.Role:
        role = service_role(f"{self._name}-monitoring", "monitoring.rds.amazonaws.com", self._child)
        aws.iam.RolePolicyAttachment(
            f"{self._name}-monitoring",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AMAZON_RDS_ENHANCED_MONITORING_ROLE,
            opts=self._child,
        )
        return role

    def _log_groups(self, kind: str, identifier: str, exports: Sequence[str]) -> list:
        # RDS creates these on first write, unencrypted and kept forever; creating them first
        # gives them our key and retention.
        return [
            aws.cloudwatch.LogGroup(
                f"{self._name}-{export}-logs",
                name=f"/aws/rds/{kind}/{identifier}/{export}",
                kms_key_id=self._args.logs_key_arn,
                retention_in_days=self._args.log_retention_days,
                opts=self._child,
            )
            for export in exports
        ]

    def _parameter_family(self) -> str:
        major = self._args.settings.major_version
        return f"aurora-postgresql{major}" if self._args.settings.is_aurora else f"postgres{major}"

    def _lag_alarm(self, metric: str, dimensions: dict[str, pulumi.Input[str]], scale: int) -> None:
        metric_alarm(
            f"{self._name}-replica-lag",
            description=(
                f"{self._args.identifier} lags its writer by more than "
                f"{self._args.replica_lag_alarm_seconds} s (half the RPO objective)"
            ),
            metric=Metric("AWS/RDS", metric, dimensions, "Maximum"),
            threshold=self._args.replica_lag_alarm_seconds * scale,
            comparison="GreaterThanThreshold",
            # No lag datapoints means replication itself has stopped reporting.
            evaluation=Evaluation(
                period_seconds=60, periods=3, missing_data="breaching", datapoints_to_alarm=2
            ),
            topic_arn=self._args.alerts_topic_arn,
            opts=self._child,
        )

    def _instance(self, password: pulumi.Output[str] | None) -> None:
        args = self._args
        exports = ("postgresql", "upgrade")
        logs = self._log_groups("instance", args.identifier, exports)
        parameters = aws.rds.ParameterGroup(
            f"{self._name}-params",
            name=args.identifier,
            family=self._parameter_family(),
            description=f"TLS-only connections to {args.identifier}",
            parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
            # The failover Lambda fences a writer by setting `default_transaction_read_only`
            # in this group; `pulumi up` after a refresh would otherwise reset it and unfence
            # the old primary. A parameter added here later applies to new groups only.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(ignore_changes=["parameters"])
            ),
        )
        # A replica inherits engine, credentials and storage from its writer. A writer without
        # `password` is a promoted replica (failback direction): it keeps the password it
        # replicated, the one in the primary stack's secret.
        writer = not self.is_replica
        instance = aws.rds.Instance(
            f"{self._name}-db",
            identifier=args.identifier,
            replicate_source_db=args.replicate_from,
            engine="postgres" if writer else None,
            engine_version=args.settings.engine_version if writer else None,
            username=MASTER_USERNAME if writer else None,
            db_name=DATABASE_NAME if writer else None,
            password=password if writer else None,
            allocated_storage=args.settings.allocated_storage_gb if writer else None,
            instance_class=args.instance_class,
            max_allocated_storage=args.settings.allocated_storage_gb * 4,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            multi_az=args.multi_az,
            db_subnet_group_name=self._subnet_group.name,
            vpc_security_group_ids=[self._security_group.id],
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
            monitoring_role_arn=self._monitoring_role.arn,
            enabled_cloudwatch_logs_exports=list(exports),
            auto_minor_version_upgrade=AUTO_MINOR_VERSION_UPGRADE,
            ca_cert_identifier=CA_CERTIFICATE,
            # The identifier is fixed (failover finds the database by it), so a replacement, as
            # when failback rebuilds a writer as a replica, must delete first; deletion
            # protection keeps that a deliberate step (README, "Failback runbook").
            opts=pulumi.ResourceOptions(parent=self, depends_on=logs, delete_before_replace=True),
        )
        self.arn = instance.arn
        self.identifier = instance.identifier
        self.endpoint = instance.address
        self._health_alarms(instance)
        if self.is_replica:
            self._lag_alarm("ReplicaLag", {"DBInstanceIdentifier": instance.identifier}, 1)

    def _health_alarms(self, instance: aws.rds.Instance) -> None:
        """CPU saturation and storage running out, on the writer and the replica alike."""
        storage_floor = self._args.settings.allocated_storage_gb * 1024**3 // 10
        dimensions = {"DBInstanceIdentifier": instance.identifier}
        self._alarm("cpu", "CPUUtilization", 80, "GreaterThanThreshold", dimensions)
        self._alarm(
            "free-storage", "FreeStorageSpace", storage_floor, "LessThanThreshold", dimensions
        )

    def _alarm(
        self,
        label: str,
        metric: str,
        threshold: float,
        comparison: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        *,
        statistic: str = "Average",
    ) -> None:
        metric_alarm(
            f"{self._name}-{label}",
            description=f"{self._args.identifier}: {metric} crossed {threshold}",
            metric=Metric("AWS/RDS", metric, dimensions, statistic),
            threshold=threshold,
            comparison=comparison,
            evaluation=Evaluation(period_seconds=300, periods=3, missing_data="notBreaching"),
            topic_arn=self._args.alerts_topic_arn,
            opts=self._child,
        )

    def _aurora(self, password: pulumi.Output[str] | None) -> None:
        args = self._args
        exports = ("postgresql",)
        logs = self._log_groups("cluster", args.identifier, exports)
        parameters = aws.rds.ClusterParameterGroup(
            f"{self._name}-params",
            name=args.identifier,
            family=self._parameter_family(),
            description=f"TLS-only connections to {args.identifier}",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1")
            ],
            opts=self._child,
        )
        if args.replicate_from is not None:
            global_id = args.replicate_from
        else:
            global_cluster = aws.rds.GlobalCluster(
                f"{self._name}-global",
                global_cluster_identifier=args.global_cluster_identifier,
                engine="aurora-postgresql",
                engine_version=args.settings.engine_version,
                database_name=DATABASE_NAME,
                storage_encrypted=True,
                deletion_protection=True,
                opts=self._child,
            )
            global_id = global_cluster.id
            self.global_cluster_identifier = global_cluster.global_cluster_identifier
        # A secondary cluster takes the global database's credentials; setting them is refused.
        writer = not self.is_replica
        cluster = aws.rds.Cluster(
            f"{self._name}-cluster",
            cluster_identifier=args.identifier,
            global_cluster_identifier=global_id,
            engine="aurora-postgresql",
            engine_version=args.settings.engine_version,
            master_username=MASTER_USERNAME if writer else None,
            master_password=password if writer else None,
            database_name=DATABASE_NAME if writer else None,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_subnet_group_name=self._subnet_group.name,
            vpc_security_group_ids=[self._security_group.id],
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
                parent=self,
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
                f"{self._name}-instance-{index}",
                identifier=f"{args.identifier}-{index}",
                cluster_identifier=cluster.id,
                instance_class=args.instance_class,
                engine=aws.rds.EngineType.AURORA_POSTGRESQL,
                db_subnet_group_name=self._subnet_group.name,
                publicly_accessible=False,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.kms_key_arn,
                monitoring_interval=MONITORING_INTERVAL_SECONDS,
                monitoring_role_arn=self._monitoring_role.arn,
                # A global database's minor is upgraded on the global cluster (settings).
                auto_minor_version_upgrade=False,
                ca_cert_identifier=CA_CERTIFICATE,
                opts=self._child,
            )
        self.arn = cluster.arn
        self.identifier = cluster.cluster_identifier
        self.endpoint = cluster.endpoint
        # By role, not instance: Aurora moves the writer role between instances, and AWS
        # advises alarms on the WRITER and READER role metrics (Aurora User Guide, "Creating
        # CloudWatch alarms to monitor Amazon Aurora",
        # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/creating_alarms.html).
        # Both roles in both regions: a secondary has only readers until a failover makes one
        # its writer. No storage alarm: the cluster volume grows by itself ("Managing
        # performance and scaling for Aurora DB clusters", storage scaling).
        for label, role in (("cpu", "WRITER"), ("reader-cpu", "READER")):
            self._alarm(
                label,
                "CPUUtilization",
                80,
                "GreaterThanThreshold",
                {"DBClusterIdentifier": cluster.cluster_identifier, "Role": role},
                statistic="Maximum",
            )
        if self.is_replica:
            # Aurora reports global replication lag in milliseconds.
            self._lag_alarm(
                "AuroraGlobalDBReplicationLag",
                {"DBClusterIdentifier": cluster.cluster_identifier},
                1000,
            )

    def _master_credentials(self, replica_region: str | None) -> pulumi.Output[str] | None:
        """The master password, generated here and kept only as a secret: in Pulumi state (never
        config) and in a Secrets Manager secret under the data key, replicated to the peer
        region, so the credentials are readable where the promoted writer is.

        No rotation schedule: Secrets Manager rotates a secret it does not manage only through
        a rotation Lambda (`SecretRotation.rotation_lambda_arn` is required for such a secret),
        and this program deploys none. Rotate by replacing the RandomPassword resource: the
        writer and the secret take the new value, and the secret's replica follows it."""
        if replica_region is None:
            return None
        generated = random.RandomPassword(
            f"{self._name}-master-password",
            length=40,
            special=True,
            # A master password may hold any printable ASCII but '/', '"' and '@'.
            override_special="!#$%^&*()-_=+[]{}<>:?",
            opts=self._child,
        )
        password = pulumi.Output.secret(generated.result)
        secret = aws.secretsmanager.Secret(
            f"{self._name}-master",
            name=f"{self._args.identifier}/master",
            kms_key_id=self._args.kms_key_arn,
            description=f"Master credentials of {self._args.identifier}",
            replicas=[
                aws.secretsmanager.SecretReplicaArgs(
                    region=replica_region, kms_key_id=SECRET_REPLICA_KEY
                )
            ],
            opts=self._child,
        )
        aws.secretsmanager.SecretVersion(
            f"{self._name}-master",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(
                {"username": MASTER_USERNAME, "password": password}
            ),
            opts=self._child,
        )
        self.master_secret_name = secret.name
        return password
