"""The failover and failback steps: direct AWS API calls, each idempotent (it looks before it
acts, so a rerun after a partial failure does only what is left) and verified by polling."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.clock import Clock
from handlers.kube import Kube
from handlers.model import Environment, GatewayControl, GatewaySize, NodeGroupSize

# Polling budgets, inside the Lambda's 15-minute limit.
NODE_GROUP_WAIT = {"Delay": 15, "MaxAttempts": 40}
DATABASE_WAIT = {"Delay": 15, "MaxAttempts": 40}
GLOBAL_SWITCH_WAIT = {"Delay": 10, "MaxAttempts": 60}
# A parameter change reaches the instance in seconds; a minute and a half is generous.
FENCE_WAIT = {"Delay": 5, "MaxAttempts": 18}
# Two lag datapoints after the fence, with CloudWatch's publication delay: minutes.
CATCH_UP_WAIT = {"Delay": 15, "MaxAttempts": 32}
# The gateway's pods need nodes first: as long as the node groups may take.
GATEWAY_WAIT = {"Delay": 15, "MaxAttempts": 40}

# DescribeDBInstances statuses from which `available` is not coming (botocore's
# db_instance_available waiter fails on the same ones).
DB_TERMINAL_STATUSES = (
    "deleted",
    "deleting",
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
)


# Route 53 calls an endpoint healthy when more than this share of its checkers do
# (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/
# dns-failover-determining-health-of-endpoints.html).
ROUTE53_HEALTHY_SHARE = 0.18
# Cross-region replication this far behind means the primary is gone or cut off; a healthy
# PostgreSQL replica lags seconds, an Aurora secondary under one.
LAG_FAILING_SECONDS = 60.0
# ReplicaLag (seconds, published in the replica's region) for a PostgreSQL replica
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html);
# AuroraGlobalDBRPOLag (milliseconds, by secondary cluster), the lag AWS points Aurora
# PostgreSQL global databases to (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
# aurora-global-database-disaster-recovery.html).
LAG_METRICS = {"postgres": "ReplicaLag", "aurora-postgresql": "AuroraGlobalDBRPOLag"}
LAG_DIMENSIONS = {
    "ReplicaLag": ("DBInstanceIdentifier", 1.0),
    "AuroraGlobalDBRPOLag": ("DBClusterIdentifier", 0.001),
}
# Two datapoints a minute apart that imply replay times this close: replay has stopped.
REPLAY_TOLERANCE = 2.0


class StepFailedError(Exception):
    """A step could not reach its goal; the message says what was found."""


@dataclass(frozen=True)
class Pace:
    """How a step waits: on the clock, with `guard` called before every sleep (the runner's
    lease renewal and deadline check, which raise to stop the wait)."""

    clock: Clock
    guard: Callable[[], None] = lambda: None

    def sleep(self, seconds: float) -> None:
        self.guard()
        self.clock.sleep(seconds)


def wait_for(pace: Pace, what: str, reached: Callable[[], bool], budget: Mapping[str, int]) -> None:
    """Check `reached` at once and then every `Delay` seconds, `MaxAttempts` times in all (the
    semantics of a botocore waiter, whose sleeps cannot be given a clock). `reached` raises
    StepFailedError for a state the goal cannot come from."""
    attempts = budget["MaxAttempts"]
    for attempt in range(attempts):
        if reached():
            return
        if attempt + 1 < attempts:
            pace.sleep(budget["Delay"])
    raise StepFailedError(f"{what} not reached after {attempts} checks {budget['Delay']} s apart")


def scale_node_groups(eks: Any, env: Environment, sizes: Mapping[str, NodeGroupSize]) -> str:
    """Set every node group's scaling to `sizes`; a group already there is left alone."""
    changed = []
    for group, name in env.node_groups.items():
        target = sizes[group]
        current = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)[
            "nodegroup"
        ]["scalingConfig"]
        wanted = {
            "minSize": target.min_size,
            "maxSize": target.max_size,
            "desiredSize": target.desired_size,
        }
        if {k: current.get(k) for k in wanted} == wanted:
            continue
        eks.update_nodegroup_config(
            clusterName=env.cluster_name, nodegroupName=name, scalingConfig=wanted
        )
        changed.append(f"{name} -> {target.desired_size}")
    return "scaled " + ", ".join(changed) if changed else "already at size"


def verify_node_groups(
    eks: Any, env: Environment, sizes: Mapping[str, NodeGroupSize], pace: Pace
) -> str:
    for group, name in env.node_groups.items():

        def active(name: str = name) -> bool:
            status = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)[
                "nodegroup"
            ]["status"]
            if status == "CREATE_FAILED":
                raise StepFailedError(f"{name} is {status}")
            return status == "ACTIVE"

        wait_for(pace, f"{name} ACTIVE", active, NODE_GROUP_WAIT)
        described = eks.describe_nodegroup(clusterName=env.cluster_name, nodegroupName=name)
        config, target = described["nodegroup"]["scalingConfig"], sizes[group]
        # The cluster autoscaler moves desired within min and max; min and max are ours.
        if (config["minSize"], config["maxSize"]) != (target.min_size, target.max_size):
            raise StepFailedError(
                f"{name} is ACTIVE at min {config['minSize']} max {config['maxSize']}, not "
                f"{target.min_size}-{target.max_size}"
            )
    return "ACTIVE at size: " + ", ".join(env.node_groups.values())


def _instance(rds: Any, identifier: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def promote_replica(rds: Any, identifier: str, pace: Pace) -> str:
    """Make an RDS read replica a standalone writer, resuming whatever is under way: a writer
    already is one; a replica in `backing-up` cannot be promoted yet (API_PromoteReadReplica),
    so this waits it out; a replica already `modifying` or `rebooting` is being promoted."""
    seen: dict[str, Any] = {}

    def settled() -> bool:
        seen.update(_instance(rds, identifier))
        status = seen["DBInstanceStatus"]
        if status in DB_TERMINAL_STATUSES:
            raise StepFailedError(f"{identifier} is {status}")
        return status != "backing-up" or not seen.get("ReadReplicaSourceDBInstanceIdentifier")

    wait_for(pace, f"{identifier} out of backing-up", settled, DATABASE_WAIT)
    if not seen.get("ReadReplicaSourceDBInstanceIdentifier"):
        return f"{identifier} is already a standalone writer"
    if seen["DBInstanceStatus"] in ("modifying", "rebooting"):
        return f"{identifier} is {seen['DBInstanceStatus']}: its promotion is under way"
    rds.promote_read_replica(DBInstanceIdentifier=identifier)
    return f"promotion of {identifier} requested"


def verify_writer(rds: Any, identifier: str, pace: Pace) -> str:
    """Until the instance is available and no longer a replica: a promotion requested a
    moment ago may still show the replica as available."""

    def writer() -> bool:
        instance = _instance(rds, identifier)
        status = instance["DBInstanceStatus"]
        if status in DB_TERMINAL_STATUSES:
            raise StepFailedError(f"{identifier} is {status}")
        return status == "available" and not instance.get("ReadReplicaSourceDBInstanceIdentifier")

    wait_for(pace, f"{identifier} available and standalone", writer, DATABASE_WAIT)
    return f"{identifier} is available and writable"


# PostgreSQL's default for every new transaction; on, writes fail with "cannot execute ... in
# a read-only transaction" (https://www.postgresql.org/docs/current/runtime-config-client.html).
# A dynamic parameter: ApplyMethod immediate applies it without a reboot
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBParameterGroup.html),
# and replication to a replica goes on. Sessions pick it up at their next transaction.
READ_ONLY_PARAMETER = "default_transaction_read_only"


def _user_parameter(rds: Any, group: str, name: str) -> str | None:
    kwargs: dict[str, Any] = {"DBParameterGroupName": group, "Source": "user"}
    while True:
        page = rds.describe_db_parameters(**kwargs)
        for parameter in page.get("Parameters", []):
            if parameter["ParameterName"] == name:
                return parameter.get("ParameterValue")
        if not page.get("Marker"):
            return None
        kwargs["Marker"] = page["Marker"]


def set_read_only(rds: Any, identifier: str, read_only: bool, pace: Pace) -> str:
    """Fence (or unfence) a PostgreSQL instance: `default_transaction_read_only` in its own
    parameter group (named after it, components/database_postgres.py), then wait until RDS
    reports the group in-sync on the instance. It keeps replicating, unlike a stopped instance,
    and RDS refuses to stop an instance that has a read replica."""
    groups = _instance(rds, identifier)["DBParameterGroups"]
    group = groups[0]["DBParameterGroupName"]
    wanted = "1" if read_only else "0"
    # Not set in the group: PostgreSQL's default, off.
    if (_user_parameter(rds, group, READ_ONLY_PARAMETER) or "0") == wanted:
        return f"{identifier} already {'read-only' if read_only else 'read-write'} ({group})"
    rds.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[
            {
                "ParameterName": READ_ONLY_PARAMETER,
                "ParameterValue": wanted,
                "ApplyMethod": "immediate",
            }
        ],
    )

    # AWS documents the statuses (API_DBParameterGroupStatus.html), not their timing: the
    # first look comes a delay after the change, and an unrelated static change pending a
    # reboot (`pending-reboot`) does not hold up this dynamic one.
    def applied() -> bool:
        return all(
            g["ParameterApplyStatus"] != "applying"
            for g in _instance(rds, identifier)["DBParameterGroups"]
        )

    pace.sleep(FENCE_WAIT["Delay"])
    wait_for(pace, f"{group} applied on {identifier}", applied, FENCE_WAIT)
    return f"{identifier} {'read-only' if read_only else 'read-write'} ({group} applied)"


def replica_caught_up(
    rds: Any, cloudwatch: Any, identifier: str, since: datetime, pace: Pace
) -> str:
    """After its source was fenced at `since`: the replica has applied everything once its
    link is up (StatusInfos `replicating`, normal) and its last replayed transaction stops
    moving. RDS for PostgreSQL's ReplicaLag is `now() - pg_last_xact_replay_timestamp()`
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
    USER_PostgreSQL.Replication.ReadReplicas.Monitor.html): it grows on an idle source and
    never reads 0, so what is compared is the replay time each datapoint implies."""
    seen: dict[str, Any] = {}

    def settled() -> bool:
        infos = _instance(rds, identifier).get("StatusInfos", [])
        link = next((i for i in infos if i.get("StatusType") == "read replication"), None)
        if link is None or not link.get("Normal") or link.get("Status") != "replicating":
            seen["why"] = f"replication is {link.get('Status') if link else 'not reported'}"
            return False
        points = lag_datapoints(cloudwatch, "ReplicaLag", identifier, since, pace.clock)
        replayed = [
            (start + timedelta(seconds=60 - lag)).timestamp()
            for start, lag in points
            if start >= since
        ]
        seen["why"] = f"{len(replayed)} datapoint(s) since the fence"
        return len(replayed) >= 2 and abs(replayed[-1] - replayed[-2]) <= REPLAY_TOLERANCE

    try:
        wait_for(pace, f"{identifier} caught up", settled, CATCH_UP_WAIT)
    except StepFailedError as error:
        raise StepFailedError(f"{error} ({seen.get('why', 'no answer')})") from None
    return f"{identifier} has replayed everything its source committed before the fence"


def _cluster_arn(rds: Any, identifier: str) -> str:
    return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["DBClusterArn"]


def move_global_writer(
    rds: Any, cluster_rds: Any, global_cluster: str, identifier: str, planned: bool
) -> str:
    """Make `identifier` (a cluster `cluster_rds` reaches in its own region) the global
    cluster's writer: a switchover (no data loss) for a planned move, a failover (allowing the
    loss of what had not replicated) otherwise."""
    arn = _cluster_arn(cluster_rds, identifier)
    members = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)[
        "GlobalClusters"
    ][0]["GlobalClusterMembers"]
    if any(m["DBClusterArn"] == arn and m.get("IsWriter") for m in members):
        return f"{identifier} already writes for {global_cluster}"
    if planned:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=global_cluster, TargetDbClusterIdentifier=arn
        )
        return f"switchover of {global_cluster} to {identifier} requested"
    rds.failover_global_cluster(
        GlobalClusterIdentifier=global_cluster, TargetDbClusterIdentifier=arn, AllowDataLoss=True
    )
    return f"failover of {global_cluster} to {identifier} requested"


def verify_global_writer(
    rds: Any, cluster_rds: Any, global_cluster: str, identifier: str, pace: Pace
) -> str:
    arn = _cluster_arn(cluster_rds, identifier)

    def writes() -> bool:
        members = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)[
            "GlobalClusters"
        ][0]["GlobalClusterMembers"]
        return any(m["DBClusterArn"] == arn and m.get("IsWriter") for m in members)

    wait_for(pace, f"{identifier} the writer of {global_cluster}", writes, GLOBAL_SWITCH_WAIT)
    return f"{identifier} writes for {global_cluster}"


def set_primary_inverted(route53: Any, health_check_id: str, inverted: bool) -> str:
    """Inverting the primary's health check makes Route 53 treat a primary that still answers
    as unhealthy, so the failover records send clients to dr (and back when restored)."""
    config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"]
    if config["HealthCheckConfig"].get("Inverted", False) == inverted:
        return f"health check {health_check_id} already {'inverted' if inverted else 'normal'}"
    route53.update_health_check(
        HealthCheckId=health_check_id,
        HealthCheckVersion=config["HealthCheckVersion"],
        Inverted=inverted,
    )
    return f"health check {health_check_id} {'inverted' if inverted else 'restored'}"


def health_check_healthy(route53: Any, health_check_id: str) -> bool:
    """Healthy by Route 53's own rule: more than 18% of its checkers report success."""
    observations = route53.get_health_check_status(HealthCheckId=health_check_id)[
        "HealthCheckObservations"
    ]
    successes = sum(1 for o in observations if o["StatusReport"]["Status"].startswith("Success"))
    return bool(observations) and successes > ROUTE53_HEALTHY_SHARE * len(observations)


def lag_datapoints(
    cloudwatch: Any, metric: str, identifier: str, since: datetime, clock: Clock
) -> list[tuple[datetime, float]]:
    """A lag metric's one-minute Maximum datapoints from `since` to now, oldest first, in
    seconds (the Aurora metrics are in milliseconds)."""
    dimension, scale = LAG_DIMENSIONS[metric]
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "lag",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/RDS",
                        "MetricName": metric,
                        "Dimensions": [{"Name": dimension, "Value": identifier}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        # CloudWatch refuses a window that starts where it ends.
        StartTime=min(since, clock.now() - timedelta(minutes=1)),
        EndTime=clock.now(),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    return [
        (when, value * scale)
        for when, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
    ]


def replication_lag(cloudwatch: Any, env: Environment, clock: Clock) -> float | None:
    """dr's replica's own view of the primary: its newest replication lag in seconds over the
    last five minutes, or None when CloudWatch has no datapoint."""
    metric = LAG_METRICS[env.db_engine]
    points = lag_datapoints(
        cloudwatch, metric, env.db_identifier, clock.now() - timedelta(minutes=5), clock
    )
    return points[-1][1] if points else None


# -- Route 53 ARC routing controls -------------------------------------------------------------

# Worth trying the next endpoint after: the endpoint is unreachable or cannot serve now. Any
# other error (a safety rule refusing the change, access denied) is the answer.
# (The error codes of API_UpdateRoutingControlStates; AWS documents no code of its own for a
# safety rule's refusal, so anything else is taken as the answer.)
ARC_RETRYABLE = (
    "ThrottlingException",
    "InternalServerException",
    "EndpointTemporarilyUnavailableException",
)


def endpoint_order(
    endpoints: tuple[tuple[str, str], ...], env: Environment
) -> list[tuple[str, str]]:
    """The cluster's endpoints, dr's own first and the primary region's last: ARC asks callers
    to try each regional endpoint in turn until one answers
    (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html), and
    the one in a failed region only costs timeouts."""

    def rank(item: tuple[str, str]) -> int:
        return {env.region: 0, env.primary_region: 2}.get(item[0], 1)

    return sorted(endpoints, key=rank)


def _on_each_endpoint(arc: list[tuple[str, Any]], call: Callable[[Any], Any]) -> tuple[str, Any]:
    errors = []
    for region, client in arc:
        try:
            return region, call(client)
        except BotoCoreError as error:
            errors.append(f"{region}: {type(error).__name__}")
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in ARC_RETRYABLE:
                raise
            errors.append(f"{region}: {code}")
    raise StepFailedError("no routing control endpoint answered (" + "; ".join(errors) + ")")


def set_routing_controls(arc: list[tuple[str, Any]], states: Mapping[str, str]) -> str:
    """Set routing controls (ARN -> On/Off) in one request, so ARC checks its safety rules
    against the end state (API_UpdateRoutingControlStates); a control already there is left
    alone."""

    def current(client: Any) -> dict[str, str]:
        return {
            arn: client.get_routing_control_state(RoutingControlArn=arn)["RoutingControlState"]
            for arn in states
        }

    region, now = _on_each_endpoint(arc, current)
    if now == dict(states):
        return f"routing controls already {_describe(states)} (read in {region})"
    entries = [{"RoutingControlArn": a, "RoutingControlState": v} for a, v in states.items()]
    region, _ = _on_each_endpoint(
        arc,
        lambda client: client.update_routing_control_states(
            UpdateRoutingControlStateEntries=entries
        ),
    )
    return f"routing controls set {_describe(states)} through {region}"


def _describe(states: Mapping[str, str]) -> str:
    return ", ".join(f"{arn.rsplit('/', 1)[-1]}={value}" for arn, value in states.items())


# -- the gateway ----------------------------------------------------------------------------------


def scale_gateway(kube: Kube, gateway: GatewayControl, size: GatewaySize) -> str:
    kube.scale_gateway(
        gateway.namespace, gateway.deployment, gateway.hpa, size.replicas, size.max_replicas
    )
    return f"{gateway.deployment}: HPA minimum and replicas {size.replicas}"


def verify_capacity(
    kube: Kube,
    env: Environment,
    sizes: Mapping[str, NodeGroupSize],
    gateway: GatewaySize | None,
    pace: Pace,
) -> str:
    """Serving capacity, not an ACTIVE status: every node group's desired nodes Ready in
    Kubernetes, and the gateway's replicas available."""
    seen: dict[str, int] = {}

    def ready() -> bool:
        for group, name in env.node_groups.items():
            seen[name] = kube.ready_nodes(name)
            if seen[name] < sizes[group].desired_size:
                return False
        if env.gateway is not None and gateway is not None:
            seen["gateway"] = kube.available_replicas(env.gateway.namespace, env.gateway.deployment)
            return seen["gateway"] >= gateway.replicas
        return True

    try:
        wait_for(pace, "serving capacity", ready, GATEWAY_WAIT)
    except StepFailedError as error:
        raise StepFailedError(f"{error}: {seen}") from None
    return "ready: " + ", ".join(f"{k} {v}" for k, v in seen.items())


# -- failback: the objects dr wrote (S3 Batch Replication) ----------------------------------

# Live replication copies only objects written after a rule exists; objects written before it,
# and those that failed, need S3 Batch Replication: a Batch Operations job whose operation is
# S3ReplicateObject (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
# s3-batch-replication-batch.html).
BATCH_REPLICATION_DESCRIPTION = "trading failback: {source} -> {target}"
# A failback waits on this job: ahead of any other of the account's jobs
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html, Priority: higher
# numbers run first).
BATCH_REPLICATION_PRIORITY = 50
# The job's generated manifest holds the objects whose replication status is one of these and
# that the bucket's replication configuration covers (JobManifestGeneratorFilter,
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestGeneratorFilter.html).
BATCH_REPLICATION_STATUSES = ("NONE", "FAILED")
# JobStatus values (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobDescriptor.html)
# from which the job may still complete: a resumed run waits on such a job instead of starting
# another; Failing and Cancelling end Failed and Cancelled.
BATCH_JOB_IN_FLIGHT = (
    "New",
    "Preparing",
    "Suspended",
    "Ready",
    "Active",
    "Pausing",
    "Paused",
    "Completing",
)
BATCH_JOB_FAILED = ("Failed", "Failing", "Cancelled", "Cancelling")
# Jobs of tens of thousands of objects take minutes; a longer one outlives this run, whose
# deadline guard stops it FAILED, and the next run waits on the same job.
BATCH_JOB_WAIT = {"Delay": 30, "MaxAttempts": 40}


@dataclass(frozen=True)
class ObjectReplication:
    """What the Batch Replication job needs, from the Lambda's environment."""

    source_bucket: str
    target_bucket: str
    role_arn: str
    report_prefix: str

    @property
    def account_id(self) -> str:
        # arn:aws:iam::<account>:role/<name>: the job runs in the role's (and the bucket's)
        # account.
        return self.role_arn.split(":")[4]

    @property
    def description(self) -> str:
        return BATCH_REPLICATION_DESCRIPTION.format(
            source=self.source_bucket, target=self.target_bucket
        )[:256]


def reverse_rule(s3: Any, source_bucket: str, target_bucket: str) -> str | None:
    """The ID of an enabled replication rule on `source_bucket` whose destination is
    `target_bucket`, or None (GetBucketReplication,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketReplication.html: a bucket
    without a configuration answers ReplicationConfigurationNotFoundError)."""
    try:
        rules = s3.get_bucket_replication(Bucket=source_bucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError":
            return None
        raise
    target_arn = f":s3:::{target_bucket}"
    for rule in rules:
        if rule.get("Status") == "Enabled" and rule["Destination"]["Bucket"].endswith(target_arn):
            return rule.get("ID", "(unnamed)")
    return None


def client_request_token(run_id: str) -> str:
    """CreateJob's idempotency token (1-64 characters): a retried request of the same run gets
    the same job back rather than a second one."""
    return hashlib.sha256(run_id.encode()).hexdigest()[:64]


def _job_in_flight(s3control: Any, replication: ObjectReplication) -> str | None:
    """The Batch Replication job an earlier failback run started and left running, if any."""
    # botocore has no paginator for ListJobs: NextToken by hand.
    request: dict[str, Any] = {
        "AccountId": replication.account_id,
        "JobStatuses": list(BATCH_JOB_IN_FLIGHT),
    }
    while True:
        page = s3control.list_jobs(**request)
        for job in page.get("Jobs", []):
            if (
                job.get("Operation") == "S3ReplicateObject"
                and job.get("Description") == replication.description
            ):
                return job["JobId"]
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]


def batch_job_usable(s3control: Any, account_id: str, job_id: str) -> bool:
    """Whether `job_id` is still running, or completed with every task replicated: a job that
    failed, was cancelled or left failed tasks is not waited on again (a new one takes what is
    still NONE or FAILED)."""
    try:
        described = s3control.describe_job(AccountId=account_id, JobId=job_id)["Job"]
    except ClientError as error:
        # An unknown job: NotFoundException in botocore's s3control model, NoSuchJobException
        # in the S3 User Guide's "Troubleshooting Batch Operations" (ended jobs are deleted
        # after 90 days).
        if error.response["Error"]["Code"] in ("NotFoundException", "NoSuchJobException"):
            return False
        raise
    status = described["Status"]
    if status in BATCH_JOB_IN_FLIGHT:
        return True
    failed = described.get("ProgressSummary", {}).get("NumberOfTasksFailed", 0)
    return status == "Complete" and not failed


def start_batch_replication(
    s3control: Any, replication: ObjectReplication, run_id: str
) -> tuple[str, bool]:
    """The job replicating every object of the source bucket that live replication has not
    copied (status NONE or FAILED): one an earlier run left in flight, or a new one. Returns
    (job id, whether it was found rather than created)."""
    found = _job_in_flight(s3control, replication)
    if found:
        return found, True
    source_arn = f"arn:aws:s3:::{replication.source_bucket}"
    # CreateJob with an S3-generated manifest (ManifestGenerator) and the S3ReplicateObject
    # operation, as "Create a Batch Replication job for existing replication rules" does
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-existing-config.html);
    # ConfirmationRequired=False: the failback already is the operator's decision.
    created = s3control.create_job(
        AccountId=replication.account_id,
        ConfirmationRequired=False,
        Operation={"S3ReplicateObject": {}},
        Report={
            "Bucket": source_arn,
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "Prefix": f"{replication.report_prefix}/reports",
            "ReportScope": "AllTasks",
        },
        ClientRequestToken=client_request_token(run_id),
        Description=replication.description,
        Priority=BATCH_REPLICATION_PRIORITY,
        RoleArn=replication.role_arn,
        ManifestGenerator={
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": replication.account_id,
                "SourceBucket": source_arn,
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "ExpectedManifestBucketOwner": replication.account_id,
                    "Bucket": source_arn,
                    "ManifestPrefix": f"{replication.report_prefix}/manifests",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {
                    "EligibleForReplication": True,
                    "ObjectReplicationStatuses": list(BATCH_REPLICATION_STATUSES),
                },
            }
        },
    )
    return created["JobId"], False


def wait_batch_job(s3control: Any, account_id: str, job_id: str, pace: Pace) -> str:
    """Until DescribeJob says Complete; a failed or cancelled job, or any failed task (an
    object that did not replicate), fails the step."""
    described: dict[str, Any] = {}

    def complete() -> bool:
        described.update(s3control.describe_job(AccountId=account_id, JobId=job_id)["Job"])
        status = described["Status"]
        progress = described.get("ProgressSummary", {})
        if status in BATCH_JOB_FAILED:
            reasons = "; ".join(
                f"{f.get('FailureCode', '?')}: {f.get('FailureReason', '')}"
                for f in described.get("FailureReasons", [])
            )
            raise StepFailedError(f"Batch Replication job {job_id} is {status} ({reasons})")
        if status != "Complete":
            return False
        if progress.get("NumberOfTasksFailed", 0):
            raise StepFailedError(
                f"Batch Replication job {job_id} completed with "
                f"{progress['NumberOfTasksFailed']} of {progress.get('TotalNumberOfTasks', '?')} "
                "objects not replicated: see its completion report"
            )
        return True

    try:
        wait_for(pace, f"Batch Replication job {job_id} Complete", complete, BATCH_JOB_WAIT)
    except StepFailedError as error:
        # The job goes on without this run (a deadline, a lapsed budget): the next run waits
        # on it, and the record names it meanwhile.
        if job_id in str(error):
            raise
        raise StepFailedError(f"Batch Replication job {job_id}: {error}") from None
    progress = described.get("ProgressSummary", {})
    return (
        f"job {job_id} Complete: {progress.get('NumberOfTasksSucceeded', 0)} of "
        f"{progress.get('TotalNumberOfTasks', 0)} objects replicated"
    )
