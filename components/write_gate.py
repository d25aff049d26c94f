"""The order gateway's write gate: a sidecar in every gateway pod, in the data path in front of
the gateway, that passes orders only while its region's ARC routing control reads On.

Why: after an unplanned failover the primary's routing control is Off, but nothing can reach
us-east-1's APIs to stop its gateway while that region is down. When it returns, clients that
still hold a DNS answer or a connection from before the failover would write to the old primary
(lost writes; docs/simulation.md, `primary-recovers-mid-failover`). The gate stops them on its
own, fail-closed: it reads the control from ARC's data plane (five regional endpoints, none
needed in particular) every `POLL_SECONDS` and refuses orders with 503 unless a read younger
than `FRESH_SECONDS` said On. A region cut off from ARC therefore stops taking orders too.

It gates on the same control DNS follows, and only the data path: the health path passes
whether the control reads On or Off (it fails only while the gate cannot read it), and the
pods' readiness does not depend on the gate. Failback checks the primary's endpoint health
before it turns the primary's control On, and a planned failover waits for dr's gateway
replicas to be available before it moves traffic; either would wait forever on a gate that
followed the control in the health path or the readiness probe.

The program (gate/write_gate.py) is shipped as a ConfigMap and run by a pinned image that
carries Python and boto3 (trading:gateway.writeGateImage); a hash of it in the pod template
rolls the pods when it changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import RegionalContext
from components.irsa import ROLE_ARN_ANNOTATION, OidcProvider, irsa_role
from components.recovery import RegionControl
from gate import write_gate as gate
from settings import WRITE_GATE_PORT

CONTAINER = "write-gate"
SERVICE_ACCOUNT = "order-gateway"
PROGRAM = Path(__file__).resolve().parent.parent / "gate" / "write_gate.py"
MOUNT = "/opt/write-gate"
# Reads a second apart, and a gate that closes 5 s after its last good read: a region whose
# control turns Off stops taking orders within about a second, and one cut off from ARC within
# five. Each read is one GetRoutingControlState call per pod.
POLL_SECONDS = 1
FRESH_SECONDS = 5
PROGRAM_HASH_ANNOTATION = "trading.example.com/write-gate-sha256"
# The EKS pod identity webhook puts the role's token into every container of the pod unless
# told otherwise (https://github.com/aws/amazon-eks-pod-identity-webhook, README, "optional: A
# comma-separated list of initContainers and container names to skip"): only the gate needs it.
SKIP_CONTAINERS_ANNOTATION = "eks.amazonaws.com/skip-containers"


def gate_policy(control_arn: str) -> str:
    """Reading one routing control's state, and nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "route53-recovery-cluster:GetRoutingControlState",
                    "Resource": control_arn,
                }
            ],
        }
    )


@dataclass(frozen=True)
class WriteGateArgs:
    context: RegionalContext
    control: RegionControl
    oidc: OidcProvider
    # trading:gateway.writeGateImage: any image with python3 and boto3.
    image: str


@dataclass(frozen=True)
class GatePod:
    """What the gate adds to the gateway's pod template."""

    container: k8s.core.v1.ContainerArgs
    volume: k8s.core.v1.VolumeArgs
    service_account_name: pulumi.Output[str]
    annotations: dict[str, str]


def write_gate(
    name: str,
    args: WriteGateArgs,
    *,
    namespace: pulumi.Output[str],
    namespace_name: str,
    upstream_port: int,
    gateway_container: str,
    health_path: str,
    security_context: k8s.core.v1.SecurityContextArgs,
    parent: pulumi.Resource,
    provider: k8s.Provider,
) -> GatePod:
    """The gate's IAM role (IRSA), service account and program, and its container."""
    in_region = args.context.in_region(parent=parent)
    role = irsa_role(
        f"{name}-write-gate",
        args.oidc,
        namespace=namespace_name,
        service_account=SERVICE_ACCOUNT,
        opts=in_region,
    )
    aws.iam.RolePolicy(
        f"{name}-write-gate",
        role=role.id,
        policy=pulumi.Output.from_input(args.control.arn).apply(gate_policy),
        opts=in_region,
    )
    kubernetes = pulumi.ResourceOptions(parent=parent, provider=provider)
    account = k8s.core.v1.ServiceAccount(
        f"{name}-write-gate",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=SERVICE_ACCOUNT,
            namespace=namespace,
            annotations={ROLE_ARN_ANNOTATION: role.arn},
        ),
        automount_service_account_token=False,
        opts=kubernetes,
    )
    source = PROGRAM.read_text()
    program = k8s.core.v1.ConfigMap(
        f"{name}-write-gate",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=CONTAINER, namespace=namespace),
        data={PROGRAM.name: source},
        opts=kubernetes,
    )
    region = args.context.region
    environment = {
        gate.CONTROL_ARN: args.control.arn,
        gate.ENDPOINTS: pulumi.Output.from_input(args.control.endpoints).apply(json.dumps),
        gate.UPSTREAM_PORT: str(upstream_port),
        gate.LISTEN_PORT: str(WRITE_GATE_PORT),
        gate.OPEN_PATHS: json.dumps([health_path]),
        gate.POLL_SECONDS: str(POLL_SECONDS),
        gate.FRESH_SECONDS: str(FRESH_SECONDS),
        # A pod the webhook did not give the role would refuse every order while looking
        # healthy; without the credentials the gate stops at start and the pod crash-loops.
        gate.REQUIRE_WEB_IDENTITY: "1",
        # The web identity token is exchanged at the region's own STS endpoint: the global one
        # is served from us-east-1, and dr's gate must keep reading while us-east-1 is down.
        gate.REGION: region,
        "AWS_DEFAULT_REGION": region,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    probe = k8s.core.v1.ProbeArgs(
        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=WRITE_GATE_PORT),
        period_seconds=5,
        failure_threshold=3,
    )
    container = k8s.core.v1.ContainerArgs(
        name=CONTAINER,
        image=args.image,
        command=["python3", f"{MOUNT}/{PROGRAM.name}"],
        env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in environment.items()],
        ports=[k8s.core.v1.ContainerPortArgs(name="gate", container_port=WRITE_GATE_PORT)],
        readiness_probe=probe,
        liveness_probe=probe,
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=CONTAINER, mount_path=MOUNT, read_only=True)
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "50m", "memory": "96Mi"},
            limits={"cpu": "500m", "memory": "192Mi"},
        ),
        security_context=security_context,
    )
    volume = k8s.core.v1.VolumeArgs(
        name=CONTAINER,
        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=program.metadata.name),
    )
    return GatePod(
        container=container,
        volume=volume,
        service_account_name=account.metadata.name,
        annotations={
            PROGRAM_HASH_ANNOTATION: hashlib.sha256(source.encode()).hexdigest(),
            SKIP_CONTAINERS_ANNOTATION: gateway_container,
        },
    )
