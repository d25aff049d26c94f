"""A simulated clock that real, threaded code runs on, deterministically.

Every participant (the scenario's driver, each Lambda invocation, each of a handler's parallel
steps) is a thread, but only one runs at a time: the one holding the baton. A task gives the
baton up only by sleeping (or joining another task); the clock then jumps straight to the
earliest wake-up and hands the baton to that task (ties in the order they were scheduled). So a
15-minute wait costs no wall time, and the same scenario interleaves the same way every run.

A task started for a Lambda invocation carries that invocation: past its deadline, or once it
is killed, the task's next sleep raises `Died`, a BaseException the handler's `except
Exception` does not swallow, so a dead invocation never makes another AWS call.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


class Died(BaseException):
    """The Lambda invocation this task belongs to has ended: timed out or killed."""


class Finished(BaseException):
    """The simulation ended while this task still waited."""


class DeadlockError(RuntimeError):
    """Every task waits on another task and none sleeps: the simulated code cannot go on."""


@dataclass(eq=False)
class Invocation:
    name: str
    deadline: float
    killed_at: float | None = None
    tasks: list[Task] = field(default_factory=list)

    def dead_at(self) -> float:
        return min(self.deadline, math.inf if self.killed_at is None else self.killed_at)


@dataclass(eq=False)
class Task:
    name: str
    invocation: Invocation | None
    done: bool = False
    error: BaseException | None = None
    joiners: list[Task] = field(default_factory=list)
    # The sequence number of the task's live entry in the queue (older entries are stale).
    ticket: int = -1


_INHERIT = object()


class SimClock:
    def __init__(self, epoch: datetime = EPOCH) -> None:
        self.epoch = epoch
        self._t = 0.0
        self._cv = threading.Condition()
        self._queue: list[tuple[float, int, Task]] = []
        self._seq = itertools.count()
        self._local = threading.local()
        self._closed = False
        driver = Task("driver", None)
        self._local.task = driver
        self._running = driver

    # -- the handler's Clock -------------------------------------------------------------

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self._t)

    def monotonic(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        task = self.current()
        self.check_alive()
        wake = self._t + max(0.0, seconds)
        if task.invocation is not None:
            wake = min(wake, task.invocation.dead_at())
        with self._cv:
            self._schedule(task, wake)
            self._hand_over(task)
        self.check_alive()

    def run_parallel(self, calls: Sequence[Callable[[], None]]) -> None:
        tasks = [self.spawn(call, f"{self.current().name}/{i}") for i, call in enumerate(calls)]
        for task in tasks:
            self.join(task)
        for task in tasks:
            if task.error is not None:
                raise task.error

    # -- tasks ----------------------------------------------------------------------------

    @property
    def t(self) -> float:
        """Simulated seconds since the start."""
        return self._t

    def current(self) -> Task:
        return self._local.task

    def check_alive(self) -> None:
        invocation = self.current().invocation
        if invocation is not None and invocation.dead_at() <= self._t:
            reason = "killed" if invocation.killed_at is not None else "timed out"
            raise Died(f"{invocation.name} {reason} at {invocation.dead_at():.1f} s")

    def spawn(self, call: Callable[[], None], name: str, invocation: object = _INHERIT) -> Task:
        """Start `call` as a task that runs once the caller sleeps (a new invocation's tasks
        belong to it; otherwise to the caller's)."""
        owner = self.current().invocation if invocation is _INHERIT else invocation
        assert owner is None or isinstance(owner, Invocation)
        task = Task(name, owner)
        if owner is not None:
            owner.tasks.append(task)

        def body() -> None:
            self._local.task = task
            with self._cv:
                while self._running is not task:
                    if self._closed:
                        return
                    self._cv.wait()
            try:
                call()
            except BaseException as error:  # kept for whoever joins; Died and Finished too
                task.error = error
            with self._cv:
                task.done = True
                for joiner in task.joiners:
                    self._schedule(joiner, self._t)
                if not self._closed:
                    self._dispatch()

        with self._cv:
            self._schedule(task, self._t)
        threading.Thread(target=body, name=name, daemon=True).start()
        return task

    def join(self, task: Task) -> None:
        me = self.current()
        with self._cv:
            if not task.done:
                task.joiners.append(me)
                self._hand_over(me)
        self.check_alive()

    def kill(self, invocation: Invocation) -> None:
        """End an invocation now: its sleeping tasks wake at once and raise Died."""
        invocation.killed_at = self._t
        with self._cv:
            for task in invocation.tasks:
                if not task.done and task.ticket >= 0:
                    self._schedule(task, self._t)

    def close(self) -> None:
        """End the simulation: every task still waiting raises Finished and unwinds."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    # -- the baton ------------------------------------------------------------------------

    def _schedule(self, task: Task, wake: float) -> None:
        task.ticket = next(self._seq)
        heapq.heappush(self._queue, (wake, task.ticket, task))

    def _dispatch(self) -> None:
        while self._queue:
            wake, ticket, task = heapq.heappop(self._queue)
            if ticket != task.ticket or task.done:
                continue
            task.ticket = -1
            self._t = max(self._t, wake)
            self._running = task
            self._cv.notify_all()
            return
        raise DeadlockError(f"every task waits at {self._t:.1f} s and none sleeps")

    def _hand_over(self, me: Task) -> None:
        self._dispatch()
        while self._running is not me:
            if self._closed:
                raise Finished
            self._cv.wait()
