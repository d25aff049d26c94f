"""Databases: RDS and Aurora, DynamoDB, Redshift, OpenSearch (and its Elasticsearch type)."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .common import (
    Settings,
    Stack,
    amount,
    flag,
    mapping,
    referring,
    resource_policy,
    stack_policy,
    text,
)

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
TABLE = "aws:dynamodb/table:Table"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
REDSHIFT = "aws:redshift/cluster:Cluster"
REDSHIFT_LOGGING = "aws:redshift/logging:Logging"
SEARCH_DOMAINS = ("aws:opensearch/domain:Domain", "aws:elasticsearch/domain:Domain")


def is_replica(props: object) -> bool:
    return bool(text(mapping(props).get("replicateSourceDb")))


def _storage_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    props = args.props
    # A replica is encrypted as its source is; the provider ignores storageEncrypted on one.
    if args.resource_type == INSTANCE and is_replica(props):
        return
    serverless = props.get("engineMode") == "serverless"
    if not flag(props.get("storageEncrypted"), serverless):
        yield "database storage is not encrypted (storageEncrypted defaults to false)"


def _customer_key(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not text(args.props.get("kmsKeyId")):
        yield "database is not encrypted with a customer KMS key (kmsKeyId)"


def _not_public(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if flag(args.props.get("publiclyAccessible"), False):
        yield "database is publicly accessible"


def _deletion_protection(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not flag(args.props.get("deletionProtection"), False):
        yield "database has no deletion protection (deletionProtection defaults to false)"


def _backup_retention(args: ResourceValidationArgs, config: Settings) -> Iterable[str]:
    if is_replica(args.props) and not flag(config["checkReadReplicas"], True):
        return
    minimum = amount(config["minimumBackupDays"], 0)
    # The provider's defaults: 0 days for an instance, 1 for a cluster.
    default = 1.0 if args.resource_type == CLUSTER else 0.0
    kept = amount(args.props.get("backupRetentionPeriod"), default)
    if kept < minimum:
        yield f"backupRetentionPeriod is {kept:g}, fewer than {minimum:g} days"


def _multi_az(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not is_replica(args.props) and not flag(args.props.get("multiAz"), False):
        yield "a writer database instance is not Multi-AZ (multiAz defaults to false)"


def _dynamodb_key(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if args.resource_type == TABLE_REPLICA:
        key = text(args.props.get("kmsKeyArn"))
    else:
        encryption = mapping(args.props.get("serverSideEncryption"))
        enabled = flag(encryption.get("enabled"), False)
        key = text(encryption.get("kmsKeyArn")) if enabled else None
    if not key:
        yield "table is not encrypted with a customer KMS key"


def _dynamodb_recovery(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    recovery = args.props.get("pointInTimeRecovery")
    if args.resource_type == TABLE:
        recovery = mapping(recovery).get("enabled")
    if not flag(recovery, False):
        yield "table has no point-in-time recovery (pointInTimeRecovery defaults to off)"


def _redshift_public(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if flag(args.props.get("publiclyAccessible"), False):
        yield "Redshift cluster is publicly accessible"


def _redshift_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    # The provider sends `encrypted` as a string; it defaults to "true".
    if not flag(args.props.get("encrypted"), True):
        yield "Redshift cluster is not encrypted at rest (encrypted)"


def _redshift_logging(cluster: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    entries = stack.of_type(REDSHIFT_LOGGING)
    if not referring(entries, "clusterIdentifier", cluster, "clusterIdentifier"):
        yield f"Redshift cluster {cluster.name} has no audit logging (aws.redshift.Logging)"


def _search_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not flag(mapping(args.props.get("encryptAtRest")).get("enabled"), False):
        yield "search domain is not encrypted at rest (encryptAtRest defaults to off)"


def _search_in_vpc(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not mapping(args.props.get("vpcOptions")).get("subnetIds"):
        yield "search domain has a public endpoint (no vpcOptions subnets)"


RDS_PAGE = "https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/"

POLICIES = [
    resource_policy(
        "rds-storage-encrypted",
        "RDS instances and Aurora clusters encrypt their storage; storageEncrypted defaults to "
        f"false, and a read replica follows its source ({RDS_PAGE}).",
        (INSTANCE, CLUSTER),
        _storage_encrypted,
        severity=Severity.HIGH,
        remediation="Set storage_encrypted=True (encryption cannot be added to a running "
        "database: restore an encrypted snapshot).",
    ),
    resource_policy(
        "rds-customer-managed-key",
        "RDS instances and Aurora clusters are encrypted with a customer KMS key, whose "
        "policy the stack controls, not the AWS managed key "
        "(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html).",
        (INSTANCE, CLUSTER),
        _customer_key,
        severity=Severity.MEDIUM,
        remediation="Set kms_key_id to a customer key of the database's region.",
    ),
    resource_policy(
        "rds-not-publicly-accessible",
        f"RDS and Aurora instances are not publicly accessible ({RDS_PAGE}).",
        (INSTANCE, CLUSTER_INSTANCE),
        _not_public,
        severity=Severity.CRITICAL,
        remediation="Set publicly_accessible=False and reach the database from inside the VPC.",
    ),
    resource_policy(
        "rds-deletion-protection",
        "RDS instances and Aurora clusters have deletion protection, which defaults to off "
        f"({RDS_PAGE}).",
        (INSTANCE, CLUSTER),
        _deletion_protection,
        severity=Severity.HIGH,
        remediation="Set deletion_protection=True.",
    ),
    resource_policy(
        "rds-backup-retention",
        "RDS instances and Aurora clusters keep automated backups for at least "
        "`minimumBackupDays` (the provider defaults to 0 days for an instance, 1 for a cluster; "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.BackupRetention.html).",
        (INSTANCE, CLUSTER),
        _backup_retention,
        severity=Severity.HIGH,
        remediation="Set backup_retention_period to at least minimumBackupDays.",
        config={
            "minimumBackupDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 7},
            "checkReadReplicas": {"type": "boolean", "default": True},
        },
    ),
    resource_policy(
        "rds-multi-az-writers",
        "RDS instances that take writes run Multi-AZ, which defaults to off; a read replica "
        "is exempt (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZ.html).",
        (INSTANCE,),
        _multi_az,
        severity=Severity.HIGH,
        remediation="Set multi_az=True on writer instances.",
    ),
    resource_policy(
        "dynamodb-customer-managed-key",
        "DynamoDB tables and replicas are encrypted with a customer KMS key; without one "
        "DynamoDB uses a key owned by AWS "
        "(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html).",
        (TABLE, TABLE_REPLICA),
        _dynamodb_key,
        severity=Severity.HIGH,
        remediation="Set server_side_encryption (enabled, kms_key_arn) or a replica's kms_key_arn.",
    ),
    resource_policy(
        "dynamodb-point-in-time-recovery",
        "DynamoDB tables and replicas have point-in-time recovery, which is off unless enabled "
        "(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html).",
        (TABLE, TABLE_REPLICA),
        _dynamodb_recovery,
        severity=Severity.HIGH,
        remediation="Set point_in_time_recovery (enabled=True).",
    ),
    resource_policy(
        "redshift-not-publicly-accessible",
        "Redshift clusters are not publicly accessible "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/redshift/cluster/).",
        (REDSHIFT,),
        _redshift_public,
        severity=Severity.CRITICAL,
        remediation="Set publicly_accessible=False.",
    ),
    resource_policy(
        "redshift-encrypted",
        "Redshift clusters are encrypted at rest; the provider's `encrypted` defaults to true "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/redshift/cluster/).",
        (REDSHIFT,),
        _redshift_encrypted,
        severity=Severity.HIGH,
        remediation='Leave encrypted unset or "true"; set kms_key_id for a customer key.',
    ),
    stack_policy(
        "redshift-audit-logging",
        "Redshift clusters deliver audit logs through an aws.redshift.Logging resource "
        "(https://docs.aws.amazon.com/redshift/latest/mgmt/db-auditing.html).",
        (REDSHIFT,),
        _redshift_logging,
        severity=Severity.MEDIUM,
        remediation="Add an aws.redshift.Logging for the cluster.",
    ),
    resource_policy(
        "opensearch-encrypted-at-rest",
        "OpenSearch and Elasticsearch domains are encrypted at rest, which is off unless "
        "enabled (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/encryption-at-rest.html).",
        SEARCH_DOMAINS,
        _search_encrypted,
        severity=Severity.HIGH,
        remediation="Set encrypt_at_rest (enabled=True, kms_key_id).",
    ),
    resource_policy(
        "opensearch-in-vpc",
        "OpenSearch and Elasticsearch domains live in a VPC, not on a public endpoint "
        "(https://docs.aws.amazon.com/opensearch-service/latest/developerguide/vpc.html).",
        SEARCH_DOMAINS,
        _search_in_vpc,
        severity=Severity.HIGH,
        remediation="Set vpc_options with private subnet ids (this replaces the domain).",
    ),
]
