"""What the Lambda runtime gets from us: each function's code archive, built from an explicit
file list (components/lambdas.py), and log records it can write as JSON (handlers/telemetry.py).

The archive is proven complete the way Lambda would load it: exactly the listed files copied
into an empty directory, and the handler module imported there by a Python that sees only that
directory, the standard library, and boto3 with its own dependencies, which is what the Python
runtime provides (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html: "an
environment that includes the SDK for Python (Boto3)"). A module the handler comes to import
without being listed fails here, as would a third-party library."""

from __future__ import annotations

import ast
import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.lambdas import FAILOVER_SOURCES, MARKERS_SOURCES, ROOT, code_archive
from handlers.telemetry import LOGGER, RunLog
from testing import emulation
from tests import test_handlers

# The failover runs below use the dr world of tests/test_handlers.py, named by the dr program's
# own Lambda environment; `world` asks for `variables` by name, so both are fixtures here too.
variables, world = test_handlers.variables, test_handlers.world
answering, primary_lag = test_handlers.answering, test_handlers.primary_lag
promotable, run = test_handlers.promotable, test_handlers.run

FUNCTIONS = {
    "handlers.failover": FAILOVER_SOURCES,
    "handlers.markers": MARKERS_SOURCES,
}


@pytest.fixture(scope="module")
def boto3_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding boto3 and the distributions it requires, and nothing else."""
    site = tmp_path_factory.mktemp("boto3-only")
    pending, seen = ["boto3"], set[str]()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        distribution = metadata.distribution(name)
        for top in {Path(f).parts[0] for f in distribution.files or []}:
            if top not in ("..", "__pycache__") and not top.endswith((".dist-info", ".data")):
                target = site / top
                if not target.exists():
                    target.symlink_to(Path(str(distribution.locate_file(top))))
        for requirement in distribution.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    return site


def import_in_isolation(
    files: Mapping[str, Path], module: str, site: Path, root: Path
) -> subprocess.CompletedProcess[str]:
    """Copies `files` (archive path -> source) under `root` and imports `module` there with
    `-I -S`: no site-packages, no environment, no current directory on the path. Prints the
    project modules that import loaded."""
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / name)
    probe = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = [{str(root)!r}]\n"
        f"sys.path.append({str(site)!r})\n"
        f"module = importlib.import_module({module!r})\n"
        "assert callable(module.handler), 'no handler'\n"
        f"print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values()) "
        f"if (getattr(m, '__file__', None) or '').startswith({str(root)!r}))))\n"
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed_files(sources: Sequence[str]) -> dict[str, Path]:
    return {name: ROOT / name for name in sources}


# -- the archives -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", FUNCTIONS)
def test_the_archive_holds_exactly_the_listed_sources_and_no_bytecode(module: str) -> None:
    sources = FUNCTIONS[module]
    archive = code_archive(sources)
    assets: dict[str, Any] = archive.assets
    assert sorted(assets) == sorted(sources)
    assert len(set(sources)) == len(sources)
    for name, asset in assets.items():
        assert "__pycache__" not in Path(name).parts and not name.endswith(".pyc"), name
        assert isinstance(asset, pulumi.FileAsset)
        assert Path(asset.path) == ROOT / name and (ROOT / name).is_file(), name
    assert f"{module.replace('.', '/')}.py" in assets


@pytest.mark.parametrize("module", FUNCTIONS)
def test_the_listed_files_alone_import_the_handler(
    module: str, boto3_only: Path, tmp_path: Path
) -> None:
    answer = import_in_isolation(listed_files(FUNCTIONS[module]), module, boto3_only, tmp_path)
    assert answer.returncode == 0, answer.stderr
    loaded = {str(Path(f).relative_to(tmp_path)) for f in json.loads(answer.stdout)}
    # Every listed file is one the handler loads: the list carries nothing stale.
    assert loaded == set(FUNCTIONS[module])


@pytest.mark.parametrize("module", FUNCTIONS)
def test_no_listed_module_imports_an_unlisted_one_even_inside_a_function(module: str) -> None:
    """The isolated import runs the module-level imports; this reads them all, lazy ones too."""
    sources = set(FUNCTIONS[module])
    for name in sources:
        tree = ast.parse((ROOT / name).read_text())
        for node in ast.walk(tree):
            imported: list[str] = []
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for dotted in imported:
                path = f"{dotted.replace('.', '/')}.py"
                if dotted.startswith("handlers.") and (ROOT / path).is_file():
                    assert path in sources, f"{name} imports {dotted}, not in the {module} list"


def test_an_unlisted_module_fails_the_isolated_import(boto3_only: Path, tmp_path: Path) -> None:
    """The check above can fail: the failover list without one module it needs."""
    files = listed_files([s for s in FAILOVER_SOURCES if s != "handlers/state.py"])
    answer = import_in_isolation(files, "handlers.failover", boto3_only, tmp_path)
    assert answer.returncode != 0
    assert "No module named 'handlers.state'" in answer.stderr


def test_the_isolated_import_sees_no_library_but_boto3(boto3_only: Path, tmp_path: Path) -> None:
    """yaml is installed in this venv, not in the Lambda runtime: a handler importing it fails."""
    source = tmp_path / "source.py"
    source.write_text("import boto3\nimport yaml\n\ndef handler(event, context):\n    pass\n")
    answer = import_in_isolation({"probe.py": source}, "probe", boto3_only, tmp_path / "archive")
    assert answer.returncode != 0
    assert "No module named 'yaml'" in answer.stderr


# -- the log records --------------------------------------------------------------------------

# The members the runtime's JsonFormatter does not copy from a record
# (aws/aws-lambda-python-runtime-interface-client, awslambdaric/lambda_runtime_log_utils.py).
RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
    }
)


def as_the_runtime_writes(record: logging.LogRecord) -> dict[str, Any]:
    """The record as the runtime's JSON formatter builds it. Its encoder has no fallback, so a
    field that is not a JSON value raises here as it would on Lambda."""
    document = {
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        **{k: v for k, v in record.__dict__.items() if k not in RECORD_ATTRIBUTES},
    }
    return json.loads(json.JSONEncoder(ensure_ascii=False).encode(document))


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.documents: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.documents.append(as_the_runtime_writes(record))


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    """The handlers' records, at INFO as the functions' application log level sets it."""
    captured = Captured()
    level = LOGGER.level
    LOGGER.addHandler(captured)
    LOGGER.setLevel(logging.INFO)
    try:
        yield captured.documents
    finally:
        LOGGER.removeHandler(captured)
        LOGGER.setLevel(level)


def test_a_step_metric_is_embedded_metric_format_at_the_records_top_level(
    records: list[dict[str, Any]],
) -> None:
    entry = {"step": "promote-database", "seconds": 12.5, "outcome": "failed", "detail": "x"}
    RunLog("op-7", runId="failover-1").step_metric(
        "failover", entry, datetime(2026, 1, 1, tzinfo=UTC)
    )
    (document,) = records
    assert document["correlationId"] == "op-7" and document["runId"] == "failover-1"
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Trading/Failover"
    for dimensions in directive["Dimensions"]:
        assert all(isinstance(document[d], str) for d in dimensions)
    assert [m["Name"] for m in directive["Metrics"]] == ["StepDuration"]
    assert document["StepDuration"] == 12.5
    assert document["_aws"]["Timestamp"] == 1767225600000


def test_a_field_the_runtime_writes_itself_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"log field\(s\) logger, requestId: the Lambda runtime"):
        RunLog("op-7").event("x", requestId="r", logger="l", why="ok")
    with pytest.raises(ValueError, match=r"log field\(s\) timestamp: .* allowed: any other name"):
        RunLog("op-7", timestamp=1)


@pytest.mark.parametrize("name", ["name", "module", "lineno", "taskName", "aws_request_id"])
def test_a_field_named_like_a_log_record_attribute_is_refused_before_logging(name: str) -> None:
    """`extra` may not overwrite a LogRecord attribute: Python raises KeyError inside the log
    call (https://docs.python.org/3/library/logging.html#logging.Logger.debug), which in a run
    would escape mid-step; the name is refused where the field is given instead."""
    fields: dict[str, Any] = {name: "value"}
    with pytest.raises(ValueError, match=rf"log field\(s\) {name}: "):
        RunLog("op-7").event("x", **fields)


def test_a_value_json_cannot_hold_is_logged_as_text(records: list[dict[str, Any]]) -> None:
    """The runtime's JSON encoder has no fallback: a datetime would raise in the log call."""
    RunLog("op-7").event("x", at=datetime(2026, 1, 1, tzinfo=UTC), steps=["a"])
    (document,) = records
    assert document["at"] == "2026-01-01 00:00:00+00:00"
    assert document["steps"] == ["a"]


def test_outside_lambda_the_handlers_print_nothing(tmp_path: Path) -> None:
    """No logging configured (the simulation, `python -m drill`): even a WARNING stays quiet,
    where Python's last-resort handler would print it to stderr."""
    answer = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging\n"
            "from handlers.telemetry import RunLog\n"
            "RunLog('op-7').event('primary failing', logging.WARNING, consecutive=3)\n"
            "RunLog('op-7').event('failover finished', logging.ERROR, outcome='FAILED')\n",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert answer.stdout == answer.stderr == ""


def test_every_record_of_a_failover_carries_its_correlation_id(
    world: emulation.World, records: list[dict[str, Any]]
) -> None:
    report = run(world, "failover", rds=promotable(world))
    assert report["outcome"] == "SUCCEEDED", report
    assert records, "the run logged nothing"
    assert all(r["correlationId"] == "test-run" for r in records), records
    assert all(r["runId"] == report["runId"] for r in records)
    metrics = [r for r in records if "_aws" in r]
    assert sorted(m["Step"] for m in metrics) == sorted(e["step"] for e in report["timeline"])
    assert {m["Outcome"] for m in metrics} == {"succeeded"}
    (finished,) = [r for r in records if r["message"] == "failover finished"]
    assert (finished["level"], finished["outcome"]) == ("INFO", "SUCCEEDED")


def test_a_failing_primary_is_a_warning_and_a_failed_run_an_error(
    world: emulation.World, records: list[dict[str, Any]]
) -> None:
    primary_lag(600)
    run(world, "probe", http=answering(None))
    (failing,) = [r for r in records if r["message"] == "primary failing"]
    assert (failing["level"], failing["consecutive"]) == ("WARNING", 1)
    assert failing["signals"] == {"replication": "failing", "endpoint": "failing"}
    report = run(world, "failover")  # moto never shows the promoted replica standalone
    assert report["outcome"] == "FAILED"
    (finished,) = [r for r in records if r["message"] == "failover finished"]
    assert (finished["level"], finished["failedSteps"]) == ("ERROR", report["failedSteps"])
    assert {r["correlationId"] for r in records} == {"test-run"}
