"""Connectivity, low-latency compute and the security baseline, each as config turns it on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from settings import SettingsError, parse
from testing.harness import Graph, run_program
from tests.conftest import PRIMARY_REFERENCE, StackGraph, raw_settings

HUB = {"transitGateway": True, "peering": True}
VPN = {"customerGatewayIp": "198.51.100.7", "bgpAsn": 65010, "onPremCidrs": ["172.16.0.0/16"]}


def with_connectivity(stack: str, **extra: Any) -> dict[str, Any]:
    return {"trading:connectivity": raw_settings(stack)["connectivity"] | HUB | extra}


@pytest.fixture(scope="module")
def connected() -> tuple[Graph, Graph]:
    primary = run_program("primary", with_connectivity("primary", vpn=VPN))
    dr = run_program("dr", with_connectivity("dr"), references={PRIMARY_REFERENCE: primary})
    return primary, dr


def test_connectivity_is_off_by_default(stack: StackGraph) -> None:
    for kind in (
        "aws:ec2transitgateway/transitGateway:TransitGateway",
        "aws:ec2/vpnConnection:VpnConnection",
        "aws:ec2transitgateway/peeringAttachment:PeeringAttachment",
    ):
        assert not stack.of_type(kind)


def test_private_and_data_tables_route_to_the_hub(connected: tuple[Graph, Graph]) -> None:
    for graph, peer_cidr in zip(connected, ("10.20.0.0/16", "10.10.0.0/16"), strict=True):
        (hub,) = graph.of_type("aws:ec2transitgateway/transitGateway:TransitGateway")
        tables = {
            f"{t.name}-id"
            for t in graph.of_type("aws:ec2/routeTable:RouteTable")
            if "-private-rt-" in t.name or t.name.endswith("-data-rt")
        }
        to_peer = [
            r
            for r in graph.of_type("aws:ec2/route:Route")
            if r.inputs.get("destinationCidrBlock") == peer_cidr
        ]
        assert {r.inputs["routeTableId"] for r in to_peer} == tables
        assert all(r.inputs["transitGatewayId"] == f"{hub.name}-id" for r in to_peer)
        (attachment,) = graph.of_type("aws:ec2transitgateway/vpcAttachment:VpcAttachment")
        assert attachment.inputs["vpcId"] == graph.exports["vpcId"]


def test_peering_is_routed_both_ways(connected: tuple[Graph, Graph]) -> None:
    primary, dr = connected
    (peering,) = dr.of_type("aws:ec2transitgateway/peeringAttachment:PeeringAttachment")
    assert peering.inputs["peerTransitGatewayId"] == primary.exports["transitGatewayId"]
    assert peering.inputs["peerRegion"] == "us-east-1"
    (accepter,) = dr.of_type(
        "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter"
    )
    assert accepter.inputs["region"] == "us-east-1"
    routes = {r.name: r.inputs for r in dr.of_type("aws:ec2transitgateway/route:Route")}
    assert routes["dr-to-peer"]["destinationCidrBlock"] == "10.10.0.0/16"
    assert (
        routes["dr-to-peer"]["transitGatewayRouteTableId"]
        == dr.exports["transitGatewayRouteTableId"]
    )
    assert routes["dr-from-peer"]["destinationCidrBlock"] == "10.20.0.0/16"
    assert routes["dr-from-peer"]["region"] == "us-east-1"
    assert (
        routes["dr-from-peer"]["transitGatewayRouteTableId"]
        == primary.exports["transitGatewayRouteTableId"]
    )
    assert not primary.of_type("aws:ec2transitgateway/peeringAttachment:PeeringAttachment")


def test_vpn_attaches_to_the_hub_with_propagation(connected: tuple[Graph, Graph]) -> None:
    primary, _ = connected
    (vpn,) = primary.of_type("aws:ec2/vpnConnection:VpnConnection")
    (hub,) = primary.of_type("aws:ec2transitgateway/transitGateway:TransitGateway")
    assert vpn.inputs["transitGatewayId"] == f"{hub.name}-id"
    assert vpn.inputs["staticRoutesOnly"] is False
    for tunnel in ("tunnel1", "tunnel2"):
        assert vpn.inputs[f"{tunnel}IkeVersions"] == ["ikev2"]
        assert vpn.inputs[f"{tunnel}Phase1EncryptionAlgorithms"] == ["AES256"]
        assert vpn.inputs[f"{tunnel}LogOptions"]["cloudwatchLogOptions"]["logEnabled"] is True
    propagations = {
        p.name
        for p in primary.of_type(
            "aws:ec2transitgateway/routeTablePropagation:RouteTablePropagation"
        )
    }
    assert propagations == {"primary-vpc-propagation", "primary-vpn-propagation"}
    on_prem = [
        r
        for r in primary.of_type("aws:ec2/route:Route")
        if r.inputs.get("destinationCidrBlock") == "172.16.0.0/16"
    ]
    assert len(on_prem) == 4


LATENCY = {"instanceTypes": ["c7i.4xlarge"], "minSize": 0, "desiredSize": 0, "maxSize": 4}


def test_latency_node_group_sits_in_one_az_with_a_cluster_placement_group(
    run_dr: Any,
) -> None:
    capacity = copy.deepcopy(raw_settings("dr")["capacity"])
    for profile in capacity["profiles"].values():
        profile["nodeGroups"]["latency"] = LATENCY
    graph = run_dr(
        {
            "trading:capacity": capacity,
            "trading:lowLatency": {"availabilityZones": ["us-west-2b"], "enaExpress": True},
        }
    )
    (placement,) = graph.of_type("aws:ec2/placementGroup:PlacementGroup")
    assert placement.inputs["strategy"] == "cluster"
    template = graph.one("aws:ec2/launchTemplate:LaunchTemplate", "dr-latency-template")
    assert template.inputs["placement"]["groupName"] == placement.outputs["name"]
    assert template.inputs["networkInterfaces"][0]["enaSrdSpecification"]["enaSrdEnabled"] is True
    group = graph.one("eks:index:ManagedNodeGroup", "dr-latency-ng")
    assert group.inputs["subnetIds"] == ["dr-private-us-west-2b-id"]
    assert group.inputs["launchTemplate"]["id"] == f"{template.name}-id"
    spread = graph.one("eks:index:ManagedNodeGroup", "dr-trading-ng")
    assert len(spread.inputs["subnetIds"]) == 3


def test_every_node_requires_imdsv2_and_boots_from_encrypted_gp3(stack: StackGraph) -> None:
    templates = stack.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2
    key = stack.one("aws:kms/key:Key", f"trading-{stack.name}-nodes")
    for template in templates:
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 2
        (device,) = template.inputs["blockDeviceMappings"]
        assert device["ebs"]["volumeType"] == "gp3"
        assert device["ebs"]["encrypted"] == "true"
        assert device["ebs"]["kmsKeyId"] == key.outputs["arn"]


def test_trail_is_multi_region_validated_and_encrypted(primary: StackGraph, dr: StackGraph) -> None:
    (trail,) = primary.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    assert (
        trail.inputs["kmsKeyId"]
        == primary.one("aws:kms/key:Key", "trading-primary-trail").outputs["arn"]
    )
    assert trail.inputs["cloudWatchLogsGroupArn"].endswith(":*")
    # One trail per account: dr leaves it to the primary stack.
    assert not dr.of_type("aws:cloudtrail/trail:Trail")


def test_baseline_services_are_on(stack: StackGraph) -> None:
    features = {
        f.inputs["name"] for f in stack.of_type("aws:guardduty/detectorFeature:DetectorFeature")
    }
    assert features == {"EKS_AUDIT_LOGS", "RUNTIME_MONITORING"}
    (standard,) = stack.of_type("aws:securityhub/standardsSubscription:StandardsSubscription")
    assert "aws-foundational-security-best-practices" in standard.inputs["standardsArn"]
    assert stack.of_type("aws:cfg/recorderStatus:RecorderStatus")
    assert stack.of_type("aws:accessanalyzer/analyzer:Analyzer")


def test_security_toggles_off_remove_the_services(run_dr: Any) -> None:
    off = dict.fromkeys(
        ("cloudtrail", "guardduty", "securityHub", "configRecorder", "accessAnalyzer"), False
    )
    graph = run_dr({"trading:security": off})
    assert not [
        r
        for r in graph
        if r.type.split(":")[1].split("/")[0]
        in ("cloudtrail", "guardduty", "securityhub", "cfg", "accessanalyzer")
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {
                "connectivity": {
                    "transitGateway": True,
                    "vpn": {"bgpAsn": 65010, "onPremCidrs": ["172.16.0.0/16"]},
                }
            },
            "customerGatewayIp = None",
        ),
        (
            {
                "connectivity": {
                    "transitGateway": True,
                    "vpn": VPN | {"onPremCidrs": ["10.10.4.0/24"]},
                }
            },
            "does not overlap the VPCs (10.10.0.0/16)",
        ),
        (
            {"connectivity": {"peering": True}},
            "true when connectivity.peering or connectivity.vpn is set",
        ),
        (
            {"lowLatency": {"availabilityZones": ["us-east-1a", "us-east-1b"]}},
            "exactly one AZ (a cluster placement group cannot span AZs)",
        ),
    ],
)
def test_bad_connectivity_and_latency_settings(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(raw_settings("primary") | change)
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_instance_type_without_ena_is_refused() -> None:
    raw = copy.deepcopy(raw_settings("primary"))
    raw["capacity"]["profiles"]["full"]["nodeGroups"]["trading"]["instanceTypes"] = ["c4.8xlarge"]
    with pytest.raises(
        SettingsError,
        match=r"instanceTypes\[0\] = 'c4.8xlarge' is not valid; allowed: an instance type with ENA",
    ):
        parse(raw)
