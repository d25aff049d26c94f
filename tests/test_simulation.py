"""The failover simulation: its clock, each rule of its physics on its own, the scenario
parser's errors, the metrics on timelines whose answer is known, determinism, and short
scenarios end to end with the real handler code on the stacks the program renders."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from drill.simulation import catalogue, topology
from drill.simulation.aws import Bridge
from drill.simulation.clock import DeadlockError, Died, Invocation, SimClock
from drill.simulation.ledger import Ledger, measure
from drill.simulation.physics import SOURCES, Physics
from drill.simulation.run import Simulation
from drill.simulation.scenario import Scenario, ScenarioError, load, parse
from drill.simulation.world import World
from handlers import steps
from handlers.contract import RoutingControls
from handlers.failover import LEASE_SECONDS
from handlers.steps import LAG_FAILING_SECONDS
from testing.harness import ROOT

REGIONS = ("us-east-1", "us-west-2")


@pytest.fixture(scope="module")
def rds() -> topology.Topology:
    return topology.render("rds")


@pytest.fixture(scope="module")
def aurora() -> topology.Topology:
    return topology.render("aurora")


@pytest.fixture(scope="module")
def inverting() -> topology.Topology:
    """The rds tier with traffic pinned by inverting the primary's health check."""
    return topology.render("rds", traffic_control="health-check-inversion")


def check_id(region: topology.Region) -> str:
    assert region.health_check is not None, f"{region.name} has no HTTPS health check"
    return region.health_check.id


def world(topo: topology.Topology, **physics: Any) -> World:
    return World(topo, Physics().replace(physics), random.Random(7))


def arc_client(w: World, clock: SimClock, controls: RoutingControls) -> tuple[str, Any]:
    """A real boto3 client for the first of ARC's cluster endpoints, answered by the world."""
    region, url = controls.endpoints[0]
    session = boto3.Session(botocore_session=Bridge(w, clock, random.Random(1)).session())
    client = session.client(
        "route53-recovery-cluster",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return region, client


# -- the clock -----------------------------------------------------------------------------


def test_sleeping_costs_simulated_time_not_wall_time() -> None:
    clock = SimClock()
    began = time.perf_counter()
    clock.sleep(3600)
    assert clock.t == 3600
    assert (clock.now() - clock.epoch).total_seconds() == 3600
    assert time.perf_counter() - began < 1


def test_parallel_tasks_interleave_by_wake_time() -> None:
    clock, order = SimClock(), []

    def task(name: str, delays: list[float]) -> None:
        for delay in delays:
            clock.sleep(delay)
            order.append((clock.t, name))

    clock.run_parallel([lambda: task("a", [10, 10]), lambda: task("b", [15, 1])])
    assert order == [(10, "a"), (15, "b"), (16, "b"), (20, "a")]
    assert clock.t == 20


def test_an_invocation_dies_at_its_deadline_and_makes_no_further_call() -> None:
    clock, calls = SimClock(), []
    invocation = Invocation("lambda", deadline=900)

    def handler() -> None:
        clock.sleep(600)
        calls.append(clock.t)
        clock.sleep(600)  # past the deadline: raises instead of returning
        calls.append(clock.t)

    task = clock.spawn(handler, "lambda", invocation=invocation)
    clock.sleep(2000)
    assert calls == [600]
    assert isinstance(task.error, Died)
    assert "timed out at 900.0" in str(task.error)


def test_a_killed_invocation_wakes_and_dies_at_once() -> None:
    clock = SimClock()
    invocation = Invocation("lambda", deadline=900)
    task = clock.spawn(lambda: clock.sleep(800), "lambda", invocation=invocation)
    clock.sleep(100)
    clock.kill(invocation)
    clock.join(task)
    assert clock.t == 100
    assert isinstance(task.error, Died)


def test_waiting_on_a_task_that_never_ends_is_a_deadlock_not_a_hang() -> None:
    clock = SimClock()
    first = clock.spawn(lambda: clock.join(second), "first")
    second = clock.spawn(lambda: clock.join(first), "second")
    clock.join(first)
    assert isinstance(second.error, DeadlockError)


# -- physics, rule by rule -----------------------------------------------------------------


def test_every_physics_number_names_its_source() -> None:
    fields = {f.name for f in dataclasses.fields(Physics)}
    assert fields == set(SOURCES)
    for name, (page, note) in SOURCES.items():
        assert note, name
        assert page.startswith(("https://", "handlers/")) or "assumption" in note, name


def test_a_check_is_healthy_while_more_than_18_percent_of_checkers_say_so(
    inverting: topology.Topology,
) -> None:
    w = world(inverting)
    check = w.checks[check_id(inverting.primary)]
    assert len(check.checkers) == 16
    for i, checker in enumerate(check.checkers):
        checker.healthy = i < 3  # 3 of 16 = 18.75%
    assert check.healthy(w.physics)
    check.checkers[2].healthy = False  # 2 of 16 = 12.5%
    assert not check.healthy(w.physics)
    check.inverted = True
    assert check.healthy(w.physics)


def test_checkers_turn_unhealthy_after_the_failure_threshold_and_dns_follows(
    inverting: topology.Topology,
) -> None:
    w = world(inverting)
    check = inverting.primary.health_check
    assert check is not None
    interval, threshold = check.interval_seconds, check.failure_threshold
    w.advance(30)
    w.down.add(inverting.primary.name)
    w.advance(30 + interval * (threshold - 1))
    assert w.dns_answer() == inverting.primary.name
    w.advance(30 + interval * threshold + 1)
    assert w.dns_answer() == inverting.dr.name


def test_when_both_checks_fail_route53_answers_the_primary(inverting: topology.Topology) -> None:
    w = world(inverting)
    w.down.update(REGIONS)
    w.advance(120)
    assert w.dns_answer() == inverting.primary.name


def test_clients_keep_their_answer_for_the_ttl_and_their_connection_while_it_lives(
    inverting: topology.Topology,
) -> None:
    w = world(inverting, connection_lifetime_seconds=300)
    client = w.clients[0]
    client.connected_to = None
    client.resolved, client.resolved_until = inverting.primary.name, 60
    for checker in w.checks[check_id(inverting.primary)].checkers:
        checker.healthy = False
    w.t = 59
    assert w._route(client) == inverting.primary.name  # cached answer, despite DNS now saying dr
    w.t = 61
    assert w._route(client) == inverting.primary.name  # the connection it opened at 59 stays
    w.t = 59 + 300
    assert w._route(client) == inverting.dr.name


def test_a_node_group_scale_up_is_accepted_at_once_and_nodes_are_ready_minutes_later(
    rds: topology.Topology,
) -> None:
    w = world(rds, node_launch_jitter_seconds=0)
    cluster = w.clusters[rds.dr.name]
    group = cluster.gateway_group
    w.scale(group, rds.dr.name, 3, 6, 12)
    assert (group.desired, group.status(w.t)) == (6, "UPDATING")
    w.advance(w.physics.nodegroup_update_seconds)
    assert group.status(w.t) == "ACTIVE"
    assert len(group.ready_nodes(w.t)) == 1  # ACTIVE long before the new nodes are Ready
    w.advance(w.physics.node_launch_seconds + 1)
    assert len(group.ready_nodes(w.t)) == 6


def test_short_capacity_leaves_the_group_degraded_until_launches_succeed(
    rds: topology.Topology,
) -> None:
    w = world(rds, node_launch_jitter_seconds=0, autoscaler_unneeded_seconds=86400)
    group = w.clusters[rds.dr.name].gateway_group
    w.shortage[rds.dr.name] = 300
    w.scale(group, rds.dr.name, 3, 6, 12)
    w.advance(60)
    assert group.status(w.t) == "DEGRADED"
    w.advance(300 + w.physics.node_launch_retry_seconds)
    assert group.status(w.t) == "ACTIVE"
    w.advance(700)
    assert len(group.ready_nodes(w.t)) == 6


def test_the_autoscaler_shrinks_unneeded_nodes_to_the_minimum_never_below(
    rds: topology.Topology,
) -> None:
    w = world(rds, node_launch_jitter_seconds=0)
    group = w.clusters[rds.dr.name].gateway_group
    w.scale(group, rds.dr.name, 3, 6, 12)
    w.advance(3600)
    assert (group.desired, len(group.nodes)) == (3, 3)


def test_promotion_passes_through_modifying_and_rebooting(rds: topology.Topology) -> None:
    w = world(rds)
    replica = w.databases[rds.dr.db_identifier]
    w.promote(replica)
    p = w.physics
    assert (replica.status, w.writable(replica)) == ("modifying", False)
    w.advance(p.rds_promote_modifying_seconds + 1)
    assert replica.status == "rebooting"
    w.advance(p.rds_promote_modifying_seconds + p.rds_promote_rebooting_seconds + 1)
    assert (replica.status, w.writable(replica)) == ("available", True)
    assert w.ledger.designated_at(w.t) == rds.dr.db_identifier


def test_a_backing_up_replica_refuses_promotion_through_the_api(rds: topology.Topology) -> None:
    clock, w = SimClock(), world(rds)
    w.backing_up_until = 600
    bridge = Bridge(w, clock, random.Random(1))
    rds_client = boto3.Session(botocore_session=bridge.session()).client(
        "rds", region_name=rds.dr.name, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with pytest.raises(ClientError) as refused:
        rds_client.promote_read_replica(DBInstanceIdentifier=rds.dr.db_identifier)
    assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    assert "backing-up" in str(refused.value)
    described = rds_client.describe_db_instances(DBInstanceIdentifier=rds.dr.db_identifier)
    assert described["DBInstances"][0]["DBInstanceStatus"] == "backing-up"


def test_writes_inside_the_replica_lag_are_lost_with_the_primary(rds: topology.Topology) -> None:
    w = world(rds, rds_replica_lag_seconds=5)
    primary = w.databases[rds.primary.db_identifier]
    replica = w.databases[rds.dr.db_identifier]
    for i, t in enumerate((100.0, 114.0, 116.0, 119.0)):
        w.advance(t)
        primary.commit(t, i)
    w.advance(120)
    w.down.add(rds.primary.name)
    w.advance(600)
    assert replica.ids == {0, 1}  # 116 and 119 were inside the 5 s lag at the outage


def test_aurora_demotes_the_old_writer_when_its_region_returns(
    aurora: topology.Topology,
) -> None:
    w = world(aurora)
    old = w.databases[aurora.primary.db_identifier]
    target = w.databases[aurora.dr.db_identifier]
    old.commit(100, 1)
    w.advance(100.5)
    w.down.add(aurora.primary.name)
    w.failover_global(target)
    w.advance(100.5 + w.physics.aurora_failover_seconds + 1)
    assert target.writer and w.writable(target)
    assert old.writer  # unreachable: nobody could demote it yet
    w.recover(aurora.primary.name)
    assert not old.writer and not w.writable(old)
    assert 1 not in old.ids  # rebuilt on a new volume: what it alone held is gone


def test_an_aurora_switchover_loses_nothing_and_fences_the_writer_meanwhile(
    aurora: topology.Topology,
) -> None:
    w = world(aurora)
    old = w.databases[aurora.primary.db_identifier]
    target = w.databases[aurora.dr.db_identifier]
    old.commit(10, 1)
    w.advance(10.1)
    assert w.switchover_global(target) is None
    assert not w.writable(old)
    w.advance(10.1 + w.physics.aurora_switchover_seconds + 1)
    assert target.writer and 1 in target.ids
    assert not old.writer and old.source is target


def test_dynamodb_replicates_in_a_second_and_s3_waits_for_a_downed_region(
    rds: topology.Topology,
) -> None:
    w = world(rds, s3_rtc_slow_fraction=0)
    w.t = 10
    w._store(1, rds.primary.name)
    w.down.add(rds.dr.name)
    w.advance(60)
    assert 1 not in w.table[rds.dr.name] and 1 not in w.bucket[rds.dr.name]
    w.recover(rds.dr.name)
    w.advance(120)
    assert 1 in w.table[rds.dr.name] and 1 in w.bucket[rds.dr.name]


# -- the scenario parser -------------------------------------------------------------------


def test_every_problem_in_a_scenario_is_reported_at_once_naming_the_field() -> None:
    with pytest.raises(ScenarioError) as bad:
        parse(
            {
                "name": "x",
                "database": "mysql",
                "mode": "automatic",
                "duration": 600,
                "colour": "blue",
                "physics": {"dns_ttl_seconds": -1, "warp": 9},
                "faults": [
                    {"at": 10, "kind": "meteor"},
                    {"at": 10, "kind": "region-outage", "region": "eu-west-1"},
                    {"at": 50, "kind": "probe-flap", "until": 20},
                    {"at": 900, "kind": "handler-killed"},
                    {
                        "at": 5,
                        "kind": "control-plane-outage",
                        "region": "us-west-2",
                        "services": ["route53"],
                    },
                    {"at": 5, "kind": "capacity-shortage", "region": "us-west-2"},
                ],
                "actions": [
                    {"at": 1, "invoke": "explode"},
                    {"at": 2},
                    {"at": 3, "invoke": "failback", "force": True},
                    {"at": 4, "operator": "rebuild-primary", "planned": True},
                ],
                "operator_delay": 60,
                "seed": float("nan"),
            },
            REGIONS,
        )
    message = str(bad.value)
    for expected in (
        "database: 'mysql' is not allowed; one of rds, aurora",
        "unknown field 'colour'",
        "physics.dns_ttl_seconds: -1 is not allowed; expected >= 0",
        "physics: unknown field 'warp'",
        "faults[0].kind: 'meteor' is not allowed; one of region-outage",
        "faults[1].region: 'eu-west-1' is not allowed; one of us-east-1, us-west-2",
        "faults[2].until: 20 is not allowed; expected later than at (50)",
        "faults[3].at: 900 is not allowed; expected 0 to 600",
        "faults[4].region: 'us-west-2' is not allowed; Route 53's control plane is in "
        "us-east-1 only",
        "faults[5]: capacity-shortage needs until",
        "actions[0].invoke: 'explode' is not allowed; one of failover, failback",
        "actions[1]: give exactly one of invoke",
        "actions[2]: the handler would refuse it: direct: force needs a reason",
        "actions[3]: planned applies to invoke actions only",
        "operator_delay: 60 is not allowed; used in manual mode only",
        "seed: nan is not allowed; expected a whole number",
    ):
        assert expected in message, (expected, message)


@pytest.mark.parametrize(
    ("physics", "expected"),
    [
        (
            {"hpa_sync_seconds": 0},
            "physics.hpa_sync_seconds: 0 is not allowed; expected more than 0",
        ),
        ({"healthy_fraction": 5}, "physics.healthy_fraction: 5 is not allowed; expected 0 to 1"),
        ({"dns_ttl_seconds": float("inf")}, "expected a finite number"),
    ],
)
def test_physics_that_would_stop_time_or_mean_nothing_is_refused(
    physics: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ScenarioError, match=expected):
        parse(
            {"name": "x", "database": "rds", "mode": "manual", "duration": 60, "physics": physics},
            REGIONS,
        )


def test_aurora_scenarios_refuse_what_only_the_postgresql_replica_has() -> None:
    with pytest.raises(ScenarioError) as bad:
        parse(
            {
                "name": "x",
                "database": "aurora",
                "mode": "manual",
                "duration": 600,
                "faults": [{"at": 0, "kind": "replica-backing-up", "until": 60}],
                "actions": [{"at": 10, "operator": "rebuild-primary"}],
            },
            REGIONS,
        )
    assert "faults[0].kind: 'replica-backing-up' is not allowed; for database: rds only" in str(
        bad.value
    )
    assert "actions[0].operator: 'rebuild-primary' is not allowed; for database: rds only" in str(
        bad.value
    )


def test_every_shipped_scenario_parses_and_names_its_file() -> None:
    paths = catalogue.shipped()
    assert len(paths) >= 20
    for path in paths:
        scenario = load(path, REGIONS)
        assert scenario.name == path.stem
        assert path.stem.endswith(f"-{scenario.database}")


def test_the_cli_refuses_a_bad_scenario_before_running_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndatabase: rds\nmode: sometimes\nduration: 60\n")
    done = subprocess.run(
        [sys.executable, "-m", "drill", "simulate", str(bad), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "mode: 'sometimes' is not allowed; one of automatic, manual" in done.stderr
    assert not (tmp_path / "out").exists()


# -- metrics on hand-made timelines --------------------------------------------------------


def test_a_write_acknowledged_by_the_old_primary_after_promotion_is_split_brain_once() -> None:
    ledger = Ledger()
    ledger.designate(0, "primary")
    ledger.designate(100, "dr")
    for t, by in ((50, "primary"), (150, "primary"), (160, "dr")):
        ledger.attempt(ledger.next_id(), t, "r", by)
    figures = measure(ledger, final_writer={0, 2}, disrupted_at=90, dr_writer="dr")
    assert figures["split_brain_writes"] == 1
    assert figures["lost_writes"] == 1  # the split-brain write never reached dr
    assert figures["rto_seconds"] == 70
    assert figures["rpo_seconds"] == 0  # the only lost write came after the disruption


def test_a_write_replicated_before_the_fault_is_not_lost() -> None:
    ledger = Ledger()
    ledger.designate(0, "primary")
    for t in (10, 20, 30):
        ledger.attempt(ledger.next_id(), t, "r", "primary")
    ledger.attempt(ledger.next_id(), 40, None, None)  # refused: not acknowledged, not lost
    figures = measure(ledger, final_writer={0, 1}, disrupted_at=32, dr_writer="dr")
    assert (figures["acknowledged_writes"], figures["lost_writes"]) == (3, 1)
    assert figures["rpo_seconds"] == 2  # the oldest lost write (30) to the fault (32)
    assert figures["rto_seconds"] is None  # dr never acknowledged a write


# -- scenarios end to end ------------------------------------------------------------------


def outage(database: str, **fields: Any) -> Scenario:
    return parse(
        {
            "name": f"outage-{database}",
            "database": database,
            "mode": "automatic",
            "duration": 900,
            "faults": [{"at": 120, "kind": "region-outage", "region": "us-east-1"}],
            **fields,
        },
        REGIONS,
    )


def test_an_rds_outage_loses_exactly_the_writes_inside_the_replica_lag(
    rds: topology.Topology,
) -> None:
    result = Simulation(outage("rds"), rds).run().as_dict()
    lag, rate = Physics().rds_replica_lag_seconds, 20
    assert result["lost_writes"] == lag * rate
    assert result["rpo_seconds"] == lag
    assert result["split_brain_writes"] == 0
    assert result["final_state"]["state"] == "active-in-dr"
    # Detection: the replica's lag must pass the threshold and reach CloudWatch, then three
    # probes a minute apart agree; then the promotion (modifying + rebooting).
    p = Physics()
    promotion = p.rds_promote_modifying_seconds + p.rds_promote_rebooting_seconds
    detection = (
        LAG_FAILING_SECONDS
        + p.rds_metric_period_seconds
        + p.metric_publication_delay_seconds
        + 3 * 60
    )
    assert promotion < result["rto_seconds"] < promotion + detection + 60
    assert result["phases"]["database"]["seconds"] == promotion


def test_the_same_scenario_and_seed_give_the_same_report(aurora: topology.Topology) -> None:
    first, second = (Simulation(outage("aurora"), aurora).run().as_dict() for _ in range(2))
    assert first == second
    assert first["final_state"]["run_id"].startswith("probe-invocation-")


def test_a_killed_run_that_nobody_resumes_is_a_stuck_lock(rds: topology.Topology) -> None:
    scenario = parse(
        {
            "name": "killed",
            "database": "rds",
            "mode": "manual",
            "duration": 900,
            "faults": [{"at": 130, "kind": "handler-killed"}],
            "actions": [{"at": 100, "invoke": "failover", "reason": "test"}],
        },
        REGIONS,
    )
    result = Simulation(scenario, rds).run()
    assert result.final_state["state"] == "failing-over"
    assert result.lock_stuck
    (killed,) = [r for r in result.runs if r.outcome == "died"]
    assert killed.ended == 130 and killed.action == "failover"


def test_a_killed_automatic_failover_is_taken_over_when_its_lease_expires(
    aurora: topology.Topology,
) -> None:
    first = Simulation(outage("aurora"), aurora).run()
    (started,) = [r.started for r in first.runs if r.action == "failover"]
    killed_at = started + 20
    scenario = outage(
        "aurora",
        faults=[
            {"at": 120, "kind": "region-outage", "region": "us-east-1"},
            {"at": killed_at, "kind": "handler-killed"},
        ],
    )
    result = Simulation(scenario, aurora).run()
    (killed,) = [r for r in result.runs if r.outcome == "died"]
    resumed = [r for r in result.runs if r.action == "failover" and r.outcome == "SUCCEEDED"]
    assert killed.ended == killed_at
    assert resumed and resumed[0].started >= killed_at + LEASE_SECONDS - 60
    assert result.final_state["state"] == "active-in-dr"
    assert not result.lock_stuck


def test_the_cli_writes_json_markdown_and_png(tmp_path: Path) -> None:
    short = tmp_path / "short-rds.yaml"
    short.write_text(
        "name: short-rds\ndatabase: rds\nmode: manual\noperator_delay: 60\nduration: 600\n"
        "faults:\n  - {at: 60, kind: region-outage, region: us-east-1}\n"
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "drill",
            "simulate",
            str(short),
            "--out",
            str(out),
            "--json",
            str(tmp_path / "figures.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["modeled"] is True
    assert figures["scenario"] == "short-rds"
    assert set(figures["phases"]) == {
        "detection",
        "decision",
        "traffic",
        "capacity",
        "database",
        "verification",
    }
    assert (out / "short-rds.png").stat().st_size > 0
    assert "Simulated failover (modeled): short-rds" in (out / "short-rds.md").read_text()


# -- fencing and the replica's view --------------------------------------------------------


def aws(w: World, clock: SimClock) -> Any:
    """boto3 clients, by service and region, answered by the world through the bridge."""
    session = boto3.Session(botocore_session=Bridge(w, clock, random.Random(1)).session())

    def client(service: str, region: str) -> Any:
        return session.client(
            service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
        )

    return client


def lag_metric(
    cloudwatch: Any, clock: SimClock, name: str, dimension: str, value: str
) -> dict[str, Any]:
    """What the failover handler asks: the last five minutes, 60-s Maximum."""
    now = clock.now()
    return cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "lag",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/RDS",
                        "MetricName": name,
                        "Dimensions": [{"Name": dimension, "Value": value}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now,
    )["MetricDataResults"][0]


def promote_dr(w: World, clock: SimClock, rds: topology.Topology) -> None:
    """dr's replica promoted, and the clock past the promotion's end."""
    w.promote(w.databases[rds.dr.db_identifier])
    p = w.physics
    clock.sleep(p.rds_promote_modifying_seconds + p.rds_promote_rebooting_seconds + 1)


def refusal(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call(**params)
    error = refused.value.response["Error"]
    return error["Code"], error["Message"]


def read_only(rds_client: Any, identifier: str, on: bool) -> None:
    rds_client.modify_db_parameter_group(
        DBParameterGroupName=identifier,
        Parameters=[
            {
                "ParameterName": "default_transaction_read_only",
                "ParameterValue": "1" if on else "0",
                "ApplyMethod": "immediate",
            }
        ],
    )


def test_a_read_only_parameter_fences_the_writer_and_its_replica_goes_on_replicating(
    rds: topology.Topology,
) -> None:
    clock, w = SimClock(), world(rds)
    w.start_writes(20)
    client = aws(w, clock)
    east = client("rds", rds.primary.name)
    identifier = rds.primary.db_identifier
    primary, replica = w.databases[identifier], w.databases[rds.dr.db_identifier]
    p = w.physics

    def groups() -> list[dict[str, Any]]:
        return east.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0][
            "DBParameterGroups"
        ]

    clock.sleep(60)
    assert groups() == [{"DBParameterGroupName": identifier, "ParameterApplyStatus": "in-sync"}]
    read_only(east, identifier, True)
    requested = clock.t
    assert groups()[0]["ParameterApplyStatus"] == "applying" and w.writable(primary)
    clock.sleep(p.rds_parameter_apply_seconds + 1)
    assert groups()[0]["ParameterApplyStatus"] == "in-sync" and not w.writable(primary)
    fenced = requested + p.rds_parameter_apply_seconds
    clock.sleep(120)
    w.advance(clock.t)
    acknowledged = [(t, by) for t, _, by in w.ledger.attempts if by]
    assert acknowledged and all(t < fenced + 0.1 for t, _ in acknowledged)
    # Clients still reach us-east-1 and are refused: nothing acknowledged, nothing lost.
    assert any(region and not by for t, region, by in w.ledger.attempts if t > fenced)
    assert replica.ids == primary.ids
    infos = client("rds", rds.dr.name).describe_db_instances(
        DBInstanceIdentifier=rds.dr.db_identifier
    )["DBInstances"][0]["StatusInfos"]
    assert infos == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    user = east.describe_db_parameters(DBParameterGroupName=identifier, Source="user")
    assert {"ParameterName": "default_transaction_read_only", "ParameterValue": "1"}.items() <= (
        user["Parameters"][-1].items()
    )


def test_the_read_only_setting_outlives_the_instance_and_bad_changes_are_refused(
    rds: topology.Topology,
) -> None:
    clock, w = SimClock(), world(rds)
    client = aws(w, clock)
    east = client("rds", rds.primary.name)
    identifier = rds.primary.db_identifier
    promote_dr(w, clock, rds)
    read_only(east, identifier, True)
    clock.sleep(w.physics.rds_parameter_apply_seconds + 1)
    # The failback runbook's new replica uses the same group: it starts read-only.
    w.rebuild_primary_replica()
    clock.sleep(w.physics.rds_rebuild_replica_seconds + 1)
    w.advance(clock.t)
    rebuilt = w.databases[identifier]
    assert rebuilt.read_only and rebuilt.source is w.databases[rds.dr.db_identifier]
    with pytest.raises(ClientError) as refused:
        east.modify_db_parameter_group(
            DBParameterGroupName=identifier,
            Parameters=[
                {
                    "ParameterName": "default_transaction_read_only",
                    "ParameterValue": "yes",
                    "ApplyMethod": "immediate",
                }
            ],
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    code, _ = refusal(east.describe_db_parameters, DBParameterGroupName=rds.dr.db_identifier)
    assert code == "DBParameterGroupNotFound"  # dr's group lives in dr's region


def test_replica_lag_in_cloudwatch_is_the_lag_then_grows_then_stops_at_promotion(
    rds: topology.Topology,
) -> None:
    clock, w = SimClock(), world(rds)
    w.start_writes(20)
    client = aws(w, clock)
    cloudwatch = client("cloudwatch", rds.dr.name)
    p, dr = w.physics, rds.dr.db_identifier

    def replica_lag() -> dict[str, Any]:
        return lag_metric(cloudwatch, clock, "ReplicaLag", "DBInstanceIdentifier", dr)

    clock.sleep(600)
    steady = replica_lag()
    # One datapoint a period, published a delay after the period ends, newest first.
    newest = 600 - p.rds_metric_period_seconds - p.metric_publication_delay_seconds
    assert steady["Timestamps"] == [
        clock.epoch + timedelta(seconds=newest - 60 * i) for i in range(3)
    ]
    assert steady["Values"] == pytest.approx([p.rds_replica_lag_seconds] * 3, abs=0.1)
    assert steady["StatusCode"] == "Complete"
    # Published in the replica's region only, for that metric and dimension only.
    east = client("cloudwatch", rds.primary.name)
    assert lag_metric(east, clock, "ReplicaLag", "DBInstanceIdentifier", dr)["Values"] == []
    other = lag_metric(cloudwatch, clock, "CPUUtilization", "DBInstanceIdentifier", dr)
    assert other["Values"] == [] and other["Timestamps"] == []

    w.down.add(rds.primary.name)
    down_at = clock.t
    clock.sleep(600)
    growing = replica_lag()["Values"]
    assert len(growing) == 3
    assert growing == sorted(growing, reverse=True)
    assert [growing[0] - growing[1], growing[1] - growing[2]] == pytest.approx([60, 60])
    period_end = clock.t - p.metric_publication_delay_seconds
    assert growing[0] == pytest.approx(period_end - down_at + p.rds_replica_lag_seconds, abs=60)

    w.promote(w.databases[dr])
    clock.sleep(600)
    after = replica_lag()
    assert after["Values"] == [] and after["Timestamps"] == []


def test_postgresql_replica_lag_grows_on_an_idle_source_with_everything_applied(
    rds: topology.Topology,
) -> None:
    """RDS computes it as now() - pg_last_xact_replay_timestamp(): a fenced source never
    shows 0, which is why failover compares replay times instead."""
    clock, w = SimClock(), world(rds)
    w.start_writes(20)
    client = aws(w, clock)
    cloudwatch = client("cloudwatch", rds.dr.name)
    clock.sleep(300)
    read_only(client("rds", rds.primary.name), rds.primary.db_identifier, True)
    clock.sleep(600)
    values = lag_metric(
        cloudwatch, clock, "ReplicaLag", "DBInstanceIdentifier", rds.dr.db_identifier
    )["Values"]
    assert values == sorted(values, reverse=True) and values[-1] > 60
    replica = w.databases[rds.dr.db_identifier]
    assert replica.ids == w.databases[rds.primary.db_identifier].ids


def test_aurora_secondary_lag_in_milliseconds_grows_with_the_outage_and_stops_at_failover(
    aurora: topology.Topology,
) -> None:
    clock, w = SimClock(), world(aurora)
    w.start_writes(20)
    client = aws(w, clock)
    cloudwatch = client("cloudwatch", aurora.dr.name)
    p, dr = w.physics, aurora.dr.db_identifier

    def lag(name: str = "AuroraGlobalDBReplicationLag") -> list[float]:
        return lag_metric(cloudwatch, clock, name, "DBClusterIdentifier", dr)["Values"]

    clock.sleep(600)
    assert lag() == pytest.approx([p.aurora_lag_seconds * 1000] * 3, abs=100)
    assert lag("AuroraGlobalDBRPOLag") == lag()
    assert lag_metric(cloudwatch, clock, "ReplicaLag", "DBInstanceIdentifier", dr)["Values"] == []
    w.down.add(aurora.primary.name)
    clock.sleep(600)
    growing = lag()
    assert growing == sorted(growing, reverse=True) and growing[-1] > 60_000
    w.failover_global(w.databases[dr])
    clock.sleep(600)
    assert lag() == []


# -- Route 53 ARC ------------------------------------------------------------------------------


def test_routing_controls_move_dns_after_propagation_and_keep_one_region_on(
    rds: topology.Topology,
) -> None:
    clock, w = SimClock(), world(rds)
    controls = rds.routing_controls
    assert controls is not None and len(controls.endpoints) == 5
    region, arc = arc_client(w, clock, controls)

    def update(**states: str) -> None:
        arns = {"primary": controls.primary, "dr": controls.dr}
        arc.update_routing_control_states(
            UpdateRoutingControlStateEntries=[
                {"RoutingControlArn": arns[side], "RoutingControlState": state}
                for side, state in states.items()
            ]
        )

    assert w.dns_answer() == rds.primary.name
    update(primary="Off", dr="On")
    state = arc.get_routing_control_state(RoutingControlArn=controls.primary)
    assert state["RoutingControlState"] == "Off"
    assert w.dns_answer() == rds.primary.name  # DNS follows a moment later
    clock.sleep(w.physics.arc_propagation_seconds + 1)
    w.advance(clock.t)
    assert w.dns_answer() == rds.dr.name
    # The safety rule: never both Off.
    code, message = refusal(
        arc.update_routing_control_states,
        UpdateRoutingControlStateEntries=[
            {"RoutingControlArn": controls.dr, "RoutingControlState": "Off"}
        ],
    )
    assert code == "ConflictException" and "safety rule" in message
    # The region the endpoint lives in going down takes that endpoint with it.
    w.down.add(region)
    with pytest.raises(EndpointConnectionError):
        arc.get_routing_control_state(RoutingControlArn=controls.dr)


# -- dr's records back to the primary: S3 Batch Replication ----------------------------------


def test_dr_objects_reach_the_primary_only_when_the_batch_job_completes(
    aurora: topology.Topology,
) -> None:
    """Objects dr writes before its rule to the primary exists stay NONE (live replication
    never copies them); the handler's own steps find the rule, start one job and wait: the
    objects are in the primary's bucket only once the job is Complete."""
    clock, w = SimClock(), world(aurora, s3_rtc_slow_fraction=0)
    dr, primary = aurora.dr.name, aurora.primary.name
    w.t = 10
    w._store(1, dr)
    w.advance(60)
    assert 1 not in w.bucket[primary] and w.unreplicated == {1}
    client = aws(w, clock)
    s3, s3control = client("s3", dr), client("s3control", dr)
    dr_bucket, primary_bucket = w.records_buckets
    assert steps.reverse_rule(s3, dr_bucket, primary_bucket) is None

    w.deploy_reverse_rule()
    w._store(2, dr)  # after the rule: live replication
    assert steps.reverse_rule(s3, dr_bucket, primary_bucket) == "records-to-peer-region"
    # The primary's own rule to dr is gone with the reversal (one direction at a time).
    assert steps.reverse_rule(s3, primary_bucket, dr_bucket) is None
    variables = aurora.lambda_variables
    replication = steps.ObjectReplication(
        dr_bucket,
        primary_bucket,
        variables["BATCH_REPLICATION_ROLE_ARN"],
        variables["BATCH_REPLICATION_REPORT_PREFIX"],
    )
    job_id, found = steps.start_batch_replication(s3control, replication, "failback-run")
    assert not found
    # A later run finds the job in flight instead of starting another.
    assert steps.start_batch_replication(s3control, replication, "failback-next") == (job_id, True)
    assert list(w.batch_jobs) == [job_id]
    clock.sleep(w.physics.s3_batch_job_start_seconds - 1)
    w.advance(clock.t)
    assert 1 not in w.bucket[primary] and 2 in w.bucket[primary]
    done = steps.wait_batch_job(s3control, replication.account_id, job_id, steps.Pace(clock))
    w.advance(clock.t)
    assert "1 of 1 objects replicated" in done
    assert 1 in w.bucket[primary] and not w.unreplicated
    assert w.bucket[primary][1] >= w.physics.s3_batch_job_start_seconds


def test_the_reverse_rule_follows_the_primary_regions_return(rds: topology.Topology) -> None:
    w = world(rds)
    w.down.add(rds.primary.name)
    w.t = 100
    w.recover(rds.primary.name)
    w.advance(100 + w.physics.s3_reverse_rule_after_recovery_seconds - 1)
    assert w.reverse_rule_at is None
    w.advance(100 + w.physics.s3_reverse_rule_after_recovery_seconds + 1)
    assert w.reverse_rule_at == 100 + w.physics.s3_reverse_rule_after_recovery_seconds


# -- the write gate ---------------------------------------------------------------------------


def test_the_write_gate_follows_its_control_and_closes_when_it_cannot_read_it(
    rds: topology.Topology,
) -> None:
    """Each region's gate (components/write_gate.py, read from the Deployment's sidecar) opens
    only on a fresh read of its own control saying On: Off closes it at the next read, and a
    region cut off from every ARC endpoint keeps its last read until it goes stale, then fails
    its /health as well."""
    clock, w = SimClock(), world(rds)
    controls = rds.routing_controls
    assert controls is not None
    primary, dr = rds.primary.name, rds.dr.name
    gate = rds.primary.write_gate
    assert gate is not None and rds.dr.write_gate is not None
    assert (gate.control_arn, rds.dr.write_gate.control_arn) == (controls.primary, controls.dr)
    _, arc = arc_client(w, clock, controls)

    def at(t: float) -> None:
        clock.sleep(t - clock.t)
        w.advance(clock.t)

    at(2)
    assert w.gate_open(primary) and w.gate_open(dr)
    arc.update_routing_control_states(
        UpdateRoutingControlStateEntries=[
            {"RoutingControlArn": controls.primary, "RoutingControlState": "Off"}
        ]
    )
    at(clock.t + gate.poll_seconds + 0.01)
    assert not w.gate_open(primary) and w.gate_open(dr)
    # Off is known: /health still answers, so failback can judge the old primary.
    assert w.endpoint_ok(primary)
    arc.update_routing_control_states(
        UpdateRoutingControlStateEntries=[
            {"RoutingControlArn": controls.primary, "RoutingControlState": "On"}
        ]
    )
    at(clock.t + gate.poll_seconds + 0.01)
    assert w.gate_open(primary)
    w.arc_cut_off.add(primary)
    cut = clock.t
    at(cut + gate.fresh_seconds - gate.poll_seconds - 0.01)
    assert w.gate_open(primary)  # the last good read is still fresh
    at(cut + gate.fresh_seconds + 0.01)
    assert not w.gate_open(primary) and w.gate_open(dr)
    # Blind: /health fails too, where the canary and the region's checks see it.
    assert not w.endpoint_ok(primary) and w.endpoint_ok(dr)
    assert [n for _, n in w.notes if "write gate" in n] == [
        f"{primary}: write gate closed",
        f"{primary}: write gate open",
        f"{primary}: write gate closed",
    ]


def test_without_routing_controls_there_is_no_gate(inverting: topology.Topology) -> None:
    assert inverting.primary.write_gate is None and inverting.dr.write_gate is None
    w = world(inverting)
    w.advance(60)
    assert w.gate_open(inverting.primary.name) and w.gate_open(inverting.dr.name)
