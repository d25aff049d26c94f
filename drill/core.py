"""The drill's steps, the same against AWS and against the emulation: preflight, RPO markers,
failover, poll until dr serves, RPO, optional failback, refresh, verdict.

RTO is measured from the trigger to the moment every serving check passes. RPO is the gap
between the last marker written to the primary before the failover and the newest marker that
reached dr. A check the emulation cannot answer is recorded as "not emulated", never as passed.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

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
from handlers import steps

Trigger = Callable[[dict[str, Any]], dict[str, Any]]
ClientFactory = Callable[[str, str], Any]

# Handler steps whose outcome a drill check also judges: where that check is not emulated,
# neither is the step.
HANDLER_STEP_CHECKS = {
    "verify-database": "database-writable",
    "verify-dr-health": "dr-health-check",
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
    markers: int = 5
    marker_interval_seconds: float = 1.0
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
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def __post_init__(self) -> None:
        self.report = Report(self.mode, self.target)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def phase(self, name: str) -> Any:
        started = now()
        self.progress(f"[drill] {name} ...")
        outcome = {"status": PASSED, "detail": ""}
        try:
            yield outcome
        except Exception as error:  # a failed phase is reported and the drill ends
            outcome.update(status=FAILED, detail=f"{type(error).__name__}: {error}")
        phase = Phase(name, started, now(), outcome["status"], outcome["detail"])
        self.report.phases.append(phase)
        self.progress(f"[drill] {name}: {phase.status} ({phase.seconds:.1f} s) {phase.detail}")

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

    # -- RPO markers ------------------------------------------------------------------------

    def write_markers(self, options: DrillOptions) -> list[datetime]:
        dynamodb = self.client("dynamodb", self.target.primary_region)
        s3 = self.client("s3", self.target.primary_region)
        written = []
        for index in range(options.markers):
            stamp = now()
            key = f"drill#{self.run_id}#{index:04d}"
            dynamodb.put_item(
                TableName=self.target.orders_table,
                Item={"order_id": {"S": key}, "drill_marker_at": {"S": stamp.isoformat()}},
            )
            s3.put_object(
                Bucket=self.target.primary_bucket,
                Key=f"drill-markers/{self.run_id}/{index:04d}",
                Body=stamp.isoformat().encode(),
            )
            written.append(stamp)
            if index + 1 < options.markers:
                time.sleep(options.marker_interval_seconds)
        return written

    def newest_marker_in_dr(self, count: int) -> int | None:
        dynamodb = self.client("dynamodb", self.target.dr_region)
        s3 = self.client("s3", self.target.dr_region)
        for index in reversed(range(count)):
            key = f"drill#{self.run_id}#{index:04d}"
            item = dynamodb.get_item(
                TableName=self.target.orders_table, Key={"order_id": {"S": key}}
            )
            try:
                s3.head_object(
                    Bucket=self.target.dr_bucket, Key=f"drill-markers/{self.run_id}/{index:04d}"
                )
                in_bucket = True
            except ClientError:
                in_bucket = False
            if "Item" in item and in_bucket:
                return index
        return None

    # -- the drill --------------------------------------------------------------------------

    def run(self, options: DrillOptions) -> Report:
        target = self.target
        with self.phase("preflight") as outcome:
            self.record("preflight", "dr-at-pilot-light", lambda: self.at(target.pilot_light))
            self.record("preflight", "handler-deployed", self.handler_deployed)
            self.record("preflight", "replication-healthy", self.replication_healthy)
            self.record(
                "preflight",
                "failover-state-standby",
                lambda: PASSED if self.state() == "standby" else FAILED,
            )
            if self.failed("preflight"):
                outcome.update(status=FAILED, detail="preflight checks failed: nothing was changed")
        if self.failed("preflight"):
            return self.finish()

        written: list[datetime] = []
        with self.phase("rpo-markers") as outcome:
            written = self.write_markers(options)
            outcome["detail"] = (
                f"{len(written)} markers in {target.orders_table} and {target.primary_bucket}"
            )

        triggered = now()
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
                f"handler outcome {result.get('outcome')} {outcome['detail']}".strip()
            )
        with self.phase("until-dr-serves") as outcome:
            serving_at = self.poll_serving(options)
            if serving_at is None:
                outcome.update(status=FAILED, detail="dr did not serve before the timeout")
            else:
                self.report.rto_seconds = (serving_at - triggered).total_seconds()
                outcome["detail"] = f"RTO {self.report.rto_seconds:.1f} s"

        with self.phase("rpo") as outcome:
            outcome["status"], outcome["detail"] = self.measure_rpo(written)

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
            command.update(
                force=True,
                reason=f"drill {self.run_id}: {self.not_emulated['replication-back-to-primary']}",
            )
        return command

    def simulate_outage(self) -> str:
        check = self.target.primary_health_check_id
        if not check:
            return "(no primary health check to invert)"
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

    def measure_rpo(self, written: list[datetime]) -> tuple[str, str]:
        if "rpo-markers" in self.not_emulated:
            self.report.rpo_status = NOT_EMULATED
            self.report.replication_lag = dict.fromkeys(("rds", "dynamodb", "s3"), NOT_EMULATED)
            return NOT_EMULATED, self.not_emulated["rpo-markers"]
        newest = self.newest_marker_in_dr(len(written))
        self.report.replication_lag = self.replication_lag()
        if newest is None:
            self.report.rpo_status = FAILED
            return FAILED, "no marker reached dr"
        self.report.rpo_seconds = (written[-1] - written[newest]).total_seconds()
        self.report.rpo_status = PASSED
        return PASSED, (
            f"newest marker in dr: {newest + 1} of {len(written)}; "
            f"RPO {self.report.rpo_seconds:.1f} s"
        )

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
