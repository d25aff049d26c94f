"""The drill on stacks rendered under mocks (fast): its failure paths, exit codes and inputs.
The drill on the real engine's stacks, through the Automation API, is in test_engine.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import drill.__main__ as cli
from drill import emulated
from drill.core import DrillOptions
from drill.model import FAILED, DrillInputError, Target
from testing import emulation
from tests.conftest import StackGraph

FAST = DrillOptions(
    failback=True,
    marker_interval_seconds=0.01,
    pre_fault_seconds=0.2,
    poll_interval_seconds=0.05,
    poll_timeout_seconds=1,
)


@pytest.fixture
def server() -> Iterator[str]:
    with emulation.moto_server() as endpoint:
        yield endpoint


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

    def impatient(stacks: emulated.Stacks, **kwargs: Any) -> Any:
        return real_build(
            stacks, output_overrides={"objectives": {"rtoSeconds": 0, "rpoSeconds": 300}}, **kwargs
        )

    monkeypatch.setattr(cli, "deploy_offline", lambda display: emulated.from_mocks(display.message))
    monkeypatch.setattr(emulated, "build", impatient)
    assert cli.main(["emulate", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "drill-report.json").read_text())
    assert report["verdict"] == "FAILED"
    # The emulation cannot measure RTO (moto's rds-data stores nothing; the default tier has
    # no Data API), so the serving time is what exceeds the objective.
    assert report["rtoSeconds"] is None
    assert any(
        r.startswith("dr served ") and r.endswith("beyond the RTO objective 0 s")
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


# -- inputs ----------------------------------------------------------------------------------------

PRIMARY = "acme/trading/primary"
DR = "acme/trading/dr"


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
