"""Benchmark: a full failover against a local moto server, 1, 4 and 16 node groups, with the
independent steps run serially and in parallel.

    python -m tools.bench_failover [--repeats 3]

The handler and its environment are the dr program's own (rendered under Pulumi mocks); node
groups are added by copying the trading group's sizes. moto answers in milliseconds and does not
emulate promotion (the run ends FAILED at verify-database, which is reported), so the figures
measure the handler's own overhead and the API round trips to a local server, not AWS's
minutes of node provisioning and database promotion.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time
import warnings
from typing import Any

from handlers.failover import Runner
from handlers.model import Command
from tools import emulation
from tools.emulation import moto_server, reset
from tools.harness import run_program

REGION = "us-west-2"
NODE_GROUP_COUNTS = (1, 4, 16)


def variables_with(base: dict[str, str], count: int) -> dict[str, str]:
    full = json.loads(base["FULL_PROFILE"])["trading"]
    pilot = json.loads(base["PILOT_LIGHT_PROFILE"])["trading"]
    groups = {f"group{i}": f"{base['CLUSTER_NAME']}-ng{i}" for i in range(count)}
    return {
        **base,
        "NODE_GROUPS": json.dumps(groups),
        "FULL_PROFILE": json.dumps(dict.fromkeys(groups, full)),
        "PILOT_LIGHT_PROFILE": json.dumps(dict.fromkeys(groups, pilot)),
    }


def one_failover(endpoint: str, variables: dict[str, str], parallel: bool) -> dict[str, Any]:
    reset(endpoint)
    world = emulation.build(variables, REGION)
    runner = Runner(
        world.env,
        emulation.clients(world.env),
        Command("failover", "benchmark", False, False, "benchmark", "bench"),
        parallel=parallel,
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        report = runner.dispatch()
    return {"seconds": time.perf_counter() - started, "failed": report["failedSteps"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_failover")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    with moto_server() as endpoint:
        base = emulation.lambda_environment(run_program("dr"))
        print("node groups | serial (s) | parallel (s) | steps failed under moto")
        print("---: | ---: | ---: | ---")
        for count in NODE_GROUP_COUNTS:
            variables = variables_with(base, count)
            timings: dict[bool, list[float]] = {False: [], True: []}
            failed: set[str] = set()
            for _ in range(args.repeats):
                for parallel in (False, True):
                    result = one_failover(endpoint, variables, parallel)
                    timings[parallel].append(result["seconds"])
                    failed.update(result["failed"])
            print(
                f"{count} | {statistics.median(timings[False]):.3f} | "
                f"{statistics.median(timings[True]):.3f} | {', '.join(sorted(failed)) or 'none'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
