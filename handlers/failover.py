"""The failover Lambda: turns the dr pilot light into production and back.

`handler` is a thin adapter: parse the event, read the environment (once), build clients, and
call `Runner`, whose work is plain Python testable without Lambda. Actions:

- failover: pin traffic to dr (keep the primary's health check failing), promote
  the database, scale dr to the full profile, verify, then fence the old PostgreSQL writer
  (stop it: best effort, the probe retries while its region is down); notify;
- failback: guarded (primary serving, replication back in place) unless forced with a reason;
  promotes the primary and verifies it, then releases traffic and fences dr's PostgreSQL
  writer, then returns dr to the pilot light;
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
import json
import os
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
from handlers.model import Command, Environment, parse_environment, parse_event
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


def make_clients(env: Environment) -> Clients:
    def client(service: str, region: str) -> Any:
        return boto3.client(service, region_name=region, config=CLIENT_CONFIG)

    return Clients(
        eks=client("eks", env.region),
        rds=client("rds", env.region),
        primary_rds=client("rds", env.primary_region),
        # Route 53 is global; its API answers from us-east-1 whatever region calls it.
        route53=client("route53", "us-east-1"),
        dynamodb=client("dynamodb", env.region),
        sns=client("sns", env.region),
        cloudwatch=client("cloudwatch", env.region),
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
        seconds = self.clock.monotonic() - began
        self.entries.append(
            {
                "step": step.name,
                "startedAt": started,
                "endedAt": self._now(),
                "seconds": round(seconds, 3),
                "outcome": outcome,
                "detail": detail,
            }
        )
        telemetry.step_metric(self.action, step.name, seconds, outcome, self.clock.now())

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
        self.http_status = http_status or _http_status
        self.remaining_ms = remaining_ms
        self.store = StateStore(clients.dynamodb, env.state_table)
        # Lambda's request id, so the state record leads to the run's logs.
        self.run_id = f"{command.action}-{invocation_id or uuid.uuid4().hex[:12]}"
        self.pace = steps.Pace(clock, self.guard)
        self._holding = False
        self._renewed = 0.0

    def log(self, message: str, **fields: Any) -> None:
        telemetry.log("INFO", message, self.command.correlation_id, runId=self.run_id, **fields)

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
            action=self.command.action,
            now=self._epoch(),
            lease_seconds=LEASE_SECONDS,
            detail=self.command.reason,
        )
        if previous is not None:
            self._holding, self._renewed = True, self.clock.monotonic()
            if previous.name == new:
                self.log("took over an expired lease", previousRun=previous.run_id)
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
            self.log("failover not started", state=current.name)
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        self.log("failover started", reason=self.command.reason, resumes=previous.name)
        env, c = self.env, self.clients
        timeline = Timeline("failover", self.clock, self.parallel, self.guard)
        # Traffic is pinned to dr first and stays pinned: only a failback releases it.
        timeline.run_parallel(
            [
                Step("pin-traffic", self._pin_traffic),
                Step("promote-database", self._promote_dr_database),
                Step("scale-node-groups", lambda: steps.scale_node_groups(c.eks, env, env.full)),
            ]
        )
        verifications = [
            Step(
                "verify-node-groups",
                lambda: steps.verify_node_groups(c.eks, env, env.full, self.pace),
                after=("scale-node-groups",),
            ),
            Step("verify-database", self._verify_dr_database, after=("promote-database",)),
        ]
        if env.dr_health_check_id:
            verifications.append(Step("verify-dr-health", self._verify_dr_health))
        timeline.run_parallel(verifications)
        if env.db_engine == "postgres":
            timeline.run(
                Step("fence-old-primary", self._fence_old_primary, after=("verify-database",))
            )
        return self._finish(timeline, ACTIVE_IN_DR)

    def _promote_dr_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.move_global_writer(
                self.clients.rds,
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.db_identifier,
                self.command.planned,
            )
        return steps.promote_replica(self.clients.rds, self.env.db_identifier, self.pace)

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

    def _pin_traffic(self) -> str:
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

    def _verify_dr_health(self) -> str:
        """Advisory when Route 53's control plane cannot answer: dr's health is what dr's own
        checks show, and a failover must not fail for want of us-east-1."""
        try:
            return steps.verify_healthy(self.clients.route53, self.env.dr_health_check_id)
        except (ClientError, BotoCoreError) as error:
            return f"unknown (Route 53 did not answer: {type(error).__name__})"

    def _fence_old_primary(self) -> str:
        """Best effort: a primary whose region is down is fenced by the probe once it is back
        (`maintain`); the run does not wait on a region that is down."""
        try:
            return steps.fence_instance(self.clients.primary_rds, self.env.primary_db_identifier)
        except (ClientError, BotoCoreError) as error:
            return f"fence pending (the probe retries): {type(error).__name__}: {error}"

    # -- failback ---------------------------------------------------------------------------

    def failback_refusal(self) -> str | None:
        """Why failback must not run now, or None. Forcing skips this, with its reason kept."""
        if not self.env.primary_endpoint:
            return "no primary endpoint is configured to prove the primary serves"
        if self._endpoint_signal() != HEALTHY:
            return f"the primary's endpoint {self.env.primary_endpoint} does not answer healthy"
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
        refusal = None if self.command.force else self.failback_refusal()
        if refusal:
            self.log("failback refused", why=refusal)
            return self.report("refused", detail=refusal)
        if self._take((ACTIVE_IN_DR, FAILED), FAILING_BACK) is None:
            current = self.store.read()
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        self.log("failback started", forced=self.command.force, reason=self.command.reason)
        env, c = self.env, self.clients
        timeline = Timeline("failback", self.clock, self.parallel, self.guard)
        timeline.run(Step("promote-primary-database", self._promote_primary_database))
        timeline.run(
            Step(
                "verify-primary-database",
                self._verify_primary_database,
                after=("promote-primary-database",),
            )
        )
        # Traffic goes back only to a primary that writes; dr stops writing as it does.
        after_primary = ("verify-primary-database",)
        back = [Step("restore-traffic", self._restore_traffic, after=after_primary)]
        if env.db_engine == "postgres":
            back.append(Step("fence-dr-database", self._fence_dr, after=after_primary))
        timeline.run_parallel(back)
        timeline.run(
            Step(
                "scale-to-pilot-light",
                lambda: steps.scale_node_groups(c.eks, env, env.pilot_light),
                after=("restore-traffic",),
            )
        )
        timeline.run(
            Step(
                "verify-node-groups",
                lambda: steps.verify_node_groups(c.eks, env, env.pilot_light, self.pace),
                after=("scale-to-pilot-light",),
            )
        )
        return self._finish(timeline, STANDBY)

    def _promote_primary_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.move_global_writer(
                self.clients.rds,
                self.clients.primary_rds,
                self.env.global_cluster_identifier,
                self.env.primary_db_identifier,
                planned=True,
            )
        return steps.promote_replica(
            self.clients.primary_rds, self.env.primary_db_identifier, self.pace
        )

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

    def _restore_traffic(self) -> str:
        check = self.env.primary_health_check_id
        if not check:
            return "no primary health check configured: DNS records are not managed here"
        return steps.set_primary_inverted(self.clients.route53, check, inverted=False)

    def _fence_dr(self) -> str:
        return steps.fence_instance(self.clients.rds, self.env.db_identifier)

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
        self.log(f"{self.command.action} finished", outcome=outcome, failedSteps=timeline.failed)
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
        """A canary from dr through the primary's regional endpoint (no Route 53)."""
        url = self.env.primary_endpoint.rstrip("/") + "/health"
        if not url.startswith("https://"):
            return UNKNOWN
        status = self.http_status(url, PROBE_TIMEOUT_SECONDS)
        # Any answer below 500 (a 429 from throttling, a 403 from the WAF) is a live region.
        return HEALTHY if status is not None and status < 500 else FAILING

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
        self.log("primary failing", consecutive=count, signals=signals)
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
            except (ClientError, BotoCoreError) as error:
                done[name] = f"pending: {type(error).__name__}"
        return self.report("active-in-dr", maintenance=done)

    def _fence_if_rds(self) -> str:
        if self.env.db_engine != "postgres":
            return "Aurora demotes the old writer itself when its region returns"
        return self._fence_old_primary()


def _http_status(url: str, timeout: float) -> int | None:
    """The status of a GET, or None when no answer came (refused, timed out, TLS failure)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except OSError:
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
