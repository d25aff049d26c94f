"""Offline synth: render what a stack declares, without the Pulumi CLI or cloud credentials.

    python -m tools.synth --stack dr          # one stack
    python -m tools.synth                     # both stacks

Runs the real program under Pulumi's mock runtime with the stack's real `Pulumi.<stack>.yaml`,
prints the resource tree with the inputs a reviewer checks, and writes the whole recorded graph
to `build/synth-<stack>.json`. Like `cdk synth`, it is for reviewing a change: it is NOT a
`pulumi preview` (no engine, no provider validation, no diff against deployed state; ids and
ARNs are invented).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from settings import SettingsError
from tools.harness import ROOT, SECRET, Graph, Resource, run_program

# Inputs a reviewer looks for first; everything else is in the JSON file.
REVIEW_KEYS = (
    "region",
    "name",
    "nodeGroupName",
    "cidrBlock",
    "availabilityZone",
    "serviceName",
    "vpcEndpointType",
    "version",
    "endpointPublicAccess",
    "instanceTypes",
    "scalingConfig",
    "ignoreScalingChanges",
    "enableKeyRotation",
    "kmsKeyId",
    "retentionInDays",
    "trafficType",
    "cidrIpv4",
    "fromPort",
    "toPort",
)
BANNER = (
    "OFFLINE RENDERING of stack {stack!r} under Pulumi mocks: not a `pulumi preview`. "
    "No engine, no provider checks, no cloud; ids and ARNs are invented."
)


def _summary(resource: Resource) -> str:
    shown = []
    for key in REVIEW_KEYS:
        if key in resource.inputs:
            value = resource.inputs[key]
            text = value if isinstance(value, str) else json.dumps(value)
            shown.append(f"{key}={text}")
    return "  ".join(shown)


def render_tree(graph: Graph) -> str:
    """Each resource under its parent; siblings sorted, so two renderings diff cleanly."""
    known = {r.urn for r in graph}
    children: dict[str, list[Resource]] = {}
    for resource in graph:
        children.setdefault(resource.parent if resource.parent in known else "", []).append(
            resource
        )
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.type, r.name)):
            summary = _summary(resource)
            line = f"{'  ' * depth}{resource.type}  {resource.name}"
            lines.append(f"{line}  {summary}" if summary else line)
            walk(resource.urn, depth + 1)

    walk("", 0)
    return "\n".join(lines)


def to_document(graph: Graph) -> dict[str, Any]:
    return {
        "stack": graph.stack,
        "rendering": "offline, Pulumi mock runtime; not a pulumi preview",
        "resourceCount": len(graph.resources),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider,
                "providers": r.providers,
                "custom": r.custom,
                "remote": r.remote,
                "dependencies": r.dependencies,
                "ignoreChanges": r.ignore_changes,
                "deleteBeforeReplace": r.delete_before_replace,
                "inputs": r.inputs,
            }
            for r in graph
        ],
        "exports": {
            key: SECRET if key in graph.secret_exports else value
            for key, value in graph.exports.items()
        },
    }


def synth(stack: str, out_dir: Path) -> tuple[Graph, Path, float]:
    started = time.perf_counter()
    graph = run_program(stack)
    elapsed = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"synth-{stack}.json"
    path.write_text(json.dumps(to_document(graph), indent=2, sort_keys=True, default=str) + "\n")
    return graph, path, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.synth",
        description="Render a stack's resources offline, under Pulumi mocks (not a preview).",
    )
    parser.add_argument("--stack", choices=("primary", "dr", "all"), default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="folder for the JSON")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    for stack in ("primary", "dr") if args.stack == "all" else (args.stack,):
        try:
            graph, path, elapsed = synth(stack, args.out)
        except SettingsError as error:
            print(f"stack {stack}: {error}", file=sys.stderr)
            return 2
        print(BANNER.format(stack=stack))
        print(render_tree(graph))
        print(f"{len(graph.resources)} resources in {elapsed:.1f} s; graph written to {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
