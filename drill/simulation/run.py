"""One scenario, run: the driver injects the faults and takes the actions on the simulated
clock, EventBridge's schedule invokes the failover Lambda, an operator answers its page, and
the real handler code runs in each invocation against the simulated world. Returns the
measured figures, every one of them modeled."""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import io
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from moto import mock_aws

from drill.simulation.aws import Bridge, ReusedClients
from drill.simulation.clock import Died, Invocation, SimClock
from drill.simulation.kubernetes import KubeApi
from drill.simulation.ledger import measure
from drill.simulation.physics import Physics
from drill.simulation.scenario import Action, Fault, Scenario
from drill.simulation.topology import Topology
from drill.simulation.world import World
from handlers.contract import Environment
from handlers.failover import Runner, make_clients
from handlers.model import parse_event
from handlers.state import FAILING_BACK, FAILING_OVER, KEY

# Every write attempt in a window this long reached dr: traffic has moved.
TRAFFIC_WINDOW_SECONDS = 60.0
# How often the capacity phase's condition is sampled.
CAPACITY_SAMPLE_SECONDS = 5.0
PAGE_SUBJECT = "failover recommended"


@dataclass
class LambdaRun:
    name: str
    source: str
    started: float
    ended: float | None = None
    outcome: str = "running"
    action: str = ""
    report: dict[str, Any] | None = None
    error: str = ""


@dataclass
class Result:
    scenario: Scenario
    figures: dict[str, Any]
    phases: dict[str, dict[str, float | None]]
    final_state: dict[str, str]
    lock_stuck: bool
    runs: list[LambdaRun]
    events: list[tuple[float, str]]
    lost_by_store: dict[str, int]
    rto_objective: float
    physics_overrides: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "modeled": True,
            "scenario": self.scenario.name,
            "database": self.scenario.database,
            "mode": self.scenario.mode,
            "seed": self.scenario.seed,
            "duration": self.scenario.duration,
            **self.figures,
            "final_state": self.final_state,
            "lock_stuck": self.lock_stuck,
            "phases": self.phases,
            "lost_writes_by_store": self.lost_by_store,
            "rto_objective_seconds": self.rto_objective,
            "runs": [dataclasses.asdict(r) for r in self.runs],
            "events": [{"at": round(t, 1), "event": e} for t, e in self.events],
            "physics_overrides": self.physics_overrides,
        }


class Simulation:
    def __init__(self, scenario: Scenario, topology: Topology, *, parallel: bool = True) -> None:
        self.scenario = scenario
        self.topology = topology
        self.parallel = parallel
        self.clock = SimClock()
        self.rng = random.Random(scenario.seed)
        self.world = World(topology, scenario.physics, self.rng)
        self.bridge = Bridge(self.world, self.clock, random.Random(scenario.seed + 1))
        self.bridge.on_publish = self._published
        self.runs: list[LambdaRun] = []
        self.events: list[tuple[float, str]] = []
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._paged = False
        self._invocations: list[tuple[LambdaRun, Invocation]] = []
        # What each invocation is doing now: a probe that starts a failover becomes one.
        self._commands: dict[str, Callable[[], str]] = {}
        self._run_ids: dict[str, str] = {}
        self._capacity_at: float | None = None
        variables = {**topology.lambda_variables, Environment.FAILOVER_MODE: scenario.mode}
        self.env = Environment.from_env({**variables, Environment.REGION: topology.dr.name})
        self.kube = KubeApi(self.world, self.clock, self.env.gateway)

    # -- the agenda ---------------------------------------------------------------------------

    def _plan(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` at `t`: from the driver's agenda, or, when a Lambda's task plans it
        while the driver sleeps toward a later item, from a task of its own."""
        if self.clock.current().name == "driver":
            heapq.heappush(self._agenda, (t, next(self._seq), action))
            return

        def later() -> None:
            self.clock.sleep(t - self.clock.t)
            self.world.advance(self.clock.t)
            action()

        self.clock.spawn(later, f"planned@{t:.1f}", invocation=None)

    def _note(self, event: str) -> None:
        self.events.append((self.clock.t, event))

    def run(self) -> Result:
        previous = boto3.DEFAULT_SESSION
        with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
            try:
                self._resources()
                boto3.DEFAULT_SESSION = ReusedClients(self.bridge.session())
                self._schedule()
                while self._agenda:
                    t, _, action = heapq.heappop(self._agenda)
                    self.clock.sleep(t - self.clock.t)
                    self.world.advance(self.clock.t)
                    action()
                self.world.advance(self.scenario.duration)
                return self._result()
            finally:
                self.clock.close()
                boto3.DEFAULT_SESSION = previous

    def _resources(self) -> None:
        """The state table and the topic, in moto, as the dr stack declares them."""
        plain = boto3.Session(region_name=self.env.region)
        plain.client("dynamodb").create_table(
            TableName=self.env.state_table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        plain.client("sns").create_topic(Name=self.env.topic_arn.rsplit(":", 1)[-1])

    def _schedule(self) -> None:
        scenario, physics = self.scenario, self.scenario.physics
        self.world.start_writes(scenario.writes_per_second)
        for fault in scenario.faults:
            self._plan(fault.at, lambda f=fault: self._fault(f))
            if fault.until is not None:
                self._plan(fault.until, lambda f=fault: self._fault_ends(f))
        for action in scenario.actions:
            self._plan(action.at, lambda a=action: self._act(a))
        interval = self.topology.probe_interval_seconds
        t = physics.schedule_offset_seconds
        while t < scenario.duration:
            self._plan(
                t,
                lambda t=t: self.invoke(
                    {
                        "source": "aws.events",
                        "detail-type": "Scheduled Event",
                        "id": f"schedule-{t:.0f}",
                    },
                    "schedule",
                ),
            )
            t += interval
        t = CAPACITY_SAMPLE_SECONDS
        while t < scenario.duration:
            self._plan(t, self._sample_capacity)
            t += CAPACITY_SAMPLE_SECONDS
        self._plan(scenario.duration, lambda: None)

    # -- faults and actions -------------------------------------------------------------------

    def _fault(self, fault: Fault) -> None:
        world = self.world
        self._note(f"fault: {fault.kind} {fault.region}".strip())
        if fault.kind == "region-outage":
            world.down.add(fault.region)
        elif fault.kind == "region-recovery":
            world.recover(fault.region)
        elif fault.kind == "control-plane-outage":
            world.control_down.update((fault.region, s) for s in fault.services)
        elif fault.kind == "arc-partition":
            world.arc_cut_off.add(fault.region)
        elif fault.kind == "handler-killed":
            for run, invocation in self._live:
                if self._commands.get(run.name, lambda: "")() in ("failover", "failback"):
                    self.clock.kill(invocation)
        elif fault.kind == "probe-flap":
            world.flap = (fault.at, fault.until or fault.at, fault.success_ratio)
        elif fault.kind == "capacity-shortage":
            world.shortage[fault.region] = fault.until or self.scenario.duration
        elif fault.kind == "replica-backing-up":
            world.backing_up_until = fault.until or self.scenario.duration

    def _fault_ends(self, fault: Fault) -> None:
        self._note(f"fault over: {fault.kind} {fault.region}".strip())
        if fault.kind == "control-plane-outage":
            self.world.control_down.difference_update((fault.region, s) for s in fault.services)
        elif fault.kind == "arc-partition":
            self.world.arc_cut_off.discard(fault.region)

    def _act(self, action: Action) -> None:
        if action.operator == "rebuild-primary":
            self._note(f"operator: {self.world.rebuild_primary_replica()}")
            return
        self.invoke(action.event(), "operator")

    def _published(self, subject: str) -> None:
        self._note(f"page: {subject}")
        if PAGE_SUBJECT in subject and self.scenario.mode == "manual" and not self._paged:
            self._paged = True
            delay = self.scenario.operator_delay
            self._plan(
                self.clock.t + delay,
                lambda: self.invoke(
                    {
                        "action": "failover",
                        "reason": "paged: primary failing",
                        "requestedBy": "operator",
                        "correlationId": "operator-paged",
                    },
                    "operator (paged)",
                ),
            )

    # -- the Lambda ---------------------------------------------------------------------------

    @property
    def _live(self) -> list[tuple[LambdaRun, Invocation]]:
        return [(run, inv) for run, inv in self._invocations if run.ended is None]

    def invoke(self, event: dict[str, Any], source: str, attempt: int = 0) -> None:
        """Run the handler as Lambda would: in its own invocation, which dies at the
        function's timeout; asynchronous (scheduled) invocations that fail are retried as
        the function's MaximumRetryAttempts allows."""
        run = LambdaRun(f"invocation-{len(self.runs) + 1}", source, self.clock.t)
        self.runs.append(run)
        invocation = Invocation(run.name, self.clock.t + self.topology.lambda_timeout_seconds)
        self._invocations.append((run, invocation))
        asynchronous = source == "schedule"

        def body() -> None:
            try:
                command = parse_event(event)
                run.action = command.action
                # Fresh clients per invocation, as the real entry point makes them.
                runner = Runner(
                    self.env,
                    make_clients(self.env, self.kube),
                    command,
                    parallel=self.parallel,
                    clock=self.clock,
                    http_status=self._http_status,
                    invocation_id=run.name,
                    remaining_ms=lambda: int((invocation.deadline - self.clock.t) * 1000),
                )
                self._commands[run.name] = lambda: runner.command.action
                self._run_ids[run.name] = runner.run_id
                report = runner.dispatch()
                run.report, run.outcome, run.action = report, report["outcome"], report["action"]
            except Died as death:
                run.outcome, run.error = "died", str(death)
            except Exception as error:  # a function error, as Lambda records it
                run.outcome, run.error = "error", f"{type(error).__name__}: {error}"
            if run.report is None and run.name in self._commands:
                run.action = self._commands[run.name]()
            run.ended = self.clock.t
            if run.outcome in ("died", "error") and asynchronous:
                delays = self.scenario.physics.lambda_retry_delays_seconds
                if attempt < min(self.topology.lambda_retry_attempts, len(delays)):
                    self._plan(
                        self.clock.t + delays[attempt],
                        lambda: self.invoke(event, source, attempt + 1),
                    )

        self.clock.spawn(body, run.name, invocation=invocation)

    def _http_status(self, url: str, timeout: float) -> int | None:
        """The handler's GET of a region's /health through its regional endpoint, on the
        simulated network: the primary's (the probe's canary, failback's precondition) or dr's
        (failover's verification)."""
        self.world.advance(self.clock.t)
        regions = {
            self.env.primary_endpoint: self.world.primary_region,
            self.env.dr_endpoint: self.world.dr_region,
        }
        region = next((r for e, r in regions.items() if e and url.startswith(e.rstrip("/"))), None)
        if region is None or not self.world.up(region):
            self.clock.sleep(timeout)
            return None
        self.clock.sleep(self.scenario.physics.api_latency_seconds)
        self.world.advance(self.clock.t)
        if self.world.endpoint_ok(region):
            return 200
        no_pod = self.world.clusters[region].gateway.ready_pods(self.clock.t) == 0
        if no_pod or self.world.gate_blind(region):
            return 503
        self.clock.sleep(timeout)
        return None

    # -- measuring ------------------------------------------------------------------------------

    def _sample_capacity(self) -> None:
        if self._capacity_at is not None or not self._failover_runs():
            return
        cluster, t = self.world.clusters[self.world.dr_region], self.clock.t
        full = self.env.full
        groups_ready = all(
            len(cluster.groups[name].ready_nodes(t)) >= full[group].desired_size
            for group, name in self.env.node_groups.items()
        )
        if groups_ready and cluster.gateway.ready_pods(t) >= self.topology.full_gateway_replicas:
            self._capacity_at = t

    def _failover_runs(self) -> list[LambdaRun]:
        return [r for r in self.runs if r.action == "failover"]

    def _seconds(self, iso: str) -> float:
        return (datetime.fromisoformat(iso) - self.clock.epoch).total_seconds()

    def _phases(self, disrupted_at: float | None) -> dict[str, dict[str, float | None]]:
        # What the probe can notice: the primary's region down, or its /health flapping.
        noticeable = [
            f.at
            for f in self.scenario.faults
            if f.kind == "probe-flap"
            or (f.kind == "region-outage" and f.region == self.world.primary_region)
        ]
        first_fault = min(noticeable) if noticeable else None
        failovers = self._failover_runs()
        started = failovers[0].started if failovers else None
        detected = next(
            (
                r.started
                for r in self.runs
                if r.source == "schedule"
                and (r.outcome == "failover-recommended" or r.action == "failover")
            ),
            started if first_fault is not None else None,
        )
        dr_writer = self.topology.dr.db_identifier
        promoted = next((t for t, who in self.world.ledger.designated if who == dr_writer), None)
        requested = next(
            (
                t
                for t, note in self.world.notes
                if note.startswith("database:") and dr_writer in note
            ),
            None,
        )
        verify = [
            (self._seconds(e["startedAt"]), self._seconds(e["endedAt"]))
            for r in failovers[:1]
            for e in (r.report or {}).get("timeline", [])
            if e["step"].startswith("verify-")
        ]

        def phase(start: float | None, end: float | None) -> dict[str, float | None]:
            if start is None:
                return {"start": None, "end": None, "seconds": None}
            end = end if end is not None and end >= start else None
            return {
                "start": round(start, 1),
                "end": None if end is None else round(end, 1),
                "seconds": None if end is None else round(end - start, 1),
            }

        return {
            "detection": phase(first_fault if detected is not None else None, detected),
            "decision": phase(detected, started) if detected is not None else phase(None, None),
            "traffic": phase(started, self._traffic_moved(started)),
            "capacity": phase(started, self._capacity_at),
            "database": phase(requested, promoted),
            "verification": phase(
                min((s for s, _ in verify), default=None), max((e for _, e in verify), default=None)
            ),
        }

    def _traffic_moved(self, since: float | None) -> float | None:
        if since is None:
            return None
        dr, window_start = self.world.dr_region, None
        for t, region, _ in self.world.ledger.attempts:
            if t < since:
                continue
            if region != dr:
                window_start = None
                continue
            window_start = t if window_start is None else window_start
            if t - window_start >= TRAFFIC_WINDOW_SECONDS:
                return window_start
        return None

    def _result(self) -> Result:
        world, ledger = self.world, self.world.ledger
        # The primary stops taking writes when its region goes, or when its write gates can
        # no longer read their routing control and close (fail-closed).
        outages = [
            f.at
            for f in self.scenario.faults
            if f.kind in ("region-outage", "arc-partition") and f.region == world.primary_region
        ]
        failovers = self._failover_runs()
        starts = [*outages, failovers[0].started] if failovers else outages
        disrupted_at = min(starts) if starts else None
        final = world.db(ledger.designated[-1][1])
        assert final is not None
        figures = measure(ledger, final.ids, disrupted_at, self.topology.dr.db_identifier)
        acknowledged = {w for w, (_, _, by) in enumerate(ledger.attempts) if by}
        lost_by_store = {
            "database": figures["lost_writes"],
            "orders_table": len(acknowledged - set(world.table[final.region])),
            "records_bucket": len(acknowledged - set(world.bucket[final.region])),
        }
        item = (
            boto3.Session(region_name=self.env.region)
            .client("dynamodb")
            .get_item(TableName=self.env.state_table, Key=KEY, ConsistentRead=True)
            .get("Item", {})
        )
        state = {k: next(iter(v.values())) for k, v in item.items() if k != "pk"}
        # Stuck: the run holding the lock has no live invocation behind it.
        holders = {self._run_ids.get(run.name) for run, _ in self._live}
        stuck = (
            state.get("state") in (FAILING_OVER, FAILING_BACK)
            and state.get("run_id") not in holders
        )
        defaults = Physics()
        overrides = {
            f.name: getattr(self.scenario.physics, f.name)
            for f in dataclasses.fields(Physics)
            if getattr(self.scenario.physics, f.name) != getattr(defaults, f.name)
        }
        events = sorted(
            self.events
            + world.notes
            + [(t, f"designated writer: {who}") for t, who in ledger.designated[1:]]
        )
        return Result(
            self.scenario,
            figures,
            self._phases(disrupted_at),
            state or {"state": "standby"},
            stuck,
            self.runs,
            events,
            lost_by_store,
            self.topology.rto_seconds,
            overrides,
        )
