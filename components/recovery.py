"""`RecoveryControls`: the Route 53 Application Recovery Controller (ARC) routing controls that
switch clients between the regions, and `RoutingControls`, what the primary stack exports of them
for the dr stack.

One cluster, one control panel, a routing control per region (`primary`, `dr`) and an assertion
safety rule that keeps at least one of them On, so no operator or bug can turn both Off ("Safety
rules can help you avoid unintentional consequences, like turning two routing controls off at
once": https://docs.aws.amazon.com/recovery-cluster/latest/api/what-is-recovery-control.html).
Each stack's failover record follows a Route 53 health check of type RECOVERY_CONTROL tied to its
region's routing control (components/dns.py): "Create a routing control for each cell. Create a
health check for each routing control. Create two DNS records, for example, two DNS failover
records, and associate a health check with each one"
(https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.create.html).

The primary stack owns both controls: stacks deploy primary first and dr reads the primary's
outputs through its stack reference (components/primary_reference.py); the primary cannot read
dr's (a cycle). dr builds its own health check from `routingControlArns` and gives
`routingControlEndpoints` to its failover Lambda.

Configuration, not state: these resources are ARC's configuration API. Whether a control is On
or Off is state on the cluster's data plane; ARC creates every control Off ("When you create a
routing control, the state is set to Off":
https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing.control-state.html),
and `aws.route53recoverycontrol.RoutingControl` has no state among its inputs or outputs (inputs
`cluster_arn`, `control_panel_arn`, `name`; its `status` is provisioning, PENDING | DEPLOYED |
PENDING_DELETION: https://www.pulumi.com/registry/packages/aws/api-docs/route53recoverycontrol/routingcontrol/
and pulumi_aws/route53recoverycontrol/routing_control.py of the pinned 7.51.1). No `pulumi up`
or `refresh` reads or writes a state: the README's bootstrap turns both On once, then only the
failover handler or an operator changes them. What Pulumi could still do is replace a control,
and the replacement would start Off: the cluster, the control panel and the controls are
protected, so a change that would replace one fails the update instead of dropping traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components.references import MissingStackOutputError
from outputs import StackOutput

# "You must specify the US West (Oregon) Region when you work with readiness and recovery control
# configuration resources" (https://docs.aws.amazon.com/recovery-cluster/latest/api/what-is-recovery-control.html).
ARC_CONFIGURATION_REGION = "us-west-2"
# One routing control per region the failover record can send clients to, named after the role.
CELLS = ("primary", "dr")
# While a routing control state change is evaluated, further changes to the asserted controls
# fail; 5 s is the value in the provider's example
# (https://www.pulumi.com/registry/packages/aws/api-docs/route53recoverycontrol/safetyrule).
SAFETY_RULE_WAIT_MS = 5000


@dataclass(frozen=True)
class RoutingControls:
    """The routing controls as the primary stack exports them and the dr stack reads them: the
    one definition of both outputs, for the writer (`outputs`) and the reader (`from_outputs`)."""

    # Cell (`primary`, `dr`) -> routing control ARN.
    arns: Mapping[str, str]
    # The cluster's regional endpoints, as {"region": ..., "endpoint": "https://..."}: state is
    # read and changed through any of them (ARC Developer Guide, "Getting and updating routing
    # control states using the API").
    endpoints: tuple[Mapping[str, str], ...]

    ARNS: ClassVar[str] = StackOutput.ROUTING_CONTROL_ARNS
    ENDPOINTS: ClassVar[str] = StackOutput.ROUTING_CONTROL_ENDPOINTS

    @staticmethod
    def outputs(
        arns: Mapping[str, pulumi.Output[str]], endpoints: pulumi.Output[list[dict[str, str]]]
    ) -> dict[str, Any]:
        return {RoutingControls.ARNS: dict(arns), RoutingControls.ENDPOINTS: endpoints}

    @classmethod
    def from_outputs(cls, stack: str, outputs: Mapping[str, Any]) -> RoutingControls:
        """The controls `stack` exported, refused with what is wrong when they are missing or
        malformed (an older program, or a primary that switches traffic another way)."""
        arns = outputs.get(cls.ARNS)
        endpoints = outputs.get(cls.ENDPOINTS)
        problems = []
        if not (
            isinstance(arns, Mapping)
            and set(arns) == set(CELLS)
            and all(isinstance(a, str) and a.startswith("arn:") for a in arns.values())
        ):
            problems.append(f"{cls.ARNS} = {arns!r} (want {{'primary': arn, 'dr': arn}})")
        if not (
            isinstance(endpoints, Sequence)
            and endpoints
            and all(_is_endpoint(e) for e in endpoints)
        ):
            problems.append(
                f"{cls.ENDPOINTS} = {endpoints!r} (want [{{'region': r, 'endpoint': 'https://...'}}])"
            )
        if problems:
            raise MissingStackOutputError(
                f"stack {stack!r} exports no usable routing controls: {'; '.join(problems)}; "
                "deploy it with this version of the program and trading:dns.trafficControl "
                "routing-control first"
            )
        assert isinstance(arns, Mapping) and isinstance(endpoints, Sequence)
        return cls(
            {cell: str(arns[cell]) for cell in CELLS},
            tuple({"region": e["region"], "endpoint": e["endpoint"]} for e in endpoints),
        )

    def endpoint_list(self) -> list[dict[str, str]]:
        return [dict(e) for e in self.endpoints]


@dataclass(frozen=True)
class RegionControl:
    """One region's routing control, as its stack's components use it: the ARN its failover
    record's health check and its write gate follow, and the endpoints the gate reads it at."""

    arn: pulumi.Input[str]
    endpoints: pulumi.Input[list[dict[str, str]]]


def _is_endpoint(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("region"), str)
        and isinstance(value.get("endpoint"), str)
        and str(value["endpoint"]).startswith("https://")
    )


def _endpoint_list(endpoints: Sequence[Any] | None) -> list[dict[str, str]]:
    # The SDK's ClusterClusterEndpoint is a dict keyed by the wire names, region and endpoint.
    return [{"region": e["region"], "endpoint": e["endpoint"]} for e in endpoints or []]


@dataclass
class RecoveryControlsArgs:
    # Physical names start with it (`trading-traffic`, `trading-primary`, ...).
    name_prefix: str
    # The provider's default tags, as every other provider of the stack has.
    tags: Mapping[str, str]


class RecoveryControls(pulumi.ComponentResource):
    """The ARC cluster, its control panel, a routing control per cell and the safety rule."""

    arns: dict[str, pulumi.Output[str]]
    endpoints: pulumi.Output[list[dict[str, str]]]
    exports: dict[str, Any]

    def __init__(
        self, name: str, args: RecoveryControlsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:recovery:RecoveryControls", name, None, opts)
        # aws.route53recoverycontrol resources take no per-resource `region` in the pinned
        # pulumi-aws 7.51.1 (not Region-aware: https://www.pulumi.com/registry/packages/aws/how-to-guides/aws-enhanced-region-support),
        # so they get a provider for us-west-2. It skips the STS credential check and account id
        # lookup at configure time (ARC returns the ARNs; nothing here needs the account id:
        # https://registry.terraform.io/providers/hashicorp/aws/latest/docs#skip_credentials_validation),
        # so an outage of us-west-2 blocks only a primary `pulumi up` that changes these
        # resources: an unchanged resource is only diffed.
        provider = aws.Provider(
            f"{name}-arc",
            region=ARC_CONFIGURATION_REGION,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(args.tags)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        kept = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True))
        # Charged by the hour for each cluster (README, "Traffic control"); one hosts every
        # control of the application.
        cluster = aws.route53recoverycontrol.Cluster(
            f"{name}-arc", name=f"{args.name_prefix}-traffic", opts=kept
        )
        panel = aws.route53recoverycontrol.ControlPanel(
            f"{name}-arc", cluster_arn=cluster.arn, name=f"{args.name_prefix}-traffic", opts=kept
        )
        # One at a time: ARC answers ConflictException to two changes of one control panel at
        # once, and the provider does not retry it
        # (https://github.com/hashicorp/terraform-provider-aws/issues/48311).
        controls: dict[str, aws.route53recoverycontrol.RoutingControl] = {}
        for cell in CELLS:
            controls[cell] = aws.route53recoverycontrol.RoutingControl(
                f"{name}-arc-{cell}",
                cluster_arn=cluster.arn,
                control_panel_arn=panel.arn,
                name=f"{args.name_prefix}-{cell}",
                opts=pulumi.ResourceOptions.merge(
                    kept, pulumi.ResourceOptions(depends_on=list(controls.values()))
                ),
            )
        # An assertion rule: a state change is refused unless at least one of the asserted
        # controls is On after it (threshold N of an ATLEAST rule:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-route53recoverycontrol-safetyrule-ruleconfig.html).
        aws.route53recoverycontrol.SafetyRule(
            f"{name}-arc-one-on",
            control_panel_arn=panel.arn,
            name=f"{args.name_prefix}-at-least-one-on",
            asserted_controls=[controls[cell].arn for cell in CELLS],
            rule_config=aws.route53recoverycontrol.SafetyRuleRuleConfigArgs(
                type="ATLEAST", threshold=1, inverted=False
            ),
            wait_period_ms=SAFETY_RULE_WAIT_MS,
            opts=child,
        )
        self.arns = {cell: control.arn for cell, control in controls.items()}
        self.endpoints = cluster.cluster_endpoints.apply(_endpoint_list)
        self.exports = RoutingControls.outputs(self.arns, self.endpoints)
        self.register_outputs(self.exports)
