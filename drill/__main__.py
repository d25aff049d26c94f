"""Failover drills with measured RTO and RPO, and the failover simulation.

    python -m drill emulate [--failback] [--simulate]      # offline (the demo)
    python -m drill run --primary ORG/trading/primary --dr ORG/trading/dr \\
        [--failback] [--simulate-outage]                   # against AWS, with the Pulumi CLI
    python -m drill simulate [SCENARIO ...] [--all] [--json FILE]   # modeled, offline

`emulate` and `run` write drill-report.json, drill-report.md (its timeline a Mermaid chart) and
drill-timeline.png to --out. Exit codes: 0 the drill passed; 1 a step failed or RTO/RPO exceeded
the objectives; 2 bad input (unknown stack, missing outputs or objectives, no Pulumi CLI, a bad
scenario, a development dependency missing), nothing changed. `simulate` writes each scenario's
JSON, Markdown and PNG to --out and exits 0 once every scenario ran (its figures are
measurements of a model, not a verdict).

`run` needs only requirements.txt: `emulate` and `simulate` (moto, Pillow, the mock harness,
the simulation) import what they need when they start, and name any package that is missing.
Progress goes to stderr: a live table of the drill's phases on a terminal, plain lines elsewhere.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from rich.box import SIMPLE
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from drill import automation, report
from drill.automation import ROOT
from drill.core import DrillOptions
from drill.model import FAILED, PASSED, DrillInputError, Phase, Report

if TYPE_CHECKING:
    from drill import emulated
    from drill.simulation.run import Result

WHAT_IS_REAL = """\
[demo] REAL: the Pulumi engine (CLI built from source), this program, the policy pack, the
[demo]       Automation API, the failover handler's code and the drill.
[demo] STAND-IN: the aws, eks, kubernetes and random providers (they check inputs against the
[demo]       pinned SDKs and invent outputs) and AWS itself (moto on 127.0.0.1). Nothing here
[demo]       reaches a cloud."""
# Modules requirements-dev.txt installs, by import name: what to tell a user who lacks one.
DEV_PACKAGES = {"moto": "moto", "PIL": "pillow", "yaml": "pyyaml", "flask": "moto[server]"}
FIRST_PARTY = {"drill", "testing", "handlers", "settings", "components", "outputs", "naming"}
STATUS_STYLES = {PASSED: "green", FAILED: "bold red"}


class EngineError(Exception):
    """The offline Pulumi engine failed (exit code 1)."""


@contextmanager
def dev_dependencies(command: str) -> Iterator[None]:
    """Imports for `command` that need requirements-dev.txt: a missing package is named, with
    how to install it, instead of a traceback."""
    try:
        yield
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if not module or module in FIRST_PARTY:
            raise
        raise DrillInputError(
            f"`python -m drill {command}` needs the package {DEV_PACKAGES.get(module, module)!r} "
            f"(module {error.name!r} is not installed), a development dependency: "
            "pip install -r requirements-dev.txt"
        ) from None


class Display:
    """The progress on stderr. On a terminal: every message scrolls by above a live table of
    the drill's phases and a status line with the latest message. Elsewhere (CI, tests, a
    pipe): the messages as plain lines.

    rich draws the live part (https://rich.readthedocs.io/en/stable/live.html: what is printed
    to `live.console` appears above the display) and says whether its stream is a terminal
    (`Console.is_terminal`, https://rich.readthedocs.io/en/stable/console.html)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.phases: dict[str, Phase | float] = {}
        self.status = ""
        self.live: Live | None = None

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self.live = Live(console=self.console, get_renderable=self.render)
            self.live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.status = ""
            self.live.stop()
            self.live = None

    def message(self, text: str) -> None:
        if self.live is None:
            print(text, file=sys.stderr, flush=True)
            return
        self.status = text.splitlines()[-1] if text else ""
        self.live.console.print(Text(text))

    def phase_started(self, name: str) -> None:
        self.phases[name] = time.monotonic()

    def phase_ended(self, phase: Phase) -> None:
        self.phases[phase.name] = phase

    def render(self) -> RenderableType:
        table = Table("phase", "status", "seconds", "detail", box=SIMPLE)
        table.columns[2].justify = "right"
        table.columns[3].no_wrap = True
        for name, state in self.phases.items():
            if isinstance(state, Phase):
                style = STATUS_STYLES.get(state.status, "yellow")
                table.add_row(
                    name, Text(state.status, style=style), f"{state.seconds:.1f}", state.detail
                )
            else:
                running = Spinner("dots", text="running", style="cyan")
                table.add_row(name, running, f"{time.monotonic() - state:.0f}", "")
        parts: list[RenderableType] = [table] if self.phases else []
        if self.status:
            parts.append(Spinner("dots", text=Text(self.status, no_wrap=True)))
        return Group(*parts)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drill", description="Failover drills.")
    sub = parser.add_subparsers(dest="mode", required=True)
    emulate = sub.add_parser(
        "emulate",
        help="offline: `pulumi up` of both stacks on the real engine with stand-in providers, "
        "then the drill through the Automation API against an embedded moto server "
        "(needs requirements-dev.txt)",
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
        "handler code against them; measures RTO, lost and split-brain writes "
        "(needs requirements-dev.txt)",
    )
    simulate.add_argument(
        "scenarios",
        nargs="*",
        help="scenario files or shipped names (drill/scenarios/); default: the default "
        "scenario (drill/simulation/catalogue.py) on the rds tier",
    )
    simulate.add_argument("--all", action="store_true", help="every shipped scenario")
    simulate.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    simulate.add_argument("--seed", type=int, help="override every scenario's seed")
    simulate.add_argument(
        "--serial", action="store_true", help="run the handler's independent steps one by one"
    )
    simulate.add_argument("--out", type=Path, default=ROOT / "build" / "simulation")
    return parser.parse_args(argv)


def deploy_offline(display: Display) -> emulated.Stacks:
    """`pulumi up` of primary then dr into the offline backend, with the policy pack enforced,
    then both stacks as the Automation API reads them."""
    from drill import emulated  # noqa: PLC0415 - emulate only: moto and the mock harness
    from testing.offline import Offline  # noqa: PLC0415 - emulate only

    display.message(WHAT_IS_REAL)
    offline = Offline()
    offline.prepare()
    for stack in ("primary", "dr"):
        display.message(f"[demo] pulumi up --stack {stack} (policy pack enforced) ...")
        started = time.perf_counter()
        result = offline.up(stack, *offline.policy_args())
        summary = result.stdout.strip().splitlines()[-4:]
        display.message(
            f"[demo]   done in {time.perf_counter() - started:.1f} s: " + " ".join(summary)
        )
    return emulated.from_engine(offline, display.message)


def simulate(args: argparse.Namespace, display: Display) -> int:
    """Every scenario on the stacks rendered under Pulumi mocks with its data tier."""
    with dev_dependencies("simulate"):
        from drill.simulation import catalogue, topology  # noqa: PLC0415 - simulate only
        from drill.simulation.scenario import ScenarioError  # noqa: PLC0415 - simulate only
    started = time.perf_counter()
    try:
        paths = (
            catalogue.shipped()
            if args.all
            else [
                catalogue.resolve(name) for name in args.scenarios or [f"{catalogue.DEFAULT}-rds"]
            ]
        )
        regions = topology.stack_regions()
        render = functools.cache(topology.render)
        results = catalogue.run_all(
            paths,
            render,
            regions,
            seed=args.seed,
            parallel=not args.serial,
            progress=display.message,
        )
    except ScenarioError as error:
        raise DrillInputError(str(error)) from None
    _report(results, args.out, args.json)
    display.message(
        f"[simulate] {len(results)} scenario(s) in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _report(results: list[Result], out: Path, json_path: Path | None) -> None:
    from drill.simulation import report as simulation_report  # noqa: PLC0415 - Pillow

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


def simulate_deployed(stacks: emulated.Stacks, out: Path, display: Display) -> None:
    """The default scenario on the failover simulation built from the deployed stacks."""
    with dev_dependencies("emulate --simulate"):
        from drill.simulation import catalogue, topology  # noqa: PLC0415 - the simulation
    assert stacks.deployments is not None
    deployed = topology.from_deployments(
        stacks.primary,
        stacks.deployments[stacks.primary_name],
        stacks.dr,
        stacks.deployments[stacks.dr_name],
    )
    tier = topology.tier(deployed)
    display.message(
        f"[demo] failover simulation: {catalogue.DEFAULT}-{tier} on the deployed stacks ..."
    )
    results = catalogue.run_all(
        [catalogue.default(tier)],
        lambda _: deployed,
        (deployed.primary.name, deployed.dr.name),
        progress=display.message,
    )
    _report(results, out, None)


def emulate(args: argparse.Namespace, display: Display) -> tuple[Report, emulated.Stacks]:
    """The demo: both stacks up on the offline engine, then the drill against moto."""
    with dev_dependencies("emulate"):
        from drill import emulated  # noqa: PLC0415 - emulate only: moto and the mock harness
        from testing import emulation  # noqa: PLC0415 - emulate only
        from testing.offline import PulumiError  # noqa: PLC0415 - emulate only
    try:
        stacks = deploy_offline(display)
        with emulation.moto_server():
            drill = emulated.build(stacks, progress=display.message)
            drill.listener = display
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
    except PulumiError as error:
        raise EngineError(str(error)) from None
    return result, stacks


def against_aws(args: argparse.Namespace, display: Display) -> Report:
    drill = automation.build(args.primary, args.dr, progress=display.message)
    drill.listener = display
    return drill.run(DrillOptions(failback=args.failback, simulate_outage=args.simulate_outage))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    started = time.perf_counter()
    stacks = None
    with Display(Console(stderr=True)) as display:
        try:
            if args.mode == "simulate":
                return simulate(args, display)
            if args.mode == "emulate":
                result, stacks = emulate(args, display)
            else:
                result = against_aws(args, display)
            paths = report.write(result, args.out, display.message)
        except DrillInputError as error:
            print(f"drill: {error}", file=sys.stderr)
            return 2
        except EngineError as error:
            print(f"drill: {error}", file=sys.stderr)
            return 1
    print(paths["markdown"].read_text())
    print(
        f"{'Emulated drill' if args.mode == 'emulate' else 'Drill'} "
        f"{'PASSED' if result.passed else 'FAILED'} in {time.perf_counter() - started:.1f} s; "
        f"reports: {', '.join(str(p) for p in paths.values())}"
    )
    if stacks is not None and args.simulate:
        with Display(Console(stderr=True)) as display:
            try:
                simulate_deployed(stacks, args.out.parent / "simulation", display)
            except DrillInputError as error:
                print(f"drill: {error}", file=sys.stderr)
                return 2
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
