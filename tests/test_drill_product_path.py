"""`python -m drill run` on a machine that installed only requirements.txt (issue #17): a fresh
venv with the runtime pins and nothing else answers `--help`, runs `run` until it needs the
Pulumi CLI, writes a report without Pillow, and imports none of the test tooling.

The registry's wheels for requirements.txt are kept under build/wheels/, keyed by the file's
hash: pip's own cache stays empty on this machine (the index's answers are not cacheable), and
downloading them again for every run costs about 40 s. Every run still resolves and installs
the whole requirements.txt, dependencies included, from those wheels alone (`--no-index`),
into a new venv. `--no-compile` skips writing .pyc files for the ~450 MB installed (60 s of
the install): Python compiles what it imports anyway.

Run only these with `pytest -m product_path`, or skip them with `-m "not product_path"`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from drill.automation import ROOT

pytestmark = [pytest.mark.product_path, pytest.mark.xdist_group("product_path")]

REQUIREMENTS = ROOT / "requirements.txt"
# The drill's product path: what `python -m drill run` imports.
PRODUCT_MODULES = (
    "drill.__main__",
    "drill.automation",
    "drill.core",
    "drill.measure",
    "drill.model",
    "drill.report",
)
# What only requirements-dev.txt installs, and the tooling that must stay test-side.
DEV_ONLY = ("moto", "PIL", "flask", "testing", "tools")
PIP = [sys.executable, "-m", "pip"]


def _wheels() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    wheels = ROOT / "build" / "wheels" / f"requirements-{digest}"
    wheels.parent.mkdir(parents=True, exist_ok=True)
    # Another test process (an xdist worker, a second checkout's run) may be filling the same
    # cache: one downloads while the others wait on the lock, then find it complete.
    with (wheels.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not wheels.is_dir():
            partial = wheels.with_name(f"{wheels.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            subprocess.run(
                [*PIP, "download", "--quiet", "--dest", str(partial), "-r", str(REQUIREMENTS)],
                check=True,
            )
            partial.rename(wheels)
    return wheels


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv's interpreter, with requirements.txt installed into it and nothing else."""
    wheels = _wheels()
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.perf_counter()
    offline = ["--no-compile", "--no-index", "--find-links", str(wheels)]
    subprocess.run(
        [*PIP, "--python", str(python), "install", "--quiet", *offline, "-r", str(REQUIREMENTS)],
        check=True,
    )
    print(f"requirements.txt installed in {time.perf_counter() - started:.1f} s")
    return python


def drill(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m drill ARGS` from the project root, with no Pulumi CLI on PATH and no
    AWS credentials."""
    env = {
        "PATH": str(python.parent),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    return subprocess.run(
        [str(python), "-m", "drill", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_venv_holds_only_the_runtime_requirements(runtime_python: Path) -> None:
    installed = subprocess.run(
        [
            str(runtime_python),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('moto', 'PIL', 'pytest') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.stdout.strip() == "[]"


def test_help_and_run_help_answer(runtime_python: Path) -> None:
    top = drill(runtime_python, "--help")
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("usage: python -m drill [-h] {emulate,run,simulate}")
    run = drill(runtime_python, "run", "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: python -m drill run [-h] --primary PRIMARY --dr DR")
    assert "--simulate-outage" in run.stdout and "--failback" in run.stdout


def test_run_gets_as_far_as_the_pulumi_cli(runtime_python: Path) -> None:
    """Without the CLI the Automation API cannot start: exit 2, said plainly, nothing else
    missing on the way."""
    result = drill(runtime_python, "run", "--primary", "acme/trading/primary", "--dr", "acme/x/dr")
    assert result.returncode == 2, result.stderr
    assert "the Pulumi CLI was not found: install the Pulumi CLI" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("command", "package"), [("simulate", "moto"), ("emulate", "moto")])
def test_the_dev_only_commands_name_what_is_missing(
    runtime_python: Path, command: str, package: str
) -> None:
    result = drill(runtime_python, command)
    assert result.returncode == 2, result.stderr
    assert f"`python -m drill {command}` needs the package {package!r}" in result.stderr
    assert "pip install -r requirements-dev.txt" in result.stderr
    assert "Traceback" not in result.stderr


IMPORTS = textwrap.dedent(
    """
    import importlib, json, sys, traceback

    class WhoImportsYaml:
        # PyYAML comes with the pulumi SDK (pulumi.automation imports it): record the file
        # that first asks for it (later imports find it in sys.modules).
        importers = []

        def find_spec(self, name, path=None, target=None):
            if name == "yaml":
                frames = traceback.extract_stack()[:-1]
                files = [f.filename for f in frames if "importlib" not in f.filename]
                self.importers.append(files[-1])
            return None

    finder = WhoImportsYaml()
    sys.meta_path.insert(0, finder)
    for module in sys.argv[1].split(","):
        importlib.import_module(module)
    print(json.dumps({"modules": sorted(sys.modules), "yaml": finder.importers}))
    """
)


def test_the_product_modules_import_no_test_tooling(runtime_python: Path) -> None:
    result = subprocess.run(
        [str(runtime_python), "-c", IMPORTS, ",".join(PRODUCT_MODULES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout)
    assert [m for m in loaded["modules"] if m.split(".")[0] in DEV_ONLY] == []
    assert [m for m in loaded["modules"] if m.startswith("drill.simulation.")] == [
        "drill.simulation.ledger"
    ]
    # yaml is there only because the pulumi SDK needs it, never at the drill's request.
    assert loaded["yaml"], "pulumi.automation no longer imports yaml: drop this allowance"
    assert all(f"{os.sep}site-packages{os.sep}pulumi{os.sep}" in f for f in loaded["yaml"]), loaded[
        "yaml"
    ]


REPORT_WITHOUT_PILLOW = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from drill import report
    from drill.model import PASSED, Phase, Report, Target

    target = Target(
        "acme/trading/primary", "acme/trading/dr", "us-east-1", "us-west-2", "dr-eks",
        {"trading": "dr-trading"}, {"trading": 3}, {"trading": 1}, "dr-db", "postgres",
        "dr-failover", "dr-state", "orders", "primary-records", "dr-records", 900, 60,
    )
    drill = Report("aws", target)
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    drill.phases.append(Phase("preflight", start, start + timedelta(seconds=2), PASSED, ""))
    drill.judge()
    paths = report.write(drill, Path(sys.argv[1]), progress=print)
    print(sorted(paths))
    """
)


def test_a_report_is_written_without_pillow(runtime_python: Path, tmp_path: Path) -> None:
    """The end of a real drill: JSON and Markdown (the timeline as a Mermaid chart), no PNG,
    and the reason said once."""
    result = subprocess.run(
        [str(runtime_python), "-c", REPORT_WITHOUT_PILLOW, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    note, keys = result.stdout.strip().splitlines()
    assert "drill-timeline.png not drawn: it needs Pillow" in note
    assert "requirements-dev.txt" in note
    assert keys == "['json', 'markdown']"
    markdown = (tmp_path / "drill-report.md").read_text()
    assert "```mermaid\ngantt\n" in markdown
    assert "drill-timeline.png" not in markdown
    assert not (tmp_path / "drill-timeline.png").exists()
