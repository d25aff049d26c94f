"""The emulated drill: the real drill steps and the real handler code against an embedded moto
server on 127.0.0.1, in a world named from both stacks: as the real engine deployed them into
the offline backend (the demo), or as the program renders them under mocks (unit tests). No AWS
credentials.

moto cannot run Lambda code, so the handler runs in-process with the environment the dr
program gives the Lambda; what moto does not emulate is reported as "not emulated".
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from pulumi import automation as auto
from pulumi.runtime import rpc

from drill import automation
from drill.core import Drill
from drill.model import Target
from handlers import markers
from handlers.failover import HttpStatus, Runner, fetch_status
from handlers.model import parse_event
from outputs import StackOutput
from testing import emulation
from testing.harness import reference_name, run_program
from testing.offline import BIN, Offline

NOT_EMULATED = {
    "handler-deployed": "moto cannot run Lambda code; the handler runs in-process with the "
    "Lambda's own environment",
    "replication-healthy": "moto does not replicate RDS",
    "database-writable": "moto emulates neither RDS promotion (it still describes a replica) "
    "nor Aurora's global switchover and failover (a stand-in only records the new writer)",
    "dr-health-check": "moto reports every Route 53 health check as healthy",
    "regional-endpoints": "nothing serves HTTP in the emulation: the handler's GETs of the "
    "regions' /health are answered 200 by a stand-in",
    "dns-resolves-to-dr": "there is no DNS in the emulation",
    "marker-writers-deployed": "moto cannot run Lambda code; the marker writers run "
    "in-process with boto3 against moto",
    "markers-database": "moto's rds-data accepts every statement and stores nothing",
    "markers-table": "moto does not replicate DynamoDB global tables",
    "markers-bucket": "moto does not replicate S3 objects",
    "replication-back-to-primary": "moto does not replicate the dr database back to the "
    "primary, so the drill forces the failback",
}


def _endpoints_answer(*endpoints: str) -> HttpStatus:
    """The regions' /health as healthy, as moto reports their health checks (`regional-
    endpoints` is not emulated: the handler's verify-dr-endpoint and verify-primary-endpoint
    steps say so); any other URL is really requested."""
    known = tuple(e.rstrip("/") for e in endpoints if e)

    def status(url: str, timeout: float) -> int | None:
        if url.startswith(known):
            return 200
        return fetch_status(url, timeout)

    return status


class SkippingClock:
    """The handler's clock under moto: a wait advances time at once (moto's answers never
    change while it waits, so a real wait would only cost the drill minutes); parallel steps
    run in turn."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds

    def run_parallel(self, calls: Sequence[Callable[[], None]]) -> None:
        for call in calls:
            call()


@dataclass(frozen=True)
class Stacks:
    """Both stacks as the drill sees them: names, outputs, and the Lambda's environment."""

    primary_name: str
    primary: dict[str, Any]
    dr_name: str
    dr: dict[str, Any]
    lambda_variables: dict[str, str]
    refresh: Callable[[], str] | None = None
    # The exported deployments (`pulumi stack export`) when the engine deployed the stacks.
    deployments: dict[str, Mapping[str, Any]] | None = None


def from_mocks(progress: Callable[[str], None] = print) -> Stacks:
    """Both stacks rendered under Pulumi's mock runtime: fast, no engine (the unit tests)."""
    progress("[drill] rendering both stacks under Pulumi mocks (offline) ...")
    primary_graph = run_program("primary")
    dr_graph = run_program("dr", references={reference_name("primary"): primary_graph})
    return Stacks(
        reference_name("primary"),
        primary_graph.exports,
        reference_name("dr"),
        dr_graph.exports,
        emulation.lambda_environment(dr_graph),
    )


def from_engine(offline: Offline, progress: Callable[[str], None] = print) -> Stacks:
    """Both stacks as the real engine deployed them into the offline backend, read through
    the Automation API as `drill run` reads them from a real backend."""
    command = auto.PulumiCommand(root=str(BIN.parent))
    names = [reference_name(stack) for stack in ("primary", "dr")]
    progress(f"[drill] Automation API: selecting {names[0]} and {names[1]} ...")
    stacks = {
        name: automation.select(name, command, offline.project, offline.env()) for name in names
    }
    deployments = {name: stacks[name].export_stack().deployment or {} for name in names}
    function = next(
        r
        for r in deployments[names[1]].get("resources", [])
        if r["type"] == "aws:lambda/function:Function" and r["urn"].endswith("::dr-handler")
    )
    return Stacks(
        names[0],
        automation.outputs(stacks[names[0]]),
        names[1],
        automation.outputs(stacks[names[1]]),
        {k: _revealed(v) for k, v in function["inputs"]["environment"]["variables"].items()},
        automation.refresher(stacks, progress),
        deployments,
    )


def _revealed(value: Any) -> str:
    """A value of an exported deployment: a secret arrives as its JSON-encoded `plaintext`."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return str(json.loads(value["plaintext"]))
    return str(value)


def marker_settings(primary: Mapping[str, Any], dr: Mapping[str, Any]) -> dict[str, Any]:
    """Each region's marker writer as `components/markers.py` configures it, from the stacks'
    outputs (the emulated stacks need not deploy the writers: moto cannot run them)."""
    engine = str(dr[StackOutput.DATABASE_ENGINE])
    aurora = engine == markers.AURORA
    return {
        str(outputs[StackOutput.REGION]): markers.Settings(
            region=str(outputs[StackOutput.REGION]),
            table_name=str(primary[StackOutput.TABLE_NAMES]["orders"]),
            bucket_name=str(outputs[StackOutput.RECORDS_BUCKET_NAME]),
            db_engine=engine,
            db_cluster_arn=str(outputs.get(StackOutput.DATABASE_ARN, "")) if aurora else "",
            db_secret_name=str(outputs.get(StackOutput.MASTER_SECRET_NAME, "")) if aurora else "",
        )
        for outputs in (primary, dr)
    }


def in_process_markers(
    settings: Mapping[str, markers.Settings],
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """The marker writer's own code, in-process, against moto (its boto3 calls are real).
    Clients are built once, here: building them takes longer than a short emulated window."""
    prepared = {region: markers.clients(region) for region in settings}

    def invoke(region: str, payload: dict[str, Any]) -> dict[str, Any]:
        return markers.run(payload, lambda: settings[region], prepared.__getitem__)

    return invoke


def _secrets(settings: Mapping[str, markers.Settings]) -> None:
    """The replicated master secret the Data API is reached with, under its name in each
    region (the Aurora tier only)."""
    for region, s in settings.items():
        if s.db_secret_name:
            boto3.client("secretsmanager", region_name=region).create_secret(
                Name=s.db_secret_name, SecretString='{"username": "emulated"}'
            )


def build(
    stacks: Stacks | None = None,
    progress: Callable[[str], None] = print,
    trigger_override: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    output_overrides: dict[str, Any] | None = None,
) -> Drill:
    """Create the stacks' world in the current moto backend and return the drill (by default
    on the stacks rendered under mocks)."""
    stacks = stacks or from_mocks(progress)
    progress("[drill] creating the emulated AWS world in moto ...")
    world = emulation.build(stacks.lambda_variables, stacks.dr[StackOutput.REGION])
    emulation.data_stores(stacks.primary, stacks.dr)
    primary = {**stacks.primary, StackOutput.HEALTH_CHECK_ID: world.primary_health_check_id}
    dr = {
        **stacks.dr,
        StackOutput.HEALTH_CHECK_ID: world.dr_health_check_id,
        **(output_overrides or {}),
    }

    def in_process(payload: dict[str, Any]) -> dict[str, Any]:
        # The handler's JSON log lines would bury the progress; the report has its timeline.
        with contextlib.redirect_stdout(io.StringIO()):
            return Runner(
                world.env,
                emulation.clients(world.env),
                parse_event(payload),
                clock=SkippingClock(),
                http_status=_endpoints_answer(world.env.dr_endpoint, world.env.primary_endpoint),
            ).dispatch()

    target = Target.from_outputs(stacks.primary_name, primary, stacks.dr_name, dr)
    writers = marker_settings(primary, dr)
    _secrets(writers)
    return Drill(
        target=target,
        client=lambda service, region: boto3.client(service, region_name=region),  # type: ignore[call-overload]
        trigger=trigger_override or in_process,
        mode="emulated",
        not_emulated=NOT_EMULATED,
        refresh=stacks.refresh,
        progress=progress,
        markers=in_process_markers(writers),
    )
