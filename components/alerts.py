"""The region's alerts topic: where alarms and replication events page the on-call engineer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.kms import customer_key, key_policy

# AWS services that publish to the topic: CloudWatch alarms, S3 replication event
# notifications and EventBridge rules.
PUBLISHERS = ("cloudwatch.amazonaws.com", "s3.amazonaws.com", "events.amazonaws.com")


def _publishers_use_key(account: Account) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "AlertPublishersEncryptMessages",
            "Effect": "Allow",
            "Principal": {"Service": list(PUBLISHERS)},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
        }
    ]


def _topic_policy(topic_arn: str, account: Account) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlertPublishersInThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": list(PUBLISHERS)},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
                }
            ],
        }
    )


@dataclass
class AlertsArgs:
    prefix: str
    account: pulumi.Output[Account]
    emails: tuple[str, ...] = ()
    # HTTPS endpoints of a paging service, subscribed with the `https` protocol.
    https_endpoints: tuple[str, ...] = ()
    # Another region than the provider's, through the resources' own `region` (so the stack
    # needs no provider, and no credential check, in that region).
    region: str | None = None


class Alerts(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:observability:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = customer_key(
            f"{args.prefix}-alerts",
            f"Encryption of the {args.prefix} alerts topic",
            args.account.apply(lambda a: key_policy(a, _publishers_use_key(a))),
            child,
            region=args.region,
        )
        topic = aws.sns.Topic(
            f"{name}-alerts",
            name=f"{args.prefix}-alerts",
            kms_master_key_id=key.arn,
            region=args.region,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, args.account).apply(
                lambda pair: _topic_policy(pair[0], pair[1])
            ),
            region=args.region,
            opts=child,
        )
        subscribers = [("email", e) for e in args.emails]
        subscribers += [("https", url) for url in args.https_endpoints]
        for index, (protocol, endpoint) in enumerate(subscribers):
            aws.sns.TopicSubscription(
                f"{name}-alerts-{index}",
                topic=topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                region=args.region,
                opts=child,
            )
        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self.register_outputs({"topicArn": self.topic_arn})
