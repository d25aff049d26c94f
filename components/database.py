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

This module is the component and what both engines need from it first (firewall, subnet group,
monitoring role, credentials); the engine paths are components/database_postgres.py and
components/database_aurora.py, on the shared parts in components/database_engine.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.database_aurora import aurora_cluster
from components.database_engine import MASTER_USERNAME, EngineFoundation
from components.database_postgres import rds_instance
from components.iam import service_role
from settings import Database as DatabaseSettings

PORT = 5432
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

    @property
    def is_replica(self) -> bool:
        return self.replicate_from is not None


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
        self.master_secret_name = None

        security_group = self._firewall()
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=args.identifier,
            subnet_ids=list(args.subnet_ids),
            description=f"Data subnets of {args.identifier}",
            opts=self._child,
        )
        monitoring_role = self._monitoring()
        foundation = EngineFoundation(
            name,
            args,
            self,
            subnet_group_name=subnet_group.name,
            security_group_id=security_group.id,
            monitoring_role_arn=monitoring_role.arn,
            password=self._master_credentials(args.credentials_replica_region),
        )
        built = aurora_cluster(foundation) if args.settings.is_aurora else rds_instance(foundation)
        self.arn = built.arn
        self.identifier = built.identifier
        self.endpoint = built.endpoint
        self.global_cluster_identifier = built.global_cluster_identifier
        self.register_outputs({"arn": self.arn, "identifier": self.identifier})

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
