"""What a drill acts on, read from the two stacks' outputs, and what it records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.contract import ROUTING_CONTROL
from outputs import DRILL_NEEDS_FROM_DR, DRILL_NEEDS_FROM_PRIMARY, StackOutput

PASSED = "passed"
FAILED = "failed"
NOT_EMULATED = "not emulated"
NOT_CONFIGURED = "not configured"
NOT_MEASURED = "not measured"
SKIPPED = "skipped"


class DrillInputError(Exception):
    """A stack, an output or a tool the drill needs is missing: exit code 2, nothing changed."""


def now() -> datetime:
    return datetime.now(UTC)


def _require(stack: str, outputs: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    missing = [key for key in keys if key not in outputs]
    if StackOutput.OBJECTIVES in missing:
        raise DrillInputError(
            f"stack {stack} exports no objectives: set trading:objectives (rtoSeconds, "
            "rpoSeconds) in its stack file and run `pulumi up` for it"
        )
    if missing:
        raise DrillInputError(
            f"stack {stack} lacks the output(s) {', '.join(missing)}; deploy it with this "
            "version of the program first"
        )


@dataclass(frozen=True)
class Target:
    primary_stack: str
    dr_stack: str
    primary_region: str
    dr_region: str
    cluster_name: str
    node_groups: Mapping[str, str]
    full: Mapping[str, int]
    pilot_light: Mapping[str, int]
    db_identifier: str
    db_engine: str
    function_name: str
    state_table: str
    orders_table: str
    primary_bucket: str
    dr_bucket: str
    rto_seconds: int
    rpo_seconds: int
    primary_health_check_id: str = ""
    dr_health_check_id: str = ""
    record_name: str = ""
    dr_endpoint: str = ""
    # The drill's marker writers (components/markers.py); "" when a stack exports none.
    primary_marker_function: str = ""
    dr_marker_function: str = ""

    @classmethod
    def from_outputs(
        cls,
        primary_stack: str,
        primary: Mapping[str, Any],
        dr_stack: str,
        dr: Mapping[str, Any],
    ) -> Target:
        _require(primary_stack, primary, DRILL_NEEDS_FROM_PRIMARY)
        _require(dr_stack, dr, DRILL_NEEDS_FROM_DR)
        profiles = dr[StackOutput.CAPACITY_PROFILES]

        def desired(profile: str) -> dict[str, int]:
            groups = profiles[profile]["nodeGroups"]
            return {group: int(size["desiredSize"]) for group, size in groups.items()}

        objectives = dr[StackOutput.OBJECTIVES]
        return cls(
            primary_stack=primary_stack,
            dr_stack=dr_stack,
            primary_region=str(primary[StackOutput.REGION]),
            dr_region=str(dr[StackOutput.REGION]),
            cluster_name=str(dr[StackOutput.CLUSTER_NAME]),
            node_groups=dict(dr[StackOutput.NODE_GROUP_NAMES]),
            full=desired("full"),
            pilot_light=desired("pilot-light"),
            db_identifier=str(dr[StackOutput.DATABASE_IDENTIFIER]),
            db_engine=str(dr[StackOutput.DATABASE_ENGINE]),
            function_name=str(dr[StackOutput.FAILOVER_FUNCTION_NAME]),
            state_table=str(dr[StackOutput.FAILOVER_STATE_TABLE]),
            orders_table=str(primary[StackOutput.TABLE_NAMES]["orders"]),
            primary_bucket=str(primary[StackOutput.RECORDS_BUCKET_NAME]),
            dr_bucket=str(dr[StackOutput.RECORDS_BUCKET_NAME]),
            rto_seconds=int(objectives["rtoSeconds"]),
            rpo_seconds=int(objectives["rpoSeconds"]),
            # With routing controls the primary's HTTPS check steers nothing.
            primary_health_check_id=""
            if primary.get(StackOutput.TRAFFIC_CONTROL) == ROUTING_CONTROL
            else str(primary.get(StackOutput.HEALTH_CHECK_ID, "")),
            dr_health_check_id=str(dr.get(StackOutput.HEALTH_CHECK_ID, "")),
            record_name=str(dr.get(StackOutput.RECORD_NAME, "")),
            dr_endpoint=str(dr.get(StackOutput.REGIONAL_ENDPOINT, "")),
            primary_marker_function=str(primary.get(StackOutput.MARKER_FUNCTION_NAME, "")),
            dr_marker_function=str(dr.get(StackOutput.MARKER_FUNCTION_NAME, "")),
        )


@dataclass
class Phase:
    name: str
    started_at: datetime
    ended_at: datetime
    status: str
    detail: str

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "startedAt": self.started_at.isoformat(),
            "endedAt": self.ended_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "detail": self.detail,
        }


@dataclass
class Report:
    mode: str
    target: Target
    phases: list[Phase] = field(default_factory=list)
    checks: dict[str, dict[str, str]] = field(default_factory=dict)
    handler_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # drill/simulation/ledger.py's figures: RTO from the fault to the first marker dr's
    # database acknowledged; RPO from the oldest lost marker to the fault (worst store).
    rto_seconds: float | None = None
    rto_status: str = SKIPPED
    rpo_seconds: float | None = None
    rpo_status: str = SKIPPED
    lost_writes: int | None = None
    # Per store (database, table, bucket): the ledger's figures, or why it was not measured.
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    # From the fault to every serving check passing (not proof that dr takes writes).
    serving_seconds: float | None = None
    replication_lag: dict[str, str] = field(default_factory=dict)
    verdict_reasons: list[str] = field(default_factory=list)

    def check(self, phase: str, name: str, status: str) -> None:
        self.checks.setdefault(phase, {})[name] = status

    @property
    def passed(self) -> bool:
        return not self.verdict_reasons

    def judge(self) -> None:
        """The verdict: any failed phase or check, or an objective exceeded, fails the drill."""
        reasons = [f"phase {p.name} failed: {p.detail}" for p in self.phases if p.status == FAILED]
        reasons += [
            f"check {name} ({phase}) failed"
            for phase, checks in self.checks.items()
            for name, status in checks.items()
            if status == FAILED
        ]
        if self.rto_seconds is not None and self.rto_seconds > self.target.rto_seconds:
            reasons.append(
                f"RTO {self.rto_seconds:.1f} s exceeds the objective {self.target.rto_seconds} s"
            )
        if self.rto_status == FAILED:
            reasons.append("dr's database acknowledged no marker before the timeout")
        if self.serving_seconds is not None and self.serving_seconds > self.target.rto_seconds:
            reasons.append(
                f"dr served {self.serving_seconds:.1f} s after the fault, beyond the RTO "
                f"objective {self.target.rto_seconds} s"
            )
        if self.rpo_seconds is not None and self.rpo_seconds > self.target.rpo_seconds:
            reasons.append(
                f"RPO {self.rpo_seconds:.1f} s exceeds the objective {self.target.rpo_seconds} s"
            )
        if self.rpo_status == FAILED:
            reasons.append("the markers could not be measured (see phase rpo)")
        self.verdict_reasons = reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "verdict": "PASSED" if self.passed else "FAILED",
            "verdictReasons": self.verdict_reasons,
            "stacks": {"primary": self.target.primary_stack, "dr": self.target.dr_stack},
            "objectives": {
                "rtoSeconds": self.target.rto_seconds,
                "rpoSeconds": self.target.rpo_seconds,
            },
            "rtoSeconds": None if self.rto_seconds is None else round(self.rto_seconds, 3),
            "rtoStatus": self.rto_status,
            "rpoSeconds": None if self.rpo_seconds is None else round(self.rpo_seconds, 3),
            "rpoStatus": self.rpo_status,
            "lostWrites": self.lost_writes,
            "stores": self.stores,
            "servingSeconds": None
            if self.serving_seconds is None
            else round(self.serving_seconds, 3),
            "replicationLag": self.replication_lag,
            "phases": [p.as_dict() for p in self.phases],
            "checks": self.checks,
            "handlerRuns": self.handler_runs,
        }
