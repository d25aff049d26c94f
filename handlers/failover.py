"""The failover Lambda: turns the dr pilot light into production and back.

`handler` is a thin adapter: parse the event, read the environment (once), build clients, and
call `Runner`, whose work is plain Python testable without Lambda. Actions:

- failover: unplanned, all at once: pin traffic to dr (ARC routing controls, or the inverted
  health check), fence the old PostgreSQL writer (read-only parameter; best effort, the probe
  repeats it), promote dr, scale dr's node groups and gateway to the full profile; then wait for
  the database and for serving capacity. Planned: fence, wait until dr replayed everything,
  promote, scale and wait ready, and only then pin traffic;
- failback: guarded (primary serving, replication back in place) unless forced with a reason;
  fences dr, waits until the primary holds dr's writes (or `abandonDrWrites`, recorded),
  promotes the primary and verifies it while S3 Batch Replication copies the objects dr's
  records bucket holds but the primary's does not, releases traffic once both are done,
  returns dr to the pilot light;
- status: the state record and the node groups' sizes; changes nothing;
- probe: on a schedule. In standby, detection: two signals that do not need us-east-1's control
  plane (a canary through the primary's regional endpoint, the dr replica's replication lag in
  CloudWatch) must both fail for N consecutive periods; then it starts a failover
  (`FAILOVER_MODE=automatic`) or pages "failover recommended" (`manual`). After a failover it
  keeps traffic pinned and the old writer fenced; in automatic mode it resumes a failover that
  failed or whose run died.

A run holds a lease on the state record, renews it while it works and stops before the
Lambda's deadline. A run whose step fails still runs every independent step, ends FAILED naming
the step, and returns normally: the Lambda does not retry it (a blind retry could fight an
operator), the state record shows `failed`, and a new run resumes from there, each step doing
only what is left.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import json
import logging
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handlers import steps, telemetry
from handlers.clock import SYSTEM, Clock
from handlers.kube import Kube, Transport
from handlers.model import (
    Command,
    Environment,
    GatewaySize,
    parse_environment,
    parse_event,
)
from handlers.state import (
    ACTIVE_IN_DR,
    FAILED,
    FAILING_BACK,
    FAILING_OVER,
    STANDBY,
    State,
    StateStore,
)

# Three attempts of at most 15 s each: one call stays well inside a third of the lease, the
# interval at which a run renews it.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=10
)
PROBE_TIMEOUT_SECONDS = 5
# What a region's /health answers while it serves, and what the verify steps wait for.
HEALTHY_STATUS = 200


@functools.cache
def environment() -> Environment:
    """Parsed once per Lambda container (cold start); a bad variable names itself."""
    return parse_environment(os.environ)


@dataclass
class Clients:
    eks: Any
    rds: Any
    primary_rds: Any
    route53: Any
    dynamodb: Any
    sns: Any
    cloudwatch: Any
    primary_cloudwatch: Any
    # The dr cluster's Kubernetes API.
    kube: Kube
    # Route 53 ARC's data plane: (region, client) for each of the cluster's endpoints.
    arc: list[tuple[str, Any]] = field(default_factory=list)
    # dr's records bucket and S3 Batch Operations, in dr: failback's object replication.
    s3: Any = None
    s3control: Any = None


def make_clients(env: Environment, kube_transport: Transport | None = None) -> Clients:
    def client(service: str, region: str, **kwargs: Any) -> Any:
        return boto3.client(service, region_name=region, config=CLIENT_CONFIG, **kwargs)

    eks = client("eks", env.region)
    controls = env.routing_controls
    return Clients(
        eks=eks,
        rds=client("rds", env.region),
        primary_rds=client("rds", env.primary_region),
        # Route 53 is global; its API answers from us-east-1 whatever region calls it.
        route53=client("route53", "us-east-1"),
        dynamodb=client("dynamodb", env.region),
        sns=client("sns", env.region),
        cloudwatch=client("cloudwatch", env.region),
        primary_cloudwatch=client("cloudwatch", env.primary_region),
        kube=Kube(eks, client("sts", env.region), env.cluster_name, kube_transport),
        arc=[
            (region, client("route53-recovery-cluster", region, endpoint_url=url))
            for region, url in steps.endpoint_order(controls.endpoints, env)
        ]
        if controls
        else [],
        s3=client("s3", env.region),
        s3control=client("s3control", env.region),
    )


@dataclass
class Step:
    name: str
    action: Callable[[], str]
    after: tuple[str, ...] = ()


@dataclass
class Timeline:
    action: str
    clock: Clock
    log: telemetry.RunLog
    # Serial runs exist to measure what running independent steps at once saves.
    parallel: bool = True
    # Called before each step: raises to keep it from starting (deadline, lost lease).
    guard: Callable[[], None] = lambda: None
    entries: list[dict[str, Any]] = field(default_factory=list)

    def _now(self) -> str:
        return self.clock.now().isoformat(timespec="milliseconds")

    def outcome(self, name: str) -> str | None:
        return next((e["outcome"] for e in self.entries if e["step"] == name), None)

    def run(self, step: Step) -> None:
        blocked = [d for d in step.after if self.outcome(d) != "succeeded"]
        started, began = self._now(), self.clock.monotonic()
        if blocked:
            outcome, detail = "skipped", f"needs {', '.join(blocked)}"
        else:
            try:
                self.guard()
                outcome, detail = "succeeded", step.action()
            except Exception as error:  # a failed step is recorded; the others go on
                outcome, detail = "failed", f"{type(error).__name__}: {error}"
        entry = {
            "step": step.name,
            "startedAt": started,
            "endedAt": self._now(),
            "seconds": round(self.clock.monotonic() - began, 3),
            "outcome": outcome,
            "detail": detail,
        }
        self.entries.append(entry)
        self.log.step_metric(self.action, entry, self.clock.now())

    def run_parallel(self, batch: list[Step]) -> None:
        """Independent steps at once; each records itself when it ends."""
        if not self.parallel:
            for step in batch:
                self.run(step)
            return
        self.clock.run_parallel([functools.partial(self.run, step) for step in batch])

    @property
    def failed(self) -> list[str]:
        return [e["step"] for e in self.entries if e["outcome"] == "failed"]


HttpStatus = Callable[[str, float], "int | None"]
# A run renews its lease while it works; a dead run's lease lapses this long after its last
# renewal, and a later run may take over.
LEASE_SECONDS = 120.0
# A run stops this long before the Lambda's deadline and records FAILED, rather than dying
# in the middle of a step.
DEADLINE_MARGIN_SECONDS = 60.0
FAILING, HEALTHY, UNKNOWN = "failing", "healthy", "unknown"
PLANNED = "planned-failover"
# A failed run pages through its SNS notice too; in the logs it is the record to alarm on.
FINISHED_LEVEL = {"SUCCEEDED": logging.INFO, "FAILED": logging.ERROR, "SUPERSEDED": logging.WARNING}
# How often a failover run retries fencing an old writer it cannot reach yet.
FENCE_RETRY_SECONDS = 5.0


class Runner:
    def __init__(
        self,
        env: Environment,
        clients: Clients,
        command: Command,
        *,
        parallel: bool = True,
        clock: Clock = SYSTEM,
        http_status: HttpStatus | None = None,
        invocation_id: str = "",
        remaining_ms: Callable[[], int] | None = None,
    ) -> None:
        self.env = env
        self.clients = clients
        self.command = command
        self.parallel = parallel
        self.clock = clock
        self.http_status = http_status or fetch_status
        self.remaining_ms = remaining_ms
        self.store = StateStore(clients.dynamodb, env.state_table)
        # Lambda's request id, so the state record leads to the run's logs.
        self.run_id = f"{command.action}-{invocation_id or uuid.uuid4().hex[:12]}"
        self.logger = telemetry.RunLog(command.correlation_id, runId=self.run_id)
        self.pace = steps.Pace(clock, self.guard)
        self._holding = False
        self._renewed = 0.0
        # When the old writer's fence took effect: replication is judged from then on.
        self._fenced_at = clock.now()
        # The Batch Replication job of the failback run this one took the record over from.
        self._earlier_job = ""

    def report(self, outcome: str, timeline: Timeline | None = None, **extra: Any) -> dict:
        return {
            "action": self.command.action,
            "runId": self.run_id,
            "correlationId": self.command.correlation_id,
            "outcome": outcome,
            "state": self.store.read().name,
            "failedSteps": timeline.failed if timeline else [],
            "timeline": timeline.entries if timeline else [],
            **extra,
        }

    def dispatch(self) -> dict:
        return {
            "failover": self.failover,
            "failback": self.failback,
            "status": self.status,
            "probe": self.probe,
        }[self.command.action]()

    # -- the lock ---------------------------------------------------------------------------

    def _epoch(self) -> float:
        return self.clock.now().timestamp()

    def _take(self, expected: tuple[str, ...], new: str) -> State | None:
        previous = self.store.transition(
            expected,
            new,
            self.run_id,
            # A planned failover is recorded as such: the probe resumes only unplanned ones,
            # which need no catch-up wait. `planned` on a failback changes nothing it does, and
            # the record must still say failback (a resumed failback looks for its Batch
            # Replication job by it).
            action=PLANNED
            if self.command.planned and self.command.action == "failover"
            else self.command.action,
            now=self._epoch(),
            lease_seconds=LEASE_SECONDS,
            detail=self.command.reason,
        )
        if previous is not None:
            self._holding, self._renewed = True, self.clock.monotonic()
            if previous.name == new:
                self.logger.event(
                    "took over an expired lease",
                    logging.WARNING,
                    previousRun=previous.run_id,
                )
        return previous

    def guard(self) -> None:
        """Before every wait: stop short of the Lambda's deadline, and keep the lease."""
        if self.remaining_ms is not None and self.remaining_ms() < DEADLINE_MARGIN_SECONDS * 1000:
            raise steps.StepFailedError(
                f"stopped {DEADLINE_MARGIN_SECONDS:g} s before the Lambda's deadline; "
                "a new run resumes from here"
            )
        if self._holding and self.clock.monotonic() - self._renewed >= LEASE_SECONDS / 3:
            self.store.renew(self.run_id, self._epoch(), LEASE_SECONDS)
            self._renewed = self.clock.monotonic()

    # -- failover ---------------------------------------------------------------------------

    def failover(self) -> dict:
        previous = self._take((STANDBY, FAILED), FAILING_OVER)
        if previous is None:
            current = self.store.read()
            self.logger.event("failover not started", state=current.name)
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        self.logger.event(
            "failover started",
            reason=self.command.reason,
            planned=self.command.planned,
            resumes=previous.name,
        )
        timeline = Timeline("failover", self.clock, self.logger, self.parallel, self.guard)
        if self.command.planned:
            self._planned_failover(timeline)
        else:
            self._unplanned_failover(timeline)
        return self._finish(timeline, ACTIVE_IN_DR)

    def _capacity_steps(self) -> list[Step]:
        env, c = self.env, self.clients
        return [
            Step("scale-node-groups", lambda: steps.scale_node_groups(c.eks, env, env.full)),
            Step("scale-gateway", lambda: self._scale_gateway(full=True)),
        ]

    def _verify_steps(self) -> list[Step]:
        return [
            Step(
                "verify-capacity",
                self._verify_full_capacity,
                after=("scale-node-groups", "scale-gateway"),
            ),
            Step("verify-database", self._verify_dr_database, after=("promote-database",)),
            Step("verify-dr-endpoint", self._verify_dr_endpoint, after=("scale-gateway",)),
        ]

    def _unplanned_failover(self, timeline: Timeline) -> None:
        """The primary is failing: pin traffic, fence what can be reached, promote and scale,
        all at once; nothing waits on the failed region."""
        timeline.run_parallel(
            [
                Step("pin-traffic", self._pin_traffic),
                Step("promote-database", self._promote_dr_database),
                *self._capacity_steps(),
            ]
        )
        verify = self._verify_steps()
        if self.env.db_engine == "postgres":
            names = [step.name for step in verify]
            verify.append(
                Step(
                    "fence-old-primary",
                    lambda: self._fence_while(lambda: any(not timeline.outcome(n) for n in names)),
                )
            )
        timeline.run_parallel(verify)

    def _planned_failover(self, timeline: Timeline) -> None:
        """Both regions serve: stop the primary's writes, let dr apply all of them, promote,
        and move traffic only once dr writes and has its capacity. Nothing is lost; writes
        are refused (not acknowledged) from the fence until traffic moves."""
        fence: list[Step] = []
        promote_after: tuple[str, ...] = ()
        if self.env.db_engine == "postgres":
            fence = [Step("fence-old-primary", self._fence_primary_now)]
            promote_after = ("replica-caught-up",)
        timeline.run_parallel([*fence, *self._capacity_steps()])
        if fence:
            timeline.run(
                Step("replica-caught-up", self._dr_caught_up, after=("fence-old-primary",))
            )
        timeline.run(Step("promote-database", self._promote_dr_database, after=promote_after))
        if fence and timeline.outcome("promote-database") != "succeeded":
            # Nothing moved: the primary stays the writer, and must write again.
            timeline.run(Step("unfence-old-primary", self._unfence_primary))
            return
        timeline.run_parallel(self._verify_steps())
        timeline.run(
            Step(
                "pin-traffic",
                self._pin_traffic,
                after=("verify-capacity", "verify-database", "verify-dr-endpoint"),
            )
        )

    def _promote_dr_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.move_global_writer(
                self.clients.rds,
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.db_identifier,
                self.command.planned,
            )
        # dr's group may still be read-only from a failback's fence.
        writable = steps.set_read_only(self.clients.rds, self.env.db_identifier, False, self.pace)
        promoted = steps.promote_replica(self.clients.rds, self.env.db_identifier, self.pace)
        return f"{writable}; {promoted}"

    def _verify_dr_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.verify_global_writer(
                self.clients.rds,
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.db_identifier,
                self.pace,
            )
        return steps.verify_writer(self.clients.rds, self.env.db_identifier, self.pace)

    def _fence_primary_now(self) -> str:
        self._fenced_at = self.clock.now()
        detail = steps.set_read_only(
            self.clients.primary_rds, self.env.primary_db_identifier, True, self.pace
        )
        self._fenced_at = self.clock.now()
        return detail

    def _unfence_primary(self) -> str:
        return steps.set_read_only(
            self.clients.primary_rds, self.env.primary_db_identifier, False, self.pace
        )

    def _fence_while(self, running: Callable[[], bool]) -> str:
        """Best effort, repeated while the run's other steps work: a primary region that
        returns mid-failover is fenced within a retry, not a probe period, later. The run
        never waits on it; the probe goes on after the run (`maintain`)."""
        while True:
            try:
                return self._fence_primary_now()
            except (ClientError, BotoCoreError, steps.StepFailedError) as error:
                if not running():
                    return f"fence pending (the probe retries): {type(error).__name__}: {error}"
            self.pace.sleep(FENCE_RETRY_SECONDS)

    def _dr_caught_up(self) -> str:
        if not self._is_replica(self.clients.rds, self.env.db_identifier):
            return f"{self.env.db_identifier} is already promoted"
        return steps.replica_caught_up(
            self.clients.rds,
            self.clients.cloudwatch,
            self.env.db_identifier,
            self._fenced_at,
            self.pace,
        )

    @staticmethod
    def _is_replica(rds: Any, identifier: str) -> bool:
        instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        return bool(instance.get("ReadReplicaSourceDBInstanceIdentifier"))

    # -- traffic ------------------------------------------------------------------------------

    def _pin_traffic(self) -> str:
        """Send every client to dr and keep them there until a failback."""
        controls = self.env.routing_controls
        if controls is not None:
            # Data plane only: ARC's cluster answers from five regions, none needed.
            return steps.set_routing_controls(
                self.clients.arc, {controls.dr: "On", controls.primary: "Off"}
            )
        return self._pin_by_inversion()

    def _release_traffic(self) -> str:
        controls = self.env.routing_controls
        if controls is not None:
            return steps.set_routing_controls(
                self.clients.arc, {controls.primary: "On", controls.dr: "On"}
            )
        check = self.env.primary_health_check_id
        if not check:
            return "no primary health check configured: DNS records are not managed here"
        return steps.set_primary_inverted(self.clients.route53, check, inverted=False)

    def _pin_by_inversion(self) -> str:
        """Keep the primary's health check failing while dr is the writer: inverted while the
        primary answers, not inverted while it does not (an inverted check of a dead endpoint
        is healthy, and Route 53 would answer PRIMARY). The probe repeats this every period;
        each change takes effect through the Route 53 control plane, in us-east-1."""
        check = self.env.primary_health_check_id
        if not check:
            return "no primary health check configured: DNS records are not managed here"
        signal = self._endpoint_signal()
        if signal == UNKNOWN:
            return "the primary's endpoint cannot be probed: its check is left as it is"
        return steps.set_primary_inverted(self.clients.route53, check, inverted=signal == HEALTHY)

    # -- capacity -----------------------------------------------------------------------------

    def _gateway_size(self, full: bool) -> GatewaySize | None:
        gateway = self.env.gateway
        if gateway is None:
            return None
        return gateway.full if full else gateway.pilot_light

    def _scale_gateway(self, full: bool) -> str:
        size = self._gateway_size(full)
        if self.env.gateway is None or size is None:
            return "no gateway configured: its replicas are left to its HPA"
        return steps.scale_gateway(self.clients.kube, self.env.gateway, size)

    def _verify_full_capacity(self) -> str:
        env, c = self.env, self.clients
        active = steps.verify_node_groups(c.eks, env, env.full, self.pace)
        serving = steps.verify_capacity(
            c.kube, env, env.full, self._gateway_size(full=True), self.pace
        )
        return f"{active}; {serving}"

    def _verify_dr_endpoint(self) -> str:
        """dr's /health through its own regional endpoint (API Gateway, WAF, load balancer,
        pods): Ready pods are not enough, since a write gate that cannot read its routing
        control keeps its pod Ready but answers 503 there and refuses every order."""
        return self._verify_endpoint(self.env.dr_endpoint, "dr")

    def _verify_endpoint(self, endpoint: str, region: str) -> str:
        if not endpoint:
            return f"no {region} endpoint configured: its serving path is not checked"
        url = endpoint.rstrip("/") + "/health"
        seen: list[int | None] = []

        def healthy() -> bool:
            seen.append(self.http_status(url, PROBE_TIMEOUT_SECONDS))
            return seen[-1] == HEALTHY_STATUS

        try:
            steps.wait_for(self.pace, f"{url} to answer 200", healthy, steps.GATEWAY_WAIT)
        except steps.StepFailedError as error:
            raise steps.StepFailedError(
                f"{error}; last answer: {seen[-1] if seen else None}"
            ) from None
        return f"{url} answers 200"

    # -- failback ---------------------------------------------------------------------------

    def failback_refusal(self) -> str | None:
        """Why failback must not run now, or None. Forcing skips this, with its reason kept."""
        if not self.env.primary_endpoint:
            return "no primary endpoint is configured to prove the primary serves"
        # The answer verify-primary-endpoint waits for after the release: a run that starts
        # without it would fence dr and promote the primary, then fail with both done.
        url = self.env.primary_endpoint.rstrip("/") + "/health"
        status = self.http_status(url, PROBE_TIMEOUT_SECONDS)
        if status != HEALTHY_STATUS:
            answer = "nothing" if status is None else status
            return f"the primary's {url} does not answer healthy (it answered {answer}, not 200)"
        if self.env.db_engine == "aurora-postgresql":
            return None
        primary = self.clients.primary_rds.describe_db_instances(
            DBInstanceIdentifier=self.env.primary_db_identifier
        )["DBInstances"][0]
        source = primary.get("ReadReplicaSourceDBInstanceIdentifier", "")
        if not source.endswith(self.env.db_identifier):
            return (
                f"{self.env.primary_db_identifier} is not a replica of {self.env.db_identifier}: "
                "rebuild it first (README, failback runbook)"
            )
        return None

    def failback(self) -> dict:
        current = self.store.read()
        # A failback whose run died outright (no FAILED written) holds the record until its
        # lease ends; then a new failback takes it over, as a failover does a dead failover's.
        dead = current.name == FAILING_BACK and current.lease_until < self._epoch()
        if current.name not in (ACTIVE_IN_DR, FAILED) and not dead:
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        refusal = None if self.command.force else self.failback_refusal()
        if refusal is None and not self.command.abandon_dr_writes:
            refusal = self._dr_writes_cannot_reach_primary()
        if refusal:
            self.logger.event("failback refused", logging.WARNING, why=refusal)
            return self.report("refused", detail=refusal)
        previous = self._take((ACTIVE_IN_DR, FAILED), FAILING_BACK)
        if previous is None:
            current = self.store.read()
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        if previous.action == "failback":
            self._earlier_job = previous.batch_job
        self.logger.event(
            "failback started",
            forced=self.command.force,
            abandonDrWrites=self.command.abandon_dr_writes,
            reason=self.command.reason,
        )
        env, c = self.env, self.clients
        timeline = Timeline("failback", self.clock, self.logger, self.parallel, self.guard)
        # The objects' job runs beside the database's catch-up and promotion: both must be
        # done before traffic goes back, and one Lambda run has room for them side by side, not
        # one after the other (a job takes minutes to start and then copies every object).
        objects = Step("replicate-dr-objects", self._replicate_dr_objects)
        if env.db_engine == "postgres":
            # dr stops taking writes first, and the primary must hold all of them.
            timeline.run(Step("fence-dr-database", self._fence_dr))
            timeline.run_parallel(
                [
                    Step(
                        "primary-caught-up",
                        self._primary_caught_up,
                        after=("fence-dr-database",),
                    ),
                    dataclasses.replace(objects, after=("fence-dr-database",)),
                ]
            )
            timeline.run(
                Step(
                    "promote-primary-database",
                    self._promote_primary_database,
                    after=("primary-caught-up",),
                )
            )
        else:
            timeline.run_parallel(
                [Step("promote-primary-database", self._promote_primary_database), objects]
            )
        timeline.run(
            Step(
                "verify-primary-database",
                self._verify_primary_database,
                after=("promote-primary-database",),
            )
        )
        timeline.run(
            Step(
                "release-traffic",
                self._release_traffic,
                after=("verify-primary-database", "replicate-dr-objects"),
            )
        )
        # The primary was healthy when the run began (unless forced); dr keeps its capacity
        # until the primary serves again, through its own endpoint, after the release.
        timeline.run(
            Step(
                "verify-primary-endpoint",
                lambda: self._verify_endpoint(env.primary_endpoint, "primary"),
                after=("release-traffic",),
            )
        )
        timeline.run_parallel(
            [
                Step(
                    "scale-to-pilot-light",
                    lambda: steps.scale_node_groups(c.eks, env, env.pilot_light),
                    after=("verify-primary-endpoint",),
                ),
                Step(
                    "scale-gateway-down",
                    lambda: self._scale_gateway(full=False),
                    after=("verify-primary-endpoint",),
                ),
            ]
        )
        timeline.run(
            Step(
                "verify-node-groups",
                lambda: steps.verify_node_groups(c.eks, env, env.pilot_light, self.pace),
                after=("scale-to-pilot-light",),
            )
        )
        return self._finish(timeline, STANDBY)

    def _dr_writes_cannot_reach_primary(self) -> str | None:
        """Why dr's writes cannot be on the primary (PostgreSQL: it is no replica of dr), so
        that a failback without `abandonDrWrites` does not even fence dr; None otherwise."""
        if self.env.db_engine != "postgres":
            return None
        try:
            if self._is_replica(self.clients.primary_rds, self.env.primary_db_identifier):
                return None
        except (ClientError, BotoCoreError) as error:
            return f"the primary database cannot be described: {type(error).__name__}"
        return (
            f"{self.env.primary_db_identifier} is not a replica of {self.env.db_identifier}: "
            "dr's writes would be lost (rebuild it, or say abandonDrWrites with a reason)"
        )

    def _fence_dr(self) -> str:
        self._fenced_at = self.clock.now()
        detail = steps.set_read_only(self.clients.rds, self.env.db_identifier, True, self.pace)
        self._fenced_at = self.clock.now()
        return detail

    def _primary_caught_up(self) -> str:
        """dr's writes must all be on the primary before it writes again; only an explicit
        `abandonDrWrites` (with its reason, recorded here) goes on without them."""
        c, identifier = self.clients, self.env.primary_db_identifier
        try:
            if not self._is_replica(c.primary_rds, identifier):
                raise steps.StepFailedError(
                    f"{identifier} is not a replica of {self.env.db_identifier}"
                )
            return steps.replica_caught_up(
                c.primary_rds, c.primary_cloudwatch, identifier, self._fenced_at, self.pace
            )
        except steps.StepFailedError as error:
            if not self.command.abandon_dr_writes:
                raise
            return f"dr's writes ABANDONED as requested ({self.command.reason}): {error}"

    def _object_replication(self) -> steps.ObjectReplication | None:
        env = self.env
        if not env.records_bucket:
            return None
        return steps.ObjectReplication(
            env.records_bucket,
            env.primary_records_bucket,
            env.batch_replication_role_arn,
            env.batch_replication_report_prefix,
        )

    def _replicate_dr_objects(self) -> str:
        """The objects dr wrote while it served, copied to the primary's records bucket before
        traffic returns: live replication covers those written after dr's rule to the primary
        existed; one S3 Batch Replication job covers the rest. Without that rule, only an
        explicit `abandonDrWrites` (recorded) goes on."""
        replication = self._object_replication()
        if replication is None:
            return "no records bucket configured: no objects to replicate"
        try:
            return self._batch_replicate(replication)
        except (steps.StepFailedError, ClientError, BotoCoreError) as error:
            if not self.command.abandon_dr_writes:
                raise
            return (
                f"dr's objects ABANDONED as requested ({self.command.reason}): "
                f"{type(error).__name__}: {error}"
            )

    def _batch_replicate(self, replication: steps.ObjectReplication) -> str:
        c = self.clients
        rule = steps.reverse_rule(c.s3, replication.source_bucket, replication.target_bucket)
        if rule is None:
            raise steps.StepFailedError(
                f"{replication.source_bucket} has no enabled replication rule to "
                f"{replication.target_bucket}: deploy dr with `trading:replication.direction: "
                "dr-to-primary` first (README, failback runbook), or fail back with "
                "abandonDrWrites and a reason"
            )
        # An earlier failback run's job that completed (or still runs) after that run stopped
        # is this failback's: a new job would find nothing left with status NONE or FAILED,
        # and AWS does not document how a job with an empty generated manifest ends.
        if self._earlier_job and steps.batch_job_usable(
            c.s3control, replication.account_id, self._earlier_job
        ):
            job_id, found = self._earlier_job, True
        else:
            job_id, found = steps.start_batch_replication(c.s3control, replication, self.run_id)
        self.store.note_batch_job(self.run_id, job_id)
        self.logger.event(
            "batch replication job found" if found else "batch replication job created",
            jobId=job_id,
            rule=rule,
        )
        done = steps.wait_batch_job(c.s3control, replication.account_id, job_id, self.pace)
        # Seen complete: no later run may take this job's snapshot of dr's objects as its own.
        self.store.note_batch_job(self.run_id, "")
        return f"rule {rule}; {'resumed' if found else 'created'} {done}"

    def _promote_primary_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.move_global_writer(
                self.clients.rds,
                self.clients.primary_rds,
                self.env.global_cluster_identifier,
                self.env.primary_db_identifier,
                planned=not self.command.abandon_dr_writes,
            )
        c, identifier = self.clients, self.env.primary_db_identifier
        writable = steps.set_read_only(c.primary_rds, identifier, False, self.pace)
        promoted = steps.promote_replica(c.primary_rds, identifier, self.pace)
        return f"{writable}; {promoted}"

    def _verify_primary_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.verify_global_writer(
                self.clients.rds,
                self.clients.primary_rds,
                self.env.global_cluster_identifier,
                self.env.primary_db_identifier,
                self.pace,
            )
        return steps.verify_writer(
            self.clients.primary_rds, self.env.primary_db_identifier, self.pace
        )

    # -- shared ending, status, probe ---------------------------------------------------------

    def _finish(self, timeline: Timeline, success_state: str) -> dict:
        outcome = "FAILED" if timeline.failed else "SUCCEEDED"
        detail = f"failed: {', '.join(timeline.failed)}" if timeline.failed else "completed"
        try:
            self.store.finish(self.run_id, FAILED if timeline.failed else success_state, detail)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            outcome, detail = "SUPERSEDED", "another run took the lock over; it goes on"
        self._holding = False
        report = self.report(
            outcome, timeline, reason=self.command.reason, forced=self.command.force
        )
        self._notify(f"{self.command.action} {outcome}", report)
        self.logger.event(
            f"{self.command.action} finished",
            FINISHED_LEVEL[outcome],
            outcome=outcome,
            failedSteps=timeline.failed,
        )
        return report

    def _notify(self, subject: str, body: dict) -> None:
        self.clients.sns.publish(
            TopicArn=self.env.topic_arn,
            Subject=f"[trading dr] {subject}"[:100],
            Message=json.dumps(body, indent=2, default=str),
        )

    def status(self) -> dict:
        state = self.store.read()
        sizes = {
            group: self.clients.eks.describe_nodegroup(
                clusterName=self.env.cluster_name, nodegroupName=name
            )["nodegroup"]["scalingConfig"]
            for group, name in self.env.node_groups.items()
        }
        return self.report(
            "ok",
            detail=state.detail,
            lastRun=state.run_id,
            probeFailures=state.probe_failures,
            nodeGroups=sizes,
        )

    # -- detection ----------------------------------------------------------------------------

    def _endpoint_signal(self) -> str:
        """A canary from dr through the primary's regional endpoint (no Route 53), judged as
        Route 53 judges an HTTPS check: healthy on a status from 200 to 399 (Route 53 API
        Reference, HealthCheckConfig `Type`). In health-check-inversion mode it decides
        whether the primary's check is inverted, so it must agree with that check: a 403 or
        a 429 that it called live would invert a check Route 53 finds unhealthy, and the
        record would answer PRIMARY while dr writes. A 429 is API Gateway's throttle, applied
        before any backend ("Throttle requests to your REST APIs"), so it shows nothing of
        whether the primary serves; failover still needs the replication signal to agree."""
        url = self.env.primary_endpoint.rstrip("/") + "/health"
        if not url.startswith("https://"):
            return UNKNOWN
        status = self.http_status(url, PROBE_TIMEOUT_SECONDS)
        return HEALTHY if status is not None and 200 <= status < 400 else FAILING

    def _replication_signal(self) -> str:
        """The dr replica's own view of the primary, from CloudWatch in dr (no us-east-1)."""
        try:
            lag = steps.replication_lag(self.clients.cloudwatch, self.env, self.clock)
        except (ClientError, BotoCoreError):
            return UNKNOWN
        if lag is None:
            return UNKNOWN
        return FAILING if lag > steps.LAG_FAILING_SECONDS else HEALTHY

    def _primary_verdict(self) -> tuple[str, dict[str, str]]:
        """Failing only when both independent signals agree; an API error or a missing
        datapoint is unknown, never healthy or failing."""
        signals = {"replication": self._replication_signal()}
        if self.env.primary_endpoint:
            signals["endpoint"] = self._endpoint_signal()
        values = set(signals.values())
        if values == {FAILING}:
            return FAILING, signals
        return (HEALTHY if HEALTHY in values else UNKNOWN), signals

    def probe(self) -> dict:
        state = self.store.read()
        if state.name == ACTIVE_IN_DR:
            return self.maintain()
        if (
            self.env.failover_mode == "automatic"
            and state.action == "failover"
            and (
                state.name == FAILED
                or (state.name == FAILING_OVER and state.lease_until < self._epoch())
            )
        ):
            self.command = dataclasses.replace(
                self.command, action="failover", reason=f"probe: resuming ({state.detail})"
            )
            return self.failover()
        verdict, signals = self._primary_verdict()
        if verdict != FAILING:
            self.store.reset_probe_failures()
            return self.report("ok" if verdict == HEALTHY else "unknown", signals=signals)
        count = self.store.count_probe_failure()
        self.logger.event("primary failing", logging.WARNING, consecutive=count, signals=signals)
        threshold = self.env.probe_failure_threshold
        if count < threshold:
            return self.report(
                "degraded", detail=f"{count} of {threshold} failures", signals=signals
            )
        reason = f"probe: {count} consecutive periods with every signal failing"
        if self.env.failover_mode == "automatic":
            self.command = dataclasses.replace(self.command, action="failover", reason=reason)
            return self.failover()
        if count == threshold:
            self._notify("failover recommended", {"reason": reason, "runId": self.run_id})
        return self.report("failover-recommended", detail=reason)

    def maintain(self) -> dict:
        """While dr is active: fence the old PostgreSQL writer, then keep traffic pinned, for
        whatever the failover could not do while the primary's region was down."""
        done = {}
        for name, action in (("fence", self._fence_if_rds), ("pin-traffic", self._pin_traffic)):
            try:
                done[name] = action()
            except (ClientError, BotoCoreError, steps.StepFailedError) as error:
                done[name] = f"pending: {type(error).__name__}"
        return self.report("active-in-dr", maintenance=done)

    def _fence_if_rds(self) -> str:
        if self.env.db_engine != "postgres":
            return "Aurora demotes the old writer itself when its region returns"
        return self._fence_primary_now()


def fetch_status(url: str, timeout: float) -> int | None:
    """The status of a GET, or None when no answer came (refused, timed out, TLS failure, a
    malformed answer). urllib raises HTTPError, an OSError, for every status from 400 up:
    those are answers, and their status is what the caller judges (a 403 from the WAF is a
    live region, a 503 a blind write gate)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except (OSError, http.client.HTTPException, ValueError):
        return None


def handler(event: Any, context: Any = None) -> dict:
    """Lambda entry point. A malformed event or environment raises before any AWS client."""
    command = parse_event(event)
    env = environment()
    return Runner(
        env,
        make_clients(env),
        command,
        invocation_id=str(getattr(context, "aws_request_id", "")),
        remaining_ms=getattr(context, "get_remaining_time_in_millis", None),
    ).dispatch()
