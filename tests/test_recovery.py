"""Traffic control: Route 53 ARC routing controls (the default) or health check inversion.

The engine tests deploy both stacks, primary then dr, on the real Pulumi engine with the
policy pack enforced and the stand-in providers (tests/test_engine.py describes the set-up),
once with the shipped stack files (routing-control) and once with a copy of the project set to
health-check-inversion, and read what the engine recorded with `pulumi stack export`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.recovery import RoutingControls
from components.references import MissingStackOutputError
from testing.offline import Deployed, Offline, deploy, revealed
from tests.conftest import Shipped, StackGraph
from tests.test_engine import program_copy

STACKS = ("primary", "dr")
ARC = "aws:route53recoverycontrol"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"


def checks(deployed: Deployed, kind: str) -> list[dict[str, Any]]:
    return [c for c in deployed.of_type(HEALTH_CHECK) if c["inputs"]["type"] == kind]


def handler_environment(deployed: Deployed) -> dict[str, str]:
    function = deployed.one("aws:lambda/function:Function", "dr-handler")
    variables = function["inputs"]["environment"]["variables"]
    return {name: revealed(value) for name, value in variables.items()}


def with_traffic_control(source: Path, mode: str) -> Path:
    for stack in STACKS:
        stack_file = source / f"Pulumi.{stack}.yaml"
        config = yaml.safe_load(stack_file.read_text())
        config["config"]["trading:dns"]["trafficControl"] = mode
        stack_file.write_text(yaml.safe_dump(config))
    return source


@pytest.fixture(scope="module")
def routing(shipped: Shipped) -> dict[str, Deployed]:
    """Both stacks as shipped: trafficControl routing-control."""
    return shipped.stacks


# The inversion deployment is its own pair of stacks: its tests form a group of their own, so
# `--dist loadgroup` can give them the worker that is not deploying the shipped stacks.
@pytest.fixture(scope="module")
def inversion_offline(tmp_path_factory: pytest.TempPathFactory) -> Offline:
    base = tmp_path_factory.mktemp("inversion")
    source = with_traffic_control(program_copy(base / "checkout"), "health-check-inversion")
    return Offline(base=base / "offline", source=source)


@pytest.fixture(scope="module")
def inversion(inversion_offline: Offline) -> dict[str, Deployed]:
    return deploy(inversion_offline)


@pytest.mark.engine
@pytest.mark.xdist_group("engine")
def test_primary_owns_one_cluster_two_controls_and_a_rule_that_keeps_one_on(
    routing: dict[str, Deployed],
) -> None:
    primary = routing["primary"]
    (cluster,) = primary.of_type(f"{ARC}/cluster:Cluster")
    (panel,) = primary.of_type(f"{ARC}/controlPanel:ControlPanel")
    controls = {
        c["inputs"]["name"]: c for c in primary.of_type(f"{ARC}/routingControl:RoutingControl")
    }
    assert set(controls) == {"trading-primary", "trading-dr"}
    assert panel["inputs"]["clusterArn"] == cluster["outputs"]["arn"]
    for control in controls.values():
        assert control["inputs"]["controlPanelArn"] == panel["outputs"]["arn"]
    # A replacement would start Off and drop traffic: it must fail the update instead.
    assert all(r.get("protect") for r in (cluster, panel, *controls.values()))
    (rule,) = primary.of_type(f"{ARC}/safetyRule:SafetyRule")
    assert rule["inputs"]["ruleConfig"] == {"type": "ATLEAST", "threshold": 1, "inverted": False}
    assert sorted(rule["inputs"]["assertedControls"]) == sorted(
        c["outputs"]["arn"] for c in controls.values()
    )
    assert rule["inputs"]["controlPanelArn"] == panel["outputs"]["arn"]
    # ARC's configuration API answers in us-west-2 only.
    provider = primary.one("pulumi:providers:aws", "primary-arc")
    assert provider["inputs"]["region"] == "us-west-2"
    assert all(r["provider"].startswith(provider["urn"]) for r in (cluster, panel, rule))
    assert primary.outputs["routingControlArns"] == {
        "primary": controls["trading-primary"]["outputs"]["arn"],
        "dr": controls["trading-dr"]["outputs"]["arn"],
    }
    assert primary.outputs["routingControlEndpoints"] == [
        {"region": e["region"], "endpoint": e["endpoint"]}
        for e in cluster["outputs"]["clusterEndpoints"]
    ]
    assert len(primary.outputs["routingControlEndpoints"]) == 5


@pytest.mark.engine
@pytest.mark.xdist_group("engine")
def test_each_failover_record_follows_its_own_regions_routing_control(
    routing: dict[str, Deployed],
) -> None:
    arns = routing["primary"].outputs["routingControlArns"]
    for stack, kind in (("primary", "PRIMARY"), ("dr", "SECONDARY")):
        deployed = routing[stack]
        (switch,) = checks(deployed, "RECOVERY_CONTROL")
        # dr's is read from the primary's outputs: dr creates no ARC resource of its own.
        assert switch["inputs"]["routingControlArn"] == arns[stack]
        record = deployed.one(RECORD, f"{stack}-failover")
        assert record["inputs"]["failoverRoutingPolicies"] == [{"type": kind}]
        assert record["inputs"]["healthCheckId"] == switch["id"]
        # The HTTPS check stays, unattached: its alarm pages on the region's /health.
        (https,) = checks(deployed, "HTTPS")
        alarm = deployed.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{stack}-health")
        assert alarm["inputs"]["dimensions"] == {"HealthCheckId": https["id"]}
        assert deployed.outputs["trafficControl"] == "routing-control"
    assert not [r for r in routing["dr"].resources if r["type"].startswith(ARC)]


@pytest.mark.engine
@pytest.mark.xdist_group("engine")
def test_dr_handler_flips_the_controls_and_leaves_health_checks_alone(
    routing: dict[str, Deployed],
) -> None:
    primary, dr = routing["primary"], routing["dr"]
    environment = handler_environment(dr)
    assert environment["TRAFFIC_CONTROL"] == "routing-control"
    assert json.loads(environment["ROUTING_CONTROLS"]) == primary.outputs["routingControlArns"]
    assert (
        json.loads(environment["ROUTING_CONTROL_ENDPOINTS"])
        == primary.outputs["routingControlEndpoints"]
    )
    assert environment.get("PRIMARY_HEALTH_CHECK_ID", "") == ""
    (dr_https,) = checks(dr, "HTTPS")
    assert environment["DR_HEALTH_CHECK_ID"] == dr_https["id"]


@pytest.mark.engine
@pytest.mark.xdist_group("engine-inversion")
def test_health_check_inversion_keeps_todays_checks_records_and_handler(
    inversion: dict[str, Deployed],
) -> None:
    for stack, kind in (("primary", "PRIMARY"), ("dr", "SECONDARY")):
        deployed = inversion[stack]
        assert not [r for r in deployed.resources if r["type"].startswith(ARC)]
        assert [p["urn"].rsplit("::", 1)[1] for p in deployed.of_type("pulumi:providers:aws")] == [
            f"{stack}-aws"
        ]
        (check,) = deployed.of_type(HEALTH_CHECK)
        assert check["inputs"]["type"] == "HTTPS"
        assert check["inputs"]["resourcePath"] == "/health"
        # The handler inverts the primary's check; `pulumi up` must not undo that.
        assert check.get("ignoreChanges") == ["invertHealthcheck"]
        record = deployed.one(RECORD, f"{stack}-failover")
        assert record["inputs"]["failoverRoutingPolicies"] == [{"type": kind}]
        assert record["inputs"]["healthCheckId"] == check["id"]
        assert deployed.outputs["trafficControl"] == "health-check-inversion"
        assert "routingControlArns" not in deployed.outputs
    environment = handler_environment(inversion["dr"])
    assert environment.get("TRAFFIC_CONTROL", "health-check-inversion") == "health-check-inversion"
    assert "ROUTING_CONTROLS" not in environment
    assert environment["PRIMARY_HEALTH_CHECK_ID"] == inversion["primary"].outputs["healthCheckId"]


@pytest.mark.engine
@pytest.mark.xdist_group("engine-inversion")
def test_dr_refuses_a_primary_that_switches_traffic_another_way(
    inversion: dict[str, Deployed], inversion_offline: Offline
) -> None:
    """With the primary inverting health checks, a dr set to routing controls would build its
    record on a switch failover never flips: its preview fails, naming both settings. Runs
    after the inversion deployment; changes only the copy's dr stack file."""
    assert inversion["primary"].outputs["trafficControl"] == "health-check-inversion"
    stack_file = inversion_offline.source / "Pulumi.dr.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["trading:dns"]["trafficControl"] = "routing-control"
    stack_file.write_text(yaml.safe_dump(config))
    inversion_offline.prepare()
    result = inversion_offline.pulumi("preview", "--stack", "dr", check=False)
    assert result.returncode != 0
    assert (
        "switches traffic with health-check-inversion but this stack's "
        "trading:dns.trafficControl is routing-control"
    ) in result.stdout + result.stderr


def test_routing_controls_round_trip_from_the_primarys_outputs(primary: StackGraph) -> None:
    """What the primary writes is what dr reads (mocked program, no engine)."""
    controls = RoutingControls.from_outputs("primary", primary.exports)
    assert controls.arns == primary.exports["routingControlArns"]
    assert set(controls.arns) == {"primary", "dr"}
    assert controls.endpoint_list() == primary.exports["routingControlEndpoints"]
    assert [e["region"] for e in controls.endpoints] == [
        "us-east-1",
        "ap-southeast-2",
        "eu-west-1",
        "us-west-2",
        "ap-northeast-1",
    ]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"routingControlArns": None}, "routingControlArns = None"),
        ({"routingControlArns": {"primary": "arn:aws:x::1:y"}}, "routingControlArns = {"),
        ({"routingControlEndpoints": []}, "routingControlEndpoints = []"),
        (
            {"routingControlEndpoints": [{"region": "us-east-1", "endpoint": "http://x"}]},
            "routingControlEndpoints = [",
        ),
    ],
)
def test_missing_or_malformed_routing_controls_are_refused_naming_the_stack(
    primary: StackGraph, change: dict[str, Any], named: str
) -> None:
    outputs = {**primary.exports, **change}
    with pytest.raises(MissingStackOutputError) as caught:
        RoutingControls.from_outputs("org/trading/primary", outputs)
    message = str(caught.value)
    assert "stack 'org/trading/primary' exports no usable routing controls" in message
    assert named in message
