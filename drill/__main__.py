"""Failover drills with measured RTO and RPO, and the failover simulation.

    python -m drill emulate [--failback] [--simulate]      # offline (the demo)
    python -m drill run --primary ORG/trading/primary --dr ORG/trading/dr \\
        [--failback] [--simulate-outage]                   # against AWS, with the Pulumi CLI
    python -m drill simulate [SCENARIO ...] [--all] [--json FILE]   # modeled, offline

`emulate` and `run` write drill-report.json, drill-report.md and drill-timeline.png to --out.
Exit codes: 0 the drill passed; 1 a step failed or RTO/RPO exceeded the objectives; 2 bad input
(unknown stack, missing outputs or objectives, no Pulumi CLI, a bad scenario), nothing changed.
`simulate` writes each scenario's JSON, Markdown and PNG to --out and exits 0 once every
scenario ran (its figures are measurements of a model, not a verdict).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from pathlib import Path

from drill import automation, emulated, report
from drill.core import DrillOptions
from drill.model import DrillInputError
from drill.simulation import catalogue, topology
from drill.simulation import report as simulation_report
from drill.simulation.run import Result
from drill.simulation.scenario import ScenarioError
from tools import emulation
from tools.harness import ROOT
from tools.offline import Offline, PulumiError

WHAT_IS_REAL = """\
[demo] REAL: the Pulumi engine (CLI built from source), this program, the policy pack, the
[demo]       Automation API, the failover handler's code and the drill.
[demo] STAND-IN: the aws, eks, kubernetes and random providers (they check inputs against the
[demo]       pinned SDKs and invent outputs) and AWS itself (moto on 127.0.0.1). Nothing here
[demo]       reaches a cloud."""


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drill", description="Failover drills.")
    sub = parser.add_subparsers(dest="mode", required=True)
    emulate = sub.add_parser(
        "emulate",
        help="offline: `pulumi up` of both stacks on the real engine with stand-in providers, "
        "then the drill through the Automation API against an embedded moto server",
    )
    run = sub.add_parser("run", help="drill against AWS through the Pulumi Automation API")
    run.add_argument("--primary", required=True, help="the primary stack, org/project/stack")
    run.add_argument("--dr", required=True, help="the dr stack, org/project/stack")
    run.add_argument(
        "--simulate-outage",
        action="store_true",
        help="invert the primary's health check first, as an outage would fail it",
    )
    for command in (emulate, run):
        command.add_argument("--failback", action="store_true", help="fail back afterwards")
        command.add_argument("--out", type=Path, default=ROOT / "build" / "drill")
    emulate.add_argument(
        "--simulate",
        action="store_true",
        help="then run the default scenario on the failover simulation built from the "
        "deployed stacks",
    )
    simulate = sub.add_parser(
        "simulate",
        help="modeled: both regions on a simulated clock with injected faults, the real "
        "handler code against them; measures RTO, lost and split-brain writes",
    )
    simulate.add_argument(
        "scenarios",
        nargs="*",
        help=f"scenario files or shipped names (drill/scenarios/); default {catalogue.DEFAULT}-rds",
    )
    simulate.add_argument("--all", action="store_true", help="every shipped scenario")
    simulate.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    simulate.add_argument("--seed", type=int, help="override every scenario's seed")
    simulate.add_argument(
        "--serial", action="store_true", help="run the handler's independent steps one by one"
    )
    simulate.add_argument("--out", type=Path, default=ROOT / "build" / "simulation")
    return parser.parse_args(argv)


def deploy_offline() -> emulated.Stacks:
    """`pulumi up` of primary then dr into the offline backend, with the policy pack enforced,
    then both stacks as the Automation API reads them."""
    _progress(WHAT_IS_REAL)
    offline = Offline()
    offline.prepare()
    for stack in ("primary", "dr"):
        _progress(f"[demo] pulumi up --stack {stack} (policy pack enforced) ...")
        started = time.perf_counter()
        result = offline.up(stack, *offline.policy_args())
        summary = result.stdout.strip().splitlines()[-4:]
        _progress(f"[demo]   done in {time.perf_counter() - started:.1f} s: " + " ".join(summary))
    return emulated.from_engine(offline, _progress)


def simulate(args: argparse.Namespace) -> int:
    """Every scenario on the stacks rendered under Pulumi mocks with its data tier."""
    paths = (
        catalogue.shipped()
        if args.all
        else [catalogue.resolve(name) for name in args.scenarios or [f"{catalogue.DEFAULT}-rds"]]
    )
    regions = topology.stack_regions()
    render = functools.cache(topology.render)
    started = time.perf_counter()
    results = catalogue.run_all(
        paths, render, regions, seed=args.seed, parallel=not args.serial, progress=_progress
    )
    _report(results, args.out, args.json)
    _progress(f"[simulate] {len(results)} scenario(s) in {time.perf_counter() - started:.1f} s")
    return 0


def _report(results: list[Result], out: Path, json_path: Path | None) -> None:
    for result in results:
        simulation_report.write(result, out)
    if len(results) == 1:
        print(simulation_report.markdown(results[0]))
    else:
        print(simulation_report.table(results))
    if json_path is not None:
        figures = [r.as_dict() for r in results]
        json_path.write_text(
            json.dumps(figures[0] if len(figures) == 1 else figures, indent=2, default=str) + "\n"
        )
    print(f"Reports (modeled, not AWS): {out}")


def simulate_deployed(stacks: emulated.Stacks, out: Path) -> None:
    """The default scenario on the failover simulation built from the deployed stacks."""
    assert stacks.deployments is not None
    deployed = topology.from_deployments(
        stacks.primary,
        stacks.deployments[stacks.primary_name],
        stacks.dr,
        stacks.deployments[stacks.dr_name],
    )
    tier = topology.tier(deployed)
    _progress(f"[demo] failover simulation: {catalogue.DEFAULT}-{tier} on the deployed stacks ...")
    results = catalogue.run_all(
        [catalogue.default(tier)],
        lambda _: deployed,
        (deployed.primary.name, deployed.dr.name),
        progress=_progress,
    )
    _report(results, out, None)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if args.mode == "simulate":
        try:
            return simulate(args)
        except ScenarioError as error:
            print(f"drill: {error}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    stacks = None
    try:
        if args.mode == "emulate":
            stacks = deploy_offline()
            with emulation.moto_server():
                drill = emulated.build(stacks, progress=_progress)
                # Unplanned: a planned failover waits for the replica to catch up, which moto
                # cannot show (it does not replicate).
                result = drill.run(
                    DrillOptions(
                        failback=args.failback,
                        simulate_outage=True,
                        marker_interval_seconds=0.1,
                        pre_fault_seconds=1.0,
                        poll_interval_seconds=0.2,
                        poll_timeout_seconds=10,
                    )
                )
        else:
            drill = automation.build(args.primary, args.dr, progress=_progress)
            result = drill.run(
                DrillOptions(failback=args.failback, simulate_outage=args.simulate_outage)
            )
    except DrillInputError as error:
        print(f"drill: {error}", file=sys.stderr)
        return 2
    except PulumiError as error:
        print(f"drill: {error}", file=sys.stderr)
        return 1
    paths = report.write(result, args.out)
    print(report.markdown(result))
    print(
        f"{'Emulated drill' if args.mode == 'emulate' else 'Drill'} "
        f"{'PASSED' if result.passed else 'FAILED'} in {time.perf_counter() - started:.1f} s; "
        f"reports: {', '.join(str(p) for p in paths.values())}"
    )
    if stacks is not None and args.simulate:
        simulate_deployed(stacks, args.out.parent / "simulation")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
