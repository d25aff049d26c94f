"""The failover Lambda: turns the dr pilot light into production and back.

`handler` is a thin adapter: parse the event, read the environment (once), build clients, and
call `Runner`, whose work is plain Python testable without Lambda. Actions:

- failover: scale dr to the full profile, promote the database, shift traffic, verify, notify;
- failback: guarded (primary healthy, replication back in place) unless forced with a reason;
  promotes the primary again, restores traffic, returns dr to the pilot light;
- status: the state record and the node groups' sizes; changes nothing;
- probe: detection on a schedule; after N consecutive primary failures it starts a failover
  (`FAILOVER_MODE=automatic`) or pages "failover recommended" (`manual`).

A run whose step fails still runs every independent step, ends FAILED naming the step, and
returns normally: the Lambda does not retry it (a blind retry could fight an operator), the
state record shows `failed`, and a new failover or failback resumes from there, each step doing
only what is left.
"""

from __future__ import annotations

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

from handlers import steps, telemetry
from handlers.clock import SYSTEM, Clock
from handlers.model import Command, Environment, parse_environment, parse_event
from handlers.state import (
    ACTIVE_IN_DR,
    FAILED,
    FAILING_BACK,
    FAILING_OVER,
    STANDBY,
    StateStore,
)

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
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
    ) -> None:
        self.env = env
        self.clients = clients
        self.command = command
        self.parallel = parallel
        self.clock = clock
        self.http_status = http_status or _http_status
        self.store = StateStore(clients.dynamodb, env.state_table)
        # Lambda's request id, so the state record leads to the run's logs.
        self.run_id = f"{command.action}-{invocation_id or uuid.uuid4().hex[:12]}"

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

    # -- failover ---------------------------------------------------------------------------

    def failover(self) -> dict:
        if not self.store.transition((STANDBY, FAILED), FAILING_OVER, self.run_id):
            current = self.store.read()
            self.log("failover not started", state=current.name)
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        self.log("failover started", reason=self.command.reason)
        env, c = self.env, self.clients
        timeline = Timeline("failover", self.clock, self.parallel)
        timeline.run_parallel(
            [
                Step("scale-node-groups", lambda: steps.scale_node_groups(c.eks, env, env.full)),
                Step("promote-database", self._promote_dr_database),
                Step("shift-traffic", self._shift_traffic),
            ]
        )
        verifications = [
            Step(
                "verify-node-groups",
                lambda: steps.verify_node_groups(c.eks, env, env.full, self.clock),
                after=("scale-node-groups",),
            ),
            Step("verify-database", self._verify_dr_database, after=("promote-database",)),
        ]
        if env.dr_health_check_id:
            verifications.append(
                Step(
                    "verify-dr-health",
                    lambda: steps.verify_healthy(c.route53, env.dr_health_check_id),
                )
            )
        timeline.run_parallel(verifications)
        return self._finish(timeline, ACTIVE_IN_DR)

    def _promote_dr_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.move_global_writer(
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.db_identifier,
                self.command.planned,
            )
        return steps.promote_replica(self.clients.rds, self.env.db_identifier)

    def _verify_dr_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.verify_global_writer(
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.db_identifier,
                self.clock,
            )
        return steps.verify_writer(self.clients.rds, self.env.db_identifier, self.clock)

    def _shift_traffic(self) -> str:
        check = self.env.primary_health_check_id
        if not check:
            return "no primary health check configured: DNS records are not managed here"
        if not steps.health_check_healthy(self.clients.route53, check):
            return "primary health check already failing: Route 53 routes to dr on its own"
        return steps.set_primary_inverted(self.clients.route53, check, inverted=True)

    # -- failback ---------------------------------------------------------------------------

    def failback_refusal(self) -> str | None:
        """Why failback must not run now, or None. Forcing skips this, with its reason kept."""
        check = self.env.primary_health_check_id
        if not check:
            return "no primary health check is configured to prove the primary healthy"
        if not steps.health_check_healthy(self.clients.route53, check):
            return f"the primary's health check {check} is not healthy"
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
        if not self.store.transition(
            (ACTIVE_IN_DR, FAILED), FAILING_BACK, self.run_id, detail=self.command.reason
        ):
            current = self.store.read()
            return self.report("noop", detail=f"state is {current.name} (run {current.run_id})")
        self.log("failback started", forced=self.command.force, reason=self.command.reason)
        env, c = self.env, self.clients
        timeline = Timeline("failback", self.clock, self.parallel)
        timeline.run_parallel(
            [
                Step("promote-primary-database", self._promote_primary_database),
                Step("restore-traffic", self._restore_traffic),
            ]
        )
        timeline.run(
            Step(
                "verify-primary-database",
                self._verify_primary_database,
                after=("promote-primary-database",),
            )
        )
        # dr shrinks only once the primary writes and serves again.
        timeline.run(
            Step(
                "scale-to-pilot-light",
                lambda: steps.scale_node_groups(c.eks, env, env.pilot_light),
                after=("verify-primary-database", "restore-traffic"),
            )
        )
        timeline.run(
            Step(
                "verify-node-groups",
                lambda: steps.verify_node_groups(c.eks, env, env.pilot_light, self.clock),
                after=("scale-to-pilot-light",),
            )
        )
        return self._finish(timeline, STANDBY)

    def _promote_primary_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.move_global_writer(
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.primary_db_identifier,
                planned=True,
            )
        return steps.promote_replica(self.clients.primary_rds, self.env.primary_db_identifier)

    def _verify_primary_database(self) -> str:
        if self.env.db_engine == "aurora-postgresql":
            return steps.verify_global_writer(
                self.clients.rds,
                self.env.global_cluster_identifier,
                self.env.primary_db_identifier,
                self.clock,
            )
        return steps.verify_writer(
            self.clients.primary_rds, self.env.primary_db_identifier, self.clock
        )

    def _restore_traffic(self) -> str:
        check = self.env.primary_health_check_id
        if not check:
            return "no primary health check configured: DNS records are not managed here"
        return steps.set_primary_inverted(self.clients.route53, check, inverted=False)

    # -- shared ending, status, probe ---------------------------------------------------------

    def _finish(self, timeline: Timeline, success_state: str) -> dict:
        outcome = "FAILED" if timeline.failed else "SUCCEEDED"
        detail = f"failed: {', '.join(timeline.failed)}" if timeline.failed else "completed"
        self.store.finish(self.run_id, FAILED if timeline.failed else success_state, detail)
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

    def _primary_failing(self) -> tuple[bool, list[str]]:
        """The primary fails when every configured signal fails."""
        signals: list[tuple[str, bool]] = []
        if self.env.primary_health_check_id:
            healthy = steps.health_check_healthy(
                self.clients.route53, self.env.primary_health_check_id
            )
            signals.append(("route53-health-check", healthy))
        if self.env.primary_endpoint:
            signals.append(("endpoint", self._endpoint_healthy(self.env.primary_endpoint)))
        failing = bool(signals) and not any(healthy for _, healthy in signals)
        return failing, [name for name, healthy in signals if not healthy]

    def _endpoint_healthy(self, endpoint: str) -> bool:
        url = endpoint.rstrip("/") + "/health"
        if not url.startswith("https://"):
            return False
        status = self.http_status(url, PROBE_TIMEOUT_SECONDS)
        return status is not None and 200 <= status < 300

    def probe(self) -> dict:
        if not (self.env.primary_health_check_id or self.env.primary_endpoint):
            return self.report("ok", detail="nothing to probe: no health check or endpoint")
        failing, failed_signals = self._primary_failing()
        if not failing:
            self.store.reset_probe_failures()
            return self.report("ok", detail="primary healthy")
        count = self.store.count_probe_failure()
        self.log("primary failing", consecutive=count, signals=failed_signals)
        threshold = self.env.probe_failure_threshold
        if count < threshold:
            return self.report("degraded", detail=f"{count} of {threshold} failures")
        reason = f"probe: {count} consecutive failures ({', '.join(failed_signals)})"
        if self.env.failover_mode == "automatic":
            self.command = Command(
                "failover", reason, False, False, "probe", self.command.correlation_id
            )
            return self.failover()
        if count == threshold:
            self._notify("failover recommended", {"reason": reason, "runId": self.run_id})
        return self.report("failover-recommended", detail=reason)


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
    request_id = str(getattr(context, "aws_request_id", ""))
    return Runner(env, make_clients(env), command, invocation_id=request_id).dispatch()
