"""The drill: the emulated drill end to end, its failure paths, and the Automation API sequence
of the real drill with an injected fake `PulumiCommand` (the CLI cannot be installed here)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import pytest
from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

import drill.__main__ as cli
from drill import automation, emulated
from drill.core import DrillOptions
from drill.model import FAILED, NOT_EMULATED, PASSED, DrillInputError, Target
from handlers.failover import Runner
from handlers.model import parse_event
from tests.conftest import StackGraph
from tools import emulation

FAST = DrillOptions(
    failback=True, marker_interval_seconds=0.01, poll_interval_seconds=0.05, poll_timeout_seconds=1
)


@pytest.fixture
def server() -> Iterator[str]:
    with emulation.moto_server() as endpoint:
        yield endpoint


def test_emulated_drill_fails_over_and_back_and_marks_what_it_cannot_see(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["emulate", "--failback", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "drill-report.json").read_text())
    assert report["mode"] == "emulated"
    assert report["verdict"] == "PASSED"
    assert [p["name"] for p in report["phases"]] == [
        "preflight",
        "rpo-markers",
        "failover",
        "until-dr-serves",
        "rpo",
        "failback",
        "refresh",
    ]
    checks = report["checks"]
    assert checks["preflight"]["dr-at-pilot-light"] == PASSED
    assert checks["until-dr-serves"]["node-groups-at-full"] == PASSED
    assert checks["failback"]["node-groups-at-pilot-light"] == PASSED
    for unseen in ("database-writable", "dr-health-check", "dns-resolves-to-dr"):
        assert checks["until-dr-serves"][unseen] == NOT_EMULATED
    assert checks["preflight"]["replication-healthy"] == NOT_EMULATED
    assert report["rpoStatus"] == NOT_EMULATED and report["rpoSeconds"] is None
    assert 0 < report["rtoSeconds"] < report["objectives"]["rtoSeconds"]
    failover = {e["step"]: e for e in report["handlerRuns"]["failover"]["timeline"]}
    assert failover["scale-node-groups"]["outcome"] == "succeeded"
    assert failover["verify-database"]["drillStatus"] == NOT_EMULATED
    assert report["handlerRuns"]["failback"]["forced"] is True
    markdown = (tmp_path / "drill-report.md").read_text()
    assert markdown.startswith("# Emulated failover drill (moto, not AWS): PASSED")
    assert (tmp_path / "drill-timeline.png").read_bytes().startswith(b"\x89PNG")
    assert "Emulated drill PASSED" in capsys.readouterr().out


def failing_scale(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "outcome": "FAILED",
        "failedSteps": ["scale-node-groups"],
        "timeline": [
            {
                "step": "scale-node-groups",
                "outcome": "failed",
                "startedAt": "2026-11-24T00:00:00+00:00",
                "endedAt": "2026-11-24T00:00:01+00:00",
                "seconds": 1.0,
                "detail": "AccessDeniedException",
            }
        ],
    }


def test_a_failed_handler_step_fails_the_drill(server: str) -> None:
    drill = emulated.build(progress=lambda _: None, trigger_override=failing_scale)
    report = drill.run(FAST)
    assert not report.passed
    assert report.checks["failover"]["handler step scale-node-groups"] == FAILED
    assert report.checks["until-dr-serves"]["node-groups-at-full"] == FAILED
    assert (
        "phase until-dr-serves failed: dr did not serve before the timeout"
        in report.verdict_reasons
    )


def test_exceeding_the_rto_objective_fails_the_drill_and_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = emulated.build

    def impatient(**kwargs: Any) -> Any:
        return real_build(
            output_overrides={"objectives": {"rtoSeconds": 0, "rpoSeconds": 300}}, **kwargs
        )

    monkeypatch.setattr(emulated, "build", impatient)
    assert cli.main(["emulate", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "drill-report.json").read_text())
    assert report["verdict"] == "FAILED"
    assert any(
        r.startswith("RTO ") and r.endswith("exceeds the objective 0 s")
        for r in report["verdictReasons"]
    )


def test_failed_preflight_stops_before_changing_anything(server: str) -> None:
    calls: list[dict] = []
    drill = emulated.build(
        progress=lambda _: None, trigger_override=lambda p: calls.append(p) or {}
    )
    eks = boto3.client("eks", region_name="us-west-2")
    name = drill.target.node_groups["trading"]
    eks.update_nodegroup_config(
        clusterName=drill.target.cluster_name,
        nodegroupName=name,
        scalingConfig={"minSize": 3, "desiredSize": 6, "maxSize": 12},
    )
    report = drill.run(FAST)
    assert not report.passed
    assert [p.name for p in report.phases] == ["preflight"]
    assert report.checks["preflight"]["dr-at-pilot-light"] == FAILED
    assert calls == []
    orders = boto3.client("dynamodb", region_name="us-east-1").scan(
        TableName=drill.target.orders_table
    )
    assert orders["Items"] == []


# -- the real drill's Automation API sequence ------------------------------------------------------

HISTORY = json.dumps(
    [
        {
            "kind": "refresh",
            "startTime": "2026-11-24T00:00:00.000Z",
            "endTime": "2026-11-24T00:00:01.000Z",
            "message": "",
            "environment": {},
            "config": {},
            "result": "succeeded",
            "resourceChanges": {},
        }
    ]
)


class FakePulumi(PulumiCommand):
    """Answers the CLI calls the Automation API makes, from the mocked programs' exports."""

    def __init__(self, stacks: dict[str, dict[str, Any]]) -> None:
        self.command = "pulumi"
        self.version = VersionInfo.parse("3.272.0")
        self.stacks = stacks
        self.calls: list[list[str]] = []
        self.selected = ""

    def run(self, args, cwd, additional_env, on_output=None, on_error=None) -> CommandResult:  # type: ignore[override]
        self.calls.append(list(args))
        if args[:2] == ["stack", "select"]:
            name = args[args.index("--stack") + 1]
            if name not in self.stacks:
                raise create_command_error(
                    CommandResult("", f"error: no stack named '{name}' found", 255)
                )
            self.selected = name
            return CommandResult("", "", 0)
        if args[:2] == ["stack", "output"]:
            name = args[args.index("--stack") + 1]
            return CommandResult(json.dumps(self.stacks[name]), "", 0)
        if args[:2] == ["stack", "history"]:
            return CommandResult(HISTORY, "", 0)
        return CommandResult("", "", 0)


PRIMARY = "acme/trading-platform/primary"
DR = "acme/trading-platform/dr"


def deploy_handler_function(region: str, name: str) -> None:
    """A Lambda function record for the preflight (moto stores it; it cannot run it)."""
    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(
        RoleName="failover",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handlers/__init__.py", "")
    boto3.client("lambda", region_name=region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handlers.failover.handler",
        Code={"ZipFile": archive.getvalue()},
    )


def test_real_drill_selects_reads_and_refreshes_both_stacks(
    server: str, primary: StackGraph, dr: StackGraph
) -> None:
    world = emulation.build(emulation.lambda_environment(dr.graph), "us-west-2")
    emulation.data_stores(primary.exports, dr.exports)
    deploy_handler_function("us-west-2", dr.exports["failoverFunctionName"])
    fake = FakePulumi(
        {
            PRIMARY: primary.exports | {"healthCheckId": world.primary_health_check_id},
            DR: dr.exports | {"healthCheckId": world.dr_health_check_id},
        }
    )

    def in_process(payload: dict[str, Any]) -> dict[str, Any]:
        with redirect_stdout(io.StringIO()):
            return Runner(world.env, emulation.clients(world.env), parse_event(payload)).dispatch()

    drill = automation.build(PRIMARY, DR, command=fake, trigger=in_process, progress=lambda _: None)
    assert drill.mode == "aws" and not drill.not_emulated
    report = drill.run(FAST)

    selects = [c for c in fake.calls if c[:2] == ["stack", "select"]]
    assert [c[c.index("--stack") + 1] for c in selects][:2] == [PRIMARY, DR]
    outputs = [c for c in fake.calls if c[:2] == ["stack", "output"]]
    assert {c[c.index("--stack") + 1] for c in outputs} == {PRIMARY, DR}
    refreshes = [c for c in fake.calls if c and c[0] == "refresh"]
    assert len(refreshes) == 2 and all("--yes" in c for c in refreshes)
    assert fake.calls.index(refreshes[0]) > fake.calls.index(outputs[-1])
    assert report.phases[-1].name == "refresh" and report.phases[-1].status == PASSED
    # Against moto as if it were AWS, nothing is excused: promotion and replication are absent.
    assert report.checks["until-dr-serves"]["node-groups-at-full"] == PASSED
    assert report.checks["until-dr-serves"]["database-writable"] == FAILED
    assert report.rpo_status == FAILED
    assert not report.passed


def test_unknown_stack_is_refused_with_exit_code_2(
    primary: StackGraph, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakePulumi({PRIMARY: primary.exports})
    monkeypatch.setattr(automation, "PulumiCommand", lambda: fake, raising=False)
    monkeypatch.setattr(automation.auto, "PulumiCommand", lambda: fake)
    assert cli.main(["run", "--primary", PRIMARY, "--dr", "acme/trading-platform/nope"]) == 2
    assert "no stack named 'acme/trading-platform/nope'" in capsys.readouterr().err
    assert not [c for c in fake.calls if c and c[0] == "refresh"]


def test_missing_pulumi_cli_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli.main(["run", "--primary", PRIMARY, "--dr", DR]) == 2
    assert "install the Pulumi CLI" in capsys.readouterr().err


def test_stack_without_drill_outputs_is_refused(primary: StackGraph, dr: StackGraph) -> None:
    incomplete = {k: v for k, v in dr.exports.items() if k != "failoverFunctionName"}
    with pytest.raises(DrillInputError, match=r"lacks the output\(s\) failoverFunctionName"):
        Target.from_outputs(PRIMARY, primary.exports, DR, incomplete)
    no_objectives = {k: v for k, v in dr.exports.items() if k != "objectives"}
    with pytest.raises(DrillInputError, match="exports no objectives: set trading:objectives"):
        Target.from_outputs(PRIMARY, primary.exports, DR, no_objectives)
