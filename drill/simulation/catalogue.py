"""The shipped scenarios (`drill/scenarios/`) and running a set of them on the stacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from drill.simulation import scenario as scenarios
from drill.simulation.run import Result, Simulation
from drill.simulation.topology import Topology

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
# The clean regional outage in automatic mode, on the stacks' data tier.
DEFAULT = "regional-outage-automatic"


def shipped() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


def resolve(name: str) -> Path:
    """A scenario file's path, or the name of a shipped one."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = SCENARIOS / f"{name}.yaml"
    if candidate.exists():
        return candidate
    names = ", ".join(p.stem for p in shipped())
    raise scenarios.ScenarioError(f"scenario {name!r}: no such file or shipped scenario ({names})")


def default(tier: str) -> Path:
    return resolve(f"{DEFAULT}-{tier}")


def run_all(
    paths: list[Path],
    topology_for: Callable[[str], Topology],
    regions: tuple[str, ...],
    *,
    seed: int | None = None,
    parallel: bool = True,
    progress: Callable[[str], None] = print,
) -> list[Result]:
    """Parse every scenario first (a bad one stops everything before anything runs), then
    run each on the stacks of its data tier."""
    loaded = [scenarios.load(path, regions) for path in paths]
    if seed is not None:
        loaded = [dataclasses.replace(s, seed=seed) for s in loaded]
    results = []
    for scenario in loaded:
        progress(f"[simulate] {scenario.name} ({scenario.duration:g} simulated s) ...")
        results.append(
            Simulation(scenario, topology_for(scenario.database), parallel=parallel).run()
        )
    return results
