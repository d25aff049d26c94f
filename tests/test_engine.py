"""Both stacks on the real Pulumi engine: the CLI built by scripts/setup, a local backend, the
policy pack as its own process, and STAND-IN providers (testing/standins) in place of the real
plugins. What the engine decides (project loading, config, diffs, policy enforcement, stack
references, the Automation API) is real; what AWS would do is not tested here.

Run only these with `bash scripts/test -m engine`, or skip them with `-m "not engine"`.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

import drill.__main__ as cli
from drill import automation
from drill.model import NOT_EMULATED, PASSED, DrillInputError, Target
from testing.harness import ROOT, reference_name
from testing.offline import BIN, Offline
from tests.conftest import Shipped

pytestmark = pytest.mark.engine
# The tests that read the shipped stacks share one worker, which deploys them once
# (tests/conftest.py `shipped`); loadgroup usually gives the health-check-inversion pair
# (tests/test_recovery.py) to the other, and the rest of the suite fills both.
SHIPPED = pytest.mark.xdist_group("engine")

STACKS = ("primary", "dr")


@pytest.fixture(scope="module")
def deployed(shipped: Shipped) -> Offline:
    """Both stacks deployed, primary then dr, with the policy pack enforced."""
    return shipped.offline


@SHIPPED
def test_both_stack_files_load_and_list_their_keys(deployed: Offline) -> None:
    for stack in STACKS:
        listed = json.loads(deployed.pulumi("config", "--stack", stack, "--json").stdout)
        assert listed["trading:role"]["value"] == stack
        assert {
            f"trading:{key}"
            for key in ("region", "peerRegion", "network", "capacity", "database", "dns")
        } <= set(listed)
        # Declared with a default in Pulumi.yaml, so the CLI supplies it.
        assert listed["trading:namePrefix"]["value"] == "trading"


@SHIPPED
def test_previews_of_both_stacks_pass_the_pack_and_change_nothing(deployed: Offline) -> None:
    """What `scripts/preview-offline` and the pull-request workflow run, on deployed stacks."""
    for stack in STACKS:
        result = deployed.pulumi(
            "preview", "--stack", stack, "--expect-no-changes", *deployed.policy_args(), check=False
        )
        assert result.returncode == 0, result.stdout[-4000:]
        assert "[mandatory]" not in result.stdout
        assert "trading-guard" in result.stdout


@SHIPPED
def test_dr_exports_everything_the_drill_reads(deployed: Offline) -> None:
    outputs = {
        stack: json.loads(
            deployed.pulumi("stack", "output", "--stack", stack, "--json", "--show-secrets").stdout
        )
        for stack in STACKS
    }
    target = Target.from_outputs("primary", outputs["primary"], "dr", outputs["dr"])
    assert target.dr_region == "us-west-2" and target.primary_region == "us-east-1"
    assert target.node_groups == {"system": "trading-dr-system", "trading": "trading-dr-trading"}
    assert target.pilot_light == {"system": 1, "trading": 1}
    assert target.full == {"system": 3, "trading": 6}


def program_copy(destination: Path) -> Path:
    """The program's files, as a user's checkout in another folder holds them."""
    destination.mkdir()
    for path in [*ROOT.glob("Pulumi*.yaml"), *ROOT.glob("*.py")]:
        shutil.copy(path, destination / path.name)
    for folder in ("components", "gate", "handlers", "settings"):
        shutil.copytree(
            ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return destination


# Its own stack in its own backend: in no group, so it need not wait for the shipped worker.
def test_a_cluster_api_open_to_the_internet_fails_the_preview_on_the_policy(
    tmp_path: Path,
) -> None:
    """Settings refuse 0.0.0.0/0 itself; its two halves pass settings and reach the pack."""
    source = program_copy(tmp_path / "checkout")
    stack_file = source / "Pulumi.primary.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["trading:eks"]["publicAccessCidrs"] = ["0.0.0.0/1", "128.0.0.0/1"]
    stack_file.write_text(yaml.safe_dump(config))
    offline = Offline(base=tmp_path / "offline", source=source)
    offline.prepare()
    offline.select("primary")
    result = offline.pulumi("preview", "--stack", "primary", *offline.policy_args(), check=False)
    assert result.returncode != 0
    assert "[mandatory]" in result.stdout and "eks-public-endpoint-restricted" in result.stdout
    assert "the API endpoint is public to 0.0.0.0/1, 128.0.0.0/1, broader than /16" in (
        result.stdout
    )


@SHIPPED
def test_an_unknown_stack_is_refused_before_anything_changes(deployed: Offline) -> None:
    command = auto.PulumiCommand(root=str(BIN.parent))
    with pytest.raises(DrillInputError, match="no stack named 'organization/trading/nope'"):
        automation.select("organization/trading/nope", command, deployed.project, deployed.env())


@SHIPPED
def test_demo_redeploys_nothing_then_drills_through_the_automation_api(
    deployed: Offline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The demo's own `pulumi up` of each stack is the second `up`: it must change nothing
    (an input that changes on every run would show here), with the pack enforced."""
    monkeypatch.setattr("testing.offline.Offline", functools.partial(Offline, base=deployed.base))
    assert cli.main(["emulate", "--failback", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr()
    deployments = [line for line in printed.err.splitlines() if line.startswith("[demo]   done")]
    assert len(deployments) == 2
    assert all(re.search(r"Resources: +\d+ unchanged +Duration", d) for d in deployments), (
        deployments
    )
    report = json.loads((tmp_path / "drill-report.json").read_text())
    assert report["mode"] == "emulated" and report["verdict"] == "PASSED"
    assert [p["name"] for p in report["phases"]] == [
        "preflight",
        "rpo-markers",
        "failover",
        "until-dr-serves",
        "rpo",
        "failback",
        "refresh",
    ]
    refresh = report["phases"][-1]
    assert refresh["detail"] == (
        f"{reference_name('primary')}: succeeded; {reference_name('dr')}: succeeded"
    )
    checks = report["checks"]
    assert checks["preflight"]["dr-at-pilot-light"] == PASSED
    assert checks["until-dr-serves"]["node-groups-at-full"] == PASSED
    assert checks["failback"]["node-groups-at-pilot-light"] == PASSED
    for unseen in ("database-writable", "dr-health-check", "dns-resolves-to-dr"):
        assert checks["until-dr-serves"][unseen] == NOT_EMULATED
    assert report["rpoStatus"] == NOT_EMULATED and report["rpoSeconds"] is None
    failover = {e["step"]: e for e in report["handlerRuns"]["failover"]["timeline"]}
    assert failover["scale-node-groups"]["outcome"] == "succeeded"
    assert failover["verify-database"]["drillStatus"] == NOT_EMULATED
    markdown = (tmp_path / "drill-report.md").read_text()
    assert markdown.startswith("# Emulated failover drill (moto, not AWS): PASSED")
    assert (tmp_path / "drill-timeline.png").read_bytes().startswith(b"\x89PNG")
    assert "STAND-IN" in printed.err and "Emulated drill PASSED" in printed.out


@SHIPPED
def test_dr_deploys_a_dr_only_change_while_us_east_1_is_down(deployed: Offline) -> None:
    """The standby must be operable while the region it protects is down. Runs last: it
    changes the dr stack's config in the offline project."""
    down = Offline(base=deployed.base, unreachable=("us-east-1",))
    change = ("--yes", "--skip-preview", "--config", "trading:logRetentionDays=400")
    dr = down.pulumi("up", "--stack", "dr", *change, check=False)
    assert dr.returncode == 0, dr.stdout[-4000:]
    assert "updated" in dr.stdout
    # The same change to the primary needs us-east-1, so the outage is real.
    primary = down.pulumi("up", "--stack", "primary", *change, check=False)
    assert primary.returncode != 0
    assert "STAND-IN simulated outage of us-east-1" in primary.stdout
