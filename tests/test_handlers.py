"""The failover handler against moto, in a dr world named by the dr program's own Lambda
environment. Where moto does not emulate an effect (RDS promotion), the test states AWS's
answers with a botocore Stubber on that one client and says so. The replica's lag is a real
CloudWatch metric in moto; the canary's HTTP answer is the test's. Waits run on a clock that
advances at once (the simulation measures how long they take)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import handlers.failover as failover_module
from drill.emulated import SkippingClock
from handlers import steps
from handlers.failover import Runner, handler
from handlers.model import (
    Command,
    InvalidEnvironmentError,
    InvalidEventError,
    parse_environment,
    parse_event,
)
from testing import emulation
from tests.conftest import StackGraph, listed

REGION = "us-west-2"


@pytest.fixture
def variables(rds_dr: StackGraph) -> dict[str, str]:
    """The Lambda's environment on the RDS PostgreSQL tier, the one moto emulates: moto's RDS
    answers neither FailoverGlobalCluster nor SwitchoverGlobalCluster, so the Aurora tests
    below state AWS's answers on the clients themselves."""
    return emulation.lambda_environment(rds_dr.graph)


@pytest.fixture
def aurora_variables(dr: StackGraph) -> dict[str, str]:
    """The Lambda's environment as the stack files (an Aurora global database) render it."""
    return emulation.lambda_environment(dr.graph)


@pytest.fixture
def world(variables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[emulation.World]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield emulation.build(variables, REGION)


def primary_lag(seconds: float) -> None:
    """The dr replica's ReplicaLag as CloudWatch (moto) has it now."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "trading-dr-db"}],
                "Timestamp": datetime.now(UTC) - timedelta(seconds=10),
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def answering(status: int | None, dr: int | None = 200) -> Callable[[str, float], int | None]:
    """The primary's regional endpoint as the canary sees it (None: no answer), and dr's own,
    `https://us-west-2.<recordName>`, as failover's verification sees it."""
    return lambda url, timeout: dr if url.startswith(f"https://{REGION}.") else status


def command(action: str, **fields: Any) -> Command:
    return Command(
        action=action,
        reason=fields.get("reason", ""),
        force=fields.get("force", False),
        planned=fields.get("planned", False),
        requested_by="test",
        correlation_id="test-run",
        abandon_dr_writes=fields.get("abandon_dr_writes", False),
    )


def sizes(world: emulation.World) -> dict[str, int]:
    eks = boto3.client("eks", region_name=REGION)
    return {
        group: eks.describe_nodegroup(clusterName=world.env.cluster_name, nodegroupName=name)[
            "nodegroup"
        ]["scalingConfig"]["desiredSize"]
        for group, name in world.env.node_groups.items()
    }


def inverted(world: emulation.World) -> bool:
    route53 = boto3.client("route53", region_name="us-east-1")
    check = route53.get_health_check(HealthCheckId=world.primary_health_check_id)
    return bool(check["HealthCheck"]["HealthCheckConfig"].get("Inverted"))


def pinned(world: emulation.World) -> bool:
    """Traffic held on dr: the primary's routing control Off, dr's On."""
    controls = world.env.routing_controls
    assert controls is not None
    return {controls.primary: "Off", controls.dr: "On"} == emulation.ROUTING


def read_only(region: str, identifier: str) -> bool:
    parameters = boto3.client("rds", region_name=region).describe_db_parameters(
        DBParameterGroupName=identifier, Source="user"
    )["Parameters"]
    return any(
        p["ParameterName"] == "default_transaction_read_only" and p["ParameterValue"] == "1"
        for p in parameters
    )


def state(world: emulation.World) -> str:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=world.env.state_table, Key={"pk": {"S": "failover"}}
    )
    return item.get("Item", {}).get("state", {}).get("S", "absent")


def rds_answering(region: str, identifier: str, answers: list[tuple[str, Any]]) -> Any:
    """An RDS client whose answers the test states (moto does not emulate promotion)."""
    client = boto3.client("rds", region_name=region)
    stubber = Stubber(client)
    for operation, answer in answers:
        if isinstance(answer, Exception):
            stubber.add_client_error(operation, service_error_code="InvalidDBInstanceState")
        else:
            stubber.add_response(operation, answer)
    stubber.activate()
    return client


def replica(identifier: str, source: str | None, status: str = "available") -> dict:
    instance: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceStatus": status,
        # Each instance's own group (components/database_postgres.py), nothing pending.
        "DBParameterGroups": [
            {"DBParameterGroupName": identifier, "ParameterApplyStatus": "in-sync"}
        ],
    }
    if source:
        instance["ReadReplicaSourceDBInstanceIdentifier"] = source
    return {"DBInstances": [instance]}


PRIMARY_ARN = "arn:aws:rds:us-east-1:123456789012:db:trading-primary-db"


def writable(db: str, source: str | None) -> list[tuple[str, Any]]:
    """AWS's answers while the handler makes sure `db`'s group is read-write (it is)."""
    group = {"ParameterName": "default_transaction_read_only", "ParameterValue": "0"}
    return [
        ("describe_db_instances", replica(db, source)),
        ("describe_db_parameters", {"Parameters": [group]}),
    ]


def promotion(region: str, db: str, source: str) -> Any:
    """AWS's answers to a successful promotion of `db`, a replica of `source`."""
    return rds_answering(
        region,
        db,
        [
            *writable(db, source),
            ("describe_db_instances", replica(db, source)),
            ("promote_read_replica", {"DBInstance": {"DBInstanceIdentifier": db}}),
            ("describe_db_instances", replica(db, None)),
        ],
    )


def promotable(world: emulation.World) -> Any:
    """The dr replica's promotion."""
    return promotion(REGION, world.env.db_identifier, PRIMARY_ARN)


def run(
    world: emulation.World,
    action: str,
    http: Callable[[str, float], int | None] | None = None,
    clock: Any = None,
    **overrides: Any,
) -> dict:
    fields = {
        k: overrides.pop(k)
        for k in ("reason", "force", "planned", "abandon_dr_writes")
        if k in overrides
    }
    clients = emulation.clients(world.env, **overrides)
    return Runner(
        world.env,
        clients,
        command(action, **fields),
        clock=clock or SkippingClock(),
        http_status=http or answering(200),
    ).dispatch()


# -- wiring: the program's own Lambda environment drives the handler -------------------------


def test_program_environment_scales_the_real_dr_node_groups_to_full(
    world: emulation.World, dr: StackGraph
) -> None:
    full = dr.exports["capacityProfiles"]["full"]["nodeGroups"]
    assert sizes(world) == {"system": 1, "trading": 1}
    report = run(world, "failover")
    assert sizes(world) == {group: full[group]["desiredSize"] for group in ("system", "trading")}
    outcomes = {e["step"]: e["outcome"] for e in report["timeline"]}
    assert outcomes["scale-node-groups"] == outcomes["verify-capacity"] == "succeeded"
    assert outcomes["promote-database"] == "succeeded"
    # moto keeps describing a promoted replica as a replica: the handler waits it out and
    # says so, truthfully.
    assert report["failedSteps"] == ["verify-database"]
    assert "trading-dr-db available and standalone not reached" in next(
        e["detail"] for e in report["timeline"] if e["step"] == "verify-database"
    )
    # The old writer is fenced in its own parameter group, which moto keeps.
    assert outcomes["fence-old-primary"] == "succeeded"
    assert read_only("us-east-1", world.env.primary_db_identifier)


# -- failover --------------------------------------------------------------------------------


def test_failover_pins_traffic_promotes_scales_fences_and_notifies(
    world: emulation.World,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    report = run(world, "failover", rds=promotable(world))
    assert report["outcome"] == "SUCCEEDED", report
    assert report["state"] == state(world) == "active-in-dr"
    assert sizes(world) == {"system": 3, "trading": 6}
    assert pinned(world)
    assert read_only("us-east-1", world.env.primary_db_identifier)
    names = [e["step"] for e in report["timeline"]]
    assert sorted(names) == sorted(
        [
            "pin-traffic",
            "promote-database",
            "scale-node-groups",
            "scale-gateway",
            "fence-old-primary",
            "verify-capacity",
            "verify-database",
            "verify-dr-endpoint",
        ]
    )
    assert all(e["endedAt"] >= e["startedAt"] for e in report["timeline"])
    (notification,) = world.notifications(sqs)
    assert notification["outcome"] == "SUCCEEDED"
    assert notification["runId"] == report["runId"]
    assert len(notification["timeline"]) == 8


def test_a_dr_that_does_not_serve_fails_the_failover_naming_its_endpoint(
    world: emulation.World,
) -> None:
    """Ready pods are not serving: a write gate that cannot read its routing control keeps its
    pod Ready and answers 503 on /health. The run must not report SUCCEEDED then."""
    report = run(world, "failover", rds=promotable(world), http=answering(None, dr=503))
    assert report["outcome"] == "FAILED"
    assert report["failedSteps"] == ["verify-dr-endpoint"]
    (detail,) = [e["detail"] for e in report["timeline"] if e["step"] == "verify-dr-endpoint"]
    url = f"{world.env.dr_endpoint}/health"
    assert url.startswith(f"https://{REGION}.")
    assert detail == (
        f"StepFailedError: {url} to answer 200 not reached after 40 checks 15 s apart; "
        "last answer: 503"
    )
    # Capacity and the database were done; only the proof that dr serves is missing.
    assert sizes(world) == {"system": 3, "trading": 6}
    assert state(world) == "failed"


def test_second_failover_is_a_noop_reporting_the_state(world: emulation.World) -> None:
    run(world, "failover", rds=promotable(world))
    again = run(world, "failover")
    assert again["outcome"] == "noop"
    assert "state is active-in-dr" in again["detail"]
    assert again["timeline"] == []


def test_two_concurrent_failovers_exactly_one_proceeds(world: emulation.World) -> None:
    first_is_scaling = threading.Event()
    release = threading.Event()
    eks = boto3.client("eks", region_name=REGION)
    real_describe = eks.describe_nodegroup

    def held_describe(**kwargs: Any) -> Any:
        first_is_scaling.set()
        release.wait(10)
        return real_describe(**kwargs)

    eks.describe_nodegroup = held_describe  # type: ignore[method-assign]
    results: dict[str, dict] = {}
    first = threading.Thread(
        target=lambda: results.setdefault(
            "first", run(world, "failover", eks=eks, rds=promotable(world))
        )
    )
    first.start()
    assert first_is_scaling.wait(10)
    results["second"] = run(world, "failover")
    release.set()
    first.join(30)
    assert results["second"]["outcome"] == "noop"
    assert "state is failing-over" in results["second"]["detail"]
    assert results["first"]["outcome"] in {"SUCCEEDED", "FAILED"}
    assert results["first"]["timeline"]


def test_failing_promotion_lets_the_other_steps_finish_and_names_the_step(
    world: emulation.World,
) -> None:
    db = world.env.db_identifier
    broken = rds_answering(
        REGION,
        db,
        [
            ("describe_db_instances", replica(db, PRIMARY_ARN)),
            ("promote_read_replica", Exception("refused")),
        ],
    )
    report = run(world, "failover", rds=broken)
    assert report["outcome"] == "FAILED"
    assert report["failedSteps"] == ["promote-database"]
    outcomes = {e["step"]: e["outcome"] for e in report["timeline"]}
    assert outcomes["scale-node-groups"] == outcomes["pin-traffic"] == "succeeded"
    assert outcomes["verify-database"] == "skipped"
    assert sizes(world) == {"system": 3, "trading": 6}
    assert state(world) == "failed"
    # A failed run can be resumed: the next failover redoes only what is left.
    resumed = run(world, "failover", rds=promotable(world))
    assert resumed["outcome"] == "SUCCEEDED"
    details = {e["step"]: e["detail"] for e in resumed["timeline"]}
    assert details["scale-node-groups"] == "already at size"


# -- failback ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [503, 429, 403, None])
def test_failback_is_refused_while_the_primary_does_not_serve(
    world: emulation.World, answer: int | None
) -> None:
    """Refused on anything but the 200 that verify-primary-endpoint waits for after the
    release: a throttled or blocked /health would let the run fence dr and promote the
    primary, then fail with both done."""
    run(world, "failover", rds=promotable(world))
    report = run(world, "failback", http=answering(answer))
    assert report["outcome"] == "refused"
    assert "does not answer healthy" in report["detail"]
    assert state(world) == "active-in-dr"
    assert sizes(world) == {"system": 3, "trading": 6}


def test_failback_is_refused_until_the_primary_replicates_from_dr(
    world: emulation.World,
) -> None:
    run(world, "failover", rds=promotable(world))
    report = run(world, "failback")
    assert report["outcome"] == "refused"
    assert "trading-primary-db is not a replica of trading-dr-db" in report["detail"]
    assert state(world) == "active-in-dr"


def rebuilt_primary(world: emulation.World, promoted: bool = False) -> Any:
    """The primary rebuilt as dr's replica (the runbook), found not caught up (no lag data in
    CloudWatch), then (`promoted`) made writable and promoted."""
    db = world.env.primary_db_identifier
    dr_arn = f"arn:aws:rds:{REGION}:123456789012:db:{world.env.db_identifier}"
    rebuilt = replica(db, dr_arn)
    rebuilt["DBInstances"][0]["StatusInfos"] = [
        {"StatusType": "read replication", "Normal": True, "Status": "replicating"}
    ]
    return rds_answering(
        "us-east-1",
        db,
        [
            ("describe_db_instances", replica(db, dr_arn)),
            *[("describe_db_instances", rebuilt)] * steps.CATCH_UP_WAIT["MaxAttempts"],
            *(
                [
                    *writable(db, dr_arn),
                    ("describe_db_instances", replica(db, dr_arn)),
                    ("promote_read_replica", {"DBInstance": {"DBInstanceIdentifier": db}}),
                    ("describe_db_instances", replica(db, None)),
                ]
                if promoted
                else []
            ),
        ],
    )


def abandoning_failback(world: emulation.World, **overrides: Any) -> dict:
    """A failback forced past its guards and dr's writes, onto a primary rebuilt by hand."""
    return run(
        world,
        "failback",
        force=True,
        abandon_dr_writes=True,
        reason="drill: primary rebuilt by hand",
        primary_rds=rebuilt_primary(world, promoted=True),
        **overrides,
    )


def test_a_failback_whose_primary_does_not_serve_keeps_dr_at_full_capacity(
    world: emulation.World,
) -> None:
    """After the release, the primary must answer its /health through its own endpoint before
    dr goes back to the pilot light: forced past the refusal, a primary whose write gates
    cannot read (503) leaves the run FAILED with dr still able to serve."""
    run(world, "failover", rds=promotable(world))
    records_buckets(world)
    deploy_reverse_rule(world)
    report = abandoning_failback(world, http=answering(503))
    assert report["outcome"] == "FAILED"
    assert report["failedSteps"] == ["verify-primary-endpoint"]
    outcomes = {e["step"]: e["outcome"] for e in report["timeline"]}
    assert outcomes["release-traffic"] == "succeeded"
    assert outcomes["scale-to-pilot-light"] == outcomes["scale-gateway-down"] == "skipped"
    assert sizes(world) == {"system": 3, "trading": 6}


def test_failback_without_dr_writes_on_the_primary_is_refused_unless_abandoned(
    world: emulation.World,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    run(world, "failover", rds=promotable(world))
    world.notifications(sqs)
    # Forced past the guards, but the primary never caught up with dr (no lag data); dr's
    # objects could reach it (the reverse rule exists, the job completes), so the database
    # alone stops this failback.
    records_buckets(world)
    deploy_reverse_rule(world)
    jobs = batch_operations(
        [
            NO_JOBS,
            ("create_job", {"JobId": JOB_ID}, None),
            ("describe_job", job("Complete", succeeded=3), None),
        ]
    )
    stuck = run(
        world,
        "failback",
        force=True,
        reason="drill",
        primary_rds=rebuilt_primary(world),
        s3control=jobs,
    )
    assert stuck["outcome"] == "FAILED"
    assert stuck["failedSteps"] == ["primary-caught-up"]
    outcomes = {e["step"]: e["outcome"] for e in stuck["timeline"]}
    assert outcomes["promote-primary-database"] == outcomes["release-traffic"] == "skipped"
    assert pinned(world) and read_only(REGION, world.env.db_identifier)
    world.notifications(sqs)

    report = abandoning_failback(world)
    assert report["outcome"] == "SUCCEEDED", report
    assert report["forced"] is True
    assert report["reason"] == "drill: primary rebuilt by hand"
    details = {e["step"]: e["detail"] for e in report["timeline"]}
    assert details["primary-caught-up"].startswith("dr's writes ABANDONED as requested")
    assert state(world) == "standby"
    assert sizes(world) == {"system": 1, "trading": 1}
    controls = world.env.routing_controls
    assert controls is not None
    assert {controls.primary: "On", controls.dr: "On"} == emulation.ROUTING
    order = [e["step"] for e in report["timeline"]]
    assert order[:2] == ["fence-dr-database", "primary-caught-up"]
    assert order.index("release-traffic") > order.index("verify-primary-database")
    assert order.index("verify-primary-endpoint") > order.index("release-traffic")
    assert order.index("scale-to-pilot-light") > order.index("verify-primary-endpoint")
    # dr stays read-only: it is rebuilt as the primary's replica next (runbook).
    assert read_only(REGION, world.env.db_identifier)
    (notification,) = world.notifications(sqs)
    assert notification["reason"] == "drill: primary rebuilt by hand"


def test_failback_without_a_failover_is_a_noop(world: emulation.World) -> None:
    report = run(world, "failback", force=True, reason="nothing to fail back")
    assert report["outcome"] == "noop"
    assert sizes(world) == {"system": 1, "trading": 1}


def test_aurora_failback_finds_the_primary_cluster_in_its_own_region(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    world.env = parse_environment({**aurora_variables, "AWS_REGION": REGION})
    global_id = world.env.global_cluster_identifier
    primary_id = world.env.primary_db_identifier
    hold(world, "active-in-dr", "failover-earlier", 0)
    primary_arn = f"arn:aws:rds:us-east-1:123456789012:cluster:{primary_id}"
    dr_arn = f"arn:aws:rds:us-west-2:123456789012:cluster:{world.env.db_identifier}"

    def members(writer: str) -> dict:
        return {
            "GlobalClusters": [
                {
                    "GlobalClusterMembers": [
                        {"DBClusterArn": primary_arn, "IsWriter": writer == primary_arn},
                        {"DBClusterArn": dr_arn, "IsWriter": writer == dr_arn},
                    ]
                }
            ]
        }

    primary_rds = boto3.client("rds", region_name="us-east-1")
    primary_stub = Stubber(primary_rds)
    for _ in range(2):  # the switchover, then its verification
        primary_stub.add_response(
            "describe_db_clusters",
            {"DBClusters": [{"DBClusterArn": primary_arn}]},
            {"DBClusterIdentifier": primary_id},
        )
    primary_stub.activate()
    dr_rds = boto3.client("rds", region_name=REGION)
    dr_stub = Stubber(dr_rds)
    dr_stub.add_response("describe_global_clusters", members(dr_arn))
    dr_stub.add_response(
        "switchover_global_cluster",
        {"GlobalCluster": {}},
        {"GlobalClusterIdentifier": global_id, "TargetDbClusterIdentifier": primary_arn},
    )
    dr_stub.add_response("describe_global_clusters", members(primary_arn))
    dr_stub.activate()
    report = run(world, "failback", force=True, reason="test", rds=dr_rds, primary_rds=primary_rds)
    outcomes = {e["step"]: e["outcome"] for e in report["timeline"]}
    assert (
        outcomes["promote-primary-database"] == outcomes["verify-primary-database"] == ("succeeded")
    ), report["timeline"]
    primary_stub.assert_no_pending_responses()
    dr_stub.assert_no_pending_responses()


# -- the lock's lease ----------------------------------------------------------------------------


def hold(
    world: emulation.World,
    state_name: str,
    run_id: str,
    lease_until: float,
    action: str = "failover",
) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=world.env.state_table,
        Item={
            "pk": {"S": "failover"},
            "state": {"S": state_name},
            "run_id": {"S": run_id},
            "action": {"S": action},
            "lease_until": {"N": str(lease_until)},
        },
    )


def holder(world: emulation.World) -> str:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=world.env.state_table, Key={"pk": {"S": "failover"}}
    )["Item"]
    return item["run_id"]["S"]


def test_a_live_lease_keeps_a_second_failover_out(world: emulation.World) -> None:
    hold(world, "failing-over", "failover-alive", datetime.now(UTC).timestamp() + 300)
    report = run(world, "failover", rds=promotable(world))
    assert report["outcome"] == "noop"
    assert holder(world) == "failover-alive"


def test_a_dead_runs_expired_lease_is_taken_over_and_the_failover_resumes(
    world: emulation.World,
) -> None:
    hold(world, "failing-over", "failover-dead", datetime.now(UTC).timestamp() - 1)
    report = run(world, "failover", rds=promotable(world))
    assert report["outcome"] == "SUCCEEDED", report
    assert state(world) == "active-in-dr"
    assert holder(world) == report["runId"]


def test_a_run_stops_before_the_lambdas_deadline_and_records_failed(
    world: emulation.World,
) -> None:
    clients = emulation.clients(world.env, rds=promotable(world))
    report = Runner(
        world.env,
        clients,
        command("failover"),
        clock=SkippingClock(),
        http_status=answering(200),
        remaining_ms=lambda: 30_000,
    ).dispatch()
    assert report["outcome"] == "FAILED"
    assert "before the Lambda's deadline" in report["timeline"][0]["detail"]
    assert state(world) == "failed"


def test_a_run_whose_lease_was_taken_over_stops_and_leaves_the_record_alone(
    world: emulation.World,
) -> None:
    clock = SkippingClock()
    clients = emulation.clients(world.env, rds=promotable(world))
    runner = Runner(world.env, clients, command("failover"), clock=clock)
    real_guard = runner.guard

    def taken_over() -> None:
        hold(world, "failing-over", "failover-newer", datetime.now(UTC).timestamp() + 300)
        clock.elapsed += 3600  # due to renew
        real_guard()

    runner.guard = taken_over  # type: ignore[method-assign]
    runner.pace = failover_module.steps.Pace(clock, taken_over)
    report = runner.dispatch()
    assert report["outcome"] == "SUPERSEDED"
    assert holder(world) == "failover-newer"
    assert state(world) == "failing-over"


# -- status and probe -------------------------------------------------------------------------


def test_status_reports_state_and_sizes_and_changes_nothing(world: emulation.World) -> None:
    report = run(world, "status")
    assert report["outcome"] == "ok"
    assert report["state"] == "standby"
    assert report["nodeGroups"]["trading"]["desiredSize"] == 1
    assert state(world) == "absent"


def test_manual_probe_pages_once_when_both_signals_fail_long_enough(
    world: emulation.World,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    primary_lag(600)
    outcomes = [run(world, "probe", http=answering(None))["outcome"] for _ in range(4)]
    assert outcomes == ["degraded", "degraded", "failover-recommended", "failover-recommended"]
    (page,) = world.notifications(sqs)
    assert page["reason"] == "probe: 3 consecutive periods with every signal failing"
    assert sizes(world) == {"system": 1, "trading": 1}
    assert state(world) == "standby"


def test_one_failing_signal_is_not_enough(world: emulation.World) -> None:
    primary_lag(2)
    report = run(world, "probe", http=answering(None))
    assert report["outcome"] == "ok"
    assert report["signals"] == {"replication": "healthy", "endpoint": "failing"}


@pytest.mark.parametrize(
    ("answer", "signal"),
    [(200, "healthy"), (301, "healthy"), (403, "failing"), (429, "failing"), (503, "failing")],
)
def test_the_canary_judges_an_answer_as_route_53_judges_an_https_check(
    world: emulation.World, answer: int, signal: str
) -> None:
    """Healthy from 200 to 399 (Route 53 API Reference, HealthCheckConfig `Type`): a 429 is
    API Gateway's throttle, before any backend, and must not reset the count of a primary
    whose replication has failed too."""
    primary_lag(600)
    report = run(world, "probe", http=answering(answer))
    assert report["signals"] == {"replication": "failing", "endpoint": signal}
    assert report["outcome"] == ("ok" if signal == "healthy" else "degraded")


def test_an_api_error_is_unknown_and_resets_the_count(world: emulation.World) -> None:
    primary_lag(600)
    run(world, "probe", http=answering(None))
    assert run(world, "status")["probeFailures"] == 1
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    stubber = Stubber(cloudwatch)
    stubber.add_client_error("get_metric_data", service_error_code="InternalServiceFault")
    stubber.activate()
    report = run(world, "probe", http=answering(None), cloudwatch=cloudwatch)
    assert report["outcome"] == "unknown"
    assert report["signals"]["replication"] == "unknown"
    assert run(world, "status")["probeFailures"] == 0


def test_automatic_probe_starts_the_failover(
    world: emulation.World, variables: dict[str, str]
) -> None:
    world.env = parse_environment(
        {
            **variables,
            "AWS_REGION": REGION,
            "FAILOVER_MODE": "automatic",
            "PROBE_FAILURE_THRESHOLD": "1",
            # The cheaper option: traffic pinned by inverting the primary's health check.
            "TRAFFIC_CONTROL": "health-check-inversion",
            "PRIMARY_HEALTH_CHECK_ID": world.primary_health_check_id,
            "DR_HEALTH_CHECK_ID": world.dr_health_check_id,
        }
    )
    primary_lag(600)
    report = run(world, "probe", http=answering(None), rds=promotable(world))
    assert report["action"] == "failover"
    assert report["outcome"] == "SUCCEEDED", [
        (e["step"], e["outcome"], e["detail"]) for e in report["timeline"]
    ]
    assert report["reason"] == "probe: 1 consecutive periods with every signal failing"
    assert sizes(world) == {"system": 3, "trading": 6}
    # An inverted check of a dead endpoint is healthy: the primary's check stays as it is
    # until the primary answers again, and the probe inverts it then.
    assert not inverted(world)
    assert run(world, "probe", http=answering(200))["maintenance"]["pin-traffic"].endswith(
        "inverted"
    )
    assert inverted(world)


def test_an_inverted_check_follows_route_53s_verdict_on_the_primary(
    world: emulation.World, variables: dict[str, str]
) -> None:
    """In inversion mode, a primary whose /health answers 403 is unhealthy to Route 53: its
    check is left uninverted, or the inverted check would be healthy and the record would
    answer PRIMARY while dr is the writer."""
    world.env = parse_environment(
        {
            **variables,
            "AWS_REGION": REGION,
            "TRAFFIC_CONTROL": "health-check-inversion",
            "PRIMARY_HEALTH_CHECK_ID": world.primary_health_check_id,
            "DR_HEALTH_CHECK_ID": world.dr_health_check_id,
        }
    )
    run(world, "failover", http=answering(None), rds=promotable(world))
    assert run(world, "probe", http=answering(200))["outcome"] == "active-in-dr"
    assert inverted(world)
    report = run(world, "probe", http=answering(403))
    assert report["maintenance"]["pin-traffic"].endswith("restored"), report
    assert not inverted(world)


def test_after_a_failover_the_probe_keeps_traffic_pinned(world: emulation.World) -> None:
    run(world, "failover", rds=promotable(world))
    controls = world.env.routing_controls
    assert controls is not None and pinned(world)
    emulation.ROUTING[controls.primary] = "On"  # an operator's slip, or a script's
    report = run(world, "probe")
    assert report["outcome"] == "active-in-dr"
    assert report["maintenance"]["pin-traffic"].startswith("routing controls set")
    assert pinned(world)


def test_healthy_probe_resets_the_count(world: emulation.World) -> None:
    primary_lag(600)
    run(world, "probe", http=answering(None))
    assert run(world, "status")["probeFailures"] == 1
    assert run(world, "probe", http=answering(200))["outcome"] == "ok"
    assert run(world, "status")["probeFailures"] == 0


# -- input: refused before any AWS call ---------------------------------------------------------

MALFORMED = [
    ("not an object", "expected a JSON object"),
    ([{"action": "failover"}], "expected a JSON object"),
    ({}, "action None is not one of"),
    ({"action": "destroy"}, "action 'destroy' is not one of"),
    ({"action": "failover", "dryRun": True}, "unknown field(s) 'dryRun'"),
    ({"action": "failover", "force": "yes"}, "force must be true or false"),
    ({"action": "failback", "force": True}, "force needs a reason"),
    ({"action": "failover", "force": True, "reason": "x"}, "force only overrides failback"),
    ({"action": "failover", "reason": "x" * 501}, "at most 500 characters"),
    ({"action": "status", "requestedBy": "a b; rm -rf"}, "requestedBy must be a short identifier"),
    ({"action": "failover", "correlationId": 42}, "correlationId must be a short identifier"),
    ({"Records": []}, "sns: expected exactly one record"),
    ({"Records": [{"EventSource": "aws:sqs"}]}, "not an SNS notification"),
    (
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "failover now"}}]},
        "the message is not JSON",
    ),
    ({"source": "aws.ec2", "detail-type": "EC2 Instance State-change"}, "is not 'Scheduled"),
    ({"detail-type": "trading.failover", "detail": {"action": "nuke"}}, "action 'nuke'"),
]


@pytest.mark.parametrize(("event", "expected"), MALFORMED)
def test_malformed_event_is_refused_before_any_aws_call(
    event: Any, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_aws(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was created for a malformed event")

    monkeypatch.setattr(boto3, "client", no_aws)
    monkeypatch.setattr(failover_module, "make_clients", no_aws)
    with pytest.raises(InvalidEventError) as caught:
        handler(event)
    assert expected in str(caught.value)


def test_accepted_event_shapes() -> None:
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert parse_event(scheduled).action == "probe"
    custom = {"detail-type": "trading.failover", "detail": {"action": "status"}}
    assert parse_event(custom).action == "status"
    sns = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": '{"action": "failover"}'}}]}
    assert parse_event(sns).action == "failover"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"CLUSTER_NAME": ""}, "CLUSTER_NAME is missing"),
        ({"FULL_PROFILE": "{not json"}, "FULL_PROFILE must be JSON"),
        ({"DB_ENGINE": "mysql"}, "DB_ENGINE='mysql'"),
        ({"TOPIC_ARN": "my-topic"}, "TOPIC_ARN='my-topic' is malformed"),
        ({"FAILOVER_MODE": "yolo"}, "FAILOVER_MODE='yolo'"),
        ({"NODE_GROUPS": '{"system": "a"}'}, "must name the same node groups"),
    ],
)
def test_bad_environment_names_the_variable(
    variables: dict[str, str], change: dict[str, str], expected: str
) -> None:
    with pytest.raises(InvalidEnvironmentError) as caught:
        parse_environment({**variables, "AWS_REGION": REGION, **change})
    assert expected in str(caught.value)


def test_entry_point_reads_the_environment_and_answers_status(
    world: emulation.World, variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**variables, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    failover_module.environment.cache_clear()
    try:
        report = handler({"action": "status", "requestedBy": "operator"})
    finally:
        failover_module.environment.cache_clear()
    assert report["outcome"] == "ok"
    assert report["nodeGroups"]["system"]["desiredSize"] == 1


# -- the deployed role ---------------------------------------------------------------------------

MUTATING_PREFIXES = ("Update", "Promote", "Failover", "Switchover", "Put", "Publish", "Send")


def test_handler_role_grants_no_mutating_action_on_star(dr: StackGraph) -> None:
    policy = dr.one("aws:iam/rolePolicy:RolePolicy", "dr-role")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    for statement in statements:
        actions, resources = listed(statement["Action"]), listed(statement["Resource"])
        assert all(a != "*" and not a.endswith(":*") for a in actions), statement
        if any(a.split(":", 1)[1].startswith(MUTATING_PREFIXES) for a in actions):
            assert "*" not in resources, statement
    scale = next(s for s in statements if s["Sid"] == "ScaleDrNodeGroups")
    assert scale["Resource"] == [
        "arn:aws:eks:us-west-2:123456789012:nodegroup/trading-dr/trading-dr-system/*",
        "arn:aws:eks:us-west-2:123456789012:nodegroup/trading-dr/trading-dr-trading/*",
    ]


def test_automation_lives_in_dr_with_no_retries_and_an_on_failure_queue(dr: StackGraph) -> None:
    function = dr.one("aws:lambda/function:Function", "dr-handler")
    assert dr.graph.provider_of(function).inputs["region"] == "us-west-2"  # type: ignore[union-attr]
    assert "region" not in function.inputs
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["handler"] == "handlers.failover.handler"
    invoke = dr.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "dr-invoke")
    assert invoke.inputs["maximumRetryAttempts"] == 0
    queue = dr.one("aws:sqs/queue:Queue", "dr-on-failure")
    assert invoke.inputs["destinationConfig"]["onFailure"]["destination"] == queue.outputs["arn"]
    assert queue.inputs["kmsMasterKeyId"]
    table = dr.one("aws:dynamodb/table:Table", "dr-state")
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:us-west-2:")
    rule = dr.one("aws:cloudwatch/eventRule:EventRule", "dr-probe")
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"
    logs = dr.one("aws:cloudwatch/logGroup:LogGroup", "dr-logs")
    assert logs.inputs["name"] == "/aws/lambda/trading-dr-failover"
    assert logs.inputs["kmsKeyId"]


# -- failback: dr's objects back to the primary (S3 Batch Replication) --------------------------
#
# moto 5.2.5's s3control implements neither CreateJob, ListJobs nor DescribeJob (its responses
# cover access points, public access blocks, Storage Lens, Multi-Region Access Points and
# tags), so these tests state S3 Batch Operations' answers with a botocore Stubber on the
# s3control client, and say so. The buckets and dr's replication configuration are moto's
# (GetBucketReplication answers from what PutBucketReplication stored).


def objects_world(world: emulation.World, aurora_variables: dict[str, str]) -> None:
    """The Aurora dr world after a failover (traffic pinned to dr), with both records buckets
    versioned in their regions: the dr program's own environment names them."""
    world.env = parse_environment({**aurora_variables, "AWS_REGION": REGION})
    hold(world, "active-in-dr", "failover-earlier", 0)
    controls = world.env.routing_controls
    assert controls is not None
    emulation.ROUTING.update({controls.primary: "Off", controls.dr: "On"})
    records_buckets(world)


def records_buckets(world: emulation.World) -> None:
    """Both records buckets, versioned, each in its region, as the environment names them."""
    assert world.env.records_bucket and world.env.primary_records_bucket
    for region, bucket in (
        (REGION, world.env.records_bucket),
        ("us-east-1", world.env.primary_records_bucket),
    ):
        s3 = boto3.client("s3", region_name=region)
        location = {} if region == "us-east-1" else {"LocationConstraint": region}
        s3.create_bucket(
            Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {})
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def deploy_reverse_rule(world: emulation.World) -> None:
    """dr deployed with `trading:replication.direction: dr-to-primary`
    (components/data_replication.py)."""
    boto3.client("s3", region_name=REGION).put_bucket_replication(
        Bucket=world.env.records_bucket,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/trading-dr-s3-replication",
            "Rules": [
                {
                    "ID": "records-to-peer-region",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Enabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{world.env.primary_records_bucket}"},
                }
            ],
        },
    )


def primary_already_writes(world: emulation.World) -> dict[str, Any]:
    """AWS's answers (Stubber: moto's RDS has no global switchover) for an Aurora global
    database whose primary cluster writes again: promotion finds it so, verification too."""
    primary_id = world.env.primary_db_identifier
    primary_arn = f"arn:aws:rds:us-east-1:123456789012:cluster:{primary_id}"
    members = {
        "GlobalClusters": [
            {"GlobalClusterMembers": [{"DBClusterArn": primary_arn, "IsWriter": True}]}
        ]
    }
    primary_rds = boto3.client("rds", region_name="us-east-1")
    primary_stub = Stubber(primary_rds)
    dr_rds = boto3.client("rds", region_name=REGION)
    dr_stub = Stubber(dr_rds)
    for _ in range(2):  # the promotion, then its verification
        primary_stub.add_response(
            "describe_db_clusters", {"DBClusters": [{"DBClusterArn": primary_arn}]}
        )
        dr_stub.add_response("describe_global_clusters", members)
    primary_stub.activate()
    dr_stub.activate()
    return {"rds": dr_rds, "primary_rds": primary_rds}


def batch_operations(answers: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> Any:
    """An s3control client (in dr) whose answers the test states, with the parameters each
    call must carry (None: any)."""
    client = boto3.client("s3control", region_name=REGION)
    stubber = Stubber(client)
    for operation, answer, expected in answers:
        stubber.add_response(operation, answer, expected)
    stubber.activate()
    client.stubber = stubber  # type: ignore[attr-defined]
    return client


def job(status: str, succeeded: int = 0, failed: int = 0, total: int = 3) -> dict[str, Any]:
    return {
        "Job": {
            "JobId": JOB_ID,
            "Status": status,
            "ProgressSummary": {
                "TotalNumberOfTasks": total,
                "NumberOfTasksSucceeded": succeeded,
                "NumberOfTasksFailed": failed,
            },
        }
    }


JOB_ID = "6e2f0a57-0b4b-4ad4-9d59-0a0b1c2d3e4f"
NO_JOBS: tuple[str, dict[str, Any], dict[str, Any] | None] = ("list_jobs", {"Jobs": []}, None)


def expected_job(world: emulation.World, run_id: str) -> dict[str, Any]:
    """The CreateJob request of the S3 User Guide's Batch Replication job with a generated
    manifest (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
    s3-batch-replication-existing-config.html): objects the configuration covers whose status
    is NONE or FAILED, no confirmation, the run's own idempotency token."""
    env = world.env
    source = f"arn:aws:s3:::{env.records_bucket}"
    prefix = env.batch_replication_report_prefix
    return {
        "AccountId": "123456789012",
        "ConfirmationRequired": False,
        "Operation": {"S3ReplicateObject": {}},
        "Report": {
            "Bucket": source,
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "Prefix": f"{prefix}/reports",
            "ReportScope": "AllTasks",
        },
        "ClientRequestToken": steps.client_request_token(run_id),
        "Description": f"trading failback: {env.records_bucket} -> {env.primary_records_bucket}",
        "Priority": steps.BATCH_REPLICATION_PRIORITY,
        "RoleArn": env.batch_replication_role_arn,
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": "123456789012",
                "SourceBucket": source,
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "ExpectedManifestBucketOwner": "123456789012",
                    "Bucket": source,
                    "ManifestPrefix": f"{prefix}/manifests",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {
                    "EligibleForReplication": True,
                    "ObjectReplicationStatuses": ["NONE", "FAILED"],
                },
            }
        },
    }


def failback(
    world: emulation.World,
    s3control: Any,
    runner: dict[str, Any] | None = None,
    reason: str = "drill",
    request_id: str = "req-1",
    **fields: Any,
) -> dict:
    """A forced failback run; its run id is failback-<Lambda request id>."""
    return Runner(
        world.env,
        emulation.clients(world.env, s3control=s3control, **primary_already_writes(world)),
        command("failback", force=True, reason=reason, **fields),
        clock=SkippingClock(),
        http_status=answering(200),
        invocation_id=request_id,
        **(runner or {}),
    ).dispatch()


def test_failback_without_dr_rule_to_the_primary_stops_before_releasing_traffic(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    objects_world(world, aurora_variables)
    s3control = batch_operations([])
    report = failback(world, s3control)
    assert report["outcome"] == "FAILED"
    assert report["failedSteps"] == ["replicate-dr-objects"]
    entries = {e["step"]: e for e in report["timeline"]}
    assert (
        "trading:replication.direction: dr-to-primary" in entries["replicate-dr-objects"]["detail"]
    )
    assert entries["release-traffic"]["outcome"] == "skipped"
    assert entries["scale-to-pilot-light"]["outcome"] == "skipped"
    assert pinned(world)
    assert state(world) == "failed"
    # No job was started without a rule to replicate by.
    s3control.stubber.assert_no_pending_responses()


def test_failback_abandoning_dr_writes_goes_on_without_the_rule_and_records_it(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    objects_world(world, aurora_variables)
    report = failback(
        world, batch_operations([]), abandon_dr_writes=True, reason="dr's records are scratch"
    )
    entries = {e["step"]: e for e in report["timeline"]}
    detail = entries["replicate-dr-objects"]["detail"]
    assert entries["replicate-dr-objects"]["outcome"] == "succeeded"
    assert detail.startswith("dr's objects ABANDONED as requested (dr's records are scratch)")
    assert entries["release-traffic"]["outcome"] == "succeeded"
    assert not pinned(world)


def test_failback_replicates_dr_objects_with_one_job_before_releasing_traffic(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    account = {"AccountId": "123456789012", "JobId": JOB_ID}
    s3control = batch_operations(
        [
            NO_JOBS,
            ("create_job", {"JobId": JOB_ID}, expected_job(world, "failback-req-1")),
            ("describe_job", job("Preparing"), account),
            ("describe_job", job("Active", succeeded=1), account),
            ("describe_job", job("Complete", succeeded=3), account),
        ]
    )
    report = failback(world, s3control)
    assert report["outcome"] == "SUCCEEDED", [
        (e["step"], e["outcome"], e["detail"]) for e in report["timeline"]
    ]
    entries = {e["step"]: e for e in report["timeline"]}
    detail = entries["replicate-dr-objects"]["detail"]
    assert JOB_ID in detail and "created" in detail and "3 of 3 objects replicated" in detail
    assert "rule records-to-peer-region" in detail
    order = [e["step"] for e in report["timeline"]]
    assert order.index("release-traffic") > order.index("replicate-dr-objects")
    assert not pinned(world)
    assert state(world) == "standby"
    s3control.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(("lease", "outcome"), [(-1, "SUCCEEDED"), (300, "noop")])
def test_a_dead_failbacks_expired_lease_is_taken_over_and_a_live_one_is_not(
    world: emulation.World, aurora_variables: dict[str, str], lease: float, outcome: str
) -> None:
    """A failback run killed outright leaves failing-back behind; once its lease has expired
    a new failback takes the record over instead of stopping at it for good."""
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    hold(world, "failing-back", "failback-dead", datetime.now(UTC).timestamp() + lease, "failback")
    account = {"AccountId": "123456789012", "JobId": JOB_ID}
    s3control = batch_operations(
        [
            NO_JOBS,
            ("create_job", {"JobId": JOB_ID}, expected_job(world, "failback-req-1")),
            ("describe_job", job("Complete", succeeded=3), account),
        ]
        if outcome == "SUCCEEDED"
        else []
    )
    report = failback(world, s3control)
    assert report["outcome"] == outcome, report.get("detail")
    assert state(world) == ("standby" if outcome == "SUCCEEDED" else "failing-back")
    s3control.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (job("Failed"), "is Failed"),
        (job("Cancelled"), "is Cancelled"),
        (job("Complete", succeeded=2, failed=1), "1 of 3 objects not replicated"),
    ],
)
def test_a_failed_job_fails_the_step_and_traffic_stays_on_dr(
    world: emulation.World,
    aurora_variables: dict[str, str],
    answer: dict[str, Any],
    expected: str,
) -> None:
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    s3control = batch_operations(
        [NO_JOBS, ("create_job", {"JobId": JOB_ID}, None), ("describe_job", answer, None)]
    )
    report = failback(world, s3control)
    assert report["outcome"] == "FAILED"
    assert report["failedSteps"] == ["replicate-dr-objects"]
    entries = {e["step"]: e for e in report["timeline"]}
    assert expected in entries["replicate-dr-objects"]["detail"]
    assert JOB_ID in entries["replicate-dr-objects"]["detail"]
    assert entries["release-traffic"]["outcome"] == "skipped"
    assert pinned(world)
    s3control.stubber.assert_no_pending_responses()


def recorded_job(world: emulation.World) -> str:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=world.env.state_table, Key={"pk": {"S": "failover"}}
    )
    return item.get("Item", {}).get("batch_job", {}).get("S", "")


def stop_at_deadline_with_the_job_running(world: emulation.World, **fields: Any) -> None:
    """A failback run that creates the job, then meets the Lambda's deadline waiting on it."""
    created: list[str] = []
    first = batch_operations(
        [
            NO_JOBS,
            ("create_job", {"JobId": JOB_ID}, None),
            ("describe_job", job("Active", succeeded=1), None),
        ]
    )
    create_job = first.create_job

    def creating(**params: Any) -> Any:
        answer = create_job(**params)
        created.append(answer["JobId"])
        return answer

    first.create_job = creating
    # The Lambda's deadline comes once the job exists: the run stops while waiting on it.
    stopped = failback(
        world, first, runner={"remaining_ms": lambda: 0 if created else 900_000}, **fields
    )
    assert stopped["outcome"] == "FAILED"
    entries = {e["step"]: e for e in stopped["timeline"]}
    assert "before the Lambda's deadline" in entries["replicate-dr-objects"]["detail"]
    assert JOB_ID in entries["replicate-dr-objects"]["detail"]
    assert entries["release-traffic"]["outcome"] == "skipped"
    assert state(world) == "failed"
    assert recorded_job(world) == JOB_ID
    first.stubber.assert_no_pending_responses()


def test_a_run_stopped_at_its_deadline_leaves_the_job_to_the_next_which_waits_on_it(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    stop_at_deadline_with_the_job_running(world)
    assert recorded_job(world) == JOB_ID
    # A run that died between CreateJob and recording the job leaves none on record: the next
    # run finds the job in flight (ListJobs, by its description) and creates none.
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=world.env.state_table,
        Key={"pk": {"S": "failover"}},
        UpdateExpression="REMOVE batch_job",
    )
    env = world.env
    listed_job = {
        "JobId": JOB_ID,
        "Description": f"trading failback: {env.records_bucket} -> {env.primary_records_bucket}",
        "Operation": "S3ReplicateObject",
        "Status": "Active",
    }
    second = batch_operations(
        [
            (
                "list_jobs",
                {
                    "Jobs": [
                        {**listed_job, "JobId": "another-job", "Operation": "S3PutObjectTagging"},
                        listed_job,
                    ]
                },
                {"AccountId": "123456789012", "JobStatuses": list(steps.BATCH_JOB_IN_FLIGHT)},
            ),
            ("describe_job", job("Complete", succeeded=3), None),
        ]
    )
    resumed = failback(world, second, request_id="req-2")
    assert resumed["outcome"] == "SUCCEEDED", resumed["timeline"]
    entries = {e["step"]: e for e in resumed["timeline"]}
    assert f"resumed job {JOB_ID} Complete" in entries["replicate-dr-objects"]["detail"]
    assert not pinned(world)
    second.stubber.assert_no_pending_responses()


def test_a_job_that_completed_between_runs_is_the_next_runs_and_none_is_created(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    """The job outlived the run that created it and completed before the operator ran the
    failback again: ListJobs (jobs in flight) no longer shows it, and a new job would have an
    empty manifest. The next run asks the recorded job instead."""
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    # The runbook's "planned failback": `planned` must not make the record a failover's.
    stop_at_deadline_with_the_job_running(world, planned=True)
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=world.env.state_table, Key={"pk": {"S": "failover"}}
    )["Item"]
    assert item["action"]["S"] == "failback"
    account = {"AccountId": "123456789012", "JobId": JOB_ID}
    second = batch_operations(
        [
            ("describe_job", job("Complete", succeeded=3), account),
            ("describe_job", job("Complete", succeeded=3), account),
        ]
    )
    resumed = failback(world, second, request_id="req-2")
    assert resumed["outcome"] == "SUCCEEDED", resumed["timeline"]
    entries = {e["step"]: e for e in resumed["timeline"]}
    assert f"resumed job {JOB_ID} Complete: 3 of 3" in entries["replicate-dr-objects"]["detail"]
    assert not pinned(world)
    # Standby: the job is no longer on record for a later failback to pick up.
    assert state(world) == "standby"
    assert recorded_job(world) == ""
    second.stubber.assert_no_pending_responses()


def test_a_run_that_takes_the_record_over_forgets_its_predecessors_job_unless_it_uses_it(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    """Only the run holding the record names a job: a failback that fails before reaching
    the job (here, dr's rule to the primary is gone) leaves none on record, so no later run
    can take a job of an earlier stay in dr as its own."""
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    stop_at_deadline_with_the_job_running(world)
    boto3.client("s3", region_name=REGION).delete_bucket_replication(
        Bucket=world.env.records_bucket
    )
    second = batch_operations([])
    stopped = failback(world, second, request_id="req-2")
    assert stopped["failedSteps"] == ["replicate-dr-objects"]
    assert state(world) == "failed"
    assert recorded_job(world) == ""
    second.stubber.assert_no_pending_responses()


def test_a_recorded_job_with_failed_tasks_is_replaced_by_a_new_one(
    world: emulation.World, aurora_variables: dict[str, str]
) -> None:
    """What the recorded job left failed has status FAILED, which a new job's manifest takes."""
    objects_world(world, aurora_variables)
    deploy_reverse_rule(world)
    stop_at_deadline_with_the_job_running(world)
    second_job = "7f3a1b68-1c5c-4be5-8e6a-1b2c3d4e5f60"
    second = batch_operations(
        [
            ("describe_job", job("Complete", succeeded=2, failed=1), None),
            NO_JOBS,
            ("create_job", {"JobId": second_job}, expected_job(world, "failback-req-2")),
            (
                "describe_job",
                {"Job": {**job("Complete", succeeded=1, total=1)["Job"], "JobId": second_job}},
                {"AccountId": "123456789012", "JobId": second_job},
            ),
        ]
    )
    resumed = failback(world, second, request_id="req-2")
    assert resumed["outcome"] == "SUCCEEDED", resumed["timeline"]
    entries = {e["step"]: e for e in resumed["timeline"]}
    assert f"created job {second_job} Complete: 1 of 1" in entries["replicate-dr-objects"]["detail"]
    second.stubber.assert_no_pending_responses()


def test_the_idempotency_token_is_the_runs_own_and_fits_create_job() -> None:
    token = steps.client_request_token("failback-req-1")
    assert token == steps.client_request_token("failback-req-1")
    assert token != steps.client_request_token("failback-req-2")
    assert 1 <= len(token) <= 64


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("RECORDS_BUCKET", "Records_Bucket", "an S3 bucket name"),
        ("PRIMARY_RECORDS_BUCKET", "ab", "an S3 bucket name"),
        ("BATCH_REPLICATION_ROLE_ARN", "arn:aws:s3:::bucket", "an IAM role ARN"),
        ("BATCH_REPLICATION_REPORT_PREFIX", "/reports//", "a key prefix"),
    ],
)
def test_malformed_object_replication_variables_are_refused_by_name(
    aurora_variables: dict[str, str], name: str, value: str, allowed: str
) -> None:
    with pytest.raises(InvalidEnvironmentError) as refused:
        parse_environment({**aurora_variables, "AWS_REGION": REGION, name: value})
    assert name in str(refused.value) and repr(value) in str(refused.value)
    assert allowed in str(refused.value)


def test_object_replication_variables_come_together_or_not_at_all(
    aurora_variables: dict[str, str],
) -> None:
    with pytest.raises(InvalidEnvironmentError, match="set together or not at all"):
        parse_environment(
            {**aurora_variables, "AWS_REGION": REGION, "BATCH_REPLICATION_ROLE_ARN": ""}
        )
    bare = {
        k: v
        for k, v in aurora_variables.items()
        if k
        not in (
            "RECORDS_BUCKET",
            "PRIMARY_RECORDS_BUCKET",
            "BATCH_REPLICATION_ROLE_ARN",
            "BATCH_REPLICATION_REPORT_PREFIX",
        )
    }
    assert parse_environment({**bare, "AWS_REGION": REGION}).records_bucket == ""


# -- the canary's GET, against a real HTTP server ---------------------------------------------


def test_fetch_status_returns_every_answer_and_none_only_without_one() -> None:
    """urllib raises for statuses from 400 up; those are still answers, which the callers
    judge (a 503 is a blind write gate). A refused connection or a malformed answer is
    none."""

    class Answers(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/garbage":
                self.wfile.write(b"not http at all\r\n\r\n")
                return
            self.send_response(int(self.path.strip("/")))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for status in (200, 403, 429, 503):
            assert failover_module.fetch_status(f"{base}/{status}", 5) == status
        assert failover_module.fetch_status(f"{base}/garbage", 5) is None
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert failover_module.fetch_status(f"http://127.0.0.1:{port}/health", 5) is None
    assert failover_module.fetch_status("http://127.0.0.1:notaport/health", 5) is None
