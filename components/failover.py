"""`FailoverAutomation`: the failover Lambda and everything it needs, all in the dr region.

Nothing here depends on the primary region's control plane: the function, its state table,
its topic, its schedule and its logs live in dr, and the sizes it scales to are the dr stack's
own copy of the full profile.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alerts import Alerts, AlertsArgs
from components.iam import service_role
from components.kms import Account, customer_key, key_policy
from settings import CapacityProfile, Failover

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
RUNTIME = aws.lambda_.Runtime.PYTHON3D12
# A full failover waits on node groups and a promotion; the Lambda maximum leaves room.
TIMEOUT_SECONDS = 900


@dataclass
class FailoverAutomationArgs:
    prefix: str
    region: str
    primary_region: str
    cluster_name: str
    node_group_names: Mapping[str, str]
    full: CapacityProfile
    pilot_light: CapacityProfile
    db_engine: str
    db_identifier: pulumi.Input[str]
    primary_db_identifier: pulumi.Input[str]
    global_cluster_identifier: pulumi.Input[str] | None
    settings: Failover
    data_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    log_retention_days: int
    account: pulumi.Output[Account]
    primary_health_check_id: pulumi.Input[str] = ""
    dr_health_check_id: pulumi.Input[str] = ""
    primary_endpoint: pulumi.Input[str] = ""


def _sizes(profile: CapacityProfile) -> str:
    return json.dumps(
        {
            group: {"minSize": s.min_size, "desiredSize": s.desired_size, "maxSize": s.max_size}
            for group, s in profile.node_groups.items()
        }
    )


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
) -> str:
    """Every statement names the exact resources the handler acts on; nothing mutating is
    granted on `*`."""
    eks_arn = f"arn:{account.partition}:eks:{account.region}:{account.account_id}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ScaleDrNodeGroups",
            "Effect": "Allow",
            "Action": ["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"],
            "Resource": [f"{eks_arn}:nodegroup/{cluster_name}/{ng}/*" for ng in node_group_names],
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
    rds = f"arn:{account.partition}:rds"
    if db_engine == "aurora-postgresql":
        clusters = [
            f"{rds}:{account.region}:{account.account_id}:cluster:{db_identifier}",
            f"{rds}:{primary_region}:{account.account_id}:cluster:{primary_db_identifier}",
        ]
        statements.append(
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
        )
    else:
        statements.append(
            {
                "Sid": "PromoteAndFenceReplicas",
                "Effect": "Allow",
                "Action": [
                    "rds:DescribeDBInstances",
                    "rds:PromoteReadReplica",
                    "rds:StopDBInstance",
                ],
                "Resource": [
                    f"{rds}:{account.region}:{account.account_id}:db:{db_identifier}",
                    f"{rds}:{primary_region}:{account.account_id}:db:{primary_db_identifier}",
                ],
            }
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
    checks = [c for c in health_check_ids if c]
    if checks:
        statements.append(
            {
                "Sid": "ShiftTraffic",
                "Effect": "Allow",
                "Action": [
                    "route53:GetHealthCheck",
                    "route53:GetHealthCheckStatus",
                    "route53:UpdateHealthCheck",
                ],
                "Resource": [f"arn:{account.partition}:route53:::healthcheck/{c}" for c in checks],
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class FailoverAutomation(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    state_table_name: pulumi.Output[str]
    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: FailoverAutomationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:failover:FailoverAutomation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{args.prefix}-failover"

        table = aws.dynamodb.Table(
            f"{name}-state",
            name=f"{args.prefix}-failover-state",
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.data_key_arn
            ),
            deletion_protection_enabled=True,
            opts=child,
        )
        notifications = Alerts(
            f"{name}-failover",
            AlertsArgs(
                f"{args.prefix}-failover",
                args.account,
                args.settings.notify_emails,
                https_endpoints=args.settings.notify_https_endpoints,
            ),
            child,
        )
        queue_key = customer_key(
            f"{args.prefix}-failover-dlq",
            f"Encryption of {function_name}'s on-failure queue",
            args.account.apply(lambda a: key_policy(a, [])),
            child,
        )
        on_failure = aws.sqs.Queue(
            f"{name}-on-failure",
            name=f"{function_name}-on-failure",
            kms_master_key_id=queue_key.arn,
            message_retention_seconds=14 * 24 * 3600,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        role = service_role(f"{name}-role", "lambda.amazonaws.com", child)
        policy = pulumi.Output.all(
            account=args.account,
            db_identifier=args.db_identifier,
            primary_db_identifier=args.primary_db_identifier,
            global_cluster_identifier=args.global_cluster_identifier,
            table_arn=table.arn,
            topic_arn=notifications.topic_arn,
            key_arns=[args.data_key_arn, notifications.key_arn, queue_key.arn],
            queue_arn=on_failure.arn,
            log_group_arn=log_group.arn,
            health_check_ids=[args.primary_health_check_id, args.dr_health_check_id],
        ).apply(
            lambda v: handler_policy(
                primary_region=args.primary_region,
                cluster_name=args.cluster_name,
                node_group_names=list(args.node_group_names.values()),
                db_engine=args.db_engine,
                **v,
            )
        )
        aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=policy, opts=child)

        function = aws.lambda_.Function(
            f"{name}-handler",
            name=function_name,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler="handlers.failover.handler",
            code=pulumi.AssetArchive({"handlers": pulumi.FileArchive(str(HANDLERS))}),
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=512,
            kms_key_arn=args.data_key_arn,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=log_group.name
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "CLUSTER_NAME": args.cluster_name,
                    "NODE_GROUPS": json.dumps(dict(args.node_group_names)),
                    "FULL_PROFILE": _sizes(args.full),
                    "PILOT_LIGHT_PROFILE": _sizes(args.pilot_light),
                    "DB_ENGINE": args.db_engine,
                    "DB_IDENTIFIER": args.db_identifier,
                    "GLOBAL_CLUSTER_IDENTIFIER": args.global_cluster_identifier or "",
                    "PRIMARY_REGION": args.primary_region,
                    "PRIMARY_DB_IDENTIFIER": args.primary_db_identifier,
                    "STATE_TABLE": table.name,
                    "TOPIC_ARN": notifications.topic_arn,
                    "PRIMARY_HEALTH_CHECK_ID": args.primary_health_check_id,
                    "DR_HEALTH_CHECK_ID": args.dr_health_check_id,
                    "PRIMARY_ENDPOINT": args.primary_endpoint,
                    "FAILOVER_MODE": args.settings.mode,
                    "PROBE_FAILURE_THRESHOLD": str(args.settings.probe_failure_threshold),
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        # A failed step ends the run FAILED without raising, so a retry could only repeat a
        # crash (a bug or a throttled start); crashes go to the queue for a person instead.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-invoke",
            function_name=function.name,
            maximum_retry_attempts=0,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=on_failure.arn
                )
            ),
            opts=child,
        )
        self._schedule(name, args, function, child)
        aws.cloudwatch.MetricAlarm(
            f"{name}-errors",
            alarm_description=f"{function_name} raised an error (a crash, not a failed step)",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.name},
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alerts_topic_arn],
            opts=child,
        )

        self.function_name = function.name
        self.state_table_name = table.name
        self.topic_arn = notifications.topic_arn
        self.register_outputs(
            {"functionName": self.function_name, "stateTableName": self.state_table_name}
        )

    @staticmethod
    def _schedule(
        name: str,
        args: FailoverAutomationArgs,
        function: aws.lambda_.Function,
        opts: pulumi.ResourceOptions,
    ) -> None:
        minutes = args.settings.probe_interval_minutes
        rule = aws.cloudwatch.EventRule(
            f"{name}-probe",
            description="Probe the primary region for the failover automation",
            schedule_expression=f"rate({minutes} minute{'s' if minutes > 1 else ''})",
            opts=opts,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-probe",
            rule=rule.name,
            arn=function.arn,
            opts=opts,
        )
        aws.lambda_.Permission(
            f"{name}-probe",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=opts,
        )
