"""Roles that an AWS service assumes on our behalf."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws


def assume_role_policy(service: str) -> str:
    """Trust `service` (for example `lambda.amazonaws.com`) to assume the role, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def service_role(name: str, service: str, opts: pulumi.ResourceOptions) -> aws.iam.Role:
    return aws.iam.Role(name, assume_role_policy=assume_role_policy(service), opts=opts)


def log_writer_role(
    name: str, service: str, log_group: aws.cloudwatch.LogGroup, opts: pulumi.ResourceOptions
) -> aws.iam.Role:
    """A role `service` assumes to write into `log_group` only (CloudTrail, VPC flow logs)."""
    role = service_role(name, service, opts)
    aws.iam.RolePolicy(
        name,
        role=role.id,
        policy=log_group.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogStreams",
                            ],
                            "Resource": [arn, f"{arn}:*"],
                        }
                    ],
                }
            )
        ),
        opts=opts,
    )
    return role


def no_retries_failures_queued(
    name: str,
    function: aws.lambda_.Function,
    queue_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.lambda_.FunctionEventInvokeConfig:
    """Asynchronous invocations are not retried (a retry would repeat a crash or fight a run
    already under way); one that fails lands in `queue_arn` for a person."""
    return aws.lambda_.FunctionEventInvokeConfig(
        name,
        function_name=function.name,
        maximum_retry_attempts=0,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                destination=queue_arn
            )
        ),
        opts=opts,
    )
