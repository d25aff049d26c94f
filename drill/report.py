"""The drill report: JSON (everything), Markdown (for a person or a ticket) and a PNG timeline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw

from drill.model import FAILED, NOT_CONFIGURED, NOT_EMULATED, PASSED, SKIPPED, Report

COLOURS = {
    PASSED: (46, 139, 87),
    FAILED: (200, 40, 40),
    SKIPPED: (150, 150, 150),
    NOT_EMULATED: (218, 165, 32),
    NOT_CONFIGURED: (150, 150, 150),
    "succeeded": (46, 139, 87),
}


def markdown(report: Report) -> str:
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


def timeline_png(report: Report, path: Path) -> None:
    """Horizontal bars: the drill's phases, then each handler step, on one time axis."""
    bars = [(p.name, p.started_at, p.ended_at, p.status) for p in report.phases]
    for action, run in report.handler_runs.items():
        for entry in run.get("timeline", []):
            bars.append(
                (
                    f"  {action}: {entry['step']}",
                    datetime.fromisoformat(entry["startedAt"]),
                    datetime.fromisoformat(entry["endedAt"]),
                    entry.get("drillStatus", entry["outcome"]),
                )
            )
    if not bars:
        return
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


def write(report: Report, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "drill-report.json",
        "markdown": out_dir / "drill-report.md",
        "png": out_dir / "drill-timeline.png",
    }
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown(report))
    timeline_png(report, paths["png"])
    return paths
