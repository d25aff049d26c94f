"""The failover Lambda's IAM policy document: `handler_policy` and its statements by service.

Every statement names the exact resources the handler acts on, with the Service Authorization
Reference page that gives the action's resource types and condition keys. It is plain JSON from
plain values, apart from the component (components/failover.py) so that it reads, and is tested,
without a Pulumi runtime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from components.account import Account
from components.batch_replication import SERVICE as BATCH_OPERATIONS_SERVICE
from components.failover_cluster_access import FunctionNetwork, network_statements
from handlers.contract import HEALTH_CHECK_INVERSION, ROUTING_CONTROL


def handler_policy(
    *,
    account: Account,
    primary_region: str,
    cluster_name: str,
    node_group_names: list[str],
    db_engine: str,
    db_identifier: str,
    primary_db_identifier: str,
    global_cluster_identifier: str | None,
    table_arn: str,
    topic_arn: str,
    key_arns: list[str],
    queue_arn: str,
    log_group_arn: str,
    health_check_ids: list[str],
    traffic_control: str = HEALTH_CHECK_INVERSION,
    routing_control_arns: Sequence[str] = (),
    network: FunctionNetwork | None = None,
    records_bucket: str = "",
    batch_replication_role_arn: str = "",
) -> str:
    """Every statement names the exact resources the handler acts on; nothing mutating is
    granted on `*`. Resource types and condition keys per action are those of the Service
    Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/
    reference/reference_policies_actions-resources-contextkeys.html), cited per service."""
    eks_arn = f"arn:{account.partition}:eks:{account.region}:{account.account_id}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ScaleDrNodeGroups",
            "Effect": "Allow",
            "Action": ["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"],
            "Resource": [f"{eks_arn}:nodegroup/{cluster_name}/{ng}/*" for ng in node_group_names],
        },
        # The Kubernetes API's endpoint and CA. DescribeCluster takes the `cluster` resource
        # type (https://docs.aws.amazon.com/service-authorization/latest/reference/
        # list_amazonelastickubernetesservice.html). The bearer token is a presigned STS
        # GetCallerIdentity, which needs no permission (https://docs.aws.amazon.com/STS/latest/
        # APIReference/API_GetCallerIdentity.html); what the token may do in the cluster is the
        # access entry's Kubernetes group, bound in components/gateway.py.
        {
            "Sid": "ReachDrCluster",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": f"{eks_arn}:cluster/{cluster_name}",
        },
        {
            "Sid": "FailoverState",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": table_arn,
        },
        {"Sid": "Notify", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
        {
            "Sid": "EncryptedStateAndTopic",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arns,
        },
        {"Sid": "OnFailure", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
    ]
    statements += _database_statements(
        account=account,
        primary_region=primary_region,
        db_engine=db_engine,
        db_identifier=db_identifier,
        primary_db_identifier=primary_db_identifier,
        global_cluster_identifier=global_cluster_identifier,
    )
    # GetMetricData has no resource type, so it takes `*` only
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/
    # list_amazoncloudwatch.html); it reads, never changes.
    statements.append(
        {
            "Sid": "ReplicaLag",
            "Effect": "Allow",
            "Action": "cloudwatch:GetMetricData",
            "Resource": "*",
        }
    )
    statements += _traffic_statements(
        account, traffic_control, [c for c in health_check_ids if c], list(routing_control_arns)
    )
    if network is not None:
        statements += network_statements(account, network)
    if batch_replication_role_arn:
        statements += _batch_replication_statements(
            account, records_bucket, batch_replication_role_arn
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _batch_replication_statements(
    account: Account, records_bucket: str, role_arn: str
) -> list[dict[str, Any]]:
    """Failback's Batch Replication job on dr's records bucket. CreateJob and ListJobs have no
    resource type, so they take `*` only; DescribeJob takes the `job` resource type
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
    The creator passes the job's role to S3 Batch Operations
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html),
    that role only, to that service only (iam:PassedToService,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html)."""
    return [
        {
            "Sid": "DrBucketReplicationRules",
            "Effect": "Allow",
            "Action": "s3:GetReplicationConfiguration",
            "Resource": f"arn:{account.partition}:s3:::{records_bucket}",
        },
        {
            "Sid": "StartBatchReplication",
            "Effect": "Allow",
            "Action": ["s3:CreateJob", "s3:ListJobs"],
            "Resource": "*",
        },
        {
            "Sid": "WatchBatchReplication",
            "Effect": "Allow",
            "Action": "s3:DescribeJob",
            "Resource": account.arn("s3", "job/*"),
        },
        {
            "Sid": "PassBatchReplicationRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": BATCH_OPERATIONS_SERVICE}},
        },
    ]


def _database_statements(
    *,
    account: Account,
    primary_region: str,
    db_engine: str,
    db_identifier: str,
    primary_db_identifier: str,
    global_cluster_identifier: str | None,
) -> list[dict[str, Any]]:
    rds = f"arn:{account.partition}:rds"
    if db_engine == "aurora-postgresql":
        clusters = [
            f"{rds}:{account.region}:{account.account_id}:cluster:{db_identifier}",
            f"{rds}:{primary_region}:{account.account_id}:cluster:{primary_db_identifier}",
        ]
        return [
            {
                "Sid": "MoveGlobalWriter",
                "Effect": "Allow",
                "Action": [
                    "rds:DescribeGlobalClusters",
                    "rds:DescribeDBClusters",
                    "rds:FailoverGlobalCluster",
                    "rds:SwitchoverGlobalCluster",
                ],
                "Resource": [
                    f"{rds}::{account.account_id}:global-cluster:{global_cluster_identifier}",
                    *clusters,
                ],
            }
        ]
    instances = [(account.region, db_identifier), (primary_region, primary_db_identifier)]
    return [
        {
            "Sid": "PromoteReplicas",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances", "rds:PromoteReadReplica"],
            "Resource": [f"{rds}:{r}:{account.account_id}:db:{i}" for r, i in instances],
        },
        # Fencing sets default_transaction_read_only in the writer's own parameter group,
        # which components/database_postgres.py names exactly like the instance, and reads it
        # back.
        # ModifyDBParameterGroup and DescribeDBParameters take the `pg` resource type,
        # arn:...:rds:REGION:ACCOUNT:pg:NAME (https://docs.aws.amazon.com/
        # service-authorization/latest/reference/list_amazonrds.html).
        {
            "Sid": "FenceWriters",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBParameters", "rds:ModifyDBParameterGroup"],
            "Resource": [f"{rds}:{r}:{account.account_id}:pg:{i}" for r, i in instances],
        },
    ]


def _traffic_statements(
    account: Account, traffic_control: str, checks: list[str], routing_control_arns: list[str]
) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    check_arns = [f"arn:{account.partition}:route53:::healthcheck/{c}" for c in checks]
    if traffic_control == ROUTING_CONTROL:
        # The ARC data plane: both actions take the `routingcontrol` resource type, whose ARN
        # has no region (https://docs.aws.amazon.com/service-authorization/latest/reference/
        # list_route53-recovery-cluster.html). Safety-rule overrides
        # (route53-recovery-cluster:AllowSafetyRulesOverrides) are not restricted here: the
        # control panel's safety rules, not this role, say when an override is wanted.
        statements.append(
            {
                "Sid": "SwitchRoutingControls",
                "Effect": "Allow",
                "Action": [
                    "route53-recovery-cluster:GetRoutingControlState",
                    "route53-recovery-cluster:UpdateRoutingControlStates",
                ],
                "Resource": routing_control_arns,
            }
        )
        if check_arns:
            # The checks still tell whether a region answers; only inversion changes them.
            statements.append(
                {
                    "Sid": "ReadHealthChecks",
                    "Effect": "Allow",
                    "Action": ["route53:GetHealthCheck", "route53:GetHealthCheckStatus"],
                    "Resource": check_arns,
                }
            )
    elif check_arns:
        statements.append(
            {
                "Sid": "ShiftTraffic",
                "Effect": "Allow",
                "Action": [
                    "route53:GetHealthCheck",
                    "route53:GetHealthCheckStatus",
                    "route53:UpdateHealthCheck",
                ],
                "Resource": check_arns,
            }
        )
    return statements
