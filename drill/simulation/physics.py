"""The documented behaviour and timings the simulated world follows: one table, each number with
its source. A scenario overrides any of them under `physics:`.

Where AWS does not document a number, the row says so and the value is this project's
assumption: those rows are the first to replace with figures measured on the real account
(`python -m drill run` records the same phases).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

R53_HEALTH = (
    "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
    "dns-failover-determining-health-of-endpoints.html"
)
R53_CONFIG = "https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html"
R53_RECORDS = "https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html"
R53_ALIAS = (
    "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
    "resource-record-sets-choosing-alias-non-alias.html"
)
CA_FAQ = "https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md"
HPA = "https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/"
EKS_UPDATE = "https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupConfig.html"
EKS_ISSUE = "https://docs.aws.amazon.com/eks/latest/APIReference/API_Issue.html"
RDS_PROMOTE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html"
RDS_PROMOTE_API = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html"
)
RDS_PARAMETERS = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBParameterGroup.html"
)
ARC_HEALTH = "https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.create.html"
RDS_CLOUDWATCH = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/monitoring-cloudwatch.html"
METRIC_DELAY = "https://docs.datadoghq.com/integrations/guide/cloud-metric-delay/"
AURORA = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html"
AURORA_DR = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
    "aurora-global-database-disaster-recovery.html"
)
DDB_GLOBAL = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html"
S3_RTC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html"
S3_BATCH_REPLICATION = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html"
)
LAMBDA_ASYNC = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"
EVENTBRIDGE = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html"
)
BOTOCORE = "https://github.com/boto/botocore/blob/develop/botocore/retries/standard.py"
ASSUMED = "not documented by AWS: this project's assumption"


@dataclass(frozen=True)
class Physics:
    # Route 53 health checks (interval and failure threshold come from the stacks).
    health_checkers: int = 16
    healthy_fraction: float = 0.18
    health_check_update_seconds: float = 30.0
    # DNS and clients.
    dns_ttl_seconds: float = 60.0
    clients: int = 200
    connection_lifetime_seconds: float = 300.0
    # EKS managed node groups, cluster autoscaler, pods and the gateway's HPA.
    nodegroup_update_seconds: float = 20.0
    node_launch_seconds: float = 210.0
    node_launch_jitter_seconds: float = 45.0
    node_launch_retry_seconds: float = 60.0
    autoscaler_scan_seconds: float = 10.0
    autoscaler_unneeded_seconds: float = 600.0
    autoscaler_delay_after_add_seconds: float = 600.0
    autoscaler_utilization_threshold: float = 0.5
    hpa_sync_seconds: float = 15.0
    hpa_scale_down_window_seconds: float = 300.0
    pod_ready_seconds: float = 45.0
    gateway_pods_per_node: int = 4
    pod_writes_per_second: float = 40.0
    # RDS PostgreSQL cross-region read replica.
    rds_replica_lag_seconds: float = 5.0
    rds_promote_modifying_seconds: float = 150.0
    rds_promote_rebooting_seconds: float = 60.0
    rds_rebuild_replica_seconds: float = 1800.0
    rds_parameter_apply_seconds: float = 10.0
    # CloudWatch: RDS's metrics (ReplicaLag, Aurora's AuroraGlobalDB*Lag).
    rds_metric_period_seconds: float = 60.0
    metric_publication_delay_seconds: float = 120.0
    # Aurora global database.
    aurora_lag_seconds: float = 0.8
    aurora_failover_seconds: float = 90.0
    aurora_switchover_seconds: float = 90.0
    aurora_rebuild_secondary_seconds: float = 1800.0
    # DynamoDB global tables and S3 replication with RTC.
    dynamodb_lag_seconds: float = 1.0
    s3_rtc_typical_seconds: float = 5.0
    s3_rtc_bound_seconds: float = 900.0
    s3_rtc_slow_fraction: float = 0.0001
    # S3 Batch Replication of dr's records back to the primary (failback).
    s3_reverse_rule_after_recovery_seconds: float = 600.0
    s3_batch_job_start_seconds: float = 300.0
    s3_batch_objects_per_second: float = 100.0
    # Lambda and its triggers.
    lambda_retry_delays_seconds: tuple[float, ...] = (60.0, 120.0)
    schedule_offset_seconds: float = 7.0
    # Route 53 ARC routing controls.
    arc_propagation_seconds: float = 10.0
    # AWS API calls (the connect timeout and attempts are the handler's own botocore Config).
    api_latency_seconds: float = 0.08
    api_backoff_base_seconds: float = 0.05
    api_max_backoff_seconds: float = 20.0

    def replace(self, overrides: Mapping[str, Any]) -> Physics:
        return dataclasses.replace(self, **overrides)


# Values a scenario may not give: counts and periods must be positive (a zero period would
# never let time move), fractions at most 1.
POSITIVE = (
    "health_checkers",
    "clients",
    "connection_lifetime_seconds",
    "dns_ttl_seconds",
    "node_launch_retry_seconds",
    "autoscaler_scan_seconds",
    "hpa_sync_seconds",
    "gateway_pods_per_node",
    "pod_writes_per_second",
    "rds_metric_period_seconds",
    "s3_batch_objects_per_second",
)
FRACTIONS = ("healthy_fraction", "autoscaler_utilization_threshold", "s3_rtc_slow_fraction")


SOURCES: dict[str, tuple[str, str]] = {
    "health_checkers": (
        R53_CONFIG,
        "checkers in all 8 listed regions when none are chosen; how many per region is "
        f"{ASSUMED} (2 each)",
    ),
    "healthy_fraction": (R53_HEALTH, "healthy when more than 18% of checkers report healthy"),
    "health_check_update_seconds": (
        R53_CONFIG,
        f"how long UpdateHealthCheck (Inverted) takes to reach the checkers is {ASSUMED}",
    ),
    "dns_ttl_seconds": (
        R53_ALIAS,
        f"an alias takes its target's default TTL; 60 s for API Gateway is {ASSUMED}",
    ),
    "clients": ("", f"{ASSUMED}: the client population sharing the writes"),
    "connection_lifetime_seconds": (
        "",
        f"{ASSUMED}: clients keep a connection open this long, whatever DNS says since",
    ),
    "nodegroup_update_seconds": (
        EKS_UPDATE,
        f"the update is asynchronous and the group keeps serving; how long it shows UPDATING "
        f"is {ASSUMED}",
    ),
    "node_launch_seconds": (
        CA_FAQ,
        f"3-4 min from scale-up to schedulable pods (GCE figure); for EKS {ASSUMED}",
    ),
    "node_launch_jitter_seconds": (CA_FAQ, f"{ASSUMED}: spread around the launch time"),
    "node_launch_retry_seconds": (
        EKS_ISSUE,
        f"AsgInstanceLaunchFailures while capacity is short (DEGRADED); retry interval {ASSUMED}",
    ),
    "autoscaler_scan_seconds": (CA_FAQ, "--scan-interval 10 s"),
    "autoscaler_unneeded_seconds": (CA_FAQ, "--scale-down-unneeded-time 10 min"),
    "autoscaler_delay_after_add_seconds": (CA_FAQ, "--scale-down-delay-after-add 10 min"),
    "autoscaler_utilization_threshold": (CA_FAQ, "--scale-down-utilization-threshold 0.5"),
    "hpa_sync_seconds": (HPA, "the controller's default interval is 15 s"),
    "hpa_scale_down_window_seconds": (HPA, "scale-down stabilization window 300 s"),
    "pod_ready_seconds": ("", f"{ASSUMED}: schedule, image pull and readiness probes"),
    "gateway_pods_per_node": (
        "",
        f"{ASSUMED}: order-gateway pods (250m CPU requested) a trading node keeps at target",
    ),
    "pod_writes_per_second": ("", f"{ASSUMED}: one order-gateway pod's writes at target CPU"),
    "rds_replica_lag_seconds": (
        RDS_PROMOTE,
        "replication lag can vary significantly (ReplicaLag metric); the value is a parameter",
    ),
    "rds_promote_modifying_seconds": (
        RDS_PROMOTE,
        f"promotion takes several minutes or longer and reboots the instance; the split "
        f"between modifying and rebooting is {ASSUMED}",
    ),
    "rds_promote_rebooting_seconds": (
        RDS_PROMOTE,
        "RDS reboots the instance before it is available",
    ),
    "rds_rebuild_replica_seconds": (
        RDS_PROMOTE,
        f"a promoted instance cannot become a replica again: a new one is created; time {ASSUMED}",
    ),
    "rds_parameter_apply_seconds": (
        RDS_PARAMETERS,
        "a dynamic parameter with ApplyMethod immediate is applied to the instances using the "
        f"group without a reboot (`applying`, then `in-sync`); how long it takes is {ASSUMED}",
    ),
    "arc_propagation_seconds": (
        ARC_HEALTH,
        "a routing control's state drives its RECOVERY_CONTROL health check and so the DNS "
        f"failover records; the delay from the update to DNS answers is {ASSUMED}",
    ),
    "rds_metric_period_seconds": (
        RDS_CLOUDWATCH,
        "RDS sends metric data to CloudWatch in 1-minute periods by default; one ReplicaLag "
        "(Aurora: AuroraGlobalDB*Lag) sample a period, at its end",
    ),
    "metric_publication_delay_seconds": (
        METRIC_DELAY,
        "how long after its period a datapoint can be read is not documented by AWS (a "
        f"monitoring vendor sees about 2 minutes for 1-minute metrics): {ASSUMED}",
    ),
    "aurora_lag_seconds": (AURORA, "typical replication latency under a second"),
    "aurora_failover_seconds": (
        AURORA_DR,
        "the secondary assumes the primary role within a few minutes (older text: under one)",
    ),
    "aurora_switchover_seconds": (AURORA_DR, "switchover: RPO 0, unavailable for a short time"),
    "aurora_rebuild_secondary_seconds": (
        AURORA_DR,
        "the old primary region is added back as a secondary once healthy; rebuilding its "
        "volume takes a few minutes to several hours",
    ),
    "dynamodb_lag_seconds": (DDB_GLOBAL, "usually propagated to all replicas within a second"),
    "s3_rtc_typical_seconds": (S3_RTC, "RTC replicates most objects in seconds"),
    "s3_rtc_bound_seconds": (S3_RTC, "and 99.99% of them within 15 minutes"),
    "s3_rtc_slow_fraction": (S3_RTC, "the 0.01% the 15-minute objective leaves"),
    "s3_reverse_rule_after_recovery_seconds": (
        S3_BATCH_REPLICATION,
        "live replication covers only objects written after a rule exists; when the operator "
        "deploys dr's rule to the primary (`trading:replication.direction: dr-to-primary`, the "
        f"failback runbook; on Aurora, dr's setting alone) after the primary region returns is "
        f"{ASSUMED}",
    ),
    "s3_batch_job_start_seconds": (
        S3_BATCH_REPLICATION,
        "a Batch Replication job first generates its manifest from the bucket's objects "
        f"(New, Preparing, then Active); how long before it replicates is {ASSUMED}",
    ),
    "s3_batch_objects_per_second": (
        S3_BATCH_REPLICATION,
        f"the job's replication rate once Active is {ASSUMED}",
    ),
    "lambda_retry_delays_seconds": (
        LAMBDA_ASYNC,
        "an async invocation that errs or times out is retried after 1 and then 2 minutes "
        "(as many times as the function's MaximumRetryAttempts allows)",
    ),
    "schedule_offset_seconds": (
        EVENTBRIDGE,
        f"a rule runs within its minute, not on the 0th second; the offset is {ASSUMED}",
    ),
    "api_latency_seconds": ("", f"{ASSUMED}: one regional AWS API round trip"),
    "api_backoff_base_seconds": (
        BOTOCORE,
        "backoff rand(0,1) * min(base * 2 ** attempt, 20) s; base 0.05 for non-throttling errors",
    ),
    "api_max_backoff_seconds": (BOTOCORE, "the backoff's cap, 20 s"),
}
