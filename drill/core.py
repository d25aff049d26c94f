"""The drill's steps, the same against AWS and against the emulation: preflight, markers,
the fault and the failover, poll until dr serves, lost writes and RPO, optional failback,
refresh, verdict.

Measured as the simulation measures (drill/simulation/ledger.py, applied in drill/measure.py):
a marker writer per region writes numbered markers into its database, the orders table and the
records bucket, recording which store acknowledged each and when. The fault the drill injects
is "the primary stops taking writes": its writer stops at an instant fixed in advance. RTO runs
from that instant to the first marker dr's database acknowledges; lost = acknowledged by the
primary but absent from dr's stores after the failover; RPO from the oldest lost write to the
fault. Why not AWS FIS: its Lambda fault actions (aws:lambda:invocation-error) need the FIS
extension layer on the function and a configuration bucket
(https://docs.aws.amazon.com/fis/latest/userguide/use-lambda-actions.html), and would fail the
writer's invocations, not the primary's stores; stopping the writer is the same observable fault
(no write acknowledged by the primary after it) with nothing more to deploy.

The serving checks (node groups, database, health check, DNS) are still polled and reported as
"dr serving", judged against the RTO objective too; they do not prove that dr takes writes. A
store or check the emulation cannot answer is recorded as "not emulated", never as passed.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from drill.measure import measure_stores
from drill.model import (
    FAILED,
    NOT_CONFIGURED,
    NOT_EMULATED,
    PASSED,
    SKIPPED,
    Phase,
    Report,
    Target,
    now,
)
from handlers import markers, steps

Trigger = Callable[[dict[str, Any]], dict[str, Any]]
# (region, command) -> that region's marker writer's answer (handlers/markers.py).
Markers = Callable[[str, dict[str, Any]], dict[str, Any]]
ClientFactory = Callable[[str, str], Any]


class PhaseListener(Protocol):
    """Told as each phase starts and ends: the command line's live table of phases."""

    def phase_started(self, name: str) -> None: ...

    def phase_ended(self, phase: Phase) -> None: ...


# Handler steps whose outcome a drill check also judges: where that check is not emulated,
# neither is the step.
HANDLER_STEP_CHECKS = {
    "verify-database": "database-writable",
    "verify-dr-endpoint": "regional-endpoints",
    "verify-primary-endpoint": "regional-endpoints",
    "replica-caught-up": "replication-healthy",
    "primary-caught-up": "replication-back-to-primary",
}
SERVING_CHECKS = (
    "node-groups-at-full",
    "database-writable",
    "dr-health-check",
    "dns-resolves-to-dr",
)


def _answer(check: Callable[[], str]) -> str:
    """While dr comes up, an API error is a check that has not passed yet."""
    try:
        return check()
    except (ClientError, OSError):
        return FAILED


@dataclass
class DrillOptions:
    failback: bool = False
    simulate_outage: bool = False
    marker_interval_seconds: float = 1.0
    # How long the primary's writer writes before the fault.
    pre_fault_seconds: float = 30.0
    # dr's writer stops this many markers after every store it measures acknowledged one.
    settle_markers: int = 5
    poll_interval_seconds: float = 10.0
    # How long to wait for dr to serve before giving up (beyond the RTO objective it fails).
    poll_timeout_seconds: float = 1800.0


@dataclass
class Drill:
    target: Target
    client: ClientFactory
    trigger: Trigger
    mode: str
    # Checks this environment cannot answer, with the reason.
    not_emulated: Mapping[str, str] = field(default_factory=dict)
    refresh: Callable[[], str] | None = None
    progress: Callable[[str], None] = print
    # None: the stacks export no marker writers, and preflight fails.
    markers: Markers | None = None
    # None: the progress lines are all there is.
    listener: PhaseListener | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def __post_init__(self) -> None:
        self.report = Report(self.mode, self.target)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def phase(self, name: str) -> Any:
        started = now()
        self.progress(f"[drill] {name} ...")
        if self.listener is not None:
            self.listener.phase_started(name)
        outcome = {"status": PASSED, "detail": ""}
        try:
            yield outcome
        except Exception as error:  # a failed phase is reported and the drill ends
            outcome.update(status=FAILED, detail=f"{type(error).__name__}: {error}")
        phase = Phase(name, started, now(), outcome["status"], outcome["detail"])
        self.report.phases.append(phase)
        self.progress(f"[drill] {name}: {phase.status} ({phase.seconds:.1f} s) {phase.detail}")
        if self.listener is not None:
            self.listener.phase_ended(phase)

    def record(self, phase: str, name: str, answer: Callable[[], str]) -> str:
        status = self.not_emulated_status(name) or answer()
        self.report.check(phase, name, status)
        return status

    def not_emulated_status(self, name: str) -> str | None:
        return NOT_EMULATED if name in self.not_emulated else None

    def failed(self, phase: str) -> bool:
        return any(s == FAILED for s in self.report.checks.get(phase, {}).values()) or any(
            p.name == phase and p.status == FAILED for p in self.report.phases
        )

    # -- checks -----------------------------------------------------------------------------

    def sizes(self) -> dict[str, int]:
        eks = self.client("eks", self.target.dr_region)
        return {
            group: eks.describe_nodegroup(clusterName=self.target.cluster_name, nodegroupName=name)[
                "nodegroup"
            ]["scalingConfig"]["desiredSize"]
            for group, name in self.target.node_groups.items()
        }

    def at(self, sizes: Mapping[str, int]) -> str:
        return PASSED if self.sizes() == dict(sizes) else FAILED

    def handler_deployed(self) -> str:
        function = self.client("lambda", self.target.dr_region).get_function(
            FunctionName=self.target.function_name
        )
        return PASSED if function["Configuration"].get("State") == "Active" else FAILED

    def replication_healthy(self) -> str:
        rds = self.client("rds", self.target.dr_region)
        if self.target.db_engine == "aurora-postgresql":
            cluster = rds.describe_db_clusters(DBClusterIdentifier=self.target.db_identifier)
            return PASSED if cluster["DBClusters"][0]["Status"] == "available" else FAILED
        instance = rds.describe_db_instances(DBInstanceIdentifier=self.target.db_identifier)[
            "DBInstances"
        ][0]
        replicating = instance.get("ReadReplicaSourceDBInstanceIdentifier")
        return PASSED if replicating and instance["DBInstanceStatus"] == "available" else FAILED

    def state(self) -> str:
        item = self.client("dynamodb", self.target.dr_region).get_item(
            TableName=self.target.state_table, Key={"pk": {"S": "failover"}}, ConsistentRead=True
        )
        return item.get("Item", {}).get("state", {}).get("S", "standby")

    def database_writable(self) -> str:
        rds = self.client("rds", self.target.dr_region)
        if self.target.db_engine == "aurora-postgresql":
            cluster = rds.describe_db_clusters(DBClusterIdentifier=self.target.db_identifier)
            writer = any(
                m.get("IsClusterWriter") for m in cluster["DBClusters"][0]["DBClusterMembers"]
            )
            return (
                PASSED
                if writer and not cluster["DBClusters"][0].get("ReplicationSourceIdentifier")
                else FAILED
            )
        instance = rds.describe_db_instances(DBInstanceIdentifier=self.target.db_identifier)[
            "DBInstances"
        ][0]
        standalone = not instance.get("ReadReplicaSourceDBInstanceIdentifier")
        return PASSED if standalone and instance["DBInstanceStatus"] == "available" else FAILED

    def dr_healthy(self) -> str:
        """dr's health check is green, judged as the failover handler judges it."""
        check = self.target.dr_health_check_id
        if not check:
            return NOT_CONFIGURED
        route53 = self.client("route53", "us-east-1")
        return PASSED if steps.health_check_healthy(route53, check) else FAILED

    def dns_resolves_to_dr(self) -> str:
        """The failover record answers with the dr entry point's addresses."""
        if not (self.target.record_name and self.target.dr_endpoint):
            return NOT_CONFIGURED
        try:
            record = {a[4][0] for a in socket.getaddrinfo(self.target.record_name, 443)}
            dr = {a[4][0] for a in socket.getaddrinfo(self.target.dr_endpoint, 443)}
        except OSError:
            return FAILED
        return PASSED if record and record <= dr else FAILED

    # -- markers --------------------------------------------------------------------------

    def dr_writer(self, fault_at: float, options: DrillOptions, give_up: threading.Event) -> list:
        """dr's writer from the fault on, window after window (one invocation is at most
        `markers.MAX_WINDOW_SECONDS`), until every store it measures has acknowledged a
        marker or the drill gives up."""
        assert self.markers is not None
        logs: list[dict[str, Any]] = []
        deadline = fault_at + options.poll_timeout_seconds
        start_at: float | None = fault_at
        while True:
            window_end = min(deadline, max(time.time(), start_at or 0) + markers.MAX_WINDOW_SECONDS)
            answer = self.markers(
                self.target.dr_region,
                {
                    "action": "write",
                    "run": self.run_id,
                    "startAt": start_at,
                    "stopAt": window_end,
                    "intervalSeconds": options.marker_interval_seconds,
                    "firstSeq": sum(len(log["markers"]) for log in logs),
                    "settleMarkers": options.settle_markers,
                },
            )
            if answer.get("outcome") != "DONE":
                raise RuntimeError(f"dr's marker writer: {answer}")
            logs.append(answer)
            status = answer["storeStatus"]
            measured = {s for s in markers.STORES if status[s] == markers.MEASURED}
            acknowledged = {
                store
                for log in logs
                for marker in log["markers"]
                for store, reply in marker["stores"].items()
                if "ackAt" in reply
            }
            if measured <= acknowledged or time.time() >= deadline or give_up.is_set():
                return logs
            start_at = None

    def write_primary(self, fault_at: float, options: DrillOptions) -> dict[str, Any]:
        assert self.markers is not None
        answer = self.markers(
            self.target.primary_region,
            {
                "action": "write",
                "run": self.run_id,
                "stopAt": fault_at,
                "intervalSeconds": options.marker_interval_seconds,
            },
        )
        if answer.get("outcome") != "DONE":
            raise RuntimeError(f"the primary's marker writer: {answer}")
        return answer

    def read_back(self, primary_log: dict[str, Any], dr_logs: list[dict[str, Any]]) -> Any:
        """After the failover: which markers, the primary's and dr's own, dr's stores hold."""
        assert self.markers is not None
        wanted: dict[str, list[int]] = {}
        for log in [primary_log, *dr_logs]:
            wanted.setdefault(log["region"], []).extend(
                m["seq"] for m in log["markers"] if any("ackAt" in r for r in m["stores"].values())
            )
        answer = self.markers(
            self.target.dr_region, {"action": "inventory", "run": self.run_id, "markers": wanted}
        )
        return answer if answer.get("outcome") == "DONE" else None

    def marker_writers(self) -> str:
        """Both regions' marker writers deployed (`markerFunctionName` on each stack)."""
        functions = {
            self.target.primary_region: self.target.primary_marker_function,
            self.target.dr_region: self.target.dr_marker_function,
        }
        if self.markers is None or not all(functions.values()):
            return FAILED
        for region, name in functions.items():
            function = self.client("lambda", region).get_function(FunctionName=name)
            if function["Configuration"].get("State") != "Active":
                return FAILED
        return PASSED

    # -- the drill --------------------------------------------------------------------------

    def preflight(self) -> bool:
        target = self.target
        with self.phase("preflight") as outcome:
            self.record("preflight", "dr-at-pilot-light", lambda: self.at(target.pilot_light))
            self.record("preflight", "handler-deployed", self.handler_deployed)
            self.record("preflight", "marker-writers-deployed", self.marker_writers)
            self.record("preflight", "replication-healthy", self.replication_healthy)
            self.record(
                "preflight",
                "failover-state-standby",
                lambda: PASSED if self.state() == "standby" else FAILED,
            )
            if self.failed("preflight"):
                outcome.update(status=FAILED, detail="preflight checks failed: nothing was changed")
        return not self.failed("preflight")

    def run(self, options: DrillOptions) -> Report:
        target = self.target
        if not self.preflight():
            return self.finish()

        fault_at = time.time() + options.pre_fault_seconds
        give_up = threading.Event()
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="markers")
        primary_log: dict[str, Any] | None = None
        dr_logs: Future[list[dict[str, Any]]] | None = None
        with self.phase("rpo-markers") as outcome:
            # Until the fault, the primary's writer writes; dr's waits for the fault, then
            # writes until its database (or, on a tier without one, every store) acknowledges.
            dr_logs = pool.submit(self.dr_writer, fault_at, options, give_up)
            primary_log = self.write_primary(fault_at, options)
            outcome["detail"] = (
                f"{len(primary_log['markers'])} markers by {target.primary_region}'s writer "
                f"until the fault at {_clock(primary_log['stopAt'])}"
            )
        if primary_log is None:
            give_up.set()
            pool.shutdown(wait=False, cancel_futures=True)
            return self.finish()
        # The fault: the primary stopped taking writes when its writer stopped, at `stopAt` by
        # its own clock (the Lambdas' clocks, not this machine's, time every marker).
        fault = float(primary_log["stopAt"])
        with self.phase("failover") as outcome:
            if options.simulate_outage:
                outcome["detail"] = self.simulate_outage()
            result = self.trigger(
                {
                    "action": "failover",
                    "reason": f"drill {self.run_id}",
                    "planned": not options.simulate_outage,
                    "requestedBy": "drill",
                    "correlationId": f"drill-{self.run_id}",
                }
            )
            self.judge_handler("failover", result)
            outcome["detail"] = (
                f"fault: {target.primary_region}'s writers stopped at {_clock(fault)}; "
                f"handler outcome {result.get('outcome')} {outcome['detail']}".strip()
            )
        with self.phase("until-dr-serves") as outcome:
            serving_at = self.poll_serving(options)
            if serving_at is None:
                give_up.set()
                outcome.update(status=FAILED, detail="dr did not serve before the timeout")
            else:
                self.report.serving_seconds = max(0.0, serving_at.timestamp() - fault)
                seconds = self.report.serving_seconds
                outcome["detail"] = f"every serving check passed {seconds:.1f} s after the fault"

        with self.phase("rpo") as outcome:
            outcome["status"], outcome["detail"] = self.measure(
                primary_log, dr_logs.result(), fault
            )
        pool.shutdown()

        if options.failback:
            with self.phase("failback") as outcome:
                result = self.trigger(self.failback_command())
                self.judge_handler("failback", result)
                outcome["detail"] = f"handler outcome {result.get('outcome')}"
            self.record(
                "failback", "node-groups-at-pilot-light", lambda: self.at(target.pilot_light)
            )

        with self.phase("refresh") as outcome:
            if self.refresh is None:
                outcome.update(status=SKIPPED, detail="no Pulumi state in this mode")
            else:
                outcome["detail"] = self.refresh()
        return self.finish()

    def judge_handler(self, action: str, result: dict[str, Any]) -> None:
        """A handler step that failed fails the drill, unless this environment cannot emulate
        what the step verifies; a run that did not start (noop, refused) fails it too."""
        self.report.handler_runs[action] = result
        if result.get("outcome") not in ("SUCCEEDED", "FAILED"):
            self.report.check(action, "handler-run", FAILED)
            return
        for entry in result.get("timeline", []):
            # A verification of something not emulated proves nothing, whatever its outcome.
            if HANDLER_STEP_CHECKS.get(entry["step"], "") in self.not_emulated:
                entry["drillStatus"] = NOT_EMULATED
            elif entry["outcome"] == "failed":
                self.report.check(action, f"handler step {entry['step']}", FAILED)

    def failback_command(self) -> dict[str, Any]:
        command: dict[str, Any] = {
            "action": "failback",
            "reason": f"drill {self.run_id}",
            "requestedBy": "drill",
            "correlationId": f"drill-{self.run_id}-back",
        }
        if "replication-back-to-primary" in self.not_emulated:
            # Said out loud: the handler refuses to drop dr's writes unless told to.
            command.update(
                force=True,
                abandonDrWrites=True,
                reason=f"drill {self.run_id}: {self.not_emulated['replication-back-to-primary']}",
            )
        return command

    def simulate_outage(self) -> str:
        check = self.target.primary_health_check_id
        if not check:
            return "(no primary health check steers traffic: the fault is the writers' stop)"
        route53 = self.client("route53", "us-east-1")
        return f"({steps.set_primary_inverted(route53, check, inverted=True)})"

    def poll_serving(self, options: DrillOptions) -> datetime | None:
        answers: dict[str, Callable[[], str]] = {
            "node-groups-at-full": lambda: self.at(self.target.full),
            "database-writable": self.database_writable,
            "dr-health-check": self.dr_healthy,
            "dns-resolves-to-dr": self.dns_resolves_to_dr,
        }
        deadline = time.monotonic() + options.poll_timeout_seconds
        while True:
            statuses = {
                name: self.not_emulated_status(name) or _answer(answers[name])
                for name in SERVING_CHECKS
            }
            if FAILED not in statuses.values() or time.monotonic() > deadline:
                for name, status in statuses.items():
                    self.report.check("until-dr-serves", name, status)
                return now() if FAILED not in statuses.values() else None
            time.sleep(options.poll_interval_seconds)

    def measure(
        self, primary_log: dict[str, Any], dr_logs: list[dict[str, Any]], fault: float
    ) -> tuple[str, str]:
        """RTO, lost and RPO per store by the ledger's definitions (drill/measure.py)."""
        inventory = self.read_back(primary_log, dr_logs)
        not_emulated = {
            store: self.not_emulated[f"markers-{store}"]
            for store in markers.STORES
            if f"markers-{store}" in self.not_emulated
        }
        stores = measure_stores(primary_log, dr_logs, inventory, fault, not_emulated)
        self.report.stores = stores
        self.report.replication_lag = (
            dict.fromkeys(("rds", "dynamodb", "s3"), NOT_EMULATED)
            if not_emulated
            else self.replication_lag()
        )
        database = stores["database"]
        if database["status"] == markers.MEASURED:
            self.report.rto_seconds = database["rto_seconds"]
            self.report.rto_status = PASSED if database["rto_seconds"] is not None else FAILED
        else:
            self.report.rto_status = database["status"]
        measured = {s: f for s, f in stores.items() if f["status"] == markers.MEASURED}
        if not measured:
            statuses = [f["status"] for f in stores.values()]
            self.report.rpo_status = (
                NOT_EMULATED if any(s.startswith(NOT_EMULATED) for s in statuses) else statuses[0]
            )
            return (
                self.report.rpo_status.split(":")[0],
                "; ".join(f"{s}: {f['status']}" for s, f in stores.items()),
            )
        self.report.rpo_seconds = max(f["rpo_seconds"] for f in measured.values())
        self.report.lost_writes = sum(f["lost_writes"] for f in measured.values())
        silent = [s for s, f in measured.items() if f["primary_acknowledged"] == 0]
        self.report.rpo_status = FAILED if silent or inventory is None else PASSED
        detail = "; ".join(
            f"{s}: {f['lost_writes']} of {f['primary_acknowledged']} lost, "
            f"RPO {f['rpo_seconds']:.1f} s"
            if f["status"] == markers.MEASURED
            else f"{s}: {f['status']}"
            for s, f in stores.items()
        )
        if silent:
            detail += f"; the primary acknowledged no marker in {', '.join(silent)}"
        return self.report.rpo_status, detail

    def replication_lag(self) -> dict[str, str]:
        """The replication metrics' latest maximum, as published where each one lives."""
        end = now()
        start = datetime.fromtimestamp(end.timestamp() - 900, tz=end.tzinfo)
        metrics = {
            "rds": (
                self.target.dr_region,
                "AWS/RDS",
                "ReplicaLag",
                [{"Name": "DBInstanceIdentifier", "Value": self.target.db_identifier}],
                "s",
            ),
            "dynamodb": (
                self.target.primary_region,
                "AWS/DynamoDB",
                "ReplicationLatency",
                [
                    {"Name": "TableName", "Value": self.target.orders_table},
                    {"Name": "ReceivingRegion", "Value": self.target.dr_region},
                ],
                "ms",
            ),
            "s3": (
                self.target.primary_region,
                "AWS/S3",
                "ReplicationLatency",
                [
                    {"Name": "SourceBucket", "Value": self.target.primary_bucket},
                    {"Name": "DestinationBucket", "Value": self.target.dr_bucket},
                    {"Name": "RuleId", "Value": "records-to-peer-region"},
                ],
                "s",
            ),
        }
        lag = {}
        for name, (region, namespace, metric, dimensions, unit) in metrics.items():
            points = self.client("cloudwatch", region).get_metric_statistics(
                Namespace=namespace,
                MetricName=metric,
                Dimensions=dimensions,
                StartTime=start,
                EndTime=end,
                Period=60,
                Statistics=["Maximum"],
            )["Datapoints"]
            latest = max(points, key=lambda p: p["Timestamp"], default=None)
            lag[name] = f"{latest['Maximum']:g} {unit}" if latest else "no datapoints"
        return lag

    def finish(self) -> Report:
        self.report.judge()
        return self.report


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%H:%M:%S.%f")[:-3] + " UTC"
