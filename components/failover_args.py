"""`FailoverAutomationArgs`: what the dr stack gives the failover automation, and the check that
refuses, before any resource is declared, settings the handler could not work with.

Apart from components/failover.py so that the component's interface, what the program passes
and what it refuses, reads on its own, apart from how the component builds on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.context import RegionalContext
from handlers.contract import HEALTH_CHECK_INVERSION, ROUTING_CONTROL, TRAFFIC_CONTROLS
from settings import CapacityProfile, Failover


@dataclass
class FailoverAutomationArgs:
    context: RegionalContext
    primary_region: str
    cluster_name: str
    node_group_names: Mapping[str, str]
    full: CapacityProfile
    pilot_light: CapacityProfile
    db_engine: str
    db_identifier: pulumi.Input[str]
    primary_db_identifier: pulumi.Input[str]
    global_cluster_identifier: pulumi.Input[str] | None
    settings: Failover
    data_key_arn: pulumi.Input[str]
    primary_health_check_id: pulumi.Input[str] = ""
    dr_health_check_id: pulumi.Input[str] = ""
    primary_endpoint: pulumi.Input[str] = ""
    # dr's own regional endpoint (https://...): failover verifies dr serves through it.
    dr_endpoint: pulumi.Input[str] = ""
    # "routing-control" (Route 53 ARC) or "health-check-inversion".
    traffic_control: str = HEALTH_CHECK_INVERSION
    # Routing-control mode only: {"primary": arn, "dr": arn}, and the ARC cluster's regional
    # data-plane endpoints as [{"region": ..., "endpoint": "https://..."}].
    routing_control_arns: pulumi.Input[Mapping[str, str]] | None = None
    routing_control_endpoints: pulumi.Input[Sequence[Mapping[str, str]]] | None = None
    # Where the function runs: the dr VPC, its private subnets (NAT egress, the VPC's
    # endpoints), and the cluster security group that guards the private Kubernetes API. Until
    # all three are given the function runs outside the VPC and cannot reach that API.
    vpc_id: pulumi.Input[str] | None = None
    private_subnet_ids: Sequence[pulumi.Input[str]] = ()
    cluster_security_group_id: pulumi.Input[str] | None = None
    # Failback's S3 Batch Replication (components/batch_replication.py): dr's records bucket,
    # the primary's, the role the job runs as, and the key prefix of its manifest and report.
    # Until the role is given the handler has no such step to take.
    records_bucket_name: pulumi.Input[str] = ""
    primary_records_bucket_name: pulumi.Input[str] = ""
    batch_replication_role_arn: pulumi.Input[str] | None = None
    batch_replication_report_prefix: str = ""


def check_args(args: FailoverAutomationArgs) -> None:
    """Settings the component cannot work with, refused before any resource is declared."""
    if args.traffic_control not in TRAFFIC_CONTROLS:
        raise ValueError(
            f"traffic_control={args.traffic_control!r} is not one of {', '.join(TRAFFIC_CONTROLS)}"
        )
    if args.traffic_control == ROUTING_CONTROL and (
        args.routing_control_arns is None or args.routing_control_endpoints is None
    ):
        raise ValueError(
            "traffic_control='routing-control' needs routing_control_arns "
            '({"primary": arn, "dr": arn}) and routing_control_endpoints (the ARC cluster\'s '
            "clusterEndpoints)"
        )
