"""Installs the STAND-IN provider plugins into an offline `PULUMI_HOME` (never `~/.pulumi`).

Each becomes a plugin directory `plugins/resource-<name>-v<version>/`, at exactly the version
the pinned Python SDK requests, holding a `PulumiPlugin.yaml` (runtime python, this project's
virtualenv) and a `__main__.py` that starts `testing.standins.provider`. The engine runs such a
directory through the Python language host, as it runs any Python provider.
"""

from __future__ import annotations

import sys
from pathlib import Path

from testing.standins import schema

ROOT = Path(__file__).resolve().parents[2]

_ENTRY = '''"""STAND-IN {package} provider, for offline tests only: testing/standins."""

import sys

sys.path.insert(0, {root!r})

from testing.standins.provider import main

# The engine passes flags, then its own address last.
main({package!r}, [arg for arg in sys.argv[1:] if not arg.startswith("-")][-1])
'''


def install(home: Path) -> list[Path]:
    """Write (or refresh) every stand-in plugin under `home`; returns their directories."""
    venv = Path(sys.prefix)
    written = []
    for package in schema.SDK_MODULES:
        directory = home / "plugins" / f"resource-{package}-v{schema.plugin_version(package)}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "PulumiPlugin.yaml").write_text(
            f"# STAND-IN plugin for offline tests: testing/standins.\n"
            f"runtime:\n  name: python\n  options:\n    virtualenv: {venv}\n"
        )
        (directory / "__main__.py").write_text(_ENTRY.format(package=package, root=str(ROOT)))
        written.append(directory)
    return written
