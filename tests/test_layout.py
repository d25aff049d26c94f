"""The product never imports the test-side support (issue #17): `testing/` (mock harness, moto
world, stand-ins, offline CLI), `tools/` (developer commands on top of it) and `tests/` stay out
of what runs when the program, a handler or `python -m drill run` is imported.

Read from the source with `ast`, statically: only what executes at import time counts, which is
the module body, class bodies and `if`/`try`/`with` blocks, but not function bodies (where
`drill emulate` and `drill simulate` import the emulation lazily) nor `if TYPE_CHECKING:`
blocks (False at run time: https://peps.python.org/pep-0484/#runtime-or-type-checking). A
first-party import is followed to its module, and importing `a.b` runs `a/__init__.py` first
(https://docs.python.org/3/reference/import.html#regular-packages), so a product module that
reaches the test side through a sibling fails too. `tests/test_drill_product_path.py` proves
the same for the drill in a fresh venv; this runs in milliseconds on every module.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_SIDE = ("testing", "tools", "tests")
# The development-only third-party package the emulation rests on.
DEV_ONLY = ("moto",)
DRILL_PRODUCT = ("__main__", "automation", "core", "measure", "model", "report")


def product_files() -> list[Path]:
    """The program (the root modules), its packages, the handlers and the drill's run path."""
    files = sorted(ROOT.glob("*.py"))
    for package in ("components", "settings", "handlers"):
        files += sorted((ROOT / package).rglob("*.py"))
    files += [ROOT / "drill" / f"{name}.py" for name in DRILL_PRODUCT]
    return files


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of `body` that runs when the module is imported."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        yield node
        if isinstance(node, ast.If) and is_type_checking(node.test):
            yield from import_time_statements(node.orelse)
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            for child in getattr(node, field, []):
                if isinstance(child, ast.ExceptHandler):
                    yield from import_time_statements(child.body)
                elif isinstance(child, ast.stmt):
                    yield from import_time_statements([child])


def imported_names(source: str, package: str) -> list[str]:
    """The dotted module names `source` imports at import time; `package` resolves relative
    imports."""
    names = []
    for node in import_time_statements(ast.parse(source).body):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports the submodule a.b when there is one, else reads a name.
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            names += [base, *(name for name in submodules if first_party_file(name))]
    return names


def first_party_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reached_at_import(start: list[Path]) -> dict[str, str]:
    """Every module imported when `start` is imported, each with the module that imports it
    first, following first-party imports through their files and parent packages."""
    reached: dict[str, str] = {}
    queue = [(path, module_name(path)) for path in start]
    seen = {name for _, name in queue}
    while queue:
        path, name = queue.pop()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in imported_names(path.read_text(), package):
            parts = imported.split(".")
            for depth in range(1, len(parts) + 1):
                dotted = ".".join(parts[:depth])
                reached.setdefault(dotted, name)
                found = first_party_file(dotted)
                if found is not None and dotted not in seen:
                    seen.add(dotted)
                    queue.append((found, dotted))
    return reached


def forbidden(reached: dict[str, str]) -> dict[str, str]:
    return {
        module: importer
        for module, importer in reached.items()
        if module.split(".")[0] in (*TEST_SIDE, *DEV_ONLY)
    }


def test_the_product_modules_exist() -> None:
    """An emptied or renamed list would make the next test pass on nothing."""
    files = product_files()
    assert all(path.is_file() for path in files), [p for p in files if not p.is_file()]
    names = {module_name(path) for path in files}
    assert {"__main__", "components.region", "settings", "handlers.failover"} <= names
    assert {f"drill.{name}" for name in DRILL_PRODUCT} <= names


def test_the_product_imports_no_test_side_module_at_import_time() -> None:
    assert forbidden(reached_at_import(product_files())) == {}


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from testing.harness import run_program\n", True),
        ("import tools.bench_failover\n", True),
        ("try:\n    from testing import emulation\nexcept ImportError:\n    pass\n", True),
        ("class C:\n    from testing import emulation\n", True),
        ("import moto\n", True),
        ("def emulate():\n    from testing import emulation\n", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import testing\n", False),
        (
            "import typing\nif typing.TYPE_CHECKING:\n    pass\n"
            "else:\n    import testing.offline\n",
            True,
        ),
    ],
)
def test_the_check_sees_what_runs_at_import_and_only_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, caught: bool
) -> None:
    module = tmp_path / "product.py"
    module.write_text(source)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert bool(forbidden(reached_at_import([module]))) is caught


def test_a_test_side_import_through_a_sibling_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg import helper\n")
    (tmp_path / "pkg" / "helper.py").write_text("from testing.harness import Graph\n")
    (tmp_path / "product.py").write_text("from pkg.other import thing\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert forbidden(reached_at_import([tmp_path / "product.py"])) == {
        "testing": "pkg.helper",
        "testing.harness": "pkg.helper",
    }


def covered(path: str, include: list[str], exclude: list[str]) -> bool:
    def under(entries: list[str]) -> bool:
        return any(path == e or path.startswith(f"{e.rstrip('/')}/") for e in entries)

    return under(include) and not under(exclude)


def test_lint_and_type_checks_cover_the_test_side_packages() -> None:
    """`.ci/run` runs `ruff check .` and a bare `pyright`: pyright checks only what
    `[tool.pyright].include` names
    (https://github.com/microsoft/pyright/blob/main/docs/configuration.md)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pyright = config["tool"]["pyright"]
    ruff = config["tool"]["ruff"]
    moved = sorted(
        str(p.relative_to(ROOT))
        for package in TEST_SIDE[:2]
        for p in (ROOT / package).rglob("*.py")
    )
    assert "testing/harness.py" in moved and "testing/standins/provider.py" in moved
    uncovered = [p for p in moved if not covered(p, pyright["include"], pyright["exclude"])]
    assert uncovered == []
    assert [p for p in moved if covered(p, [*ruff["extend-exclude"]], [])] == []
    assert {"testing", "tools"} <= set(ruff["lint"]["isort"]["known-first-party"])
