"""The simulated world: both regions' gateways, node groups, databases, stores, Route 53's
health checkers and DNS answers, and the clients writing orders, all moving on the simulated
clock by the rules and timings in `physics.py`.

The world changes by events (a checker's probe, a node becoming Ready, a promotion finishing,
a client's write) kept in time order, and by the handler's API calls, which `aws.py` applies
after calling `advance(now)`, so every caller sees the world exactly as of its instant.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from drill.simulation.ledger import Ledger
from drill.simulation.physics import Physics
from drill.simulation.topology import GATEWAY_NODE_GROUP, Region, Topology
from handlers.contract import Environment

ACCOUNT = "123456789012"


# -- databases -------------------------------------------------------------------------------


@dataclass(eq=False)
class Database:
    """An RDS instance or an Aurora cluster: the log of writes it holds, and where it copies
    them from while it is a replica."""

    identifier: str
    region: str
    kind: str  # "instance" | "cluster"
    writer: bool
    status: str = "available"
    source: Database | None = None
    # The instance a replica was created from, as DescribeDBInstances names it until promoted.
    origin: Database | None = None
    lag: float = 0.0
    log: list[tuple[float, int]] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    cursor: int = 0
    # Aurora: writes stop on the old writer while a switchover moves the role.
    fenced: bool = False
    # PostgreSQL: `default_transaction_read_only` as the instance applies it, and whether its
    # parameter group has a change on the way (ParameterApplyStatus `applying`).
    read_only: bool = False
    applying: bool = False
    # The last instant replication from the source ran (both regions reachable).
    linked_at: float = 0.0
    created_at: float = 0.0

    @property
    def arn(self) -> str:
        kind = "db" if self.kind == "instance" else "cluster"
        return f"arn:aws:rds:{self.region}:{ACCOUNT}:{kind}:{self.identifier}"

    def commit(self, t: float, write: int) -> None:
        self.log.append((t, write))
        self.ids.add(write)

    def catch_up(self, through: float) -> None:
        """Apply what the source committed up to `through`."""
        if self.source is None:
            return
        log = self.source.log
        while self.cursor < len(log) and log[self.cursor][0] <= through:
            write = log[self.cursor][1]
            if write not in self.ids:
                self.log.append((log[self.cursor][0], write))
                self.ids.add(write)
            self.cursor += 1


# -- compute ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    ready_at: float
    pods: int = 0
    unneeded_since: float | None = None


@dataclass(eq=False)
class NodeGroup:
    group: str
    name: str
    min_size: int
    desired: int
    max_size: int
    nodes: list[Node] = field(default_factory=list)
    updating_until: float = 0.0
    launch_failing: bool = False
    last_scale_up: float = -math.inf

    def status(self, t: float) -> str:
        if t < self.updating_until:
            return "UPDATING"
        return "DEGRADED" if self.launch_failing else "ACTIVE"

    def ready_nodes(self, t: float) -> list[Node]:
        return [n for n in self.nodes if n.ready_at <= t]


@dataclass(eq=False)
class Gateway:
    """The order gateway's Deployment and HPA in one region."""

    hpa_min: int
    hpa_max: int
    target: float
    max_unavailable: int
    replicas: int
    pods: list[tuple[Node, float]] = field(default_factory=list)  # (node, ready at)
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    arrivals: int = 0
    tokens: float = 0.0
    tokens_at: float = 0.0

    def ready_pods(self, t: float) -> int:
        return sum(1 for node, ready in self.pods if ready <= t and node.ready_at <= t)


@dataclass(eq=False)
class Cluster:
    region: str
    name: str
    groups: dict[str, NodeGroup]
    gateway: Gateway

    @property
    def gateway_group(self) -> NodeGroup:
        return next(g for g in self.groups.values() if g.group == GATEWAY_NODE_GROUP)


# -- Route 53 --------------------------------------------------------------------------------


@dataclass(eq=False)
class Checker:
    healthy: bool = True
    streak: int = 0
    last_ok: bool = True


@dataclass(eq=False)
class HealthCheck:
    id: str
    region: str
    interval: float
    threshold: int
    checkers: list[Checker]
    inverted: bool = False
    version: int = 1
    # What UpdateHealthCheck set, before it reaches the checkers.
    configured_inverted: bool = False

    def healthy(self, physics: Physics) -> bool:
        share = sum(1 for c in self.checkers if c.healthy) / len(self.checkers)
        return (share > physics.healthy_fraction) != self.inverted


# -- clients ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Client:
    connected_to: str | None = None
    connected_at: float = 0.0
    resolved: str | None = None
    resolved_until: float = 0.0


@dataclass
class BatchJob:
    """An S3 Batch Replication job on dr's records bucket."""

    id: str
    token: str
    description: str
    status: str
    manifest: list[int] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0


class World:
    def __init__(self, topology: Topology, physics: Physics, rng: random.Random) -> None:
        self.topology = topology
        self.physics = physics
        self.rng = rng
        self.t = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.down: set[str] = set()
        self.control_down: set[tuple[str, str]] = set()
        # Regions whose own network reaches none of ARC's cluster endpoints, while everything
        # else still reaches them (a partition between one region and ARC's data plane).
        self.arc_cut_off: set[str] = set()
        self.flap: tuple[float, float, float] | None = None  # (from, until, success ratio)
        self.shortage: dict[str, float] = {}
        self.ledger = Ledger()
        self.primary_region = topology.primary.name
        self.dr_region = topology.dr.name
        self.clusters = {r.name: self._cluster(r) for r in (topology.primary, topology.dr)}
        self.checks = {
            r.health_check.id: self._health_check(r)
            for r in (topology.primary, topology.dr)
            if r.health_check is not None
        }
        # Route 53 ARC: each routing control's state as its API reports it, and as DNS sees it
        # (a moment later). Both On at the start, as the README's bootstrap sets them.
        self.routing = topology.routing_controls
        arns = (self.routing.primary, self.routing.dr) if self.routing else ()
        self.routing_state = dict.fromkeys(arns, True)
        self.routing_seen = dict.fromkeys(arns, True)
        # Each region's write gate (components/write_gate.py): the state and time of its last
        # successful read of the region's routing control, and whether it was open last seen.
        self.gates = {r.name: r.write_gate for r in (topology.primary, topology.dr) if r.write_gate}
        self.gate_reads = {region: (True, 0.0) for region in self.gates}
        self.gate_was_open = dict.fromkeys(self.gates, True)
        for region, gate in self.gates.items():
            self._every(gate.poll_seconds, gate.poll_seconds, lambda r=region: self._poll_gate(r))
        self.databases: dict[str, Database] = {}
        # What RDS publishes to CloudWatch for each replica, once a period, in the replica's
        # region: (region, kind, identifier) -> [(period start, lag in seconds)].
        self.lag_series: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        self._data_tier()
        period = physics.rds_metric_period_seconds
        self._every(period, period, self._publish_lag)
        self.ledger.designate(0.0, self.topology.primary.db_identifier)
        self.clients = [
            Client(
                resolved=self.primary_region,
                resolved_until=physics.dns_ttl_seconds * i / physics.clients,
                connected_to=self.primary_region,
                connected_at=-physics.connection_lifetime_seconds * i / physics.clients,
            )
            for i in range(physics.clients)
        ]
        # Orders table replicas (global table: both ways) and records buckets (one way).
        self.table: dict[str, dict[int, float]] = {self.primary_region: {}, self.dr_region: {}}
        self.bucket: dict[str, dict[int, float]] = {self.primary_region: {}, self.dr_region: {}}
        # Replication waiting for a region to return: (store, source, target, write, lag).
        self._held: list[tuple[str, str, str, int, float]] = []
        # dr's records bucket: when its rule to the primary's was deployed (None: not yet), the
        # objects it holds with replication status NONE (written before that rule: live
        # replication never copies them), and the Batch Replication jobs started on it.
        self.reverse_rule_at: float | None = None
        # (dr's, the primary's), as the dr stack gives the failover Lambda their names.
        variables = topology.lambda_variables
        self.records_buckets = (
            variables.get(Environment.RECORDS_BUCKET, ""),
            variables.get(Environment.PRIMARY_RECORDS_BUCKET, ""),
        )
        self.unreplicated: set[int] = set()
        self.batch_jobs: dict[str, BatchJob] = {}
        # What happened in the world, for the report's timeline.
        self.notes: list[tuple[float, str]] = []

    # -- building -----------------------------------------------------------------------------

    def _cluster(self, region: Region) -> Cluster:
        groups = {}
        for group, name in region.node_groups.items():
            size = region.sizes[group]
            groups[name] = NodeGroup(
                group,
                name,
                size.min_size,
                size.desired_size,
                size.max_size,
                [Node(ready_at=-1.0) for _ in range(size.desired_size)],
            )
        gateway = Gateway(
            region.gateway_min,
            region.gateway_max,
            region.gateway_target_utilization,
            region.gateway_max_unavailable,
            region.gateway_min,
        )
        cluster = Cluster(region.name, region.cluster_name, groups, gateway)
        self._place_pods(cluster, -1.0, ready_at=-1.0)
        for every, tick in (
            (self.physics.hpa_sync_seconds, self._hpa),
            (self.physics.autoscaler_scan_seconds, self._autoscaler),
        ):
            self._every(every, every, lambda tick=tick, c=cluster: tick(c))
        return cluster

    def _health_check(self, region: Region) -> HealthCheck:
        check = region.health_check
        assert check is not None
        checkers = [Checker() for _ in range(self.physics.health_checkers)]
        health = HealthCheck(
            check.id, region.name, check.interval_seconds, check.failure_threshold, checkers
        )
        for i, checker in enumerate(checkers):
            offset = check.interval_seconds * (i + 0.5) / len(checkers)
            self._every(
                offset, check.interval_seconds, lambda c=checker, h=health: self._probe(h, c)
            )
        return health

    def _data_tier(self) -> None:
        primary, dr = self.topology.primary, self.topology.dr
        aurora = self.topology.engine == "aurora-postgresql"
        kind = "cluster" if aurora else "instance"
        lag = self.physics.aurora_lag_seconds if aurora else self.physics.rds_replica_lag_seconds
        writer = Database(primary.db_identifier, primary.name, kind, writer=True)
        replica = Database(
            dr.db_identifier, dr.name, kind, writer=False, source=writer, origin=writer, lag=lag
        )
        self.databases = {writer.identifier: writer, replica.identifier: replica}
        self.global_status = "available"
        self.backing_up_until = -1.0
        # PostgreSQL: each instance's parameter group (named after it) and its
        # `default_transaction_read_only`, which outlives the instance.
        self.read_only_groups: dict[str, bool] = {}
        # Aurora: the old writer a failover could not reach, demoted when its region returns.
        self.demote_on_recovery: Database | None = None

    # -- events -------------------------------------------------------------------------------

    def at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), action))

    def _every(self, first: float, period: float, action: Callable[[], None]) -> None:
        def repeat() -> None:
            action()
            self.at(self.t + period, repeat)

        self.at(first, repeat)

    def advance(self, t: float) -> None:
        """Apply every event due by `t`, in time order; replication runs up to each."""
        while self._events and self._events[0][0] <= t:
            when, _, action = heapq.heappop(self._events)
            self._replicate(when)
            self.t = max(self.t, when)
            action()
        self._replicate(t)
        self.t = max(self.t, t)

    def _replicate(self, t: float) -> None:
        for db in self.databases.values():
            if self.linked(db):
                db.catch_up(t - db.lag)
                db.linked_at = t

    def linked(self, db: Database) -> bool:
        """Whether a replica's link to its source works now (both regions reachable)."""
        return db.source is not None and self.up(db.region) and self.up(db.source.region)

    # -- reachability -------------------------------------------------------------------------

    def up(self, region: str) -> bool:
        return region not in self.down

    def api_reachable(self, service: str, region: str, caller: str | None = None) -> bool:
        """Whether `service`'s endpoint in `region` answers now, to a caller in `caller`."""
        if service == "route53-recovery-cluster" and caller in self.arc_cut_off:
            return False
        if service == "route53":
            return ("us-east-1", "route53") not in self.control_down
        return self.up(region) and (region, service) not in self.control_down

    def arc_reachable_from(self, region: str) -> bool:
        """Whether anything in `region` reaches one of ARC's cluster endpoints now."""
        assert self.routing is not None
        return self.up(region) and any(
            self.api_reachable("route53-recovery-cluster", endpoint_region, caller=region)
            for endpoint_region, _ in self.routing.endpoints
        )

    def endpoint_ok(self, region: str) -> bool:
        """Whether the region's /health answers 200 now: the gateway has a Ready pod, and its
        write gate, if any, can read its routing control (a blind gate answers 503)."""
        if not self.up(region) or self.clusters[region].gateway.ready_pods(self.t) == 0:
            return False
        if self.gate_blind(region):
            return False
        if region == self.primary_region and self.flap and self.flap[0] <= self.t < self.flap[1]:
            return self.rng.random() < self.flap[2]
        return True

    # -- Route 53 -----------------------------------------------------------------------------

    def _probe(self, check: HealthCheck, checker: Checker) -> None:
        ok = self.endpoint_ok(check.region)
        checker.last_ok = ok
        if ok == checker.healthy:
            checker.streak = 0
            return
        checker.streak += 1
        if checker.streak >= check.threshold:
            checker.healthy, checker.streak = ok, 0

    def set_inverted(self, check: HealthCheck, inverted: bool) -> None:
        check.configured_inverted = inverted
        check.version += 1

        def apply() -> None:
            check.inverted = check.configured_inverted

        self.at(self.t + self.physics.health_check_update_seconds, apply)

    def set_routing(self, states: dict[str, bool]) -> None:
        self.routing_state.update(states)
        self.notes.append(
            (
                self.t,
                "traffic: routing controls "
                + ", ".join(
                    f"{arn.rsplit('/', 1)[-1]}={'On' if on else 'Off'}"
                    for arn, on in states.items()
                ),
            )
        )

        def seen() -> None:
            self.routing_seen.update(states)

        self.at(self.t + self.physics.arc_propagation_seconds, seen)

    def dns_answer(self) -> str:
        """The failover record's answer: PRIMARY while its check is healthy; SECONDARY when
        only the secondary is; PRIMARY again when both are unhealthy. With routing controls,
        each record's check is its region's routing control (healthy while On)."""
        if self.routing is not None:
            primary_ok = self.routing_seen[self.routing.primary]
            secondary_ok = self.routing_seen[self.routing.dr]
        else:
            primary_check = self.topology.primary.health_check
            dr_check = self.topology.dr.health_check
            assert primary_check is not None and dr_check is not None
            primary_ok = self.checks[primary_check.id].healthy(self.physics)
            secondary_ok = self.checks[dr_check.id].healthy(self.physics)
        if primary_ok or not secondary_ok:
            return self.primary_region
        return self.dr_region

    # -- compute ------------------------------------------------------------------------------

    def scale(self, group: NodeGroup, region: str, min_size: int, desired: int, max_size: int):
        group.min_size, group.desired, group.max_size = min_size, desired, max_size
        group.updating_until = self.t + self.physics.nodegroup_update_seconds
        self._reconcile(group, region)

    def _reconcile(self, group: NodeGroup, region: str) -> None:
        cluster = self.clusters[region]
        removed = False
        while len(group.nodes) > group.desired:
            gone = max(group.nodes, key=lambda n: n.ready_at)
            group.nodes.remove(gone)
            cluster.gateway.pods = [(n, r) for n, r in cluster.gateway.pods if n is not gone]
            removed = True
        if removed:
            # The evicted pods are rescheduled on the nodes that remain.
            self._place_pods(cluster, self.t)
        missing = group.desired - len(group.nodes)
        if missing <= 0:
            group.launch_failing = False
            return
        if self.shortage.get(region, -1.0) > self.t:
            group.launch_failing = True
            self.at(
                self.t + self.physics.node_launch_retry_seconds,
                lambda: self._reconcile(group, region),
            )
            return
        group.launch_failing = False
        for _ in range(missing):
            jitter = self.rng.uniform(-1, 1) * self.physics.node_launch_jitter_seconds
            node = Node(ready_at=self.t + self.physics.node_launch_seconds + jitter)
            group.nodes.append(node)
            self.at(node.ready_at, lambda c=cluster: self._place_pods(c, self.t))

    def scale_gateway(self, region: str, replicas: int) -> None:
        """The Deployment's scale subresource: the replicas wanted now (the HPA may change
        them at its next sync, within its minimum and maximum)."""
        cluster = self.clusters[region]
        cluster.gateway.replicas = replicas
        self.notes.append((self.t, f"capacity: {region} gateway scaled to {replicas}"))
        self._place_pods(cluster, self.t)

    def _place_pods(self, cluster: Cluster, t: float, ready_at: float | None = None) -> None:
        gateway = cluster.gateway
        while len(gateway.pods) > gateway.replicas:
            gateway.pods.pop()
        for node in cluster.gateway_group.nodes:
            node.pods = sum(1 for n, _ in gateway.pods if n is node)
        for node in cluster.gateway_group.ready_nodes(t):
            while (
                len(gateway.pods) < gateway.replicas
                and node.pods < self.physics.gateway_pods_per_node
            ):
                start = t + self.physics.pod_ready_seconds if ready_at is None else ready_at
                gateway.pods.append((node, start))
                node.pods += 1

    def _hpa(self, cluster: Cluster) -> None:
        gateway, p = cluster.gateway, self.physics
        load = gateway.arrivals / p.hpa_sync_seconds
        gateway.arrivals = 0
        wanted = math.ceil(load / (p.pod_writes_per_second * gateway.target)) if load else 0
        wanted = max(gateway.hpa_min, min(gateway.hpa_max, wanted))
        gateway.recommendations.append((self.t, wanted))
        gateway.recommendations = [
            (t, r)
            for t, r in gateway.recommendations
            if t > self.t - p.hpa_scale_down_window_seconds
        ]
        if wanted > gateway.replicas:
            step = max(4, gateway.replicas)
            gateway.replicas = min(wanted, gateway.replicas + step)
        else:
            gateway.replicas = max(r for _, r in gateway.recommendations)
        self._place_pods(cluster, self.t)

    def _autoscaler(self, cluster: Cluster) -> None:
        """Cluster autoscaler on the gateway's node group: scale up for pending pods, down for
        nodes unneeded long enough, never outside the group's min and max."""
        group, p, t = cluster.gateway_group, self.physics, self.t
        pending = cluster.gateway.replicas - len(cluster.gateway.pods)
        launching = sum(1 for n in group.nodes if n.ready_at > t)
        if pending > launching * p.gateway_pods_per_node:
            needed = math.ceil(pending / p.gateway_pods_per_node) - launching
            desired = min(group.max_size, group.desired + needed)
            if desired > group.desired:
                group.desired, group.last_scale_up = desired, t
                self._reconcile(group, cluster.region)
            return
        for node in group.ready_nodes(t):
            # A group at its minimum has no scale-down candidates, so no node is unneeded.
            unneeded = (
                group.desired > group.min_size
                and node.pods / p.gateway_pods_per_node < p.autoscaler_utilization_threshold
            )
            node.unneeded_since = (node.unneeded_since or t) if unneeded else None
        if t - group.last_scale_up < p.autoscaler_delay_after_add_seconds:
            return
        ready = group.ready_nodes(t)
        for node in ready:
            since = node.unneeded_since
            unneeded_long = since is not None and t - since >= p.autoscaler_unneeded_seconds
            # A node goes only when its pods fit on the other Ready nodes (the autoscaler
            # simulates rescheduling them first) and evicting them keeps the gateway's
            # PodDisruptionBudget (cluster-autoscaler FAQ).
            room = sum(p.gateway_pods_per_node - n.pods for n in ready if n is not node)
            allowed = node.pods <= cluster.gateway.max_unavailable
            if group.desired > group.min_size and unneeded_long and room >= node.pods and allowed:
                group.nodes.remove(node)
                cluster.gateway.pods = [(n, r) for n, r in cluster.gateway.pods if n is not node]
                group.desired -= 1
                self._place_pods(cluster, t)
                return

    # -- databases ----------------------------------------------------------------------------

    def db(self, identifier: str) -> Database | None:
        return self.databases.get(identifier)

    def local_writer(self, region: str) -> Database:
        return next(d for d in self.databases.values() if d.region == region)

    def writable(self, db: Database) -> bool:
        return (
            db.writer
            and not db.fenced
            and not db.read_only
            and db.status == "available"
            and self.up(db.region)
        )

    def designate(self, db: Database) -> None:
        self.ledger.designate(self.t, db.identifier)

    def db_status(self, db: Database) -> str:
        if db.status == "available" and not db.writer and self.t < self.backing_up_until:
            return "backing-up"
        return db.status

    def replicas_of(self, db: Database) -> list[Database]:
        """The read replicas `db` has: the databases replicating it, or created from it and not
        yet promoted (a replica being promoted still counts until the promotion ends)."""
        return [
            d for d in self.databases.values() if d is not db and (d.source is db or d.origin is db)
        ]

    def set_parameter(self, group: str, read_only: bool) -> None:
        """ModifyDBParameterGroup (immediate) of `default_transaction_read_only`: every
        instance using the group applies it a moment later, without a reboot."""
        self.read_only_groups[group] = read_only
        for db in self.databases.values():
            if db.kind == "instance" and db.identifier == group:
                db.applying = True
                self.notes.append(
                    (self.t, f"database: {db.identifier} read-only={read_only} requested")
                )

                def applied(db: Database = db) -> None:
                    db.read_only = self.read_only_groups.get(db.identifier, False)
                    db.applying = False

                self.at(self.t + self.physics.rds_parameter_apply_seconds, applied)

    def replica_lag(self, db: Database) -> float | None:
        """How far behind its source a replica is now, in seconds, as RDS reports it. For an
        RDS PostgreSQL replica, `now() - pg_last_xact_replay_timestamp()`
        (USER_PostgreSQL.Replication.ReadReplicas.Monitor.html): it grows while the source
        is idle or fenced, even with everything applied. For an Aurora secondary, from the
        oldest write the writer committed that it has not applied (0 when it has all of
        them); while the link is broken that grows from the last instant it worked. None when
        not a replica."""
        source = db.source
        if source is None:
            return None
        if db.kind == "instance":
            return self.t - (db.log[-1][0] if db.log else db.created_at)
        current = self.t if self.linked(db) else db.linked_at
        if db.cursor < len(source.log):
            current = min(current, source.log[db.cursor][0])
        return max(0.0, self.t - current)

    def _publish_lag(self) -> None:
        """Every period, each replica whose instance runs reports its lag at the period's end
        (ReplicaLag; AuroraGlobalDB*Lag for an Aurora secondary). A promoted database has no
        source and reports nothing."""
        start = self.t - self.physics.rds_metric_period_seconds
        for db in self.databases.values():
            lag = self.replica_lag(db)
            if lag is None or not self.up(db.region):
                continue
            self.lag_series.setdefault((db.region, db.kind, db.identifier), []).append((start, lag))

    def promote(self, db: Database) -> None:
        """PromoteReadReplica: replication stops, the instance is modified and rebooted, then
        it is a standalone writer (and the designated one)."""
        p = self.physics
        db.source, db.status = None, "modifying"
        self.notes.append((self.t, f"database: promotion of {db.identifier} started"))

        def reboot() -> None:
            db.status = "rebooting"

        def done() -> None:
            db.status, db.writer, db.origin = "available", True, None
            self.designate(db)

        self.at(self.t + p.rds_promote_modifying_seconds, reboot)
        self.at(self.t + p.rds_promote_modifying_seconds + p.rds_promote_rebooting_seconds, done)

    def rebuild_primary_replica(self) -> str:
        """The failback runbook's first step: the old primary is replaced by a new replica of
        the dr writer, under the same identifier (what it alone held is gone)."""
        dr = self.databases[self.topology.dr.db_identifier]
        identifier = self.topology.primary.db_identifier
        if not self.up(self.primary_region):
            return f"{self.primary_region} is down: cannot create {identifier}"
        replica = Database(
            identifier,
            self.primary_region,
            "instance",
            writer=False,
            origin=dr,
            status="creating",
            read_only=self.read_only_groups.get(identifier, False),
            created_at=self.t,
        )
        self.databases[identifier] = replica

        def created() -> None:
            replica.status, replica.source, replica.lag = (
                "available",
                dr,
                self.physics.rds_replica_lag_seconds,
            )

        self.at(self.t + self.physics.rds_rebuild_replica_seconds, created)
        return f"{identifier} is being recreated as a replica of {dr.identifier}"

    def global_writer(self) -> Database:
        return next(d for d in self.databases.values() if d.writer)

    def failover_global(self, target: Database) -> None:
        """FailoverGlobalCluster with AllowDataLoss: the target stops replicating and takes
        the writer role; the old writer is demoted now if reachable, else when it returns."""
        old = self.global_writer()
        target.source = None
        self.global_status = "failing-over"
        self.notes.append(
            (self.t, f"database: failover of the global cluster to {target.identifier} started")
        )
        if self.up(old.region):
            old.fenced = True

        def done() -> None:
            target.writer, target.origin = True, None
            self.global_status = "available"
            self.designate(target)
            if self.up(old.region):
                self.demote(old, target)
            else:
                self.demote_on_recovery = old

        self.at(self.t + self.physics.aurora_failover_seconds, done)

    def demote(self, old: Database, writer: Database) -> None:
        """The old primary rejoins as a secondary on a new volume: what it had not
        replicated is gone."""
        old.writer, old.fenced, old.status = False, False, "rebuilding"
        old.log, old.ids, old.cursor, old.origin = [], set(), 0, writer

        def rebuilt() -> None:
            old.status, old.source, old.lag = "available", writer, self.physics.aurora_lag_seconds

        self.at(self.t + self.physics.aurora_rebuild_secondary_seconds, rebuilt)

    def switchover_global(self, target: Database) -> str | None:
        """SwitchoverGlobalCluster: the writer stops taking writes, the target catches up
        fully, and the roles swap (no data loss). None when accepted, else why not."""
        old = self.global_writer()
        if not (self.up(old.region) and self.up(target.region)):
            return "a switchover needs every member available"
        if target.status != "available" or target.source is not old:
            return f"{target.identifier} is not an available secondary replicating the writer"
        old.fenced = True
        self.global_status = "switching-over"
        self.notes.append(
            (self.t, f"database: switchover of the global cluster to {target.identifier} started")
        )

        def done() -> None:
            target.catch_up(math.inf)
            target.source, target.writer, target.origin = None, True, None
            old.writer, old.fenced, old.source, old.origin = False, False, target, target
            old.cursor = len(target.log)
            self.global_status = "available"
            self.designate(target)

        self.at(self.t + self.physics.aurora_switchover_seconds, done)
        return None

    # -- clients ------------------------------------------------------------------------------

    def start_writes(self, per_second: float) -> None:
        if per_second <= 0:
            return
        self._every(1 / per_second, 1 / per_second, self._write)

    def _route(self, client: Client) -> str | None:
        t, p = self.t, self.physics
        if (
            client.connected_to is not None
            and t - client.connected_at < p.connection_lifetime_seconds
            and self.up(client.connected_to)
        ):
            return client.connected_to
        client.connected_to = None
        if client.resolved is None or t >= client.resolved_until:
            client.resolved, client.resolved_until = self.dns_answer(), t + p.dns_ttl_seconds
        if not self.up(client.resolved):
            return None
        client.connected_to, client.connected_at = client.resolved, t
        return client.resolved

    def _write(self) -> None:
        write = self.ledger.next_id()
        client = self.clients[write % len(self.clients)]
        region = self._route(client)
        acknowledged_by = None
        if region is not None and self._admitted(region):
            db = self.local_writer(region)
            if self.writable(db):
                db.commit(self.t, write)
                acknowledged_by = db.identifier
                self._store(write, region)
        self.ledger.attempt(write, self.t, region, acknowledged_by)

    def _poll_gate(self, region: str) -> None:
        """The write gate's sidecar reads its routing control through the first of ARC's
        endpoints that answers; a read that no endpoint answers changes nothing, so the last
        good read ages until the gate closes."""
        gate = self.gates[region]
        if self.arc_reachable_from(region):
            self.gate_reads[region] = (self.routing_state[gate.control_arn], self.t)
        is_open = self.gate_open(region)
        if is_open != self.gate_was_open[region]:
            self.gate_was_open[region] = is_open
            self.notes.append((self.t, f"{region}: write gate {'open' if is_open else 'closed'}"))

    def gate_blind(self, region: str) -> bool:
        """Whether the region's gate has no fresh read of its control (On or Off)."""
        gate = self.gates.get(region)
        if gate is None:
            return False
        return self.t - self.gate_reads[region][1] >= gate.fresh_seconds

    def gate_open(self, region: str) -> bool:
        """Whether the region's gateway passes orders: always without a gate; with one, while
        its last read said On and is younger than the gate's freshness bound (fail-closed)."""
        if region not in self.gates:
            return True
        return not self.gate_blind(region) and self.gate_reads[region][0]

    def _admitted(self, region: str) -> bool:
        """The gateway takes a write while its gate is open, it has a Ready pod and capacity to
        spare."""
        if not self.gate_open(region):
            return False
        gateway = self.clusters[region].gateway
        # What the pods' CPU sees: a refused order costs the gateway nothing.
        gateway.arrivals += 1
        ready = gateway.ready_pods(self.t)
        rate = ready * self.physics.pod_writes_per_second
        gateway.tokens = min(rate, gateway.tokens + (self.t - gateway.tokens_at) * rate)
        gateway.tokens_at = self.t
        if ready == 0 or gateway.tokens < 1:
            return False
        gateway.tokens -= 1
        return True

    # -- orders table and records bucket ---------------------------------------------------------

    def _store(self, write: int, region: str) -> None:
        p = self.physics
        self.table[region][write] = self.t
        self.bucket[region][write] = self.t
        other = self.dr_region if region == self.primary_region else self.primary_region
        self._ship("table", region, other, write, p.dynamodb_lag_seconds)
        # One direction at a time: reversing the direction replaces the primary's rule with
        # dr's (components/records_replication.py).
        if (region == self.dr_region) != (self.reverse_rule_at is not None):
            if region == self.dr_region:
                self.unreplicated.add(write)
        else:
            slow = self.rng.random() < p.s3_rtc_slow_fraction
            lag = (
                p.s3_rtc_bound_seconds
                if slow
                else self.rng.uniform(1, 2 * p.s3_rtc_typical_seconds)
            )
            self._ship("bucket", region, other, write, lag)

    def _ship(self, store: str, source: str, target: str, write: int, lag: float) -> None:
        def arrive() -> None:
            if self.up(source) and self.up(target):
                getattr(self, store)[target].setdefault(write, self.t)
            else:
                self._held.append((store, source, target, write, lag))

        self.at(self.t + lag, arrive)

    # -- S3 Batch Replication of dr's records ----------------------------------------------------

    def deploy_reverse_rule(self) -> None:
        """dr redeployed with its records bucket replicating to the primary's: live replication
        from now on; what dr wrote before keeps replication status NONE."""
        if self.reverse_rule_at is None:
            self.reverse_rule_at = self.t
            self.notes.append((self.t, "records: dr's replication rule to the primary deployed"))

    def start_batch_job(self, token: str, description: str) -> BatchJob:
        """CreateJob: the same idempotency token gets the same job. The manifest is generated
        when the job starts replicating: the NONE objects of that moment."""
        for existing in self.batch_jobs.values():
            if existing.token == token:
                return existing
        job = BatchJob(f"simulated-job-{len(self.batch_jobs) + 1}", token, description, "New")
        self.batch_jobs[job.id] = job
        p = self.physics

        def active() -> None:
            job.status, job.manifest = "Active", sorted(self.unreplicated)
            self.at(self.t + len(job.manifest) / p.s3_batch_objects_per_second, complete)

        def complete() -> None:
            reached = self.up(self.primary_region) and self.up(self.dr_region)
            for write in job.manifest:
                if reached:
                    self.bucket[self.primary_region].setdefault(write, self.t)
                    self.unreplicated.discard(write)
                    job.succeeded += 1
                else:
                    job.failed += 1
            job.status = "Complete"
            self.notes.append(
                (self.t, f"records: Batch Replication {job.id} replicated {job.succeeded} objects")
            )

        self.at(self.t + p.s3_batch_job_start_seconds, active)
        return job

    def recover(self, region: str) -> None:
        """A region is back: replication held for it resumes; an Aurora writer demoted in its
        absence becomes a secondary. When the primary returns, the operator's redeploy of dr
        with its rule to the primary follows (physics: s3_reverse_rule_after_recovery_seconds)."""
        self.down.discard(region)
        if region == self.primary_region:
            self.at(
                self.t + self.physics.s3_reverse_rule_after_recovery_seconds,
                self.deploy_reverse_rule,
            )
        old = self.demote_on_recovery
        if old is not None and old.region == region:
            self.demote_on_recovery = None
            self.demote(old, next(d for d in self.databases.values() if d.writer and d is not old))
        held, self._held = self._held, []
        for store, source, target, write, lag in held:
            self._ship(store, source, target, write, lag)
