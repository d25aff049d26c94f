"""The simulation's reports: Markdown (one scenario, or the table of many, each with its
timeline as a Mermaid Gantt chart) and a PNG timeline. Every figure is modeled: it comes from
the physics table, not from AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from drill.report import Bar, gantt
from drill.simulation.run import Result

PHASE_COLOUR = (70, 110, 170)
RUN_COLOURS = {"passed": (46, 139, 87), "failed": (200, 40, 40), "died": (120, 0, 0)}
# Simulated second 0 on the Gantt chart's clock: its axis then reads elapsed simulated time.
CHART_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# A run's outcome as a bar's status (drill/report.py colours it on the chart).
RUN_STATUS = {"SUCCEEDED": "passed", "FAILED": "failed", "died": "died"}
FAULTS = "faults"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def markdown(result: Result) -> str:
    data = result.as_dict()
    scenario = result.scenario
    rto = data["rto_seconds"]
    within = "" if rto is None else (" (within)" if rto <= result.rto_objective else " (over)")
    lines = [
        f"# Simulated failover (modeled): {scenario.name}",
        "",
        scenario.description.strip(),
        "",
        f"Data tier `{scenario.database}`, failover mode `{scenario.mode}`, "
        f"{scenario.duration:g} simulated seconds, {scenario.writes_per_second:g} writes/s, "
        f"seed {scenario.seed}.",
        "",
        "| measure (modeled) | value |",
        "| --- | --- |",
        f"| RTO (primary stops taking writes to dr's writer acknowledging one) | "
        f"{_seconds(rto)}{within}; objective {result.rto_objective:g} s |",
        f"| acknowledged writes | {data['acknowledged_writes']} |",
        f"| lost writes (acknowledged, absent from the final writer) | {data['lost_writes']} |",
        f"| RPO (oldest lost write to the disruption) | {data['rpo_seconds']:.1f} s |",
        f"| split-brain writes (acknowledged by a non-designated writer) | "
        f"{data['split_brain_writes']} |",
        f"| final state | {data['final_state'].get('state')} |",
        f"| lock stuck | {'yes' if data['lock_stuck'] else 'no'} |",
        "",
        "## Timeline (modeled, simulated time from the start)",
        "",
        gantt(f"{scenario.name} (modeled)", timeline(result)),
        "",
        f"![the modeled timeline]({scenario.name}.png)",
        "",
        "## Phases (modeled, simulated seconds from the start)",
        "",
        "| phase | start | end | seconds |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {_cell(p['start'])} | {_cell(p['end'])} | {_cell(p['seconds'])} |"
            for name, p in data["phases"].items()
        ),
        "",
        "## Lost writes by store",
        "",
        *(f"- {store}: {count}" for store, count in data["lost_writes_by_store"].items()),
        "",
        "## Lambda invocations that acted or failed",
        "",
        "| invocation | source | start | end | action | outcome | detail |",
        "| --- | --- | ---: | ---: | --- | --- | --- |",
    ]
    for run in result.runs:
        if run.action in ("failover", "failback") or run.outcome not in ("ok", "degraded"):
            detail = run.error or ", ".join((run.report or {}).get("failedSteps", []))
            lines.append(
                f"| {run.name} | {run.source} | {run.started:.1f} | {_cell(run.ended)} "
                f"| {run.action} | {run.outcome} | {detail} |"
            )
            for entry in (run.report or {}).get("timeline", []):
                lines.append(
                    f"| | | | | {entry['step']} | {entry['outcome']} "
                    f"| {entry['seconds']} s: {entry['detail']} |"
                )
    lines += ["", "## Events", ""]
    lines += [f"- {e['at']:.1f} s: {e['event']}" for e in data["events"]]
    if data["physics_overrides"]:
        lines += ["", "## Physics overridden by the scenario", ""]
        lines += [f"- {k}: {v}" for k, v in data["physics_overrides"].items()]
    return "\n".join(lines) + "\n"


def _at(seconds: float) -> datetime:
    return CHART_ORIGIN + timedelta(seconds=seconds)


def _seconds_at(moment: datetime) -> float:
    return (moment - CHART_ORIGIN).total_seconds()


def timeline(result: Result) -> list[tuple[str, list[Bar]]]:
    """The PNG's bars as Gantt sections: one per phase reached, the failover and failback
    invocations (and any that died), and each fault as a milestone."""
    duration = result.scenario.duration
    sections: list[tuple[str, list[Bar]]] = []
    for name, phase in result.phases.items():
        if phase["start"] is not None:
            reached = phase["end"] is not None
            end = phase["end"] if phase["end"] is not None else duration
            label = name if reached else f"{name} (not reached)"
            sections.append((name, [Bar(label, _at(phase["start"]), _at(end))]))
    runs = [
        Bar(
            f"{run.action or 'run'} {run.name} [{run.outcome}]",
            _at(run.started),
            _at(run.ended if run.ended is not None else duration),
            RUN_STATUS.get(run.outcome, "other"),
        )
        for run in result.runs
        if run.action in ("failover", "failback") or run.outcome == "died"
    ]
    if runs:
        sections.append(("Lambda invocations", runs))
    faults = [
        Bar(event, _at(t), _at(t), milestone=True)
        for t, event in result.events
        if event.startswith("fault")
    ]
    if faults:
        sections.append((FAULTS, faults))
    return sections


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:.1f}"


def table(results: list[Result]) -> str:
    """The one-line-per-scenario table (`docs/simulation.md`)."""
    lines = [
        "| scenario | tier | RTO (s) | lost | RPO (s) | split-brain | stuck | final state |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for result in results:
        d = result.as_dict()
        name = result.scenario.name.removesuffix(f"-{result.scenario.database}")
        lines.append(
            f"| {name} | {result.scenario.database} | {_cell(d['rto_seconds']) or 'never'} "
            f"| {d['lost_writes']} | {d['rpo_seconds']:.1f} | {d['split_brain_writes']} "
            f"| {'yes' if d['lock_stuck'] else 'no'} | {d['final_state'].get('state')} |"
        )
    return "\n".join(lines) + "\n"


def png(result: Result, path: Path) -> None:
    """Phases, then the failover and failback invocations, on the simulated time axis, with a
    tick for each fault."""
    bars = [
        (
            bar.name,
            _seconds_at(bar.start),
            _seconds_at(bar.end),
            RUN_COLOURS.get(bar.status, (90, 90, 90)) if bar.status else PHASE_COLOUR,
        )
        for section, section_bars in timeline(result)
        if section != FAULTS
        for bar in section_bars
    ]
    span = result.scenario.duration
    label_width, chart_width, row, margin = 330, 640, 22, 36
    height = margin * 2 + row * max(1, len(bars))
    image = Image.new("RGB", (label_width + chart_width + margin, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (margin, 8),
        f"{result.scenario.name}: modeled timeline, {span:g} simulated seconds",
        fill="black",
    )
    for t, event in result.events:
        if event.startswith("fault"):
            x = label_width + t / span * chart_width
            draw.line((x, margin - 6, x, height - margin), fill=(200, 120, 0))
    for index, (label, start, end, colour) in enumerate(bars):
        top = margin + index * row
        left = label_width + start / span * chart_width
        right = label_width + end / span * chart_width
        draw.text((8, top + 4), label, fill="black")
        draw.rectangle((left, top + 3, max(right, left + 2), top + row - 3), fill=colour)
    image.save(path)


def write(result: Result, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = result.scenario.name
    paths = {
        "json": out_dir / f"{stem}.json",
        "markdown": out_dir / f"{stem}.md",
        "png": out_dir / f"{stem}.png",
    }
    paths["json"].write_text(json.dumps(result.as_dict(), indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown(result))
    png(result, paths["png"])
    return paths
