"""The drill's marker writer (handlers/markers.py) and its component's permissions.

DynamoDB and S3 are moto (real boto3 calls, state checked after). moto's rds-data accepts any
statement and stores nothing, so what the writer sends to the Data API is checked with
botocore's Stubber, which validates every request against the real service model: a stub,
not an emulation of Aurora."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from components.account import Account
from components.lambdas import MARKERS_SOURCES
from components.markers import marker_policy
from handlers import markers
from handlers.telemetry import LOGGER
from testing.harness import stack_config
from tests.conftest import StackGraph, listed
from tests.test_lambda_packaging import as_the_runtime_writes

FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
REGION = "us-east-1"
TABLE = "trading-orders"
BUCKET = "trading-primary-records"
CLUSTER = "arn:aws:rds:us-east-1:123456789012:cluster:trading-primary-db"
SECRET = "trading-primary-db/master"
AURORA = markers.Settings(REGION, TABLE, BUCKET, markers.AURORA, CLUSTER, SECRET)
POSTGRES = markers.Settings(REGION, TABLE, BUCKET, "postgres")


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def time(self) -> float:
        self.now += 0.001  # every call takes a millisecond
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0)


@pytest.fixture
def aws() -> Iterator[markers.Clients]:
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET, SecretString=json.dumps({"username": "u", "password": "p"})
        )
        yield markers.clients(REGION)


def write(settings: markers.Settings, aws: markers.Clients, **event: Any) -> dict[str, Any]:
    clock = FakeClock()
    payload = {"action": "write", "run": "r1", "intervalSeconds": 1.0, **event}
    payload.setdefault("stopAt", clock.now + 5)
    return markers.run(payload, lambda: settings, lambda _: aws, clock=clock)


def test_writer_puts_numbered_markers_in_the_table_and_bucket_and_logs_each_ack(
    aws: markers.Clients,
) -> None:
    answer = write(POSTGRES, aws)
    assert answer["outcome"] == "DONE"
    assert [m["seq"] for m in answer["markers"]] == [0, 1, 2, 3, 4]
    assert answer["storeStatus"]["database"] == markers.NOT_MEASURED_NO_DATA_API
    for marker in answer["markers"]:
        assert set(marker["stores"]) == {"table", "bucket"}
        assert all(reply["ackAt"] >= marker["attemptedAt"] for reply in marker["stores"].values())
    item = aws.dynamodb.get_item(
        TableName=TABLE, Key={"order_id": {"S": markers.table_key("r1", REGION, 3)}}
    )["Item"]
    assert item["drill_run"] == {"S": "r1"}
    body = aws.s3.get_object(Bucket=BUCKET, Key=markers.object_key("r1", REGION, 3))["Body"]
    assert float(body.read()) == answer["markers"][3]["attemptedAt"]


def test_inventory_reads_back_what_the_stores_hold(aws: markers.Clients) -> None:
    write(POSTGRES, aws)
    answer = markers.run(
        {"action": "inventory", "run": "r1", "markers": {REGION: [0, 4, 5, 9]}},
        lambda: POSTGRES,
        lambda _: aws,
    )
    assert answer["outcome"] == "DONE"
    assert answer["held"]["table"] == {REGION: [0, 4]}
    assert answer["held"]["bucket"] == {REGION: [0, 4]}
    assert "database" not in answer["held"]


def test_aurora_markers_go_through_the_data_api_with_the_secret(aws: markers.Clients) -> None:
    """Stub: the statements and parameters, validated against the rds-data service model."""
    secret_arn = aws.secretsmanager.describe_secret(SecretId=SECRET)["ARN"]
    stubber = Stubber(aws.rds_data)
    common = {"resourceArn": CLUSTER, "secretArn": secret_arn, "database": "trading"}
    stubber.add_response(
        "execute_statement", {}, {**common, "sql": markers.CREATE_TABLE, "parameters": []}
    )
    for seq in range(2):
        stubber.add_response(
            "execute_statement",
            {"numberOfRecordsUpdated": 1},
            {
                **common,
                "sql": markers.INSERT,
                "parameters": [
                    {"name": "run", "value": {"stringValue": "r1"}},
                    {"name": "region", "value": {"stringValue": REGION}},
                    {"name": "seq", "value": {"longValue": seq}},
                    {"name": "written_at", "value": {"doubleValue": ANY}},
                ],
            },
        )
    with stubber:
        clock = FakeClock()
        answer = write(AURORA, aws, stopAt=clock.now + 2)
    stubber.assert_no_pending_responses()
    assert all("ackAt" in m["stores"]["database"] for m in answer["markers"])


def test_a_secondary_without_a_writer_is_recorded_as_not_acknowledged(
    aws: markers.Clients,
) -> None:
    stubber = Stubber(aws.rds_data)
    stubber.add_client_error("execute_statement", "BadRequestException", http_status_code=400)
    stubber.add_client_error("execute_statement", "BadRequestException", http_status_code=400)
    with stubber:
        answer = write(AURORA, aws, stopAt=FakeClock().now + 2)
    assert [m["stores"]["database"] for m in answer["markers"]] == [
        {"error": "BadRequestException"},
        {"error": "BadRequestException"},
    ]
    assert all("ackAt" in m["stores"]["table"] for m in answer["markers"])


def test_dr_writer_settles_after_every_store_acknowledged(aws: markers.Clients) -> None:
    answer = write(POSTGRES, aws, stopAt=FakeClock().now + 600, settleMarkers=2, firstSeq=7)
    assert [m["seq"] for m in answer["markers"]] == [7, 8, 9]


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {"action": "write"},
        {"action": "write", "run": "R!"},
        {"action": "write", "run": "r1", "stopAt": "soon", "intervalSeconds": 1},
        {"action": "write", "run": "r1", "stopAt": 10**12, "intervalSeconds": 1},
        {"action": "write", "run": "r1", "stopAt": 1_001, "intervalSeconds": 0},
        {"action": "inventory", "run": "r1", "markers": {"us-east-1": ["0"]}},
        {"action": "inventory", "run": "r1", "markers": {"nowhere": [0]}},
        {"action": "delete", "run": "r1"},
    ],
)
def test_a_malformed_event_touches_no_aws_api(event: Any) -> None:
    def untouchable(*_: Any) -> Any:
        raise AssertionError("a malformed event reached the environment or a client")

    answer = markers.run(event, untouchable, untouchable, clock=FakeClock())
    assert answer["outcome"] == "REJECTED"
    assert answer["error"]


def test_settings_read_the_variables_the_component_sets() -> None:
    env = {
        markers.ENV_REGION: REGION,
        markers.ENV_TABLE: TABLE,
        markers.ENV_BUCKET: BUCKET,
        markers.ENV_DB_ENGINE: markers.AURORA,
        markers.ENV_DB_CLUSTER_ARN: CLUSTER,
        markers.ENV_DB_SECRET_NAME: SECRET,
    }
    assert markers.Settings.from_environment(env) == AURORA
    with pytest.raises(RuntimeError, match="MARKER_DB_CLUSTER_ARN"):
        markers.Settings.from_environment({**env, markers.ENV_DB_CLUSTER_ARN: ""})
    with pytest.raises(RuntimeError, match="MARKER_TABLE"):
        markers.Settings.from_environment({k: v for k, v in env.items() if k != "MARKER_TABLE"})


def writer_policy(cluster: str | None, secret: str | None) -> dict[str, Any]:
    return json.loads(
        marker_policy(
            account=Account("123456789012", "aws", REGION),
            table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/trading-orders",
            bucket_arn=f"arn:aws:s3:::{BUCKET}",
            key_arns=["arn:aws:kms:us-east-1:123456789012:key/data"],
            log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x",
            queue_arn="arn:aws:sqs:us-east-1:123456789012:trading-primary-drill-markers-on-failure",
            db_cluster_arn=cluster,
            db_secret_name=secret,
        )
    )


def test_the_writer_role_names_exact_resources() -> None:
    policy = writer_policy(CLUSTER, SECRET)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    for statement in policy["Statement"]:
        resources = listed(statement["Resource"])
        assert "*" not in resources, statement
        assert all(not r.endswith(":*:*") for r in resources)
    assert by_sid["DataApiOnTheCluster"] == {
        "Sid": "DataApiOnTheCluster",
        "Effect": "Allow",
        "Action": "rds-data:ExecuteStatement",
        "Resource": CLUSTER,
    }
    assert by_sid["DatabaseSecret"]["Resource"] == (
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{SECRET}-??????"
    )
    assert by_sid["OrdersTableMarkers"]["Action"] == ["dynamodb:PutItem", "dynamodb:GetItem"]
    assert by_sid["RecordsBucketMarkers"]["Resource"] == f"arn:aws:s3:::{BUCKET}/markers/*"


def test_on_the_postgres_tier_the_role_has_no_data_api_or_secret() -> None:
    policy = writer_policy(None, None)
    actions = json.dumps(policy)
    assert "rds-data" not in actions and "secretsmanager" not in actions


# -- logs and code ------------------------------------------------------------------------------


def test_each_invocation_logs_one_record_correlated_by_the_drill_run(
    aws: markers.Clients, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER.name)
    write(POSTGRES, aws)
    markers.run(
        {"action": "inventory", "run": "r1", "markers": {REGION: [0, 9]}},
        lambda: POSTGRES,
        lambda _: aws,
    )
    markers.run({"action": "delete", "run": "r1"}, lambda: POSTGRES, lambda _: aws)
    written, taken, rejected = [as_the_runtime_writes(r) for r in caplog.records]
    assert {r["correlationId"] for r in (written, taken, rejected)} == {"r1"}
    assert written["message"] == "markers written" and written["region"] == REGION
    assert (written["markers"], written["acknowledged"]) == (5, {"table": 5, "bucket": 5})
    assert written["errors"] == {}
    assert (taken["message"], taken["held"]) == ("inventory taken", {"table": 1, "bucket": 1})
    assert (rejected["level"], rejected["why"]) == (
        "WARNING",
        "action='delete': write or inventory are allowed",
    )


def test_store_errors_are_counted_by_code_in_the_record(
    aws: markers.Clients, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER.name)
    stubber = Stubber(aws.rds_data)
    for _ in range(2):
        stubber.add_client_error("execute_statement", "BadRequestException", http_status_code=400)
    with stubber:
        write(AURORA, aws, stopAt=FakeClock().now + 2)
    (written,) = [as_the_runtime_writes(r) for r in caplog.records]
    assert written["errors"] == {"database": {"BadRequestException": 2}}
    assert written["acknowledged"] == {"table": 2, "bucket": 2}


def test_the_writer_logs_json_to_its_encrypted_group_from_the_listed_sources(
    stack: StackGraph,
) -> None:
    (function,) = [f for f in stack.of_type(FUNCTION) if f.name.endswith("-markers")]
    prefix = function.name.removesuffix("-markers")
    group = stack.one(LOG_GROUP, f"{prefix}-markers-logs")
    assert function.inputs["loggingConfig"] == {
        "logFormat": "JSON",
        "applicationLogLevel": "INFO",
        "systemLogLevel": "INFO",
        "logGroup": group.inputs["name"],
    }
    assert group.inputs["kmsKeyId"] == stack.one(KEY, f"trading-{prefix}-logs").outputs["arn"]
    assert group.inputs["retentionInDays"] == stack_config(prefix)["trading:logRetentionDays"]
    assert sorted(function.inputs["code"].assets) == sorted(MARKERS_SOURCES)
