"""`OrderGateway`: the order-gateway workload on the trading node group, bound to the regional
load balancer's target group by the AWS Load Balancer Controller (TargetGroupBinding), and, where
the failover Lambda scales it (dr), the Kubernetes RBAC that lets it do exactly that
(components/gateway_access.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import NODE_GROUP_LABELS
from components.gateway_access import failover_scaler_access
from components.write_gate import GatePod, WriteGateArgs, write_gate
from settings import WRITE_GATE_PORT, Gateway, GatewaySize

NAMESPACE = "trading"
APP = "order-gateway"
# The HorizontalPodAutoscaler shares the Deployment's name.
HPA = APP
HEALTH_PATH = "/health"
# A non-root user that exists in distroless and scratch images alike.
RUN_AS_USER = 65532


@dataclass
class OrderGatewayArgs:
    gateway: Gateway
    size: GatewaySize
    target_group_arn: pulumi.Input[str]
    provider: k8s.Provider
    # The Load Balancer Controller must run (its CRD exist) before a TargetGroupBinding.
    controller: pulumi.Resource
    # The failover Lambda scales this gateway (dr): it gets the RBAC to do so, and `pulumi up`
    # keeps the sizes it set.
    scaled_by_failover: bool = False
    # The write gate in front of the gateway (components/write_gate.py); None: orders go
    # straight to the gateway (traffic control by health check inversion has no control to read).
    write_gate: WriteGateArgs | None = None


def serving_port(gateway: Gateway, gated: bool) -> int:
    """The pods' port the load balancer sends requests to: the gate's where there is one."""
    return WRITE_GATE_PORT if gated else gateway.port


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": "trading"}


class OrderGateway(pulumi.ComponentResource):
    service_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: OrderGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:workload:OrderGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = _labels()
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={"pod-security.kubernetes.io/enforce": "restricted"},
            ),
            opts=child,
        )
        metadata = k8s.meta.v1.ObjectMetaArgs(
            name=APP, namespace=namespace.metadata.name, labels=labels
        )
        gate = (
            write_gate(
                name,
                args.write_gate,
                namespace=namespace.metadata.name,
                namespace_name=NAMESPACE,
                upstream_port=args.gateway.port,
                gateway_container=APP,
                health_path=HEALTH_PATH,
                security_context=_container_security(),
                parent=self,
                provider=args.provider,
            )
            if args.write_gate is not None
            else None
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.size.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=labels, annotations=gate.annotations if gate else None
                    ),
                    spec=self._pod_spec(args.gateway, labels, gate),
                ),
            ),
            # The autoscaler owns the replica count once the deployment exists.
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, ignore_changes=["spec.replicas"]
            ),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http",
                        port=80,
                        target_port=serving_port(args.gateway, gate is not None),
                        protocol="TCP",
                    )
                ],
            ),
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata,
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            ),
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=HPA, namespace=namespace.metadata.name, labels=labels
            ),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment.metadata.name
                ),
                min_replicas=args.size.replicas,
                max_replicas=args.size.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=60
                            ),
                        ),
                    )
                ],
            ),
            # Failover raises the floor and ceiling through the Kubernetes API; a later
            # `pulumi up` must not put dr back to the pilot light under live traffic. With
            # server-side apply the provider leaves an ignored field to the manager that last
            # set it (https://github.com/pulumi/pulumi-kubernetes/pull/2566).
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                ignore_changes=(
                    ["spec.minReplicas", "spec.maxReplicas"] if args.scaled_by_failover else []
                ),
            ),
        )
        if args.scaled_by_failover:
            failover_scaler_access(
                name, namespace.metadata.name, deployment=APP, autoscaler=HPA, opts=child
            )
        k8s.apiextensions.CustomResource(
            f"{name}-target-group-binding",
            api_version="elbv2.k8s.aws/v1beta1",
            kind="TargetGroupBinding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace.metadata.name),
            spec={
                "serviceRef": {"name": service.metadata.name, "port": 80},
                "targetGroupARN": args.target_group_arn,
                "targetType": "ip",
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[args.controller]
            ),
        )
        self.service_name = service.metadata.name
        self.register_outputs({"serviceName": self.service_name})

    @staticmethod
    def _pod_spec(
        gateway: Gateway, labels: dict[str, str], gate: GatePod | None
    ) -> k8s.core.v1.PodSpecArgs:
        probe = k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=HEALTH_PATH, port=gateway.port),
            period_seconds=5,
            failure_threshold=3,
        )
        return k8s.core.v1.PodSpecArgs(
            node_selector=dict(NODE_GROUP_LABELS["trading"]),
            tolerations=[
                k8s.core.v1.TolerationArgs(
                    key="dedicated", operator="Equal", value="trading", effect="NoSchedule"
                )
            ],
            topology_spread_constraints=[
                k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=1,
                    topology_key="topology.kubernetes.io/zone",
                    when_unsatisfiable="ScheduleAnyway",
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                )
            ],
            automount_service_account_token=False,
            service_account_name=gate.service_account_name if gate else None,
            volumes=[gate.volume] if gate else None,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=RUN_AS_USER,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[
                k8s.core.v1.ContainerArgs(
                    name=APP,
                    image=gateway.image,
                    args=list(gateway.args),
                    ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=gateway.port)],
                    readiness_probe=probe,
                    liveness_probe=probe,
                    resources=k8s.core.v1.ResourceRequirementsArgs(
                        requests={"cpu": "250m", "memory": "128Mi"},
                        limits={"cpu": "1", "memory": "256Mi"},
                    ),
                    security_context=_container_security(),
                ),
                *([gate.container] if gate else []),
            ],
        )


def _container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )
