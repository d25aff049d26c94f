"""What starts the failover Lambda besides a direct invocation: the probe schedule, and the two
ways an operator sends a command (an EventBridge event of `COMMAND_DETAIL_TYPE` on the default
bus, and a message on the KMS-encrypted commands topic), each through a resource-based permission
limited to its own source. Apart from components/failover.py because these are the function's
callers: declared after it, from the function, the region's context and the probe interval.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.context import RegionalContext
from components.kms import customer_key, key_policy

# What an operator's command event carries as `detail-type` (handlers/model.py, parse_event).
COMMAND_DETAIL_TYPE = "trading.failover"
COMMAND_EVENT_BUS = "default"


def probe_schedule(
    name: str, minutes: int, function: aws.lambda_.Function, opts: pulumi.ResourceOptions
) -> None:
    """Every `minutes`, the function probes the primary region."""
    rule = aws.cloudwatch.EventRule(
        f"{name}-probe",
        description="Probe the primary region for the failover automation",
        schedule_expression=f"rate({minutes} minute{'s' if minutes > 1 else ''})",
        opts=opts,
    )
    _invoked_by(f"{name}-probe", rule, function, opts)


def operator_commands(
    name: str,
    context: RegionalContext,
    function: aws.lambda_.Function,
    opts: pulumi.ResourceOptions,
) -> tuple[aws.sns.Topic, aws.cloudwatch.EventRule]:
    """The two ways an operator sends a command besides invoking the function: an event
    on the default bus, and a message on the commands topic. Each invokes the function
    asynchronously, through a resource-based permission limited to its own source
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html;
    https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html)."""
    commands = f"{context.prefix}-failover-commands"
    # Events from another account (forwarded to this bus by a rule there) carry that
    # account in `account`: only this account's own commands match.
    rule = aws.cloudwatch.EventRule(
        f"{name}-commands",
        name=commands,
        description=f"Operator commands for the failover automation ({COMMAND_DETAIL_TYPE})",
        event_bus_name=COMMAND_EVENT_BUS,
        event_pattern=context.account.apply(
            lambda a: json.dumps({"detail-type": [COMMAND_DETAIL_TYPE], "account": [a.account_id]})
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
        context.account.apply(lambda a: key_policy(a, [])),
        opts,
    )
    topic = aws.sns.Topic(f"{name}-commands", name=commands, kms_master_key_id=key.arn, opts=opts)
    aws.sns.TopicPolicy(
        f"{name}-commands",
        arn=topic.arn,
        policy=pulumi.Output.all(topic.arn, context.account).apply(
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
