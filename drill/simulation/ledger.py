"""Every client write the simulation made, who acknowledged it, and which database was the
designated writer when; and the figures computed from them (`measure`).

Definitions (the real drill measures the same ones):
- RTO: from the moment the primary stops taking writes (the first disruptive fault, or a
  planned failover's start) to the first write the dr region's writer acknowledges; None when
  dr never does.
- lost: acknowledged to a client but absent, at the end, from the writer that then holds the
  data; RPO: from the oldest lost write to the disruption (0 when none was lost).
- split brain: acknowledged by a database that was not the designated writer at that instant.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Ledger:
    # Index = write id: (time, region the client reached or None, who acknowledged it or None).
    attempts: list[tuple[float, str | None, str | None]] = field(default_factory=list)
    # (from time, the designated writer's identifier), in time order.
    designated: list[tuple[float, str]] = field(default_factory=list)

    def next_id(self) -> int:
        return len(self.attempts)

    def attempt(self, write: int, t: float, region: str | None, acknowledged_by: str | None):
        assert write == len(self.attempts)
        self.attempts.append((t, region, acknowledged_by))

    def designate(self, t: float, identifier: str) -> None:
        if not self.designated or self.designated[-1][1] != identifier:
            self.designated.append((t, identifier))

    def designated_at(self, t: float) -> str:
        index = bisect.bisect_right([start for start, _ in self.designated], t) - 1
        return self.designated[max(index, 0)][1]


def measure(
    ledger: Ledger,
    final_writer: Collection[int],
    disrupted_at: float | None,
    dr_writer: str,
) -> dict[str, Any]:
    acknowledged = [
        (write, t, by) for write, (t, _, by) in enumerate(ledger.attempts) if by is not None
    ]
    lost = [(write, t) for write, t, _ in acknowledged if write not in final_writer]
    split = sum(1 for _, t, by in acknowledged if by != ledger.designated_at(t))
    rto = None
    if disrupted_at is not None:
        first = next(
            (t for _, t, by in acknowledged if by == dr_writer and t >= disrupted_at), None
        )
        rto = None if first is None else round(first - disrupted_at, 1)
    rpo = 0.0
    if lost and disrupted_at is not None:
        rpo = round(max(0.0, disrupted_at - min(t for _, t in lost)), 1)
    return {
        "rto_seconds": rto,
        "acknowledged_writes": len(acknowledged),
        "lost_writes": len(lost),
        "rpo_seconds": rpo,
        "split_brain_writes": split,
    }
