"""Database policies, case by case: RDS and Aurora, DynamoDB, Redshift, OpenSearch."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_policies import UNKNOWN, Case, R, case, check

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
TABLE = "aws:dynamodb/table:Table"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
REDSHIFT = "aws:redshift/cluster:Cluster"
REDSHIFT_LOGGING = "aws:redshift/logging:Logging"
OPENSEARCH = "aws:opensearch/domain:Domain"
ELASTICSEARCH = "aws:elasticsearch/domain:Domain"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k"
SOURCE_ARN = "arn:aws:rds:us-east-1:123456789012:db:primary"

GOOD_DB: dict[str, Any] = {
    "storageEncrypted": True,
    "kmsKeyId": KEY_ARN,
    "deletionProtection": True,
    "backupRetentionPeriod": 14,
    "multiAz": True,
}


def db(**changes: Any) -> R:
    props = {**GOOD_DB, **changes}
    return R(INSTANCE, {k: v for k, v in props.items() if v is not None})


REPLICA = db(replicateSourceDb=SOURCE_ARN, multiAz=False, storageEncrypted=None)
GOOD_TABLE = {
    "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
    "pointInTimeRecovery": {"enabled": True},
}
REDSHIFT_CLUSTER = R(REDSHIFT, {"clusterIdentifier": "warehouse"}, "warehouse")
GOOD_DOMAIN = {
    "encryptAtRest": {"enabled": True, "kmsKeyId": KEY_ARN},
    "vpcOptions": {"subnetIds": ["subnet-1"]},
}

CASES = [
    case("rds-storage-encrypted", "compliant", db()),
    case(
        "rds-storage-encrypted",
        "non-compliant",
        db(storageEncrypted=False),
        "database storage is not encrypted (storageEncrypted defaults to false)",
    ),
    case(
        "rds-storage-encrypted",
        "missing",
        db(storageEncrypted=None),
        "database storage is not encrypted (storageEncrypted defaults to false)",
    ),
    case("rds-storage-encrypted", "unknown", db(storageEncrypted=UNKNOWN)),
    case("rds-storage-encrypted", "compliant: a replica follows its source", REPLICA),
    case(
        "rds-storage-encrypted",
        "compliant: a serverless cluster is encrypted by default",
        R(CLUSTER, {"engineMode": "serverless"}),
    ),
    case(
        "rds-storage-encrypted",
        "missing on a provisioned cluster",
        R(CLUSTER, {"engine": "aurora-postgresql"}),
        "database storage is not encrypted (storageEncrypted defaults to false)",
    ),
    case("rds-customer-managed-key", "compliant", db()),
    case(
        "rds-customer-managed-key",
        "non-compliant: an empty key",
        db(kmsKeyId=""),
        "database is not encrypted with a customer KMS key (kmsKeyId)",
    ),
    case(
        "rds-customer-managed-key",
        "missing",
        R(CLUSTER),
        "database is not encrypted with a customer KMS key (kmsKeyId)",
    ),
    case("rds-customer-managed-key", "unknown", db(kmsKeyId=UNKNOWN)),
    case("rds-not-publicly-accessible", "compliant", db(publiclyAccessible=False)),
    case(
        "rds-not-publicly-accessible",
        "non-compliant",
        R(CLUSTER_INSTANCE, {"publiclyAccessible": True}),
        "database is publicly accessible",
    ),
    case("rds-not-publicly-accessible", "missing (the provider's default is private)", db()),
    case("rds-not-publicly-accessible", "unknown", db(publiclyAccessible=UNKNOWN)),
    case("rds-deletion-protection", "compliant", db()),
    case(
        "rds-deletion-protection",
        "non-compliant",
        db(deletionProtection=False),
        "database has no deletion protection (deletionProtection defaults to false)",
    ),
    case(
        "rds-deletion-protection",
        "missing",
        R(CLUSTER),
        "database has no deletion protection (deletionProtection defaults to false)",
    ),
    case("rds-deletion-protection", "unknown", db(deletionProtection=UNKNOWN)),
    case("rds-backup-retention", "compliant", db()),
    case(
        "rds-backup-retention",
        "non-compliant",
        db(backupRetentionPeriod=3),
        "backupRetentionPeriod is 3, fewer than 7 days",
    ),
    case(
        "rds-backup-retention",
        "missing on an instance (the provider's default, 0)",
        db(backupRetentionPeriod=None),
        "backupRetentionPeriod is 0, fewer than 7 days",
    ),
    case(
        "rds-backup-retention",
        "missing on a cluster (the provider's default, 1)",
        R(CLUSTER),
        "backupRetentionPeriod is 1, fewer than 7 days",
    ),
    case("rds-backup-retention", "unknown", db(backupRetentionPeriod=UNKNOWN)),
    case(
        "rds-backup-retention",
        "non-compliant under a stricter threshold",
        db(),
        "backupRetentionPeriod is 14, fewer than 21 days",
        config={"minimumBackupDays": 21},
    ),
    case(
        "rds-backup-retention",
        "compliant: replicas exempted by config",
        db(replicateSourceDb=SOURCE_ARN, backupRetentionPeriod=0),
        config={"checkReadReplicas": False},
    ),
    case("rds-multi-az-writers", "compliant", db()),
    case(
        "rds-multi-az-writers",
        "non-compliant",
        db(multiAz=False),
        "a writer database instance is not Multi-AZ (multiAz defaults to false)",
    ),
    case(
        "rds-multi-az-writers",
        "missing",
        db(multiAz=None),
        "a writer database instance is not Multi-AZ (multiAz defaults to false)",
    ),
    case("rds-multi-az-writers", "unknown", db(multiAz=UNKNOWN)),
    case("rds-multi-az-writers", "compliant: a read replica", REPLICA),
    case("dynamodb-customer-managed-key", "compliant", R(TABLE, GOOD_TABLE)),
    case(
        "dynamodb-customer-managed-key",
        "non-compliant: encryption disabled",
        R(TABLE, {"serverSideEncryption": {"enabled": False, "kmsKeyArn": KEY_ARN}}),
        "table is not encrypted with a customer KMS key",
    ),
    case(
        "dynamodb-customer-managed-key",
        "missing (a key owned by AWS)",
        R(TABLE_REPLICA),
        "table is not encrypted with a customer KMS key",
    ),
    case(
        "dynamodb-customer-managed-key",
        "unknown",
        R(TABLE, {"serverSideEncryption": {"enabled": True, "kmsKeyArn": UNKNOWN}}),
    ),
    case("dynamodb-point-in-time-recovery", "compliant", R(TABLE, GOOD_TABLE)),
    case(
        "dynamodb-point-in-time-recovery",
        "non-compliant",
        R(TABLE_REPLICA, {"pointInTimeRecovery": False}),
        "table has no point-in-time recovery (pointInTimeRecovery defaults to off)",
    ),
    case(
        "dynamodb-point-in-time-recovery",
        "missing",
        R(TABLE),
        "table has no point-in-time recovery (pointInTimeRecovery defaults to off)",
    ),
    case(
        "dynamodb-point-in-time-recovery",
        "unknown",
        R(TABLE, {"pointInTimeRecovery": {"enabled": UNKNOWN}}),
    ),
    case(
        "redshift-not-publicly-accessible",
        "compliant",
        R(REDSHIFT, {"publiclyAccessible": False}),
    ),
    case(
        "redshift-not-publicly-accessible",
        "non-compliant",
        R(REDSHIFT, {"publiclyAccessible": True}),
        "Redshift cluster is publicly accessible",
    ),
    case(
        "redshift-not-publicly-accessible",
        "missing (the provider's default is private)",
        R(REDSHIFT),
    ),
    case(
        "redshift-not-publicly-accessible", "unknown", R(REDSHIFT, {"publiclyAccessible": UNKNOWN})
    ),
    case("redshift-encrypted", "compliant", R(REDSHIFT, {"encrypted": "true"})),
    case(
        "redshift-encrypted",
        "non-compliant",
        R(REDSHIFT, {"encrypted": "false"}),
        "Redshift cluster is not encrypted at rest (encrypted)",
    ),
    case("redshift-encrypted", "missing (the provider's default is encrypted)", R(REDSHIFT)),
    case("redshift-encrypted", "unknown", R(REDSHIFT, {"encrypted": UNKNOWN})),
    case(
        "redshift-audit-logging",
        "compliant",
        R(
            REDSHIFT_LOGGING,
            {"clusterIdentifier": "warehouse"},
            deps={"clusterIdentifier": [REDSHIFT_CLUSTER]},
        ),
    ),
    case(
        "redshift-audit-logging",
        "non-compliant: logging for another cluster",
        [REDSHIFT_CLUSTER, R(REDSHIFT_LOGGING, {"clusterIdentifier": "other"})],
        "Redshift cluster warehouse has no audit logging (aws.redshift.Logging)",
    ),
    case(
        "redshift-audit-logging",
        "missing",
        REDSHIFT_CLUSTER,
        "Redshift cluster warehouse has no audit logging (aws.redshift.Logging)",
    ),
    case(
        "redshift-audit-logging",
        "unknown identifier of a logging resource tied to the cluster",
        R(
            REDSHIFT_LOGGING,
            {"clusterIdentifier": UNKNOWN},
            deps={"clusterIdentifier": [REDSHIFT_CLUSTER]},
        ),
    ),
    case("opensearch-encrypted-at-rest", "compliant", R(OPENSEARCH, GOOD_DOMAIN)),
    case(
        "opensearch-encrypted-at-rest",
        "non-compliant",
        R(ELASTICSEARCH, {"encryptAtRest": {"enabled": False}}),
        "search domain is not encrypted at rest (encryptAtRest defaults to off)",
    ),
    case(
        "opensearch-encrypted-at-rest",
        "missing",
        R(OPENSEARCH),
        "search domain is not encrypted at rest (encryptAtRest defaults to off)",
    ),
    case("opensearch-encrypted-at-rest", "unknown", R(OPENSEARCH, {"encryptAtRest": UNKNOWN})),
    case("opensearch-in-vpc", "compliant", R(ELASTICSEARCH, GOOD_DOMAIN)),
    case(
        "opensearch-in-vpc",
        "non-compliant: no subnets",
        R(OPENSEARCH, {"vpcOptions": {"subnetIds": []}}),
        "search domain has a public endpoint (no vpcOptions subnets)",
    ),
    case(
        "opensearch-in-vpc",
        "missing",
        R(OPENSEARCH),
        "search domain has a public endpoint (no vpcOptions subnets)",
    ),
    case("opensearch-in-vpc", "unknown", R(OPENSEARCH, {"vpcOptions": {"subnetIds": UNKNOWN}})),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_database_policy(spec: Case) -> None:
    check(spec)
