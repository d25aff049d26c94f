"""Failover drills with measured RTO and RPO.

    python -m drill emulate [--failback]                   # offline (the demo)
    python -m drill run --primary ORG/trading/primary --dr ORG/trading/dr \\
        [--failback] [--simulate-outage]                   # against AWS, with the Pulumi CLI

Writes drill-report.json, drill-report.md and drill-timeline.png to --out. Exit codes: 0 the
drill passed; 1 a step failed or RTO/RPO exceeded the objectives; 2 bad input (unknown stack,
missing outputs or objectives, no Pulumi CLI), nothing changed.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from drill import automation, emulated, report
from drill.core import DrillOptions
from drill.model import DrillInputError
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


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    started = time.perf_counter()
    try:
        if args.mode == "emulate":
            stacks = deploy_offline()
            with emulation.moto_server():
                drill = emulated.build(stacks, progress=_progress)
                result = drill.run(
                    DrillOptions(
                        failback=args.failback,
                        marker_interval_seconds=0.1,
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
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
