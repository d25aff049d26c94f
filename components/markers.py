"""`MarkerWriter`: the drill's marker-writer Lambda in one region (handlers/markers.py).

It writes numbered markers into the region's database (Aurora only, through the Data API),
the orders table and the records bucket, so a drill measures RTO and lost writes from what the
stores acknowledged. Its role names every resource it touches; nothing is granted on `*`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.context import RegionalContext
from components.iam import no_retries_failures_queued, service_role
from components.lambdas import MARKERS_SOURCES, code_archive, json_logging
from handlers import markers

RUNTIME = aws.lambda_.Runtime.PYTHON3D12
# One write invocation runs up to markers.MAX_WINDOW_SECONDS; the Lambda maximum leaves room.
TIMEOUT_SECONDS = 900


@dataclass
class MarkerWriterArgs:
    context: RegionalContext
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    # The key of the table, the bucket and the primary's secret (the stack's data key).
    data_key_arn: pulumi.Input[str]
    db_engine: str
    # Aurora only: the cluster in this region (its ARN is what the Data API takes) and the
    # name of the master credentials' secret (the same name in both regions).
    db_cluster_arn: pulumi.Input[str] | None = None
    db_secret_name: pulumi.Input[str] | None = None
    db_name: str = "trading"


def marker_policy(
    *,
    account: Account,
    table_arn: str,
    bucket_arn: str,
    key_arns: list[str],
    log_group_arn: str,
    queue_arn: str,
    db_cluster_arn: str | None,
    db_secret_name: str | None,
) -> str:
    """Every statement names the exact resources the writer acts on."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OrdersTableMarkers",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
            "Resource": table_arn,
        },
        {
            "Sid": "RecordsBucketMarkers",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"{bucket_arn}/markers/*",
        },
        {
            # Without it S3 answers 403 for a missing key, and a lost marker would look like a
            # denial (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
            "Sid": "MissingMarkersAnswer404",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": "markers/*"}},
        },
        {
            # S3 SSE-KMS objects and the secret: the data key only.
            "Sid": "DataKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arns,
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {"Sid": "OnFailure", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
    ]
    if db_cluster_arn and db_secret_name:
        # The Data API reads the secret with the caller's own permissions
        # (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.access.html);
        # a secret's ARN is its name plus "-" and six random characters
        # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
        secret_arn = account.arn("secretsmanager", f"secret:{db_secret_name}-??????")
        statements += [
            {
                "Sid": "DataApiOnTheCluster",
                "Effect": "Allow",
                "Action": "rds-data:ExecuteStatement",
                "Resource": db_cluster_arn,
            },
            {
                "Sid": "DatabaseSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": secret_arn,
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class MarkerWriter(pulumi.ComponentResource):
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: MarkerWriterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:markers:MarkerWriter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{args.context.prefix}-drill-markers"
        aurora = args.db_engine == markers.AURORA
        if aurora and (args.db_cluster_arn is None or args.db_secret_name is None):
            raise ValueError(
                f"MarkerWriter {name}: db_engine {markers.AURORA} needs db_cluster_arn and "
                "db_secret_name"
            )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-markers-logs",
            name=f"/aws/lambda/{function_name}",
            kms_key_id=args.context.logs_key_arn,
            retention_in_days=args.context.log_retention_days,
            opts=child,
        )
        # An invocation that crashes is kept for a person, encrypted with the data key.
        on_failure = aws.sqs.Queue(
            f"{name}-markers-on-failure",
            name=f"{function_name}-on-failure",
            kms_master_key_id=args.data_key_arn,
            message_retention_seconds=14 * 24 * 3600,
            opts=child,
        )
        role = service_role(f"{name}-markers-role", "lambda.amazonaws.com", child)
        policy = pulumi.Output.all(
            queue_arn=on_failure.arn,
            account=args.context.account,
            table_arn=args.table_arn,
            bucket_arn=args.bucket_arn,
            key_arns=[args.data_key_arn],
            log_group_arn=log_group.arn,
            db_cluster_arn=args.db_cluster_arn if aurora else None,
            db_secret_name=args.db_secret_name if aurora else None,
        ).apply(lambda v: marker_policy(**v))
        aws.iam.RolePolicy(f"{name}-markers-role", role=role.id, policy=policy, opts=child)

        values: dict[str, pulumi.Input[str]] = {
            markers.ENV_REGION: args.context.region,
            markers.ENV_TABLE: args.table_name,
            markers.ENV_BUCKET: args.bucket_name,
            markers.ENV_DB_ENGINE: args.db_engine,
            markers.ENV_DB_NAME: args.db_name,
        }
        if aurora:
            assert args.db_cluster_arn is not None and args.db_secret_name is not None
            values[markers.ENV_DB_CLUSTER_ARN] = args.db_cluster_arn
            values[markers.ENV_DB_SECRET_NAME] = args.db_secret_name
        # Each variable checked by the definition the handler reads it with, one Output each
        # (components/failover.py, FailoverAutomation._environment, says why).
        variables = {
            name: pulumi.Output.from_input(value).apply(
                lambda plain, name=name: markers.Settings.encode(name, plain)
            )
            for name, value in values.items()
        }
        function = aws.lambda_.Function(
            f"{name}-markers",
            name=function_name,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler="handlers.markers.handler",
            code=code_archive(MARKERS_SOURCES),
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            kms_key_arn=args.data_key_arn,
            logging_config=json_logging(log_group.name),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        # A drill invokes it synchronously and reads the answer; a retry would write a second,
        # overlapping run of markers.
        no_retries_failures_queued(f"{name}-markers-invoke", function, on_failure.arn, child)
        self.function_name = function.name
        self.register_outputs({"functionName": self.function_name})
