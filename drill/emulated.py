"""The emulated drill: the real drill steps and the real handler code against an embedded moto
server on 127.0.0.1, in a world named from the program's own resource graph for each stack's
real config. No AWS credentials, no Pulumi CLI.

moto cannot run Lambda code, so the handler runs in-process with the environment the dr
program gives the Lambda; what moto does not emulate is reported as "not emulated".
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from drill.core import Drill
from drill.model import Target
from handlers.failover import Runner
from handlers.model import parse_event
from tools import emulation
from tools.harness import run_program

NOT_EMULATED = {
    "handler-deployed": "moto cannot run Lambda code; the handler runs in-process with the "
    "Lambda's own environment",
    "replication-healthy": "moto does not replicate RDS",
    "database-writable": "moto does not emulate RDS promotion (it still describes a replica)",
    "dr-health-check": "moto reports every Route 53 health check as healthy",
    "dns-resolves-to-dr": "there is no DNS in the emulation",
    "rpo-markers": "moto does not replicate DynamoDB global tables or S3 objects",
    "replication-back-to-primary": "moto does not replicate the dr database back to the "
    "primary, so the drill forces the failback",
}
PRIMARY_STACK = "emulated/trading-platform/primary"
DR_STACK = "emulated/trading-platform/dr"


def reset(endpoint: str) -> None:
    """Empty every moto backend; they are process-wide, and each emulation starts afresh."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port, with boto3 pointed at it for the duration."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    # moto announces the requested port (0), not the one it got; the progress lines say enough.
    with contextlib.redirect_stdout(io.StringIO()):
        server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    reset(endpoint)
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        )
    }
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="emulated",
        AWS_SECRET_ACCESS_KEY="emulated",
        AWS_SESSION_TOKEN="emulated",
    )
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def _data_stores(primary: dict[str, Any], dr: dict[str, Any]) -> None:
    """The stores the RPO markers go to, named by the stacks' exports: the orders table in both
    regions (a global table's replica keeps the name) and each region's records bucket."""
    for region, bucket in (
        (primary["region"], primary["recordsBucketName"]),
        (dr["region"], dr["recordsBucketName"]),
    ):
        boto3.client("dynamodb", region_name=region).create_table(
            TableName=primary["tableNames"]["orders"],
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # us-east-1 is S3's default location and refuses to be named as a constraint.
        location = {} if region == "us-east-1" else {"LocationConstraint": region}
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {})
        )


def build(
    progress: Callable[[str], None] = print,
    trigger_override: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    output_overrides: dict[str, Any] | None = None,
) -> Drill:
    """Render both stacks, create their world in the current moto backend, return the drill."""
    progress("[drill] rendering both stacks under Pulumi mocks (offline) ...")
    primary_graph = run_program("primary")
    dr_graph = run_program(
        "dr", references={"organization/trading-platform/primary": primary_graph}
    )
    variables = emulation.lambda_environment(dr_graph)
    progress("[drill] creating the emulated world in moto ...")
    world = emulation.build(variables, dr_graph.exports["region"])
    _data_stores(primary_graph.exports, dr_graph.exports)
    primary = {**primary_graph.exports, "healthCheckId": world.primary_health_check_id}
    dr = {**dr_graph.exports, "healthCheckId": world.dr_health_check_id, **(output_overrides or {})}

    def in_process(payload: dict[str, Any]) -> dict[str, Any]:
        # The handler's JSON log lines would bury the progress; the report has its timeline.
        with contextlib.redirect_stdout(io.StringIO()):
            return Runner(world.env, emulation.clients(world.env), parse_event(payload)).dispatch()

    target = Target.from_outputs(PRIMARY_STACK, primary, DR_STACK, dr)
    return Drill(
        target=target,
        client=lambda service, region: boto3.client(service, region_name=region),  # type: ignore[call-overload]
        trigger=trigger_override or in_process,
        mode="emulated",
        not_emulated=NOT_EMULATED,
        progress=progress,
    )
