"""An emulated dr world in moto: a moto server on 127.0.0.1 and the AWS resources the failover
path touches, named from the failover Lambda's own environment (which the mocked dr program
produced), plus the stores the drill's RPO markers go to.

Used by the handler tests and the emulated drill. moto emulates EKS scaling, DynamoDB
conditional writes, SNS to SQS and Route 53 health check configuration faithfully; it does not
emulate RDS promotion (describe still shows a replica), Aurora's global switchover and failover
(it does not answer them: a stand-in below records the new writer), health check status (always
healthy) or replication. Whoever uses this world reports those as not emulated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from botocore.awsrequest import AWSResponse
from moto.rds.models import rds_backends
from moto.server import ThreadedMotoServer

from handlers.contract import Environment
from handlers.failover import Clients, make_clients
from outputs import StackOutput

MOCK_ACCOUNT = "123456789012"


def lambda_environment(graph: Any, function_name: str = "dr-handler") -> dict[str, str]:
    """The failover Lambda's environment variables as the dr program declared them."""
    function = graph.one("aws:lambda/function:Function", function_name)
    return {key: str(value) for key, value in function.inputs["environment"]["variables"].items()}


def handler_environment(variables: Mapping[str, str], region: str) -> Environment:
    """What the Lambda parses at cold start; AWS_REGION is the one Lambda sets itself."""
    return Environment.from_env({**variables, Environment.REGION: region})


def clients(env: Environment, **overrides: Any) -> Clients:
    """The handler's own clients, with any of them replaced (a test stating AWS's answers).
    moto has neither Route 53 ARC's data plane nor a Kubernetes API: those two are the
    stand-ins below, and whoever uses this world reports them as not emulated."""
    made = make_clients(env, KubeStandIn(env))
    arc = ArcStandIn()
    for _, client in made.arc:
        client.meta.events.register("before-parameter-build.route53-recovery-cluster", arc.keep)
        client.meta.events.register("before-call.route53-recovery-cluster", arc.answer)
    global_switch = GlobalSwitchStandIn()
    for client in (made.rds, made.primary_rds):
        for operation in GlobalSwitchStandIn.OPERATIONS:
            client.meta.events.register(
                f"before-parameter-build.rds.{operation}", global_switch.keep
            )
            client.meta.events.register(f"before-call.rds.{operation}", global_switch.answer)
    return dataclasses.replace(made, **overrides)


# Routing control ARN -> On/Off, as the stand-in's data plane holds them; `build` sets both On.
ROUTING: dict[str, str] = {}


class ArcStandIn:
    """Routing control states (`ROUTING`) behind the real botocore client, which validates
    every request against the service model first."""

    def __init__(self) -> None:
        self.states = ROUTING

    def keep(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["stand-in.params"] = dict(params)

    def answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context["stand-in.params"]
        body: dict[str, Any] = {}
        if model.name == "GetRoutingControlState":
            arn = params["RoutingControlArn"]
            body = {"RoutingControlArn": arn, "RoutingControlState": self.states[arn]}
        elif model.name == "UpdateRoutingControlStates":
            for entry in params["UpdateRoutingControlStateEntries"]:
                self.states[entry["RoutingControlArn"]] = entry["RoutingControlState"]
        else:
            raise NotImplementedError(f"the stand-in does not answer {model.name}")
        body["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse("https://stand-in", 200, {}, None), body


class GlobalSwitchStandIn:
    """Aurora's global switchover and failover, which moto's RDS does not answer: the target
    cluster becomes the global database's writer in moto's own records, so describing the
    global cluster afterwards shows what AWS shows once the switch completed (the minutes it
    takes are the simulation's business). The real botocore client validates the request."""

    OPERATIONS = ("FailoverGlobalCluster", "SwitchoverGlobalCluster")

    def keep(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["stand-in.params"] = dict(params)

    def answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context["stand-in.params"]
        identifier = params["GlobalClusterIdentifier"]
        target = params["TargetDbClusterIdentifier"]
        clusters = [
            backend.global_clusters[identifier]
            for backend in rds_backends[MOCK_ACCOUNT].values()
            if identifier in backend.global_clusters
        ]
        if not clusters:
            raise NotImplementedError(f"no global cluster {identifier} in moto")
        (global_cluster,) = {id(c): c for c in clusters}.values()
        for member in global_cluster.members:
            member.is_writer = target in (member.db_cluster_arn, member.db_cluster_identifier)
        body = {
            "GlobalCluster": {"GlobalClusterIdentifier": identifier},
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        return AWSResponse("https://stand-in", 200, {}, None), body


class KubeStandIn:
    """The dr cluster's Kubernetes API for `handlers.kube.Kube`: a node is Ready for each of
    its group's desired size in moto; the gateway has every replica it was scaled to."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.replicas = env.gateway.pilot_light.replicas if env.gateway else 0
        self.calls: list[tuple[str, str]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, ca: str
    ) -> tuple[int, Any]:
        path = "/" + url.split("/", 3)[-1]
        self.calls.append((method, path))
        if method == "PATCH" and path.endswith("/scale"):
            self.replicas = int(json.loads(body or b"{}")["spec"]["replicas"])
            return 200, {}
        if method == "PATCH":
            return 200, {}
        if "/deployments/" in path:
            return 200, {"status": {"availableReplicas": self.replicas}}
        group = path.rsplit("%3D", 1)[-1]
        desired = boto3.client("eks", region_name=self.env.region).describe_nodegroup(
            clusterName=self.env.cluster_name, nodegroupName=group
        )["nodegroup"]["scalingConfig"]["desiredSize"]
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        return 200, {"items": [{"status": ready}] * desired}


@dataclass
class World:
    env: Environment
    notifications_queue_url: str
    primary_health_check_id: str
    dr_health_check_id: str

    def notifications(self, sqs: Any) -> list[dict[str, Any]]:
        """SNS messages the handler published, oldest first."""
        received = sqs.receive_message(
            QueueUrl=self.notifications_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in received]


def _eks(env: Environment) -> None:
    eks = boto3.client("eks", region_name=env.region)
    ec2 = boto3.client("ec2", region_name=env.region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/19")["Subnet"]["SubnetId"]
    role = f"arn:aws:iam::{MOCK_ACCOUNT}:role/{env.cluster_name}"
    eks.create_cluster(
        name=env.cluster_name, roleArn=role, resourcesVpcConfig={"subnetIds": [subnet]}
    )
    for group, name in env.node_groups.items():
        size = env.pilot_light[group]
        eks.create_nodegroup(
            clusterName=env.cluster_name,
            nodegroupName=name,
            nodeRole=role,
            subnets=[subnet],
            scalingConfig={
                "minSize": size.min_size,
                "desiredSize": size.desired_size,
                "maxSize": size.max_size,
            },
        )


def _databases(env: Environment) -> None:
    if env.db_engine == "aurora-postgresql":
        _global_database(env)
        return
    primary = boto3.client("rds", region_name=env.primary_region)
    # Each instance has a parameter group of its own name (components/database_postgres.py).
    for region, name in (
        (env.primary_region, env.primary_db_identifier),
        (env.region, env.db_identifier),
    ):
        boto3.client("rds", region_name=region).create_db_parameter_group(
            DBParameterGroupName=name, DBParameterGroupFamily="postgres16", Description=name
        )
    writer = primary.create_db_instance(
        DBParameterGroupName=env.primary_db_identifier,
        DBInstanceIdentifier=env.primary_db_identifier,
        Engine="postgres",
        DBInstanceClass="db.r7g.xlarge",
        AllocatedStorage=200,
        MasterUsername="trading_admin",
        MasterUserPassword="emulated-only-password",
        StorageEncrypted=True,
    )["DBInstance"]
    boto3.client("rds", region_name=env.region).create_db_instance_read_replica(
        DBInstanceIdentifier=env.db_identifier,
        SourceDBInstanceIdentifier=writer["DBInstanceArn"],
        DBInstanceClass="db.r7g.xlarge",
        DBParameterGroupName=env.db_identifier,
    )


def _global_database(env: Environment) -> None:
    """The Aurora global database as components/database_aurora.py declares it: a writer cluster in
    the primary region and a secondary cluster in dr, each with an instance."""
    boto3.client("rds", region_name=env.primary_region).create_global_cluster(
        GlobalClusterIdentifier=env.global_cluster_identifier,
        Engine="aurora-postgresql",
        EngineVersion="16.6",
        StorageEncrypted=True,
    )
    for region, identifier, writer in (
        (env.primary_region, env.primary_db_identifier, True),
        (env.region, env.db_identifier, False),
    ):
        rds = boto3.client("rds", region_name=region)
        credentials = (
            {"MasterUsername": "trading_admin", "MasterUserPassword": "emulated-only-password"}
            if writer
            else {}
        )
        rds.create_db_cluster(
            DBClusterIdentifier=identifier,
            GlobalClusterIdentifier=env.global_cluster_identifier,
            Engine="aurora-postgresql",
            EngineVersion="16.6",
            StorageEncrypted=True,
            **credentials,
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{identifier}-0",
            DBClusterIdentifier=identifier,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r7g.xlarge",
        )


def _state_and_topic(env: Environment) -> str:
    boto3.client("dynamodb", region_name=env.region).create_table(
        TableName=env.state_table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns = boto3.client("sns", region_name=env.region)
    topic = sns.create_topic(Name=env.topic_arn.rsplit(":", 1)[-1])["TopicArn"]
    sqs = boto3.client("sqs", region_name=env.region)
    queue = sqs.create_queue(QueueName=f"{env.cluster_name}-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue


def _health_check(route53: Any, name: str) -> str:
    return route53.create_health_check(
        CallerReference=name,
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": f"{name}.trading.example",
            "ResourcePath": "/health",
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]


def build(variables: Mapping[str, str], region: str, with_health_checks: bool = True) -> World:
    """Create the dr world in the current moto backend. With health checks, the handler's
    environment names the two created here (the DNS stack's checks are not modelled yet)."""
    env = handler_environment(variables, region)
    ROUTING.clear()
    if env.routing_controls:
        ROUTING.update({env.routing_controls.primary: "On", env.routing_controls.dr: "On"})
    _eks(env)
    _databases(env)
    queue = _state_and_topic(env)
    primary_check = dr_check = ""
    if with_health_checks:
        route53 = boto3.client("route53", region_name="us-east-1")
        primary_check = _health_check(route53, "primary")
        dr_check = _health_check(route53, "dr")
        env = handler_environment(
            {
                **variables,
                Environment.PRIMARY_HEALTH_CHECK_ID: primary_check,
                Environment.DR_HEALTH_CHECK_ID: dr_check,
            },
            region,
        )
    return World(env, queue, primary_check, dr_check)


def reset(endpoint: str) -> None:
    """Empty every moto backend; they are process-wide, and each emulation starts afresh."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port, with boto3 pointed at it for the duration."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    # moto announces the requested port (0), not the one it got; the progress lines say enough.
    with contextlib.redirect_stdout(io.StringIO()):
        server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    reset(endpoint)
    credentials = dict.fromkeys(
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "emulated"
    )
    try:
        with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": endpoint, **credentials}):
            yield endpoint
    finally:
        server.stop()


def data_stores(primary: dict[str, Any], dr: dict[str, Any]) -> None:
    """The stores the RPO markers go to, named by the stacks' exports: the orders table in both
    regions (a global table's replica keeps the name) and each region's records bucket."""
    for region, bucket in (
        (primary[StackOutput.REGION], primary[StackOutput.RECORDS_BUCKET_NAME]),
        (dr[StackOutput.REGION], dr[StackOutput.RECORDS_BUCKET_NAME]),
    ):
        boto3.client("dynamodb", region_name=region).create_table(
            TableName=primary[StackOutput.TABLE_NAMES]["orders"],
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # us-east-1 is S3's default location and refuses to be named as a constraint.
        location = {} if region == "us-east-1" else {"LocationConstraint": region}
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {})
        )
