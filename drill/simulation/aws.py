"""AWS as the handler reaches it in the simulation: real boto3 clients whose calls botocore
validates against the service models as usual, then answered here.

A botocore `before-call` hook takes every call the handler makes (botocore uses the first
response a handler returns instead of sending the request). It first costs simulated time: an
API round trip, or, when the endpoint is unreachable, what the caller's own botocore Config
costs (every attempt's connect timeout and the standard mode's backoff between attempts)
before EndpointConnectionError. botocore itself never retries here (the hook answers before a
request is sent), so its retry quota plays no part, and a client carries nothing from one
invocation to the next: the handler asks for fresh clients in every invocation, as on AWS, and
gets the ones built for the same service, region, endpoint and Config before (`ReusedClients`;
building them anew was most of a scenario's run time). EKS, RDS, Route 53 and CloudWatch (the
replicas' lag metrics) are then answered from the simulated world; DynamoDB (the state
record's conditional writes) and SNS go on to moto, in-process, which emulates them faithfully.
"""

from __future__ import annotations

import base64
import math
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from drill.simulation.clock import SimClock
from drill.simulation.world import Database, World

Answer = tuple[AWSResponse, dict[str, Any]]
PARAMS = "simulation.params"
ANSWERED = ("eks", "rds", "route53", "cloudwatch", "route53-recovery-cluster", "s3control")
ENDPOINTS = {"cloudwatch": "monitoring"}

# The replica lag metrics RDS publishes in AWS/RDS, in the replica's region: name -> (the one
# dimension it is published by, the kind of database, the unit's factor from seconds).
# ReplicaLag: seconds, by DBInstanceIdentifier (RDS metrics reference, rds-metrics.html).
# Aurora global database secondaries: milliseconds, by DBClusterIdentifier, published in
# secondary Regions only (Aurora.AuroraMonitoring.Metrics.html, dimensions.html); AWS points
# Aurora PostgreSQL users at AuroraGlobalDBRPOLag. The simulation has one lag for all three.
LAG_METRICS: dict[str, tuple[str, str, float]] = {
    "ReplicaLag": ("DBInstanceIdentifier", "instance", 1.0),
    "AuroraGlobalDBReplicationLag": ("DBClusterIdentifier", "cluster", 1000.0),
    "AuroraGlobalDBRPOLag": ("DBClusterIdentifier", "cluster", 1000.0),
    "AuroraGlobalDBProgressLag": ("DBClusterIdentifier", "cluster", 1000.0),
}
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": lambda values: float(len(values)),
}


READ_ONLY = "default_transaction_read_only"
# What DescribeCluster returns as the certificate authority: the transport checks it is passed.
SIMULATED_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----simulated").decode()


def kube_endpoint(region: str) -> str:
    return f"https://simulated.gr7.{region}.eks.amazonaws.com"


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ReusedClients(boto3.Session):
    """The default session the handler's `boto3.client` calls reach in a simulation: a client
    is built once per service, region, endpoint and Config object, then handed out again."""

    def __init__(self, botocore_session: botocore.session.Session) -> None:
        super().__init__(botocore_session=botocore_session)
        self._clients: dict[tuple[Any, ...], Any] = {}

    def client(self, *args: Any, **kwargs: Any) -> Any:
        # A Config is compared by identity: the handler passes one module-level object.
        key = (args, *sorted((k, id(v) if k == "config" else v) for k, v in kwargs.items()))
        if key not in self._clients:
            self._clients[key] = super().client(*args, **kwargs)
        return self._clients[key]


class Bridge:
    """Answers the AWS calls of the code the simulation runs, all of which runs in dr (the
    failover Lambda, its probe): a network fault is judged from there."""

    def __init__(self, world: World, clock: SimClock, rng: random.Random) -> None:
        self.world = world
        self.clock = clock
        self.rng = rng
        self.on_publish: Callable[[str], None] = lambda subject: None
        # Every call made, as (service, operation, the client's region, parameters).
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self._answers: dict[tuple[str, str], Callable[[str, Mapping[str, Any]], dict]] = {
            ("eks", "DescribeNodegroup"): self._describe_nodegroup,
            ("eks", "UpdateNodegroupConfig"): self._update_nodegroup_config,
            ("eks", "DescribeCluster"): self._describe_cluster,
            ("rds", "DescribeDBInstances"): self._describe_db_instances,
            ("rds", "PromoteReadReplica"): self._promote_read_replica,
            ("rds", "ModifyDBParameterGroup"): self._modify_db_parameter_group,
            ("rds", "DescribeDBParameters"): self._describe_db_parameters,
            ("rds", "DescribeDBClusters"): self._describe_db_clusters,
            ("rds", "DescribeGlobalClusters"): self._describe_global_clusters,
            ("rds", "FailoverGlobalCluster"): self._failover_global_cluster,
            ("rds", "SwitchoverGlobalCluster"): self._switchover_global_cluster,
            ("route53", "GetHealthCheck"): self._get_health_check,
            ("route53", "UpdateHealthCheck"): self._update_health_check,
            ("route53", "GetHealthCheckStatus"): self._get_health_check_status,
            ("cloudwatch", "GetMetricData"): self._get_metric_data,
            ("route53-recovery-cluster", "GetRoutingControlState"): self._get_routing_control,
            (
                "route53-recovery-cluster",
                "UpdateRoutingControlStates",
            ): self._update_routing_controls,
            ("s3", "GetBucketReplication"): self._get_bucket_replication,
            ("s3control", "CreateJob"): self._create_job,
            ("s3control", "ListJobs"): self._list_jobs,
            ("s3control", "DescribeJob"): self._describe_job,
        }

    def session(self) -> botocore.session.Session:
        session = botocore.session.Session()
        session.register("before-parameter-build", self._remember)
        session.register("before-call", self._call)
        return session

    # -- the hook -------------------------------------------------------------------------------

    def _remember(self, params: Mapping[str, Any], context: dict, **_: Any) -> None:
        context[PARAMS] = dict(params)

    def _call(self, model: Any, context: dict, **_: Any) -> Answer | None:
        service = model.service_model.service_name
        operation = model.name
        region = context["client_region"]
        config = context["client_config"]
        self.calls.append((service, operation, region, dict(context.get(PARAMS, {}))))
        self._reach(service, region, config)
        self.clock.sleep(self.world.physics.api_latency_seconds)
        self.world.advance(self.clock.t)
        if not self.world.api_reachable(service, region, caller=self.world.dr_region):
            self._reach(service, region, config)
        params = context.get(PARAMS, {})
        if service == "sns" and operation == "Publish":
            self.on_publish(str(params.get("Subject", "")))
        answer = self._answers.get((service, operation))
        if answer is None:
            if service in ANSWERED:
                raise NotImplementedError(f"the simulation does not answer {service} {operation}")
            return None
        try:
            body = answer(region, params)
        except ApiError as error:
            return _response(400, {"Error": {"Code": error.code, "Message": str(error)}})
        return _response(200, body)

    def _reach(self, service: str, region: str, config: Any) -> None:
        """Spend what an unreachable endpoint costs the caller, by its own botocore Config:
        every attempt's connect timeout and the backoff between attempts; raise unless the
        endpoint came back meanwhile."""
        retries = config.retries or {}
        attempts = int(retries.get("total_max_attempts", retries.get("max_attempts", 2) + 1))
        timeout = float(config.connect_timeout)
        for attempt in range(attempts):
            self.world.advance(self.clock.t)
            if self.world.api_reachable(service, region, caller=self.world.dr_region):
                return
            self.clock.sleep(timeout)
            if attempt + 1 < attempts:
                p = self.world.physics
                backoff = min(p.api_backoff_base_seconds * 2**attempt, p.api_max_backoff_seconds)
                self.clock.sleep(self.rng.random() * backoff)
        prefix = ENDPOINTS.get(service, service)
        host = (
            "route53.amazonaws.com" if service == "route53" else f"{prefix}.{region}.amazonaws.com"
        )
        raise EndpointConnectionError(endpoint_url=f"https://{host}")

    # -- EKS --------------------------------------------------------------------------------------

    def _group(self, region: str, params: Mapping[str, Any]) -> Any:
        cluster = self.world.clusters.get(region)
        if cluster is None or cluster.name != params["clusterName"]:
            raise ApiError(
                "ResourceNotFoundException", f"No cluster found for name: {params['clusterName']}."
            )
        group = cluster.groups.get(params["nodegroupName"])
        if group is None:
            raise ApiError(
                "ResourceNotFoundException",
                f"No node group found for name: {params['nodegroupName']}.",
            )
        return group

    def _describe_nodegroup(self, region: str, params: Mapping[str, Any]) -> dict:
        group = self._group(region, params)
        t = self.world.t
        issues = (
            [{"code": "AsgInstanceLaunchFailures", "message": "Could not launch instances"}]
            if group.launch_failing
            else []
        )
        return {
            "nodegroup": {
                "nodegroupName": group.name,
                "clusterName": params["clusterName"],
                "status": group.status(t),
                "scalingConfig": {
                    "minSize": group.min_size,
                    "desiredSize": group.desired,
                    "maxSize": group.max_size,
                },
                "health": {"issues": issues},
            }
        }

    def _update_nodegroup_config(self, region: str, params: Mapping[str, Any]) -> dict:
        group = self._group(region, params)
        wanted = params.get("scalingConfig", {})
        low = wanted.get("minSize", group.min_size)
        desired = wanted.get("desiredSize", group.desired)
        high = wanted.get("maxSize", group.max_size)
        if not low <= desired <= high:
            raise ApiError("InvalidParameterException", "desired size must be within min and max")
        self.world.scale(group, region, low, desired, high)
        return {
            "update": {
                "id": str(uuid.UUID(int=self.rng.getrandbits(128))),
                "status": "InProgress",
                "type": "ConfigUpdate",
            }
        }

    def _describe_cluster(self, region: str, params: Mapping[str, Any]) -> dict:
        cluster = self.world.clusters.get(region)
        if cluster is None or cluster.name != params["name"]:
            raise ApiError(
                "ResourceNotFoundException", f"No cluster found for name: {params['name']}."
            )
        return {
            "cluster": {
                "name": cluster.name,
                "endpoint": kube_endpoint(region),
                "certificateAuthority": {"data": SIMULATED_CA},
                "status": "ACTIVE",
            }
        }

    # -- RDS --------------------------------------------------------------------------------------

    def _local(self, region: str, identifier: str, kind: str) -> Database:
        db = self.world.db(identifier.rsplit(":", 1)[-1])
        if db is None or db.region != region or db.kind != kind:
            if kind == "instance":
                raise ApiError("DBInstanceNotFound", f"DBInstance {identifier} not found.")
            raise ApiError("DBClusterNotFoundFault", f"DBCluster {identifier} not found.")
        return db

    def _instance(self, db: Database) -> dict:
        described: dict[str, Any] = {
            "DBInstanceIdentifier": db.identifier,
            "DBInstanceArn": db.arn,
            "DBInstanceStatus": self.world.db_status(db),
            "Engine": "postgres",
            "DBParameterGroups": [
                {
                    "DBParameterGroupName": db.identifier,
                    "ParameterApplyStatus": "applying" if db.applying else "in-sync",
                }
            ],
        }
        if db.source is not None:
            linked = self.world.linked(db)
            described["StatusInfos"] = [
                {
                    "StatusType": "read replication",
                    "Normal": linked,
                    "Status": "replicating" if linked else "error",
                }
            ]
        if db.origin is not None:
            described["ReadReplicaSourceDBInstanceIdentifier"] = db.origin.arn
        replicas = self.world.replicas_of(db)
        if replicas:
            # A replica in another Region is named by its ARN, as the source's region sees it.
            described["ReadReplicaDBInstanceIdentifiers"] = [
                r.identifier if r.region == db.region else r.arn for r in replicas
            ]
        return described

    def _describe_db_instances(self, region: str, params: Mapping[str, Any]) -> dict:
        return {
            "DBInstances": [
                self._instance(self._local(region, params["DBInstanceIdentifier"], "instance"))
            ]
        }

    def _promote_read_replica(self, region: str, params: Mapping[str, Any]) -> dict:
        db = self._local(region, params["DBInstanceIdentifier"], "instance")
        status = self.world.db_status(db)
        if db.origin is None:
            raise ApiError(
                "InvalidDBInstanceState", f"DB Instance {db.identifier} is not a read replica."
            )
        if status != "available":
            # A replica cannot be promoted while backing-up (API_PromoteReadReplica).
            raise ApiError(
                "InvalidDBInstanceState",
                f"DB instance {db.identifier} is {status}: it cannot be promoted now.",
            )
        self.world.promote(db)
        return {"DBInstance": self._instance(db)}

    def _parameter_group(self, region: str, name: str) -> Database:
        db = self.world.db(name)
        if db is None or db.region != region or db.kind != "instance":
            raise ApiError("DBParameterGroupNotFound", f"DBParameterGroup {name} not found.")
        return db

    def _modify_db_parameter_group(self, region: str, params: Mapping[str, Any]) -> dict:
        """Only `default_transaction_read_only`, applied immediately (a dynamic parameter);
        RDS takes at most 20 parameters a call."""
        name = params["DBParameterGroupName"]
        self._parameter_group(region, name)
        for parameter in params["Parameters"]:
            if parameter.get("ParameterName") != READ_ONLY or parameter.get("ApplyMethod") != (
                "immediate"
            ):
                raise NotImplementedError(f"the simulation does not modify {parameter}")
            if parameter.get("ParameterValue") not in ("0", "1"):
                raise ApiError(
                    "InvalidParameterValue", f"{parameter.get('ParameterValue')!r} is not 0 or 1"
                )
            self.world.set_parameter(name, parameter["ParameterValue"] == "1")
        return {"DBParameterGroupName": name}

    def _describe_db_parameters(self, region: str, params: Mapping[str, Any]) -> dict:
        name = params["DBParameterGroupName"]
        self._parameter_group(region, name)
        user = [{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "Source": "user"}]
        if name in self.world.read_only_groups:
            value = "1" if self.world.read_only_groups[name] else "0"
            user.append({"ParameterName": READ_ONLY, "ParameterValue": value, "Source": "user"})
        return {"Parameters": user if params.get("Source") in (None, "user") else []}

    def _describe_db_clusters(self, region: str, params: Mapping[str, Any]) -> dict:
        db = self._local(region, params["DBClusterIdentifier"], "cluster")
        return {
            "DBClusters": [
                {
                    "DBClusterIdentifier": db.identifier,
                    "DBClusterArn": db.arn,
                    "Status": self.world.db_status(db),
                    "Engine": "aurora-postgresql",
                }
            ]
        }

    def _global(self, params: Mapping[str, Any]) -> None:
        name = params["GlobalClusterIdentifier"]
        if name != self.world.topology.global_cluster:
            raise ApiError("GlobalClusterNotFoundFault", f"Global cluster {name} not found.")

    def _describe_global_clusters(self, region: str, params: Mapping[str, Any]) -> dict:
        self._global(params)
        members = [
            {"DBClusterArn": db.arn, "IsWriter": db.writer, "Readers": []}
            for db in self.world.databases.values()
        ]
        return {
            "GlobalClusters": [
                {
                    "GlobalClusterIdentifier": params["GlobalClusterIdentifier"],
                    "Status": self.world.global_status,
                    "GlobalClusterMembers": members,
                }
            ]
        }

    def _target(self, params: Mapping[str, Any]) -> Database:
        self._global(params)
        if self.world.global_status != "available":
            raise ApiError(
                "InvalidGlobalClusterStateFault", f"Global cluster is {self.world.global_status}."
            )
        target = self.world.db(str(params["TargetDbClusterIdentifier"]).rsplit(":", 1)[-1])
        if target is None or target.kind != "cluster":
            raise ApiError(
                "DBClusterNotFoundFault", f"{params['TargetDbClusterIdentifier']} is not a member."
            )
        return target

    def _failover_global_cluster(self, region: str, params: Mapping[str, Any]) -> dict:
        """With AllowDataLoss a failover; otherwise (Switchover given or omitted) a
        switchover (API_FailoverGlobalCluster)."""
        if params.get("AllowDataLoss") and params.get("Switchover"):
            raise ApiError(
                "InvalidParameterCombination", "AllowDataLoss and Switchover are exclusive."
            )
        if not params.get("AllowDataLoss"):
            return self._switchover_global_cluster(region, params)
        target = self._target(params)
        self.world.failover_global(target)
        return {
            "GlobalCluster": self._describe_global_clusters(region, params)["GlobalClusters"][0]
        }

    def _switchover_global_cluster(self, region: str, params: Mapping[str, Any]) -> dict:
        target = self._target(params)
        refusal = self.world.switchover_global(target)
        if refusal:
            raise ApiError("InvalidGlobalClusterStateFault", refusal)
        return {
            "GlobalCluster": self._describe_global_clusters(region, params)["GlobalClusters"][0]
        }

    # -- Route 53 ---------------------------------------------------------------------------------

    def _check(self, params: Mapping[str, Any]) -> Any:
        check = self.world.checks.get(params["HealthCheckId"])
        if check is None:
            raise ApiError(
                "NoSuchHealthCheck", f"No health check exists with the ID {params['HealthCheckId']}"
            )
        return check

    def _health_check(self, check: Any) -> dict:
        return {
            "HealthCheck": {
                "Id": check.id,
                "CallerReference": check.id,
                "HealthCheckConfig": {
                    "Type": "HTTPS",
                    "ResourcePath": "/health",
                    "RequestInterval": int(check.interval),
                    "FailureThreshold": check.threshold,
                    "Inverted": check.configured_inverted,
                },
                "HealthCheckVersion": check.version,
            }
        }

    def _get_health_check(self, region: str, params: Mapping[str, Any]) -> dict:
        return self._health_check(self._check(params))

    def _update_health_check(self, region: str, params: Mapping[str, Any]) -> dict:
        check = self._check(params)
        if "HealthCheckVersion" in params and params["HealthCheckVersion"] != check.version:
            raise ApiError(
                "HealthCheckVersionMismatch", "The health check was updated by someone else."
            )
        if "Inverted" in params:
            self.world.set_inverted(check, bool(params["Inverted"]))
        return self._health_check(check)

    def _get_health_check_status(self, region: str, params: Mapping[str, Any]) -> dict:
        check = self._check(params)
        when = self.clock.now()
        return {
            "HealthCheckObservations": [
                {
                    "Region": REGIONS[i % len(REGIONS)],
                    "IPAddress": f"192.0.2.{i + 1}",
                    "StatusReport": {
                        "Status": "Success: HTTP Status Code 200, OK"
                        if checker.last_ok
                        else "Failure: Connection timed out.",
                        "CheckedTime": when,
                    },
                }
                for i, checker in enumerate(check.checkers)
            ]
        }

    # -- Route 53 ARC ------------------------------------------------------------------------------

    def _control(self, arn: str) -> str:
        if arn not in self.world.routing_state:
            raise ApiError("ResourceNotFoundException", f"No routing control {arn}.")
        return arn

    def _get_routing_control(self, region: str, params: Mapping[str, Any]) -> dict:
        arn = self._control(params["RoutingControlArn"])
        return {
            "RoutingControlArn": arn,
            "RoutingControlState": "On" if self.world.routing_state[arn] else "Off",
        }

    def _update_routing_controls(self, region: str, params: Mapping[str, Any]) -> dict:
        """All the entries at once, refused when the end state breaks the safety rule (at
        least one region On, components/recovery.py): API_UpdateRoutingControlStates."""
        states = {
            self._control(e["RoutingControlArn"]): e["RoutingControlState"] == "On"
            for e in params["UpdateRoutingControlStateEntries"]
        }
        if not any({**self.world.routing_state, **states}.values()):
            raise ApiError(
                "ConflictException", "the change would break a safety rule (at least one On)"
            )
        self.world.set_routing(states)
        return {}

    # -- CloudWatch -----------------------------------------------------------------------------

    def _get_metric_data(self, region: str, params: Mapping[str, Any]) -> dict:
        """GetMetricData for the replicas' lag metrics; any other metric, namespace, dimension
        set or expression has no data (an empty result, not an error). StartTime is rounded
        down to the minute (API_GetMetricData); datapoints are stamped with their period's
        start, newest first unless ScanBy says TimestampAscending."""
        start = math.floor(self._seconds(params["StartTime"]) / 60) * 60
        end = self._seconds(params["EndTime"])
        ascending = params.get("ScanBy") == "TimestampAscending"
        results = []
        for query in params["MetricDataQueries"]:
            if not query.get("ReturnData", True):
                continue
            stat = query.get("MetricStat")
            points = self._datapoints(region, stat, start, end) if stat else []
            points.sort(reverse=not ascending)
            label = stat["Metric"].get("MetricName", query["Id"]) if stat else query["Id"]
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label", label),
                    "Timestamps": [self.clock.epoch + timedelta(seconds=p) for p, _ in points],
                    "Values": [v for _, v in points],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    def _datapoints(
        self, region: str, stat: Mapping[str, Any], start: float, end: float
    ) -> list[tuple[float, float]]:
        metric = stat["Metric"]
        spec = LAG_METRICS.get(metric.get("MetricName", ""))
        dimensions = metric.get("Dimensions", [])
        aggregate = STATISTICS.get(stat["Stat"])
        if metric.get("Namespace") != "AWS/RDS" or spec is None or aggregate is None:
            return []
        name, kind, factor = spec
        if len(dimensions) != 1 or dimensions[0]["Name"] != name:
            return []
        series = self.world.lag_series.get((region, kind, dimensions[0]["Value"]), [])
        p = self.world.physics
        visible_until = (
            self.world.t - p.rds_metric_period_seconds - p.metric_publication_delay_seconds
        )
        period = float(stat["Period"])
        buckets: dict[float, list[float]] = {}
        for at, lag in series:
            if start <= at < end and at <= visible_until:
                bucket = start + math.floor((at - start) / period) * period
                buckets.setdefault(bucket, []).append(lag * factor)
        return [(at, aggregate(values)) for at, values in buckets.items()]

    def _seconds(self, value: Any) -> float:
        """A timestamp as boto3 takes it (datetime, ISO 8601 text or epoch seconds) in
        simulated seconds."""
        if isinstance(value, datetime):
            when = value
        elif isinstance(value, int | float):
            when = datetime.fromtimestamp(value, UTC)
        else:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - self.clock.epoch).total_seconds()

    # -- S3: dr's records bucket and Batch Replication --------------------------------------------

    def _get_bucket_replication(self, region: str, params: Mapping[str, Any]) -> dict:
        """The records buckets' one rule, on whichever bucket replicates now
        (components/records_replication.py declares it on the origin); a bucket without one
        answers as S3 does
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketReplication.html)."""
        world = self.world
        dr_bucket, primary_bucket = world.records_buckets
        origin, target = (
            (dr_bucket, primary_bucket)
            if world.reverse_rule_at is not None
            else (primary_bucket, dr_bucket)
        )
        if params["Bucket"] not in (dr_bucket, primary_bucket):
            raise ApiError("NoSuchBucket", "The specified bucket does not exist")
        if params["Bucket"] != origin:
            raise ApiError(
                "ReplicationConfigurationNotFoundError",
                "The replication configuration was not found",
            )
        rule = {
            "ID": "records-to-peer-region",
            "Status": "Enabled",
            "Priority": 1,
            "Filter": {"Prefix": ""},
            "Destination": {"Bucket": f"arn:aws:s3:::{target}"},
        }
        return {"ReplicationConfiguration": {"Role": "simulated", "Rules": [rule]}}

    def _create_job(self, region: str, params: Mapping[str, Any]) -> dict:
        generator = params["ManifestGenerator"]["S3JobManifestGenerator"]
        if generator["SourceBucket"] != f"arn:aws:s3:::{self.world.records_buckets[0]}":
            raise ApiError("InvalidRequest", f"the simulation has no bucket {generator}")
        job = self.world.start_batch_job(params["ClientRequestToken"], params["Description"])
        return {"JobId": job.id}

    def _list_jobs(self, region: str, params: Mapping[str, Any]) -> dict:
        wanted = set(params.get("JobStatuses", [])) or None
        return {
            "Jobs": [
                {
                    "JobId": job.id,
                    "Description": job.description,
                    "Operation": "S3ReplicateObject",
                    "Status": job.status,
                }
                for job in self.world.batch_jobs.values()
                if wanted is None or job.status in wanted
            ]
        }

    def _describe_job(self, region: str, params: Mapping[str, Any]) -> dict:
        job = self.world.batch_jobs.get(params["JobId"])
        if job is None:
            raise ApiError("NoSuchJob", f"No such job: {params['JobId']}")
        return {
            "Job": {
                "JobId": job.id,
                "Status": job.status,
                "ProgressSummary": {
                    "TotalNumberOfTasks": len(job.manifest),
                    "NumberOfTasksSucceeded": job.succeeded,
                    "NumberOfTasksFailed": job.failed,
                },
            }
        }


# The regions Route 53's checkers run from when none are chosen (API_HealthCheckConfig).
REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)


def _response(status: int, body: dict[str, Any]) -> Answer:
    body = {**body, "ResponseMetadata": {"HTTPStatusCode": status}}
    return AWSResponse("https://simulated", status, {}, None), body
