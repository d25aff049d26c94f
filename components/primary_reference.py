"""`PrimaryReference`: the dr stack's one reading of the primary stack's outputs, checked before
anything is built from them, and the refusal of a primary that switches traffic another way.

Apart from the data components because more than data is built from it: the failover handler's
targets and, with routing controls, the record dr's region follows (__main__.py builds it before
the region).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.data import database_source_output
from components.recovery import RoutingControls
from components.references import qualified, stack_outputs
from outputs import DR_NEEDS_FROM_PRIMARY, StackOutput
from settings import HEALTH_CHECK_INVERSION, ROUTING_CONTROL
from settings import Database as DatabaseSettings


@dataclass
class PrimaryReferenceArgs:
    """What the dr stack reads from the primary stack."""

    peer_stack: str
    database: DatabaseSettings
    # settings.TRAFFIC_CONTROLS: the primary must switch traffic the same way.
    traffic_control: str


class PrimaryReference(pulumi.ComponentResource):
    """The primary stack's outputs, read once by the dr stack and checked before anything is
    built from them: DataReplication's sources, the failover handler's targets and, with routing
    controls, the routing control dr's failover record follows (so it exists before the region
    that holds that record)."""

    outputs: pulumi.Output[dict[str, Any]]
    # With trafficControl routing-control: the primary's routing controls; None otherwise.
    routing_controls: pulumi.Output[RoutingControls] | None

    def __init__(
        self, name: str, args: PrimaryReferenceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:data:PrimaryReference", name, None, opts)
        stack = qualified(args.peer_stack)
        checked = stack_outputs(
            f"{name}-primary",
            args.peer_stack,
            (*DR_NEEDS_FROM_PRIMARY, database_source_output(args.database)),
            "dr",
            pulumi.ResourceOptions(parent=self),
        )
        self.outputs = checked.apply(
            lambda outputs: same_traffic_control(stack, outputs, args.traffic_control)
        )
        # The reference's outputs are secret as a whole when any output is (the kubeconfig);
        # ARNs and endpoint URLs are not, and stay readable in diffs, state and policies.
        self.routing_controls = (
            pulumi.Output.unsecret(
                self.outputs.apply(lambda outputs: RoutingControls.from_outputs(stack, outputs))
            )
            if args.traffic_control == ROUTING_CONTROL
            else None
        )
        self.register_outputs({})


class TrafficControlMismatchError(Exception):
    """The primary switches traffic in another way than this stack's settings say."""


def same_traffic_control(stack: str, outputs: dict[str, Any], wanted: str) -> dict[str, Any]:
    """`outputs` of a primary that switches traffic as this stack does; a primary deployed before
    the setting existed exports none and inverted its health check."""
    theirs = outputs.get(StackOutput.TRAFFIC_CONTROL) or HEALTH_CHECK_INVERSION
    if theirs != wanted:
        raise TrafficControlMismatchError(
            f"stack {stack!r} switches traffic with {theirs} but this stack's "
            f"trading:dns.trafficControl is {wanted}: failover would flip a switch that the "
            "other record does not follow; set the same trading:dns.trafficControl in both "
            "stacks and deploy the primary first"
        )
    return outputs
