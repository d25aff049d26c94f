"""The values that cross a boundary, each defined once: the failover Lambda's environment
(handlers/contract.py), the marker writer's (handlers/markers.py `Settings`), and the stack
outputs one stack or the drill reads from another (outputs.py). The environments are taken
from the synthesized programs (testing/harness.py), the outputs from their recorded exports."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

import settings
from components.failover import FailoverAutomation
from components.failover_args import FailoverAutomationArgs
from handlers import markers
from handlers.contract import (
    AURORA,
    HEALTH_CHECK_INVERSION,
    ROUTING_CONTROL,
    Environment,
    InvalidEnvironmentError,
)
from handlers.model import parse_environment
from outputs import (
    DR_NEEDS_FROM_PRIMARY,
    DRILL_NEEDS_FROM_DR,
    DRILL_NEEDS_FROM_PRIMARY,
    DRILL_READS_FROM_DR,
    DRILL_READS_FROM_PRIMARY,
    PEERING_NEEDS_FROM_PRIMARY,
    StackOutput,
    database_source,
)
from testing import emulation
from testing.harness import Graph, run_program, stack_config
from tests.conftest import PRIMARY_REFERENCE, StackGraph, raw_settings

FUNCTION = "aws:lambda/function:Function"
DR_REGION = "us-west-2"
# What components/references.py `require_outputs` counts as missing.
EMPTY: tuple[Any, ...] = (None, "", {}, [])
# One worker builds this module's own pair of stacks, once.
pytestmark = pytest.mark.xdist_group("contracts")


def other_options_config(stack: str) -> dict[str, Any]:
    """The stack files' other options: traffic switched by inverting the primary's health
    check, and the Transit Gateway hub with dr peering to the primary's."""
    dns = stack_config(stack)["trading:dns"]
    hub = {"transitGateway": True, "peering": True}
    return {
        "trading:dns": dns | {"trafficControl": HEALTH_CHECK_INVERSION},
        "trading:connectivity": raw_settings(stack)["connectivity"] | hub,
    }


@pytest.fixture(scope="module")
def other_options() -> tuple[StackGraph, StackGraph]:
    primary = run_program("primary", other_options_config("primary"))
    dr = run_program("dr", other_options_config("dr"), references={PRIMARY_REFERENCE: primary})
    return StackGraph(primary), StackGraph(dr)


def variables(stack: StackGraph, function: str) -> dict[str, str]:
    return dict(stack.one(FUNCTION, function).inputs["environment"]["variables"])


# -- the failover Lambda's environment: written by the dr stack, read by the handler --------


@pytest.fixture(scope="module")
def every_deployment(
    primary: StackGraph,
    dr: StackGraph,
    rds_primary: StackGraph,
    rds_dr: StackGraph,
    other_options: tuple[StackGraph, StackGraph],
) -> list[tuple[StackGraph, StackGraph]]:
    """Aurora with routing controls (the stack files), RDS for PostgreSQL, and the other options."""
    return [(primary, dr), (rds_primary, rds_dr), other_options]


def test_the_stacks_environment_round_trips_through_the_handlers_parser(
    every_deployment: list[tuple[StackGraph, StackGraph]],
) -> None:
    for _, dr in every_deployment:
        written = variables(dr, "dr-handler")
        # What the Lambda runtime adds (AWS_REGION) is the only difference at cold start.
        parsed = parse_environment({**written, Environment.REGION: DR_REGION})
        assert parsed.to_env() == written
        assert Environment.from_env({**parsed.to_env(), Environment.REGION: DR_REGION}) == parsed


def test_the_parsed_environment_names_what_the_stacks_built(
    every_deployment: list[tuple[StackGraph, StackGraph]],
) -> None:
    for primary, dr in every_deployment:
        env = Environment.from_env({**variables(dr, "dr-handler"), Environment.REGION: DR_REGION})
        assert env.cluster_name == dr.exports[StackOutput.CLUSTER_NAME]
        assert env.node_groups == dr.exports[StackOutput.NODE_GROUP_NAMES]
        profiles = dr.exports[StackOutput.CAPACITY_PROFILES]
        for name, parsed in (("full", env.full), ("pilot-light", env.pilot_light)):
            declared = profiles[name]["nodeGroups"]
            assert {g: s.document() for g, s in parsed.items()} == {
                g: {k: declared[g][k] for k in ("minSize", "desiredSize", "maxSize")}
                for g in declared
            }
        assert env.db_engine == dr.exports[StackOutput.DATABASE_ENGINE]
        assert env.db_identifier == dr.exports[StackOutput.DATABASE_IDENTIFIER]
        assert env.primary_db_identifier == primary.exports[StackOutput.DATABASE_IDENTIFIER]
        assert env.primary_region == primary.exports[StackOutput.REGION]
        assert env.primary_endpoint == f"https://{primary.exports[StackOutput.REGIONAL_ENDPOINT]}"
        assert env.dr_endpoint == f"https://{dr.exports[StackOutput.REGIONAL_ENDPOINT]}"
        assert env.state_table == dr.exports[StackOutput.FAILOVER_STATE_TABLE]
        assert env.topic_arn == dr.exports[StackOutput.FAILOVER_TOPIC_ARN]
        assert env.dr_health_check_id == dr.exports[StackOutput.HEALTH_CHECK_ID]
        assert env.traffic_control == dr.exports[StackOutput.TRAFFIC_CONTROL]
        if env.db_engine == AURORA:
            assert (
                env.global_cluster_identifier
                == primary.exports[StackOutput.GLOBAL_CLUSTER_IDENTIFIER]
            )
        else:
            assert env.global_cluster_identifier == ""
        if env.traffic_control == ROUTING_CONTROL:
            assert env.routing_controls is not None
            arns = primary.exports[StackOutput.ROUTING_CONTROL_ARNS]
            assert (env.routing_controls.primary, env.routing_controls.dr) == (
                arns["primary"],
                arns["dr"],
            )
            assert [
                {"region": r, "endpoint": u} for r, u in env.routing_controls.endpoints
            ] == primary.exports[StackOutput.ROUTING_CONTROL_ENDPOINTS]
            # The primary's check steers nothing with routing controls.
            assert env.primary_health_check_id == ""
        else:
            assert env.routing_controls is None
            assert env.primary_health_check_id == primary.exports[StackOutput.HEALTH_CHECK_ID]


def test_the_emulation_and_simulation_read_the_same_environment(
    dr: StackGraph, primary: StackGraph
) -> None:
    from drill.simulation import topology  # noqa: PLC0415 - only this test needs it

    written = variables(dr, "dr-handler")
    assert emulation.lambda_environment(dr.graph) == written
    emulated = emulation.handler_environment(written, DR_REGION)
    simulated = topology.from_graphs(primary.graph, dr.graph)
    assert simulated.lambda_variables == written
    assert emulated == Environment.from_env({**written, Environment.REGION: DR_REGION})
    assert simulated.routing_controls == emulated.routing_controls


def _args(**change: Any) -> FailoverAutomationArgs:
    """The component's arguments for the dr stack file's settings."""
    config = settings.parse(raw_settings("dr"))
    values: dict[str, Any] = {
        # The environment names nothing of the region's context (provider, keys, account).
        "context": cast(Any, None),
        "primary_region": "us-east-1",
        "cluster_name": "trading-dr",
        "node_group_names": {"system": "trading-dr-system", "trading": "trading-dr-trading"},
        "full": config.capacity.full,
        "pilot_light": config.capacity.pilot_light,
        "db_engine": "postgres",
        "db_identifier": "trading-dr-db",
        "primary_db_identifier": "trading-primary-db",
        "global_cluster_identifier": None,
        "settings": config.failover,
        "data_key_arn": "arn:aws:kms:us-west-2:123456789012:key/data",
        "primary_endpoint": "https://us-east-1.api.trading.example.com",
    }
    return FailoverAutomationArgs(**(values | change))


def _environment(
    args: FailoverAutomationArgs, topic_arn: pulumi.Input[str]
) -> dict[str, pulumi.Output[str]]:
    table = SimpleNamespace(name="trading-dr-failover-state")
    notifications = SimpleNamespace(topic_arn=topic_arn)
    return FailoverAutomation._environment(args, cast(Any, table), cast(Any, notifications))


def _unknown() -> pulumi.Output[str]:
    """An output as a preview has it for a resource not created yet: no value."""
    loop = _ensure_event_loop()

    def done(value: Any) -> Any:
        future = loop.create_future()
        future.set_result(value)
        return future

    return pulumi.Output(set(), done(None), done(False), done(False))


def test_each_variable_waits_only_on_its_own_value() -> None:
    """An apply does not run while its value is unknown
    (https://www.pulumi.com/docs/iac/concepts/inputs-outputs/apply/): written as one Output,
    the whole environment would be unknown in a first preview, where the policies read
    NODE_GROUPS and PILOT_LIGHT_PROFILE, and secret when one value is."""
    args = _args(primary_db_identifier=pulumi.Output.secret("trading-primary-db"))
    env = _environment(args, _unknown())
    known = {name for name, value in env.items() if _sync_await(value.is_known())}
    assert set(env) - known == {Environment.TOPIC_ARN}
    secret = {name for name, value in env.items() if _sync_await(value.is_secret())}
    assert secret == {Environment.PRIMARY_DB_IDENTIFIER}
    groups = _sync_await(env[Environment.NODE_GROUPS].future())
    assert json.loads(str(groups)) == {
        "system": "trading-dr-system",
        "trading": "trading-dr-trading",
    }


def test_the_component_refuses_what_the_handler_would_refuse() -> None:
    env = _environment(_args(primary_endpoint="http://us-east-1.api.trading.example.com"), "")
    with pytest.raises(InvalidEnvironmentError) as caught:
        _sync_await(env[Environment.PRIMARY_ENDPOINT].future())
    assert str(caught.value) == (
        "environment variable PRIMARY_ENDPOINT='http://us-east-1.api.trading.example.com' is "
        'malformed: expected an https:// URL or "" (none)'
    )


# -- malformed values: named with the variable, the value and what is allowed --------------


def _with_sizes(key: str, group: str, **size: Any) -> Callable[[dict[str, str]], str]:
    def change(env: dict[str, str]) -> str:
        sizes = json.loads(env[key])
        sizes[group] |= size
        return json.dumps(sizes)

    return change


def _with_gateway(**full: Any) -> Callable[[dict[str, str]], str]:
    def change(env: dict[str, str]) -> str:
        gateway = json.loads(env[Environment.GATEWAY])
        gateway["full"] |= full
        return json.dumps(gateway)

    return change


ARC = "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol"
MALFORMED: list[tuple[str, Any, str]] = [
    (
        Environment.CLUSTER_NAME,
        "trading dr",
        "CLUSTER_NAME='trading dr' is malformed: expected a name of letters, digits",
    ),
    (Environment.STATE_TABLE, "", "STATE_TABLE is missing"),
    (
        Environment.NODE_GROUPS,
        "[]",
        "NODE_GROUPS must be JSON {group: name}, got '[]'",
    ),
    (
        Environment.NODE_GROUPS,
        '{"system": 5, "trading": "trading-dr-trading"}',
        "NODE_GROUPS=5 is malformed: expected node group names as a name",
    ),
    (
        Environment.FULL_PROFILE,
        _with_sizes(Environment.FULL_PROFILE, "trading", minSize=7),
        "FULL_PROFILE: trading has {'minSize': 7, 'desiredSize': 6, 'maxSize': 12}; allowed is "
        "0 <= minSize <= desiredSize <= maxSize",
    ),
    (
        Environment.PILOT_LIGHT_PROFILE,
        _with_sizes(Environment.PILOT_LIGHT_PROFILE, "system", desiredSize="1"),
        "PILOT_LIGHT_PROFILE must be JSON {group: {minSize, desiredSize, maxSize}}, got",
    ),
    (
        Environment.PILOT_LIGHT_PROFILE,
        _with_sizes(Environment.PILOT_LIGHT_PROFILE, "system", desiredSize=True),
        "PILOT_LIGHT_PROFILE must be JSON {group: {minSize, desiredSize, maxSize}}, got",
    ),
    (
        Environment.GATEWAY,
        _with_gateway(replicas=0),
        "GATEWAY: {'replicas': 0, 'maxReplicas': 24}; allowed is 1 <= replicas <= maxReplicas",
    ),
    (
        Environment.DB_ENGINE,
        "mysql",
        "DB_ENGINE='mysql' is not one of postgres, aurora-postgresql",
    ),
    (Environment.GLOBAL_CLUSTER_IDENTIFIER, "", "GLOBAL_CLUSTER_IDENTIFIER is missing"),
    (
        Environment.PRIMARY_REGION,
        "US-EAST-1",
        "PRIMARY_REGION='US-EAST-1' is malformed: expected an AWS region such as us-west-2",
    ),
    (
        Environment.TOPIC_ARN,
        "my-topic",
        "TOPIC_ARN='my-topic' is malformed: expected an ARN (arn:aws:<service>:<region>:",
    ),
    (
        Environment.DR_HEALTH_CHECK_ID,
        "dr check",
        "DR_HEALTH_CHECK_ID='dr check' is malformed: expected a name of letters",
    ),
    (
        Environment.FAILOVER_MODE,
        "yolo",
        "FAILOVER_MODE='yolo' is not one of manual, automatic",
    ),
    *(
        (
            Environment.PROBE_FAILURE_THRESHOLD,
            value,
            f"PROBE_FAILURE_THRESHOLD={expected} is malformed: expected a whole number 1-20",
        )
        for value, expected in (("0", "0"), ("21", "21"), ("three", "'three'"), ("-1", "'-1'"))
    ),
    (
        Environment.TRAFFIC_CONTROL,
        "dns",
        "TRAFFIC_CONTROL='dns' is not one of routing-control, health-check-inversion",
    ),
    (
        Environment.ROUTING_CONTROLS,
        json.dumps({"primary": f"{ARC}/p"}),
        'ROUTING_CONTROLS must be JSON {"primary": arn, "dr": arn}, got',
    ),
    (
        Environment.ROUTING_CONTROLS,
        json.dumps({"primary": "primary-control", "dr": f"{ARC}/d"}),
        "ROUTING_CONTROLS='primary-control' is malformed: expected the primary routing control "
        "as an ARN",
    ),
    (
        Environment.ROUTING_CONTROL_ENDPOINTS,
        "[]",
        "ROUTING_CONTROL_ENDPOINTS=RoutingControls(",
    ),
    (
        Environment.ROUTING_CONTROL_ENDPOINTS,
        json.dumps([{"region": "us-east-1", "endpoint": "http://arc.example"}]),
        "ROUTING_CONTROL_ENDPOINTS='http://arc.example' is malformed: expected each endpoint as "
        "an https:// URL",
    ),
]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    MALFORMED,
    ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(MALFORMED)],
)
def test_a_malformed_variable_is_named_with_its_value_and_what_is_allowed(
    dr: StackGraph, name: str, value: Any, expected: str
) -> None:
    written = variables(dr, "dr-handler")
    changed = str(value(written) if callable(value) else value)
    with pytest.raises(InvalidEnvironmentError) as caught:
        Environment.from_env({**written, Environment.REGION: DR_REGION, name: changed})
    assert str(caught.value).startswith(f"environment variable {expected}"), str(caught.value)


def test_variables_that_disagree_are_named_together(dr: StackGraph, rds_dr: StackGraph) -> None:
    written = {**variables(dr, "dr-handler"), Environment.REGION: DR_REGION}
    with pytest.raises(InvalidEnvironmentError, match="must name the same node groups"):
        Environment.from_env({**written, Environment.NODE_GROUPS: '{"system": "a"}'})
    postgres = {**variables(rds_dr, "dr-handler"), Environment.REGION: DR_REGION}
    aurora_without_global = Environment.from_env(postgres)
    with pytest.raises(InvalidEnvironmentError, match="aurora-postgresql needs its global"):
        Environment(
            **{
                **aurora_without_global.__dict__,
                "db_engine": AURORA,
            }
        )
    routed = Environment.from_env(written)
    with pytest.raises(InvalidEnvironmentError, match="set exactly when TRAFFIC_CONTROL"):
        Environment(**{**routed.__dict__, "traffic_control": HEALTH_CHECK_INVERSION})


def test_the_writer_encodes_only_the_contracts_variables() -> None:
    with pytest.raises(InvalidEnvironmentError, match="'NODEGROUPS' is not a variable"):
        Environment.encode("NODEGROUPS", {"system": "trading-dr-system"})


# -- the marker writer's environment --------------------------------------------------------


def test_the_marker_writers_environment_round_trips(
    primary: StackGraph, dr: StackGraph, rds_dr: StackGraph
) -> None:
    for stack in (primary, dr, rds_dr):
        written = variables(stack, f"{stack.name}-markers")
        parsed = markers.Settings.from_environment(written)
        assert parsed.to_env() == written
        assert parsed.region == stack.exports[StackOutput.REGION]
        assert parsed.bucket_name == stack.exports[StackOutput.RECORDS_BUCKET_NAME]
        assert parsed.table_name == stack.exports[StackOutput.TABLE_NAMES]["orders"]
        assert parsed.db_engine == stack.exports[StackOutput.DATABASE_ENGINE]
        if parsed.db_engine == AURORA:
            assert parsed.db_cluster_arn == stack.exports[StackOutput.DATABASE_ARN]
            assert parsed.db_secret_name == stack.exports[StackOutput.MASTER_SECRET_NAME]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            markers.ENV_REGION,
            "useast1",
            "MARKER_REGION='useast1' is malformed: expected an AWS region such as us-west-2",
        ),
        (
            markers.ENV_DB_ENGINE,
            "mysql",
            "MARKER_DB_ENGINE='mysql' is not one of postgres, aurora-postgresql",
        ),
        (
            markers.ENV_DB_CLUSTER_ARN,
            "trading-dr-db",
            "MARKER_DB_CLUSTER_ARN='trading-dr-db' is malformed: expected a DB cluster ARN",
        ),
        (
            markers.ENV_DB_SECRET_NAME,
            "",
            "MARKER_DB_ENGINE='aurora-postgresql' with MARKER_DB_CLUSTER_ARN=",
        ),
    ],
)
def test_a_malformed_marker_variable_is_named(
    dr: StackGraph, name: str, value: str, expected: str
) -> None:
    written = variables(dr, "dr-markers")
    with pytest.raises(markers.SettingsError) as caught:
        markers.Settings.from_environment({**written, name: value})
    assert str(caught.value).startswith(f"marker writer: {expected}"), str(caught.value)


# -- stack outputs: every one a reader needs is exported by the stack that should -----------


def assert_exported(stack: StackGraph | Graph, names: tuple[str, ...] | list[str]) -> None:
    exports: Mapping[str, Any] = stack.exports
    missing = [name for name in names if exports.get(name) in EMPTY]
    assert not missing, f"stack {getattr(stack, 'name', '')} does not export {missing}"


def test_the_primary_exports_what_dr_reads(
    every_deployment: list[tuple[StackGraph, StackGraph]],
) -> None:
    for primary, dr in every_deployment:
        aurora = dr.exports[StackOutput.DATABASE_ENGINE] == AURORA
        assert_exported(primary, [*DR_NEEDS_FROM_PRIMARY, database_source(aurora)])
        # dr refuses a primary whose traffic control differs (components/primary_reference.py).
        assert (
            primary.exports[StackOutput.TRAFFIC_CONTROL] == dr.exports[StackOutput.TRAFFIC_CONTROL]
        )
        if dr.exports[StackOutput.TRAFFIC_CONTROL] == ROUTING_CONTROL:
            assert_exported(
                primary,
                [StackOutput.ROUTING_CONTROL_ARNS, StackOutput.ROUTING_CONTROL_ENDPOINTS],
            )


def test_dr_exports_what_a_reversed_primary_reads(rds_dr: StackGraph) -> None:
    """Failback rebuilds the primary's database as a replica of dr's writer (RDS for
    PostgreSQL only: settings refuse a reversed Aurora tier)."""
    assert_exported(rds_dr, [database_source(aurora=False)])


def test_the_primary_exports_what_drs_peering_reads(
    other_options: tuple[StackGraph, StackGraph],
) -> None:
    primary, dr = other_options
    assert_exported(primary, PEERING_NEEDS_FROM_PRIMARY)
    peering = dr.one("aws:ec2transitgateway/peeringAttachment:PeeringAttachment", "dr-peering")
    assert peering.inputs["peerTransitGatewayId"] == primary.exports[StackOutput.TRANSIT_GATEWAY_ID]


def test_both_stacks_export_what_the_drill_reads(
    every_deployment: list[tuple[StackGraph, StackGraph]],
) -> None:
    for primary, dr in every_deployment:
        assert_exported(primary, DRILL_NEEDS_FROM_PRIMARY)
        assert_exported(dr, DRILL_NEEDS_FROM_DR)
        assert_exported(primary, DRILL_READS_FROM_PRIMARY)
        assert_exported(dr, DRILL_READS_FROM_DR)


def test_every_output_name_is_exported_by_some_stack(
    every_deployment: list[tuple[StackGraph, StackGraph]],
) -> None:
    """No name in outputs.py outlives the export it names, and none is spelled elsewhere."""
    exported = {name for pair in every_deployment for stack in pair for name in stack.exports}
    names = {value for key, value in vars(StackOutput).items() if key.isupper()}
    assert names - exported == set()
    assert exported - names == set()
