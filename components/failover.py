"""`FailoverAutomation`: the failover Lambda and everything it needs, all in the dr region.

Nothing here depends on the primary region's control plane: the function, its state table,
its topics, its triggers and its logs live in dr, and the sizes it scales to are the dr stack's
own copy of the full profile. The function runs in the dr VPC's private subnets because the dr
cluster's Kubernetes API, which it calls to scale the order gateway, is private to that VPC
(its public endpoint admits only the deployers' ranges).

This module is the component, in the order it declares its parts, and the environment it hands
the function (handlers/contract.py). Its arguments are in components/failover_args.py, the
state table in components/failover_state.py, the role's policy document in
components/failover_policy.py, the path to the cluster's API in
components/failover_cluster_access.py, the schedule and the operators' commands in
components/failover_triggers.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import Evaluation, Metric, metric_alarm
from components.alerts import Alerts, AlertsArgs
from components.failover_args import FailoverAutomationArgs, check_args
from components.failover_cluster_access import (
    FunctionNetwork,
    cluster_access_entry,
    function_network,
    handler_security_group,
)
from components.failover_policy import handler_policy
from components.failover_state import state_table
from components.failover_triggers import (
    COMMAND_DETAIL_TYPE,
    COMMAND_EVENT_BUS,
    operator_commands,
    probe_schedule,
)
from components.gateway import APP, HPA, NAMESPACE
from components.iam import no_retries_failures_queued, service_role
from components.kms import customer_key, key_policy
from components.lambdas import FAILOVER_SOURCES, code_archive, json_logging
from handlers.contract import (
    ROUTING_CONTROL,
    Environment,
    GatewayControl,
    GatewaySize,
    NodeGroupSize,
    RoutingControls,
)
from settings import CapacityProfile

RUNTIME = aws.lambda_.Runtime.PYTHON3D12
# A full failover waits on node groups and a promotion; the Lambda maximum leaves room.
TIMEOUT_SECONDS = 900


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
        check_args(args)
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{args.context.prefix}-failover"

        table = state_table(name, args.context.prefix, args.data_key_arn, child)
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
        security_group = handler_security_group(
            name,
            prefix=args.context.prefix,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            cluster_security_group_id=args.cluster_security_group_id,
            opts=child,
        )
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
            network=function_network(args.vpc_id, args.private_subnet_ids, security_group),
            records_bucket=args.records_bucket_name,
            batch_replication_role_arn=args.batch_replication_role_arn or "",
        ).apply(lambda values: self._policy(args, dict(values)))
        role_policy = aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=policy, opts=child)
        cluster_access_entry(name, args.cluster_name, args.cluster_security_group_id, role, child)

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
        probe_schedule(name, args.settings.probe_interval_minutes, function, child)
        commands_topic, commands_rule = operator_commands(name, args.context, function, child)
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
            Environment.DR_ENDPOINT: args.dr_endpoint,
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
