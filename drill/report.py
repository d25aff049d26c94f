"""The drill report: JSON (everything), Markdown (for a person or a ticket) with the timeline as
a Mermaid Gantt chart, and the same timeline as a PNG when Pillow is installed (a development
dependency: `python -m drill run` needs only requirements.txt)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from drill.model import FAILED, NOT_CONFIGURED, NOT_EMULATED, PASSED, SKIPPED, Report

COLOURS = {
    PASSED: (46, 139, 87),
    FAILED: (200, 40, 40),
    SKIPPED: (150, 150, 150),
    NOT_EMULATED: (218, 165, 32),
    NOT_CONFIGURED: (150, 150, 150),
    "succeeded": (46, 139, 87),
}
PNG_NAME = "drill-timeline.png"

# -- the Mermaid Gantt chart --------------------------------------------------------------------
# GitHub renders a fenced code block whose language is `mermaid` as a diagram
# (https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting/creating-diagrams).
# Syntax: https://mermaid.js.org/syntax/gantt.html (`dateFormat` parses each task's start and
# end, `axisFormat` labels the axis with d3's strftime codes, `section` groups tasks, the tags
# `done`, `crit` and `active` colour a bar). Times are written as UTC wall-clock times: Mermaid
# reads them in the viewer's zone, which shifts every bar alike, so the axis reads UTC.
DATE_FORMAT = "YYYY-MM-DD HH:mm:ss.SSS"
AXIS_FORMAT = "%H:%M:%S"
# A task or section name may not hold `#`, `:` or `;` (the gantt lexer's taskTxt is
# `[^#:\n;]+`, packages/mermaid/src/diagrams/gantt/parser/gantt.jison), and a character followed
# by `%` starts a comment there. Anything outside this set is written as an entity code, `#35;`
# for `#` (https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters),
# which Mermaid swaps out before it parses (encodeEntities in mermaidAPI).
_PLAIN = re.compile(r"[A-Za-z0-9 _.,()\[\]/+=!?@*'-]")
# Lines the lexer reads as a statement, whatever follows (it ignores case): a name starting
# with one has its first character written as an entity code.
_KEYWORD = re.compile(
    r"(gantt|dateformat|inclusiveenddates|topaxis|axisformat|tickinterval|includes|excludes"
    r"|todaymarker|weekday|weekend|title|accdescr|acctitle|section|click|href|call"
    r"|displaymode|\d{4}-\d\d-\d\d)",
    re.IGNORECASE,
)
GANTT_TAGS = {PASSED: "done", "succeeded": "done", FAILED: "crit", "died": "crit"}


@dataclass(frozen=True)
class Bar:
    name: str
    start: datetime
    end: datetime
    status: str = ""
    milestone: bool = False


def mermaid_text(text: str) -> str:
    """`text` as a Gantt task or section name that cannot break the chart."""
    words = " ".join(text.split()) or "(unnamed)"
    escaped = "".join(c if _PLAIN.fullmatch(c) else f"#{ord(c)};" for c in words)
    if _KEYWORD.match(escaped):
        escaped = f"#{ord(escaped[0])};{escaped[1:]}"
    return escaped


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def gantt(title: str, sections: Sequence[tuple[str, Sequence[Bar]]]) -> str:
    """A fenced Mermaid Gantt chart: one section per entry, each bar from its start to its end
    (milestones at their start)."""
    lines = [
        "```mermaid",
        "gantt",
        f"    title {mermaid_text(title)}",
        f"    dateFormat {DATE_FORMAT}",
        f"    axisFormat {AXIS_FORMAT}",
        "    todayMarker off",
    ]
    for section, bars in sections:
        lines.append(f"    section {mermaid_text(section)}")
        for bar in bars:
            tags = [GANTT_TAGS[bar.status]] if bar.status in GANTT_TAGS else []
            if bar.milestone:
                tags.append("milestone")
                span = [_when(bar.start), "0s"]
            else:
                span = [_when(bar.start), _when(bar.end)]
            lines.append(f"    {mermaid_text(bar.name)} :{', '.join([*tags, *span])}")
    lines.append("```")
    return "\n".join(lines)


def timeline(report: Report) -> list[tuple[str, list[Bar]]]:
    """A section per drill phase: the phase, then the handler steps of the run it started
    (the failover and failback phases); a handler run without such a phase gets its own."""
    sections = [(p.name, [Bar(p.name, p.started_at, p.ended_at, p.status)]) for p in report.phases]
    by_name = dict(sections)
    for action, run in report.handler_runs.items():
        steps = [
            Bar(
                f"{action} {entry['step']}",
                datetime.fromisoformat(entry["startedAt"]),
                datetime.fromisoformat(entry["endedAt"]),
                entry.get("drillStatus", entry["outcome"]),
            )
            for entry in run.get("timeline", [])
        ]
        if action in by_name:
            by_name[action].extend(steps)
        elif steps:
            sections.append((f"handler {action}", steps))
    return sections


# -- Markdown -----------------------------------------------------------------------------------


def markdown(report: Report, png: str | None = None) -> str:
    """The report; `png`, the timeline image's file name beside it, when one was drawn."""
    data = report.as_dict()
    title = (
        "Emulated failover drill (moto, not AWS)" if report.mode == "emulated" else "Failover drill"
    )
    rto = report.rto_status if report.rto_seconds is None else f"{report.rto_seconds:.1f} s"
    rpo = report.rpo_status if report.rpo_seconds is None else f"{report.rpo_seconds:.1f} s"
    lost = "-" if report.lost_writes is None else str(report.lost_writes)
    serving = "-" if report.serving_seconds is None else f"{report.serving_seconds:.1f} s"
    lines = [
        f"# {title}: {data['verdict']}",
        "",
        f"Stacks: `{report.target.primary_stack}` -> `{report.target.dr_stack}`",
        "",
        "| measure | result | objective |",
        "| --- | --- | --- |",
        f"| RTO (fault to the first marker dr's database acknowledged) | {rto} "
        f"| {report.target.rto_seconds} s |",
        f"| lost writes (acknowledged by the primary, absent from dr) | {lost} | |",
        f"| RPO (oldest lost marker to the fault) | {rpo} | {report.target.rpo_seconds} s |",
        f"| dr serving (fault to every serving check passing) | {serving} "
        f"| {report.target.rto_seconds} s |",
        "",
        "Definitions: drill/simulation/ledger.py. The fault: the primary's marker writer stops.",
        "",
        "## Markers by store",
        "",
        "| store | status | primary acknowledged | lost | RPO | RTO | split brain |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *(_store_row(store, figures) for store, figures in report.stores.items()),
        "",
        "## Timeline (UTC)",
        "",
        gantt(f"{report.mode} drill", timeline(report)),
    ]
    if png is not None:
        lines += ["", f"![the drill's timeline]({png})"]
    lines += [
        "",
        "## Phases",
        "",
        "| phase | status | seconds | detail |",
        "| --- | --- | ---: | --- |",
        *(f"| {p.name} | {p.status} | {p.seconds:.2f} | {p.detail} |" for p in report.phases),
        "",
        "## Checks",
        "",
        "| phase | check | status |",
        "| --- | --- | --- |",
        *(
            f"| {phase} | {name} | {status} |"
            for phase, checks in report.checks.items()
            for name, status in checks.items()
        ),
    ]
    for action, run in report.handler_runs.items():
        lines += [
            "",
            f"## Handler timeline: {action} ({run.get('outcome')})",
            "",
            "| step | outcome | drill | seconds | detail |",
            "| --- | --- | --- | ---: | --- |",
            *(
                f"| {e['step']} | {e['outcome']} | {e.get('drillStatus', 'judged')} "
                f"| {e['seconds']} | {e['detail']} |"
                for e in run.get("timeline", [])
            ),
        ]
    if report.replication_lag:
        lines += ["", "## Replication lag", ""]
        lines += [f"- {name}: {value}" for name, value in report.replication_lag.items()]
    if report.verdict_reasons:
        lines += ["", "## Why it failed", ""]
        lines += [f"- {reason}" for reason in report.verdict_reasons]
    return "\n".join(lines) + "\n"


def _store_row(store: str, figures: dict) -> str:
    if "lost_writes" not in figures:
        return f"| {store} | {figures['status']} | | | | | |"
    rto = "-" if figures["rto_seconds"] is None else f"{figures['rto_seconds']:.1f} s"
    return (
        f"| {store} | {figures['status']} | {figures['primary_acknowledged']} "
        f"| {figures['lost_writes']} | {figures['rpo_seconds']:.1f} s | {rto} "
        f"| {figures['split_brain_writes']} |"
    )


# -- the PNG ------------------------------------------------------------------------------------


def timeline_png(report: Report, path: Path) -> bool:
    """Horizontal bars: the drill's phases, then each handler step, on one time axis. False,
    and nothing written, when there is nothing to draw."""
    from PIL import Image, ImageDraw  # noqa: PLC0415 - Pillow is a development dependency

    bars = [
        (f"{'  ' if section != bar.name else ''}{bar.name}", bar.start, bar.end, bar.status)
        for section, section_bars in timeline(report)
        for bar in section_bars
    ]
    if not bars:
        return False
    start = min(b[1] for b in bars)
    span = max((max(b[2] for b in bars) - start).total_seconds(), 0.001)
    label_width, chart_width, row, margin = 300, 600, 22, 30
    image = Image.new(
        "RGB", (label_width + chart_width + margin, margin * 2 + row * len(bars)), "white"
    )
    draw = ImageDraw.Draw(image)
    draw.text((margin, 8), f"{report.mode} drill timeline, {span:.2f} s in all", fill="black")
    for index, (label, began, ended, status) in enumerate(bars):
        top = margin + index * row
        left = label_width + (began - start).total_seconds() / span * chart_width
        right = label_width + (ended - start).total_seconds() / span * chart_width
        draw.text((8, top + 4), f"{label} [{status}]", fill="black")
        draw.rectangle(
            (left, top + 3, max(right, left + 2), top + row - 3),
            fill=COLOURS.get(status, (90, 90, 90)),
        )
    image.save(path)
    return True


def write(
    report: Report, out_dir: Path, progress: Callable[[str], None] = print
) -> dict[str, Path]:
    """drill-report.json, drill-report.md and the PNG timeline; without Pillow (a development
    dependency) no PNG, said through `progress`: the Markdown's Mermaid chart is the timeline."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "drill-report.json", "markdown": out_dir / "drill-report.md"}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    png = out_dir / PNG_NAME
    try:
        drawn = timeline_png(report, png)
    except ModuleNotFoundError as error:
        if error.name != "PIL":
            raise
        progress(
            f"[drill] {PNG_NAME} not drawn: it needs Pillow, a development dependency "
            "(pip install -r requirements-dev.txt); the Markdown report's Mermaid chart "
            "carries the same timeline"
        )
        drawn = False
    if drawn:
        paths["png"] = png
    paths["markdown"].write_text(markdown(report, PNG_NAME if drawn else None))
    return paths
