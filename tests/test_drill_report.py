"""The drill's and the simulation's reports carry their timeline as a Mermaid Gantt chart that
GitHub renders, and the command line shows the drill's phases as they happen.

The chart is checked against Mermaid's gantt grammar (packages/mermaid/src/diagrams/gantt/parser/
gantt.jison in mermaid-js/mermaid; syntax https://mermaid.js.org/syntax/gantt.html): the lexer
tries its rules in order at each line, keywords first; a task is `taskTxt` (`[^#:\\n;]+`) then
`taskData` (`:[^#\\n;]+`); `#` starts a comment and a character followed by `%` too. Before lexing,
Mermaid swaps each entity code (`#58;`,
https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters) for a
placeholder (`encodeEntities` in packages/mermaid/src/mermaidAPI.ts), as `encode` does here.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from drill import report
from drill.__main__ import Display
from drill.model import FAILED, NOT_EMULATED, PASSED, SKIPPED, Phase, Report, Target
from drill.simulation import report as simulation_report
from drill.simulation.run import LambdaRun, Result
from drill.simulation.scenario import Scenario

TARGET = Target(
    primary_stack="acme/trading/primary",
    dr_stack="acme/trading/dr",
    primary_region="us-east-1",
    dr_region="us-west-2",
    cluster_name="dr-eks",
    node_groups={"trading": "dr-trading-ng"},
    full={"trading": 3},
    pilot_light={"trading": 1},
    db_identifier="dr-db",
    db_engine="postgres",
    function_name="dr-failover",
    state_table="dr-failover-state",
    orders_table="orders",
    primary_bucket="primary-records",
    dr_bucket="dr-records",
    rto_seconds=900,
    rpo_seconds=60,
)
START = datetime(2026, 11, 26, 23, 59, 58, 123456, tzinfo=UTC)
# A step name that would break an unescaped chart three ways, and one that reads as a keyword.
AWKWARD_STEP = "wait: replica #2; 50% caught up"
KEYWORD_STEP = "section of the runbook"

# Statements the lexer matches before a task (case-insensitive), with what each consumes.
STATEMENTS = re.compile(
    r"(?i)(gantt|dateFormat\s[^#\n;]+|axisFormat\s[^#\n;]+|todayMarker\s[^\n;]+"
    r"|title\s[^#\n;]+|section\s[^#:\n;]+)"
)
KEYWORD_START = re.compile(
    r"(?i)(gantt|dateformat|inclusiveenddates|topaxis|axisformat|tickinterval|includes|excludes"
    r"|todaymarker|weekday|title|accdescr|acctitle|section|click|href|call|\d{4}-\d\d-\d\d)"
)
TASK = re.compile(r"([^#:\n;%]+):([^#\n;%]+)")


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def step(name: str, begin: float, end: float, outcome: str, **extra: str) -> dict:
    return {
        "step": name,
        "outcome": outcome,
        "startedAt": at(begin).isoformat(),
        "endedAt": at(end).isoformat(),
        "seconds": end - begin,
        "detail": "",
        **extra,
    }


@pytest.fixture
def recorded() -> Report:
    """A failover and failback drill as a run records it, crossing midnight UTC."""
    drill = Report("aws", TARGET)
    for name, begin, end, status in [
        ("preflight", 0, 1.5, PASSED),
        ("rpo-markers", 1.5, 31.5, PASSED),
        ("failover", 31.5, 95.25, FAILED),
        ("until-dr-serves", 95.25, 400.0, PASSED),
        ("rpo", 400.0, 402.0, PASSED),
        ("failback", 402.0, 500.0, PASSED),
        ("refresh", 500.0, 520.0, SKIPPED),
    ]:
        drill.phases.append(Phase(name, at(begin), at(end), status, ""))
    drill.handler_runs["failover"] = {
        "outcome": "FAILED",
        "timeline": [
            step("scale-node-groups", 32.0, 60.0, "succeeded"),
            step(AWKWARD_STEP, 33.0, 90.0, "failed"),
            step("verify-database", 90.0, 95.0, "failed", drillStatus=NOT_EMULATED),
        ],
    }
    drill.handler_runs["failback"] = {
        "outcome": "SUCCEEDED",
        "timeline": [step(KEYWORD_STEP, 403.0, 499.0, "succeeded")],
    }
    drill.judge()
    return drill


def chart(markdown: str) -> list[str]:
    """The Gantt block's lines, each checked against the lexer's rules."""
    blocks = re.findall(r"```mermaid\n(.*?)\n```", markdown, re.DOTALL)
    assert len(blocks) == 1, markdown
    lines = [encode(line.strip()) for line in blocks[0].splitlines() if line.strip()]
    assert lines[0] == "gantt"
    for line in lines:
        if STATEMENTS.fullmatch(line):
            continue
        task = TASK.fullmatch(line)
        assert task is not None, f"not a task Mermaid can lex: {line!r}"
        assert not KEYWORD_START.match(task[1]), f"a task read as a statement: {line!r}"
    return lines


def encode(text: str) -> str:
    return re.sub(r"#(\w+);", lambda code: f"\ufb02\u00b0\u00b0{code[1]}\u00b6\u00df", text)


def decode(text: str) -> str:
    placeholder = "\ufb02\u00b0\u00b0(\\d+)\u00b6\u00df"
    return re.sub(placeholder, lambda code: chr(int(code[1])), text).strip()


def sections(lines: list[str]) -> dict[str, list[tuple[str, list[str]]]]:
    """Section name -> [(task name, its data items)], names decoded."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    current = None
    for line in lines:
        if line.startswith("section "):
            current = decode(line.removeprefix("section "))
            found[current] = []
        elif (task := TASK.fullmatch(line)) and current is not None:
            found[current].append((decode(task[1]), [d.strip() for d in task[2].split(",")]))
    return found


def moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def to_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_the_drill_report_carries_every_phase_and_step_on_a_gantt_chart(
    recorded: Report,
) -> None:
    lines = chart(report.markdown(recorded))
    assert "dateFormat YYYY-MM-DD HH:mm:ss.SSS" in lines
    assert "axisFormat %H:%M:%S" in lines
    found = sections(lines)
    assert list(found) == [p.name for p in recorded.phases]
    for phase in recorded.phases:
        name, data = found[phase.name][0]
        assert name == phase.name
        assert [moment(d) for d in data[-2:]] == [to_ms(phase.started_at), to_ms(phase.ended_at)]
    tags = {name: data[:-2] for tasks in found.values() for name, data in tasks}
    assert tags["failover"] == ["crit"] and tags["preflight"] == ["done"]
    assert tags["refresh"] == []
    steps = {
        action: [(name, [moment(d) for d in data[-2:]]) for name, data in found[action][1:]]
        for action in ("failover", "failback")
    }
    for action, run in recorded.handler_runs.items():
        assert steps[action] == [
            (
                f"{action} {e['step']}",
                [
                    to_ms(datetime.fromisoformat(e["startedAt"])),
                    to_ms(datetime.fromisoformat(e["endedAt"])),
                ],
            )
            for e in run["timeline"]
        ]
    assert tags[f"failover {AWKWARD_STEP}"] == ["crit"]
    # Not emulated proves nothing: neither done nor critical.
    assert tags["failover verify-database"] == []


def test_the_png_sits_beside_the_chart_when_pillow_drew_it(
    recorded: Report, tmp_path: Path
) -> None:
    paths = report.write(recorded, tmp_path)
    assert paths["png"].stat().st_size > 0
    markdown = paths["markdown"].read_text()
    assert markdown.index("```mermaid") < markdown.index("![the drill's timeline](")
    assert "(drill-timeline.png)" in markdown


@pytest.mark.parametrize(
    "name",
    ["a: b", "#1 ; %% x", "50% done", "click me", "Title case", "2026-11-26 upgrade", "", "x\ny"],
)
def test_no_name_can_break_the_chart(name: str) -> None:
    escaped = encode(report.mermaid_text(name))
    task = TASK.fullmatch(f"{escaped} :0s")
    assert task is not None and task[1] == f"{escaped} ", escaped
    assert not KEYWORD_START.match(escaped)
    assert decode(escaped) == (" ".join(name.split()) or "(unnamed)")


def test_the_simulation_report_charts_phases_invocations_and_faults(tmp_path: Path) -> None:
    scenario = Scenario("regional-outage-automatic-rds", "rds", "automatic", 3600.0)
    result = Result(
        scenario=scenario,
        figures={
            "rto_seconds": 610.0,
            "acknowledged_writes": 100,
            "lost_writes": 2,
            "rpo_seconds": 1.5,
            "split_brain_writes": 0,
        },
        phases={
            "detection": {"start": 60.0, "end": 240.0, "seconds": 180.0},
            "promotion": {"start": 240.0, "end": None, "seconds": None},
            "failback": {"start": None, "end": None, "seconds": None},
        },
        final_state={"state": "failed-over"},
        lock_stuck=False,
        runs=[
            LambdaRun("failover-1", "schedule", 240.0, 610.0, "SUCCEEDED", "failover"),
            LambdaRun("probe-9", "schedule", 700.0, None, "died", ""),
        ],
        events=[(60.0, "fault: region-outage us-east-1"), (300.0, "database: promoted")],
        lost_by_store={"database": 2},
        rto_objective=900.0,
    )
    paths = simulation_report.write(result, tmp_path)
    assert paths["png"].stat().st_size > 0
    found = sections(chart(paths["markdown"].read_text()))
    assert list(found) == ["detection", "promotion", "Lambda invocations", "faults"]
    origin = simulation_report.CHART_ORIGIN
    assert found["detection"] == [
        (
            "detection",
            [
                f"{origin + timedelta(seconds=60):%Y-%m-%d %H:%M:%S}.000",
                f"{origin + timedelta(seconds=240):%Y-%m-%d %H:%M:%S}.000",
            ],
        )
    ]
    name, data = found["promotion"][0]
    assert name == "promotion (not reached)"
    assert moment(data[-1]) == origin + timedelta(seconds=3600)
    assert [(n, d[0]) for n, d in found["Lambda invocations"]] == [
        ("failover failover-1 [SUCCEEDED]", "done"),
        ("run probe-9 [died]", "crit"),
    ]
    assert found["faults"] == [
        (
            "fault: region-outage us-east-1",
            ["milestone", f"{origin + timedelta(seconds=60):%Y-%m-%d %H:%M:%S}.000", "0s"],
        )
    ]


# -- progress -----------------------------------------------------------------------------------


def test_progress_is_plain_lines_when_not_on_a_terminal(
    recorded: Report, capsys: pytest.CaptureFixture[str]
) -> None:
    with Display(Console(file=io.StringIO())) as display:
        display.message("[drill] preflight ...")
        display.phase_started("preflight")
        display.phase_ended(recorded.phases[0])
        display.message("[drill] preflight: passed (1.5 s)")
    assert display.live is None
    assert capsys.readouterr().err == "[drill] preflight ...\n[drill] preflight: passed (1.5 s)\n"


def test_progress_on_a_terminal_is_a_live_table_of_phases(recorded: Report) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    with Display(console) as display:
        assert display.live is not None
        display.message("[demo] pulumi up --stack primary ...")
        for phase in recorded.phases[:3]:
            display.phase_started(phase.name)
            display.phase_ended(phase)
        display.phase_started("until-dr-serves")
        table = io.StringIO()
        Console(file=table, width=120, color_system=None).print(display.render())
    # Markup-looking text is printed as it is, above the live part.
    assert "[demo] pulumi up --stack primary ..." in screen.getvalue()
    shown = table.getvalue()
    assert "[demo] pulumi up --stack primary ..." in shown
    for phase in recorded.phases[:3]:
        assert re.search(rf"{phase.name} +{phase.status} +{phase.seconds:.1f}", shown), shown
    assert re.search(r"until-dr-serves +\S+ running", shown), shown
