"""Time and concurrency as the handler sees them, passed in rather than taken from the modules.

On Lambda it is `SYSTEM`: the wall clock, real sleeps and a thread per independent step. The
failover simulation (`drill/simulation/`) passes a simulated clock instead, so that the same
handler code waits out a 15-minute node group scale-up in milliseconds, and its parallel steps
interleave deterministically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def run_parallel(self, calls: Sequence[Callable[[], None]]) -> None:
        """Run `calls` at once and return when all have; an exception in one is raised."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def run_parallel(self, calls: Sequence[Callable[[], None]]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            for future in [pool.submit(call) for call in calls]:
                future.result()


SYSTEM = SystemClock()
