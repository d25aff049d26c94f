"""The real Pulumi CLI, run offline: a local backend, a passphrase secrets provider and the
STAND-IN provider plugins, all under `build/offline/` and set for the child process only.

The user's `~/.pulumi`, their backend and their shell's environment are never touched. The CLI
runs in a copy of the project's `Pulumi.yaml` and stack files (`main:` points back at this
checkout), because `pulumi stack init` writes an `encryptionsalt` into the stack file it uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testing.standins import schema
from testing.standins.install import install
from testing.standins.provider import UNREACHABLE_REGIONS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.prefix) / "bin"
POLICY_PACK = ROOT / "policypacks" / "trading_guard"
POLICY_CONFIG = POLICY_PACK / "policy-config.json"
# Protects nothing but the offline stand-in stacks' secrets; never used with a real backend.
PASSPHRASE = "offline-stand-ins-only"
_SALT = re.compile(r"^encryptionsalt: .*$", re.MULTILINE)


class PulumiError(RuntimeError):
    """A CLI command that exited non-zero; carries what it printed."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"`pulumi {' '.join(args)}` exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
        self.result = result


@dataclass
class Offline:
    """One offline workspace: backend, plugin home and project copy under `base`."""

    base: Path = ROOT / "build" / "offline"
    source: Path = ROOT
    unreachable: Sequence[str] = field(default_factory=tuple)

    @property
    def project(self) -> Path:
        return self.base / "project"

    @property
    def home(self) -> Path:
        return self.base / "pulumi-home"

    @property
    def backend(self) -> Path:
        return self.base / "backend"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PULUMI_HOME=str(self.home),
            PULUMI_BACKEND_URL=self.backend.as_uri(),
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_SKIP_CONFIRMATIONS="true",
            # The engine writes the whole state file after every step unless told to write it
            # once at the end (sdk/go/common/env/env.go `SkipCheckpoints`, pulumi/pulumi#10668):
            # measured, 13.3 s of the engine's CPU in a 29 s `up` of primary went to that. What
            # a crash would lose is the record of stand-in resources in a throwaway backend.
            PULUMI_SKIP_CHECKPOINTS="true",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.pop("PULUMI_ACCESS_TOKEN", None)
        env[UNREACHABLE_REGIONS] = ",".join(self.unreachable)
        env[schema.CACHE_DIR] = str(self.home / "standin-schema")
        return env

    def prepare(self) -> None:
        """Plugins installed, project copied (keeping each stack's salt), backend created."""
        install(self.home)
        self.backend.mkdir(parents=True, exist_ok=True)
        self.project.mkdir(parents=True, exist_ok=True)
        project = yaml.safe_load((self.source / "Pulumi.yaml").read_text())
        project["main"] = os.path.relpath(self.source, self.project)
        project["runtime"]["options"]["virtualenv"] = str(Path(sys.prefix))
        (self.project / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        for stack_file in self.source.glob("Pulumi.*.yaml"):
            copy = self.project / stack_file.name
            salt = _SALT.search(copy.read_text()) if copy.exists() else None
            text = stack_file.read_text()
            copy.write_text(text + (f"\n{salt.group(0)}\n" if salt else ""))

    def pulumi(
        self, *args: str, check: bool = True, stream: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI in the project copy; `stream` shows its output as it comes instead of
        capturing it."""
        result = subprocess.run(
            [str(BIN / "pulumi"), *args, "--non-interactive"],
            cwd=self.project,
            env=self.env(),
            capture_output=not stream,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise PulumiError(args, result)
        return result

    def select(self, stack: str) -> None:
        """Select `stack`, creating it with the passphrase secrets provider if it is new."""
        self.pulumi("stack", "select", stack, "--create", "--secrets-provider", "passphrase")

    def deployed(self, stack: str) -> bool:
        """Whether `stack` exists in the offline backend with resources in it."""
        listed = self.pulumi("stack", "ls", "--json")
        return any(
            s["name"] == stack and s.get("resourceCount", 0) > 0 for s in json.loads(listed.stdout)
        )

    def up(self, stack: str, *extra: str, stream: bool = False) -> subprocess.CompletedProcess[str]:
        """`pulumi up` of `stack` (created if new); a failure raises unless `stream`, where the
        caller reads the exit code after the engine's output has been shown."""
        self.select(stack)
        return self.pulumi(
            "up",
            "--stack",
            stack,
            "--yes",
            "--skip-preview",
            *extra,
            stream=stream,
            check=not stream,
        )

    def policy_args(self) -> list[str]:
        return ["--policy-pack", str(POLICY_PACK), "--policy-pack-config", str(POLICY_CONFIG)]


@dataclass
class Deployed:
    """A stack as the engine recorded it: its resources (by type and name) and its outputs."""

    resources: list[dict[str, Any]]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]

    def one(self, type_: str, name: str) -> dict[str, Any]:
        (found,) = [r for r in self.of_type(type_) if r["urn"].endswith(f"::{name}")]
        return found


# How `pulumi stack export --show-secrets` writes a secret value: its JSON as `plaintext`.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


def revealed(value: Any) -> Any:
    if isinstance(value, dict) and SECRET_SIGNATURE in value:
        return json.loads(value["plaintext"])
    return value


def deploy(offline: Offline, stacks: Sequence[str] = ("primary", "dr")) -> dict[str, Deployed]:
    """`pulumi up` of `stacks` in order, with the policy pack enforced, each read back as the
    engine recorded it right after its update."""
    offline.prepare()
    deployed = {}
    for stack in stacks:
        offline.up(stack, *offline.policy_args())
        state = json.loads(
            offline.pulumi("stack", "export", "--stack", stack, "--show-secrets").stdout
        )
        outputs = offline.pulumi("stack", "output", "--stack", stack, "--json", "--show-secrets")
        deployed[stack] = Deployed(state["deployment"]["resources"], json.loads(outputs.stdout))
    return deployed
