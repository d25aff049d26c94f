"""`FailoverAutomation`: the failover Lambda and everything it needs, all in the dr region.

Nothing here depends on the primary region's control plane: the function, its state table,
its topics, its triggers and its logs live in dr, and the sizes it scales to are the dr stack's
own copy of the full profile. The function runs in the dr VPC's private subnets because the dr
cluster's Kubernetes API, which it calls to scale the order gateway, is private to that VPC
(its public endpoint admits only the deployers' ranges).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.alarms import Evaluation, Metric, metric_alarm
from components.alerts import Alerts, AlertsArgs
from components.batch_replication import SERVICE as BATCH_OPERATIONS_SERVICE
from components.context import RegionalContext
from components.gateway import APP, FAILOVER_SCALER_GROUP, HPA, NAMESPACE
from components.iam import no_retries_failures_queued, service_role
from components.kms import customer_key, key_policy
from components.lambdas import FAILOVER_SOURCES, code_archive, json_logging
from handlers.contract import (
    HEALTH_CHECK_INVERSION,
    ROUTING_CONTROL,
    TRAFFIC_CONTROLS,
    Environment,
    GatewayControl,
    GatewaySize,
    NodeGroupSize,
    RoutingControls,
)
from settings import CapacityProfile, Failover

RUNTIME = aws.lambda_.Runtime.PYTHON3D12
# A full failover waits on node groups and a promotion; the Lambda maximum leaves room.
TIMEOUT_SECONDS = 900
# What an operator's command event carries as `detail-type` (handlers/model.py, parse_event).
COMMAND_DETAIL_TYPE = "trading.failover"
COMMAND_EVENT_BUS = "default"
HTTPS_PORT = 443


@dataclass
class FailoverAutomationArgs:
    context: RegionalContext
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
    primary_health_check_id: pulumi.Input[str] = ""
    dr_health_check_id: pulumi.Input[str] = ""
    primary_endpoint: pulumi.Input[str] = ""
    # "routing-control" (Route 53 ARC) or "health-check-inversion".
    traffic_control: str = HEALTH_CHECK_INVERSION
    # Routing-control mode only: {"primary": arn, "dr": arn}, and the ARC cluster's regional
    # data-plane endpoints as [{"region": ..., "endpoint": "https://..."}].
    routing_control_arns: pulumi.Input[Mapping[str, str]] | None = None
    routing_control_endpoints: pulumi.Input[Sequence[Mapping[str, str]]] | None = None
    # Where the function runs: the dr VPC, its private subnets (NAT egress, the VPC's
    # endpoints), and the cluster security group that guards the private Kubernetes API. Until
    # all three are given the function runs outside the VPC and cannot reach that API.
    vpc_id: pulumi.Input[str] | None = None
    private_subnet_ids: Sequence[pulumi.Input[str]] = ()
    cluster_security_group_id: pulumi.Input[str] | None = None
    # Failback's S3 Batch Replication (components/batch_replication.py): dr's records bucket,
    # the primary's, the role the job runs as, and the key prefix of its manifest and report.
    # Until the role is given the handler has no such step to take.
    records_bucket_name: pulumi.Input[str] = ""
    primary_records_bucket_name: pulumi.Input[str] = ""
    batch_replication_role_arn: pulumi.Input[str] | None = None
    batch_replication_report_prefix: str = ""


@dataclass(frozen=True)
class FunctionNetwork:
    """The function's place in the VPC, as its role's EC2 statements name it."""

    vpc_id: str
    subnet_ids: Sequence[str]
    security_group_id: str


def _sizes(profile: CapacityProfile) -> dict[str, NodeGroupSize]:
    return {
        group: NodeGroupSize(s.min_size, s.desired_size, s.max_size)
        for group, s in profile.node_groups.items()
    }


def gateway_control(full: CapacityProfile, pilot_light: CapacityProfile) -> GatewayControl:
    """The order gateway's objects in the dr cluster (the names components/gateway.py gives
    them) and the sizes failover and failback set on them."""

    def size(profile: CapacityProfile) -> GatewaySize:
        return GatewaySize(profile.gateway.replicas, profile.gateway.max_replicas)

    return GatewayControl(NAMESPACE, APP, HPA, size(full), size(pilot_light))


def routing_controls(
    arns: Mapping[str, str], endpoints: Sequence[Mapping[str, str]]
) -> RoutingControls:
    """The primary's routing controls, {"primary": arn, "dr": arn}, and the ARC cluster's
    endpoints in the shape of its `clusterEndpoints` output, [{"region": ..., "endpoint": ...}]."""
    if set(arns) != {"primary", "dr"}:
        raise ValueError(
            f"routing_control_arns names {sorted(arns)}; it must name exactly primary and dr"
        )
    return RoutingControls(
        arns["primary"], arns["dr"], tuple((e["region"], e["endpoint"]) for e in endpoints)
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
        statements += _network_statements(account, network)
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
        # which components/database.py names exactly like the instance, and reads it back.
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


def _network_statements(account: Account, network: FunctionNetwork) -> list[dict[str, Any]]:
    """Lambda creates and manages the function's network interfaces with the function's own
    role: ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DeleteNetworkInterface,
    AssignPrivateIpAddresses and UnassignPrivateIpAddresses
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html; the managed policy
    AWSLambdaVPCAccessExecutionRole adds DescribeSubnets,
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/
    AWSLambdaVPCAccessExecutionRole.html). Resource types and condition keys:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html."""
    ec2 = f"arn:{account.partition}:ec2:{account.region}:{account.account_id}"
    interfaces = f"{ec2}:network-interface/*"
    return [
        # CreateNetworkInterface requires the `subnet` resource type and, when the request
        # names one, `security-group`: listing only the function's private subnets and its own
        # group confines new interfaces to them. The new interface's own ARN is not known
        # before it exists, and its resource type offers no VPC or subnet condition key for
        # this action, so it is named by pattern, in this region and account only.
        {
            "Sid": "LambdaCreatesInterfacesInItsSubnets",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [
                interfaces,
                *(f"{ec2}:subnet/{s}" for s in network.subnet_ids),
                f"{ec2}:security-group/{network.security_group_id}",
            ],
        },
        # Lambda checks these when it creates the function, before any interface exists, and
        # documents DeleteNetworkInterface as needing all resource ids of the region and
        # account (`arn:aws:ec2:<region>:<account>:*/*`, configuration-vpc.html): a condition
        # on the interface's VPC would have nothing to match then.
        {
            "Sid": "LambdaManagesItsInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": f"{ec2}:*/*",
        },
        # Describe* actions have no resource type: `*` only, and Lambda documents
        # DescribeNetworkInterfaces as working only on `*`. They read, never change.
        {
            "Sid": "LambdaReadsItsNetwork",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": "*",
        },
    ]


def _commands_topic_policy(topic_arn: str, account: Account) -> str:
    """Only this account's principals publish commands, over TLS. Naming the account delegates
    to its IAM policies: a principal publishes only if its own policy allows sns:Publish on
    this topic (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_elements_principal.html#principal-accounts)."""
    root = f"arn:{account.partition}:iam::{account.account_id}:root"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountPrincipalsPublishCommands",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                },
                {
                    "Sid": "NoPublisherOutsideTheAccount",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account.account_id}},
                },
                {
                    "Sid": "PublishOverTlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def _invoked_by(
    name: str,
    rule: aws.cloudwatch.EventRule,
    function: aws.lambda_.Function,
    opts: pulumi.ResourceOptions,
    *,
    bus: str | None = None,
    permission: str | None = None,
) -> None:
    """`rule` invokes `function`, through a permission limited to that rule."""
    aws.cloudwatch.EventTarget(
        name, rule=rule.name, event_bus_name=bus, arn=function.arn, opts=opts
    )
    aws.lambda_.Permission(
        permission or name,
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=opts,
    )


class FailoverAutomation(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    state_table_name: pulumi.Output[str]
    topic_arn: pulumi.Output[str]
    # Where an operator sends a command: the commands topic (the command as the message), or
    # the event bus, as an event of `commands_detail_type` (the command as its detail).
    commands_topic_arn: pulumi.Output[str]
    commands_event_bus_name: pulumi.Output[str]
    commands_rule_name: pulumi.Output[str]
    commands_detail_type: str = COMMAND_DETAIL_TYPE

    def __init__(
        self, name: str, args: FailoverAutomationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:failover:FailoverAutomation", name, None, opts)
        _check(args)
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{args.context.prefix}-failover"

        table = aws.dynamodb.Table(
            f"{name}-state",
            name=f"{args.context.prefix}-failover-state",
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
                f"{args.context.prefix}-failover",
                args.context.account,
                args.settings.notify_emails,
                https_endpoints=args.settings.notify_https_endpoints,
            ),
            child,
        )
        queue_key = customer_key(
            f"{args.context.prefix}-failover-dlq",
            f"Encryption of {function_name}'s on-failure queue",
            args.context.account.apply(lambda a: key_policy(a, [])),
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
            kms_key_id=args.context.logs_key_arn,
            retention_in_days=args.context.log_retention_days,
            opts=child,
        )
        security_group = self._network(name, args, child)
        role = service_role(f"{name}-role", "lambda.amazonaws.com", child)
        policy = pulumi.Output.all(
            account=args.context.account,
            db_identifier=args.db_identifier,
            primary_db_identifier=args.primary_db_identifier,
            global_cluster_identifier=args.global_cluster_identifier,
            table_arn=table.arn,
            topic_arn=notifications.topic_arn,
            key_arns=[args.data_key_arn, notifications.key_arn, queue_key.arn],
            queue_arn=on_failure.arn,
            log_group_arn=log_group.arn,
            health_check_ids=[args.primary_health_check_id, args.dr_health_check_id],
            routing_controls=args.routing_control_arns,
            network=self._function_network(args, security_group),
            records_bucket=args.records_bucket_name,
            batch_replication_role_arn=args.batch_replication_role_arn or "",
        ).apply(lambda values: self._policy(args, dict(values)))
        role_policy = aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=policy, opts=child)
        self._cluster_access(name, args, role, child)

        function = aws.lambda_.Function(
            f"{name}-handler",
            name=function_name,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler="handlers.failover.handler",
            code=code_archive(FAILOVER_SOURCES),
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=512,
            kms_key_arn=args.data_key_arn,
            logging_config=json_logging(log_group.name),
            vpc_config=(
                aws.lambda_.FunctionVpcConfigArgs(
                    subnet_ids=list(args.private_subnet_ids),
                    security_group_ids=[security_group.id],
                )
                if security_group is not None
                else None
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=self._environment(args, table, notifications)
            ),
            # Lambda creates the function's network interfaces with its role when the function
            # is created (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html):
            # the role's policy comes first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy]),
        )
        # A failed step ends the run FAILED without raising, so a retry could only repeat a
        # crash (a bug or a throttled start); crashes go to the queue for a person instead.
        no_retries_failures_queued(f"{name}-invoke", function, on_failure.arn, child)
        self._schedule(name, args, function, child)
        commands_topic, commands_rule = self._commands(name, args, function, child)
        metric_alarm(
            f"{name}-errors",
            description=f"{function_name} raised an error (a crash, not a failed step)",
            metric=Metric("AWS/Lambda", "Errors", {"FunctionName": function.name}, "Sum"),
            threshold=0,
            comparison="GreaterThanThreshold",
            evaluation=Evaluation(period_seconds=60, periods=1, missing_data="notBreaching"),
            topic_arn=args.context.alerts_topic_arn,
            page_on_ok=False,
            opts=child,
        )

        self.function_name = function.name
        self.state_table_name = table.name
        self.topic_arn = notifications.topic_arn
        self.commands_topic_arn = commands_topic.arn
        self.commands_event_bus_name = commands_rule.event_bus_name.apply(
            lambda bus: bus or COMMAND_EVENT_BUS
        )
        self.commands_rule_name = commands_rule.name
        self.register_outputs(
            {
                "functionName": self.function_name,
                "stateTableName": self.state_table_name,
                "commandsTopicArn": self.commands_topic_arn,
                "commandsEventBusName": self.commands_event_bus_name,
                "commandsRuleName": self.commands_rule_name,
                "commandsDetailType": self.commands_detail_type,
            }
        )

    @staticmethod
    def _policy(args: FailoverAutomationArgs, values: dict[str, Any]) -> str:
        routing_controls = values.pop("routing_controls") or {}
        network = values.pop("network")
        return handler_policy(
            primary_region=args.primary_region,
            cluster_name=args.cluster_name,
            node_group_names=list(args.node_group_names.values()),
            db_engine=args.db_engine,
            traffic_control=args.traffic_control,
            routing_control_arns=[routing_controls[side] for side in sorted(routing_controls)],
            network=FunctionNetwork(**network) if network else None,
            **values,
        )

    @staticmethod
    def _environment(
        args: FailoverAutomationArgs, table: aws.dynamodb.Table, notifications: Alerts
    ) -> dict[str, pulumi.Output[str]]:
        """The handler's environment, each variable encoded and checked by the definition the
        handler parses it with (handlers/contract.py). One Output per variable rather than one
        for the whole: an apply does not run while its value is unknown
        (https://www.pulumi.com/docs/iac/concepts/inputs-outputs/apply/), so a variable whose
        resource does not exist yet leaves the others known in a preview, where the policies
        read NODE_GROUPS and PILOT_LIGHT_PROFILE, and secret where only its own value is."""
        values: dict[str, Any] = {
            Environment.CLUSTER_NAME: args.cluster_name,
            Environment.NODE_GROUPS: dict(args.node_group_names),
            Environment.FULL_PROFILE: _sizes(args.full),
            Environment.PILOT_LIGHT_PROFILE: _sizes(args.pilot_light),
            Environment.GATEWAY: gateway_control(args.full, args.pilot_light),
            Environment.DB_ENGINE: args.db_engine,
            Environment.DB_IDENTIFIER: args.db_identifier,
            Environment.GLOBAL_CLUSTER_IDENTIFIER: args.global_cluster_identifier or "",
            Environment.PRIMARY_REGION: args.primary_region,
            Environment.PRIMARY_DB_IDENTIFIER: args.primary_db_identifier,
            Environment.STATE_TABLE: table.name,
            Environment.TOPIC_ARN: notifications.topic_arn,
            Environment.TRAFFIC_CONTROL: args.traffic_control,
            Environment.PRIMARY_HEALTH_CHECK_ID: args.primary_health_check_id,
            Environment.DR_HEALTH_CHECK_ID: args.dr_health_check_id,
            Environment.PRIMARY_ENDPOINT: args.primary_endpoint,
            Environment.FAILOVER_MODE: args.settings.mode,
            Environment.PROBE_FAILURE_THRESHOLD: args.settings.probe_failure_threshold,
        }
        if args.batch_replication_role_arn is not None:
            values[Environment.RECORDS_BUCKET] = args.records_bucket_name
            values[Environment.PRIMARY_RECORDS_BUCKET] = args.primary_records_bucket_name
            values[Environment.BATCH_REPLICATION_ROLE_ARN] = args.batch_replication_role_arn
            values[Environment.BATCH_REPLICATION_REPORT_PREFIX] = (
                args.batch_replication_report_prefix
            )
        if args.traffic_control == ROUTING_CONTROL:
            controls = pulumi.Output.all(
                args.routing_control_arns, args.routing_control_endpoints
            ).apply(lambda pair: routing_controls(pair[0] or {}, pair[1] or []))
            values[Environment.ROUTING_CONTROLS] = controls
            values[Environment.ROUTING_CONTROL_ENDPOINTS] = controls
        return {
            name: pulumi.Output.from_input(value).apply(
                lambda plain, name=name: Environment.encode(name, plain)
            )
            for name, value in values.items()
        }

    @staticmethod
    def _network(
        name: str, args: FailoverAutomationArgs, opts: pulumi.ResourceOptions
    ) -> aws.ec2.SecurityGroup | None:
        """The function's security group: HTTPS out, nothing in; and the cluster security
        group's admission of it to the Kubernetes API (EKS creates that group with an inbound
        rule from itself only, https://docs.aws.amazon.com/eks/latest/userguide/
        sec-group-reqs.html). Inside the VPC the cluster's endpoint name resolves to its private
        endpoint (https://docs.aws.amazon.com/eks/latest/APIReference/
        API_VpcConfigRequest.html). Everything else the handler calls leaves on 443 as well:
        the VPC's interface (STS, logs) and gateway (DynamoDB) endpoints, and, through the
        private subnets' NAT gateway, the regional APIs (EKS, RDS, SNS, CloudWatch, Route 53),
        the primary region's RDS API and regional endpoint, and the ARC cluster's endpoints."""
        if args.vpc_id is None or not args.private_subnet_ids:
            return None
        group = aws.ec2.SecurityGroup(
            f"{name}-handler-sg",
            vpc_id=args.vpc_id,
            description="The failover Lambda: HTTPS out, nothing in",
            tags={"Name": f"{args.context.prefix}-failover"},
            opts=opts,
        )
        # The provider removes the allow-all egress rule AWS puts on a new group
        # (https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/), so this
        # rule is the only way out. DNS needs no rule: security groups do not filter traffic
        # to the VPC's Amazon DNS server (https://docs.aws.amazon.com/vpc/latest/userguide/
        # security-group-rules.html).
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-handler-https-out",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            description="HTTPS to AWS APIs, the Kubernetes API and the ARC cluster endpoints",
            opts=opts,
        )
        if args.cluster_security_group_id is not None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-cluster-api-from-handler",
                security_group_id=args.cluster_security_group_id,
                referenced_security_group_id=group.id,
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                description="The failover Lambda calls the Kubernetes API",
                opts=opts,
            )
        return group

    @staticmethod
    def _function_network(
        args: FailoverAutomationArgs, group: aws.ec2.SecurityGroup | None
    ) -> pulumi.Output[dict[str, Any] | None]:
        if group is None or args.vpc_id is None:
            return pulumi.Output.from_input(None)
        return pulumi.Output.all(
            vpc_id=args.vpc_id, subnet_ids=list(args.private_subnet_ids), security_group_id=group.id
        )

    @staticmethod
    def _cluster_access(
        name: str, args: FailoverAutomationArgs, role: aws.iam.Role, opts: pulumi.ResourceOptions
    ) -> None:
        """The function's role in the dr cluster: only the Kubernetes group whose RBAC
        components/gateway.py declares, no EKS access policy (https://docs.aws.amazon.com/eks/
        latest/userguide/create-k8s-group-access-entry.html)."""
        cluster_name: pulumi.Input[str] = args.cluster_name
        if args.cluster_security_group_id is not None:
            # The entry needs the cluster to exist. The cluster security group is one of the
            # cluster's outputs, so naming the cluster through it orders the entry after it.
            cluster_name = pulumi.Output.all(
                args.cluster_name, args.cluster_security_group_id
            ).apply(lambda pair: str(pair[0]))
        aws.eks.AccessEntry(
            f"{name}-cluster-access",
            cluster_name=cluster_name,
            principal_arn=role.arn,
            kubernetes_groups=[FAILOVER_SCALER_GROUP],
            type="STANDARD",
            opts=opts,
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
        _invoked_by(f"{name}-probe", rule, function, opts)

    @staticmethod
    def _commands(
        name: str,
        args: FailoverAutomationArgs,
        function: aws.lambda_.Function,
        opts: pulumi.ResourceOptions,
    ) -> tuple[aws.sns.Topic, aws.cloudwatch.EventRule]:
        """The two ways an operator sends a command besides invoking the function: an event
        on the default bus, and a message on the commands topic. Each invokes the function
        asynchronously, through a resource-based permission limited to its own source
        (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html;
        https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html)."""
        commands = f"{args.context.prefix}-failover-commands"
        # Events from another account (forwarded to this bus by a rule there) carry that
        # account in `account`: only this account's own commands match.
        rule = aws.cloudwatch.EventRule(
            f"{name}-commands",
            name=commands,
            description=f"Operator commands for the failover automation ({COMMAND_DETAIL_TYPE})",
            event_bus_name=COMMAND_EVENT_BUS,
            event_pattern=args.context.account.apply(
                lambda a: json.dumps(
                    {"detail-type": [COMMAND_DETAIL_TYPE], "account": [a.account_id]}
                )
            ),
            opts=opts,
        )
        _invoked_by(
            f"{name}-commands",
            rule,
            function,
            opts,
            bus=COMMAND_EVENT_BUS,
            permission=f"{name}-commands-events",
        )
        # Publishers use the key through their IAM policies (the key policy delegates to the
        # account); SNS decrypts before it delivers, so the function needs no grant on it
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        key = customer_key(
            commands,
            f"Encryption of the {commands} topic",
            args.context.account.apply(lambda a: key_policy(a, [])),
            opts,
        )
        topic = aws.sns.Topic(
            f"{name}-commands", name=commands, kms_master_key_id=key.arn, opts=opts
        )
        aws.sns.TopicPolicy(
            f"{name}-commands",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, args.context.account).apply(
                lambda pair: _commands_topic_policy(pair[0], pair[1])
            ),
            opts=opts,
        )
        aws.lambda_.Permission(
            f"{name}-commands-sns",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="sns.amazonaws.com",
            source_arn=topic.arn,
            opts=opts,
        )
        aws.sns.TopicSubscription(
            f"{name}-commands",
            topic=topic.arn,
            protocol="lambda",
            endpoint=function.arn,
            opts=opts,
        )
        return topic, rule


def _check(args: FailoverAutomationArgs) -> None:
    """Settings the component cannot work with, refused before any resource is declared."""
    if args.traffic_control not in TRAFFIC_CONTROLS:
        raise ValueError(
            f"traffic_control={args.traffic_control!r} is not one of {', '.join(TRAFFIC_CONTROLS)}"
        )
    if args.traffic_control == ROUTING_CONTROL and (
        args.routing_control_arns is None or args.routing_control_endpoints is None
    ):
        raise ValueError(
            "traffic_control='routing-control' needs routing_control_arns "
            '({"primary": arn, "dr": arn}) and routing_control_endpoints (the ARC cluster\'s '
            "clusterEndpoints)"
        )
