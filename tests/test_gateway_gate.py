"""The write gate as each stack deploys it (components/write_gate.py): a sidecar in the order
gateway's pods, in the load balancer's path, reading its own region's routing control with a
role that may do nothing else. The sidecar's environment is parsed by the gate's own
`load_settings`, so the component and the program agree on one contract."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from components.gateway import APP, NAMESPACE
from components.irsa import ROLE_ARN_ANNOTATION
from components.write_gate import CONTAINER, SERVICE_ACCOUNT
from gate import write_gate as gate
from outputs import StackOutput
from settings import WRITE_GATE_PORT
from tests.conftest import StackGraph

PROGRAM = gate.__file__


def _pod(stack: StackGraph) -> dict[str, Any]:
    deployment = stack.one("kubernetes:apps/v1:Deployment", f"{stack.name}-deployment")
    return deployment.inputs["spec"]["template"]


def _sidecar(stack: StackGraph) -> dict[str, Any]:
    (sidecar,) = [c for c in _pod(stack)["spec"]["containers"] if c["name"] == CONTAINER]
    return sidecar


def test_the_sidecar_reads_its_own_regions_control_at_every_endpoint(
    stack: StackGraph, primary: StackGraph
) -> None:
    env = {e["name"]: e["value"] for e in _sidecar(stack)["env"]}
    # What the EKS pod identity webhook adds to the container at admission.
    injected = {
        "AWS_ROLE_ARN": f"arn:aws:iam::111122223333:role/{stack.name}-write-gate",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
    }
    settings = gate.load_settings(env | injected)
    role = "primary" if stack.name == "primary" else "dr"
    assert settings.control_arn == primary.exports[StackOutput.ROUTING_CONTROL_ARNS][role]
    listed = primary.exports[StackOutput.ROUTING_CONTROL_ENDPOINTS]
    read = [{"region": e.region, "endpoint": e.url} for e in settings.endpoints]
    assert sorted(read, key=str) == sorted(listed, key=str)
    assert (settings.listen_port, settings.upstream_port) == (WRITE_GATE_PORT, 5678)
    assert settings.open_paths == {"/health"}
    # dr's gate must keep reading while us-east-1 (home of the global STS endpoint) is down.
    assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    assert env["AWS_REGION"] == settings.region == stack.exports[StackOutput.REGION]
    # The pod's own region is read first.
    assert settings.endpoints[0].region == settings.region
    # Without IRSA's credentials the gate stops at start rather than refuse orders quietly.
    assert env[gate.REQUIRE_WEB_IDENTITY] == "1"
    annotations = _pod(stack)["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/skip-containers"] == APP


def test_the_load_balancer_reaches_the_pods_only_through_the_gate(stack: StackGraph) -> None:
    service = stack.one("kubernetes:core/v1:Service", f"{stack.name}-service")
    assert [p["targetPort"] for p in service.inputs["spec"]["ports"]] == [WRITE_GATE_PORT]
    # The target group keeps the gateway's port: targets are registered with the Service's
    # targetPort, and a new port would replace the named group the listener uses.
    group = stack.one("aws:lb/targetGroup:TargetGroup", f"{stack.name}-gateway")
    assert group.inputs["port"] == 5678
    assert group.inputs["healthCheck"].get("port", "traffic-port") == "traffic-port"
    for rule, kind in (
        (f"{stack.name}-nlb-to-pods", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
        (
            f"{stack.name}-pods-from-nlb",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        ),
    ):
        opened = stack.one(kind, rule).inputs
        assert (opened["fromPort"], opened["toPort"]) == (WRITE_GATE_PORT, WRITE_GATE_PORT)


def test_the_gates_role_reads_one_routing_control_and_nothing_else(
    stack: StackGraph, primary: StackGraph
) -> None:
    role_name = f"{stack.name}-write-gate"
    role = stack.one("aws:iam/role:Role", role_name)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (condition,) = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    assert f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}" in condition.values()
    policy = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", role_name).inputs["policy"])
    role_kind = "primary" if stack.name == "primary" else "dr"
    assert policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "route53-recovery-cluster:GetRoutingControlState",
            "Resource": primary.exports[StackOutput.ROUTING_CONTROL_ARNS][role_kind],
        }
    ]
    account = stack.one("kubernetes:core/v1:ServiceAccount", role_name).inputs
    assert account["metadata"]["annotations"][ROLE_ARN_ANNOTATION] == role.outputs["arn"]
    assert _pod(stack)["spec"]["serviceAccountName"] == SERVICE_ACCOUNT


def test_the_pods_run_the_shipped_program_and_roll_when_it_changes(stack: StackGraph) -> None:
    with open(PROGRAM, encoding="utf-8") as source:
        program = source.read()
    config_map = stack.one("kubernetes:core/v1:ConfigMap", f"{stack.name}-write-gate").inputs
    assert config_map["data"] == {"write_gate.py": program}
    annotations = _pod(stack)["metadata"]["annotations"]
    assert annotations["trading.example.com/write-gate-sha256"] == (
        hashlib.sha256(program.encode()).hexdigest()
    )
    sidecar = _sidecar(stack)
    assert sidecar["image"] == "public.ecr.aws/lambda/python:3.12"  # trading:gateway default
    mounted = {m["name"]: m for m in sidecar["volumeMounts"]}
    (volume,) = _pod(stack)["spec"]["volumes"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert mounted[volume["name"]]["readOnly"] is True
    assert sidecar["command"] == [
        "python3",
        f"{mounted[volume['name']]['mountPath']}/write_gate.py",
    ]
    security = sidecar["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_the_pods_run_the_gateway_and_its_gate_and_nothing_else(stack: StackGraph) -> None:
    names = [c["name"] for c in _pod(stack)["spec"]["containers"]]
    assert names == [APP, CONTAINER]
