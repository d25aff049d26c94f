"""Benchmark on the failover simulation: how long a failover takes with 1, 4 and 16 node
groups when the handler runs its independent steps one by one and when it runs them at once.

    python -m tools.bench_failover [--database rds|aurora]

The handler, its environment and both stacks are the program's own (rendered under Pulumi
mocks); node groups beyond the first are copies of the trading group. An operator invokes a
failover at 60 s with nothing failed; the figure is the invocation's modeled duration, on the
timings of `drill/simulation/physics.py`, and the ratio serial / parallel. Every figure is
modeled, not measured on AWS.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings

from drill.simulation import topology
from drill.simulation.run import Simulation
from drill.simulation.scenario import parse
from drill.simulation.topology import GATEWAY_NODE_GROUP, Topology

NODE_GROUP_COUNTS = (1, 4, 16)


def widened(topo: Topology, count: int) -> Topology:
    """The stacks with `count` node groups in dr: the gateway's group and copies of it."""
    dr = topo.dr
    names = {GATEWAY_NODE_GROUP: dr.node_groups[GATEWAY_NODE_GROUP]}
    names |= {f"copy{i}": f"{dr.cluster_name}-copy{i}" for i in range(count - 1)}
    variables = dict(topo.lambda_variables)
    profiles = {}
    for key in ("FULL_PROFILE", "PILOT_LIGHT_PROFILE"):
        size = json.loads(variables[key])[GATEWAY_NODE_GROUP]
        profiles[key] = dict.fromkeys(names, size)
        variables[key] = json.dumps(profiles[key])
    variables["NODE_GROUPS"] = json.dumps(names)
    sizes = dict.fromkeys(names, dr.sizes[GATEWAY_NODE_GROUP])
    return dataclasses.replace(
        topo,
        dr=dataclasses.replace(dr, node_groups=names, sizes=sizes),
        lambda_variables=variables,
    )


def failover_seconds(topo: Topology, database: str, parallel: bool) -> tuple[float, str]:
    scenario = parse(
        {
            "name": "bench",
            "database": database,
            "mode": "manual",
            "duration": 1800,
            "writes_per_second": 0,
            "actions": [{"at": 60, "invoke": "failover", "reason": "benchmark"}],
        },
        (topo.primary.name, topo.dr.name),
    )
    result = Simulation(scenario, topo, parallel=parallel).run()
    (run,) = [r for r in result.runs if r.action == "failover"]
    assert run.ended is not None
    return run.ended - run.started, run.outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_failover")
    parser.add_argument("--database", choices=tuple(topology.TIERS), default="rds")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    base = topology.render(args.database)
    began = time.perf_counter()
    print("node groups | serial (s, modeled) | parallel (s, modeled) | serial / parallel | outcome")
    print("---: | ---: | ---: | ---: | ---")
    for count in NODE_GROUP_COUNTS:
        topo = widened(base, count)
        serial, outcome_serial = failover_seconds(topo, args.database, parallel=False)
        parallel, outcome_parallel = failover_seconds(topo, args.database, parallel=True)
        outcomes = {outcome_serial, outcome_parallel}
        print(
            f"{count} | {serial:.1f} | {parallel:.1f} | {serial / parallel:.2f} "
            f"| {', '.join(sorted(outcomes))}"
        )
    print(f"\n{len(NODE_GROUP_COUNTS) * 2} simulations in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
