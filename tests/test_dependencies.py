"""The hash-locked dependency sets: each lock agrees with its input, and setup installs only locks.

The inputs (`requirements*.txt`) hold the direct pins; `bash scripts/lock` compiles each into a
`.lock` beside it with `uv pip compile --generate-hashes`, and Renovate reruns the command that the
lock's header records (https://docs.renovatebot.com/modules/manager/pip-compile/). A lock is stale
when an input's pin moved without the lock, or when an entry lost its hashes: pip's hash-checking
mode then refuses the whole file (https://pip.pypa.io/en/stable/topics/secure-installs/)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACK = Path("policypacks/trading_guard")
# Each input and the lock compiled from it, relative to the repository root as the locks'
# headers name them.
LOCKS = {
    Path("requirements.txt"): Path("requirements.lock"),
    Path("requirements-dev.txt"): Path("requirements-dev.lock"),
    PACK / "requirements.txt": PACK / "requirements.lock",
}
# What scripts/setup installs: the whole set (program, pack and tools).
INSTALLED_LOCK = Path("requirements-dev.lock")
# The pack runs in the project's .venv (PulumiPolicy.yaml `virtualenv: ../../.venv`).
PACK_LOCK = PACK / "requirements.lock"
# Everything that installs Python packages for a user, CI or the pull-request workflow.
INSTALLERS = (
    Path("scripts/setup"),
    Path(".ci/run"),
    *sorted(p.relative_to(ROOT) for p in (ROOT / ".github/workflows").glob("*.yml")),
)
LOCK_COMMAND = (
    "uv pip compile --universal --python-version=3.11 --generate-hashes"
    " --output-file={lock} {input}"
)


@dataclass(frozen=True)
class Locked:
    version: str
    hashes: tuple[str, ...]


def direct_pins(path: Path) -> dict[str, str]:
    """The exact pins of a requirements input, following `-r` includes."""
    pins: dict[str, str] = {}
    for number, raw in enumerate((ROOT / path).read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(direct_pins(path.parent / line.removeprefix("-r ").strip()))
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise AssertionError(
                f"{path}:{number}: {line!r} is not a requirement ({error})"
            ) from None
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            pinned = str(requirement.specifier) or "unpinned"
            raise AssertionError(
                f"{path}:{number}: {requirement.name} is {pinned}; allowed: one exact pin,"
                " name==version"
            )
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def lock_entries(text: str) -> dict[str, Locked]:
    """The entries of a `--generate-hashes` lock: name, version and hashes, markers ignored."""
    entries: dict[str, Locked] = {}
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match is None:
            raise AssertionError(f"lock line {line!r} is not name==version")
        entries[canonicalize_name(match[1])] = Locked(
            match[2], tuple(re.findall(r"--hash=(sha256:[0-9a-f]{64})", line))
        )
    return entries


def stale_pins(pins: dict[str, str], locked: dict[str, Locked]) -> list[str]:
    return [
        f"{name}=={version} (lock: {locked[name].version if name in locked else 'missing'})"
        for name, version in sorted(pins.items())
        if name not in locked or locked[name].version != version
    ]


def unhashed(locked: dict[str, Locked]) -> list[str]:
    return sorted(f"{name}=={entry.version}" for name, entry in locked.items() if not entry.hashes)


def read_lock(lock: Path) -> dict[str, Locked]:
    return lock_entries((ROOT / lock).read_text())


@pytest.mark.parametrize("input_file", list(LOCKS), ids=str)
def test_lock_pins_every_direct_pin_at_the_inputs_version(input_file: Path) -> None:
    lock = LOCKS[input_file]
    stale = stale_pins(direct_pins(input_file), read_lock(lock))
    assert not stale, f"{lock} is stale against {input_file}: {stale}; run `bash scripts/lock`"


@pytest.mark.parametrize("lock", list(LOCKS.values()), ids=str)
def test_every_lock_entry_carries_hashes(lock: Path) -> None:
    entries = read_lock(lock)
    assert len(entries) > 10
    assert not unhashed(entries), f"{lock}: entries without --hash: {unhashed(entries)}"


@pytest.mark.parametrize("input_file", list(LOCKS), ids=str)
def test_lock_header_is_the_command_scripts_lock_and_renovate_rerun(input_file: Path) -> None:
    lock = LOCKS[input_file]
    header = (ROOT / lock).read_text().splitlines()[:2]
    assert header[0] == "# This file was autogenerated by uv via the following command:"
    assert header[1].removeprefix("#").strip() == LOCK_COMMAND.format(lock=lock, input=input_file)
    script = (ROOT / "scripts/lock").read_text()
    assert "--universal --python-version=3.11 --generate-hashes" in script
    assert str(input_file) in script


def test_the_lock_tool_is_itself_pinned_and_locked() -> None:
    assert "uv" in direct_pins(Path("requirements-dev.txt"))
    assert (
        read_lock(INSTALLED_LOCK)["uv"].version == direct_pins(Path("requirements-dev.txt"))["uv"]
    )
    assert "uv=.venv/bin/uv" in (ROOT / "scripts/lock").read_text()


@pytest.mark.parametrize("lock", [Path("requirements.lock"), PACK_LOCK], ids=str)
def test_installed_lock_agrees_with_the_runtime_and_pack_locks(lock: Path) -> None:
    """The program and the pack run in .venv, which setup fills from requirements-dev.lock alone."""
    installed = read_lock(INSTALLED_LOCK)
    differing = stale_pins({name: e.version for name, e in read_lock(lock).items()}, installed)
    assert not differing, f"{INSTALLED_LOCK} differs from {lock} on {differing}; run scripts/lock"


def test_pack_runs_in_the_virtualenv_setup_fills() -> None:
    policy = (ROOT / PACK / "PulumiPolicy.yaml").read_text()
    assert re.search(r"^\s*virtualenv: \.\./\.\./\.venv$", policy, re.MULTILINE)


def install_commands(path: Path) -> list[str]:
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text())
    return [
        line.strip()
        for line in text.splitlines()
        if re.search(r"\bpip(3)? install\b|\buv pip (install|sync)\b", line)
        and not line.lstrip().startswith("#")
    ]


def test_setup_installs_only_the_dev_lock_with_hashes_required() -> None:
    commands = install_commands(Path("scripts/setup"))
    assert commands == [
        ".venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes"
        f" -r {INSTALLED_LOCK}"
    ]


@pytest.mark.parametrize("installer", INSTALLERS, ids=str)
def test_every_install_line_reads_a_lock_with_hashes_required(installer: Path) -> None:
    for command in install_commands(installer):
        arguments = command.split(" install ", 1)[-1].split()
        files = [arguments[i + 1] for i, arg in enumerate(arguments) if arg == "-r"]
        loose = [arg for arg in arguments if not arg.startswith("-") and arg not in files]
        assert "--require-hashes" in arguments, f"{installer}: {command!r} skips hash checking"
        assert files, f"{installer}: {command!r} installs no lock"
        assert all(Path(f) in LOCKS.values() for f in files), f"{installer}: {files} not locks"
        assert not loose, f"{installer}: {command!r} installs {loose} outside any lock"


def test_setup_stamp_covers_every_lock() -> None:
    setup = (ROOT / "scripts/setup").read_text()
    stamp_line = next(line for line in setup.splitlines() if line.startswith("wanted="))
    assert all(str(lock) in stamp_line for lock in LOCKS.values()), stamp_line


def test_ci_and_workflows_install_through_setup() -> None:
    assert "bash scripts/setup" in (ROOT / ".ci/run").read_text()
    for workflow in INSTALLERS[2:]:
        text = (ROOT / workflow).read_text()
        if "actions/setup-python" in text:
            assert "bash scripts/setup" in text or "bash .ci/run" in text, workflow


def test_the_checks_catch_a_moved_pin_and_a_lost_hash() -> None:
    lock = lock_entries(
        "boto3==1.44.5 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via -r requirements.txt\n"
        "six==1.17.0\n"
    )
    assert stale_pins({"boto3": "1.44.6"}, lock) == ["boto3==1.44.6 (lock: 1.44.5)"]
    assert stale_pins({"rich": "15.0.0"}, lock) == ["rich==15.0.0 (lock: missing)"]
    assert stale_pins({"boto3": "1.44.5"}, lock) == []
    assert unhashed(lock) == ["six==1.17.0"]


GROUPED = """
import pytest


@pytest.mark.xdist_group("engine")
@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pass
"""


def test_grouped_tests_reach_one_worker(tmp_path: Path) -> None:
    """The engine tests share one deployment per worker (tests/conftest.py `shipped`) because
    `--dist loadgroup` sends every `xdist_group("engine")` test to one worker. With pytest 9.2
    and pytest-xdist 3.8 the grouping no longer takes and the tests spread over both workers,
    each deploying the stacks again (pytest-dev/pytest-xdist#1386). Six grouped tests, run by
    the installed pair as the suite runs them, must all land on one worker."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
            "-v",
            "-c",
            "/dev/null",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    # `-v` under xdist prints each result as "[gw0] ... PASSED test_grouped.py::...".
    workers = set(re.findall(r"\[(gw\d+)\].*PASSED", result.stdout))
    assert len(workers) == 1, result.stdout
