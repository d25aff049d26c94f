"""The emulated drill: the real drill steps and the real handler code against an embedded moto
server on 127.0.0.1, in a world named from the program's own resource graph for each stack's
real config. No AWS credentials, no Pulumi CLI.

moto cannot run Lambda code, so the handler runs in-process with the environment the dr
program gives the Lambda; what moto does not emulate is reported as "not emulated".
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import boto3

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


def build(
    progress: Callable[[str], None] = print,
    trigger_override: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    output_overrides: dict[str, Any] | None = None,
) -> Drill:
    """Render both stacks, create their world in the current moto backend, return the drill."""
    progress("[drill] rendering both stacks under Pulumi mocks (offline) ...")
    primary_graph = run_program("primary")
    dr_graph = run_program("dr", references={"organization/trading/primary": primary_graph})
    variables = emulation.lambda_environment(dr_graph)
    progress("[drill] creating the emulated world in moto ...")
    world = emulation.build(variables, dr_graph.exports["region"])
    emulation.data_stores(primary_graph.exports, dr_graph.exports)
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
