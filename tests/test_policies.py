"""The CrossGuard pack: each policy on compliant, non-compliant and missing-property resources,
the whole program of both stacks, and the real pack process over the analyzer protocol.

Requests are the analyzer protocol's own messages, answered by the pack's servicer (the code
the policy server runs): resource inputs go to Analyze, outputs to AnalyzeStack, as the engine
sends them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policypacks.trading_guard.policies import POLICIES
from tests.conftest import StackGraph
from tools.harness import ROOT, Graph, Resource

PACK_DIR = ROOT / "policypacks" / "trading_guard"
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")


def struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(value, default=str)))
    return message


def options(resource: Resource | None = None) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        ignoreChanges=resource.ignore_changes if resource else [],
        deleteBeforeReplace=resource.delete_before_replace if resource else False,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
    )


def analyze_request(type_: str, props: Mapping[str, Any], name: str = "test") -> Any:
    return analyzer_pb2.AnalyzeRequest(
        type=type_,
        properties=struct(props),
        urn=f"urn:pulumi:test::trading-platform::{type_}::{name}",
        name=name,
        options=options(),
    )


def stack_resource(
    type_: str, name: str, props: Mapping[str, Any], deps: Mapping[str, list[str]] | None = None
) -> Any:
    return analyzer_pb2.AnalyzerResource(
        type=type_,
        properties=struct(props),
        urn=urn(type_, name),
        name=name,
        options=options(),
        propertyDependencies={
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in (deps or {}).items()
        },
    )


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::trading-platform::{type_}::{name}"


def graph_requests(graph: Graph) -> tuple[list[Any], Any]:
    """One Analyze request per resource (its inputs) and one AnalyzeStack (its outputs)."""
    analyze, stack = [], []
    for r in graph:
        deps = {
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
            for k, v in r.property_dependencies.items()
        }
        analyze.append(
            analyzer_pb2.AnalyzeRequest(
                type=r.type,
                properties=struct(r.inputs),
                urn=r.urn,
                name=r.name,
                options=options(r),
            )
        )
        stack.append(
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=struct(r.outputs or r.inputs),
                urn=r.urn,
                name=r.name,
                options=options(r),
                parent=r.parent,
                dependencies=r.dependencies,
                propertyDependencies=deps,
            )
        )
    return analyze, analyzer_pb2.AnalyzeStackRequest(resources=stack)


def violation(diagnostic: Any) -> str:
    """The reported message, without the policy description the servicer puts first."""
    return diagnostic.message.split("\n", 1)[-1]


class Pack:
    """The servicer the policy server runs, called in-process."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.servicer = _PolicyAnalyzerServicer(
            "trading-guard", "0.0.1", POLICIES, EnforcementLevel.MANDATORY
        )
        if config:
            self.servicer.Configure(
                analyzer_pb2.ConfigureAnalyzerRequest(
                    policyConfig={
                        name: analyzer_pb2.PolicyConfig(
                            enforcementLevel=analyzer_pb2.EnforcementLevel.Value(
                                value.get("enforcementLevel", "MANDATORY").upper()
                            ),
                            properties=struct(
                                {k: v for k, v in value.items() if k != "enforcementLevel"}
                            ),
                        )
                        for name, value in config.items()
                    }
                ),
                None,
            )

    def resource(self, type_: str, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        response = self.servicer.Analyze(analyze_request(type_, props), None)
        return [(d.policyName, violation(d)) for d in response.diagnostics]

    def stack(self, *resources: Any) -> list[tuple[str, str]]:
        request = analyzer_pb2.AnalyzeStackRequest(resources=list(resources))
        response = self.servicer.AnalyzeStack(request, None)
        return [(d.policyName, violation(d)) for d in response.diagnostics]

    def graph(self, graph: Graph) -> list[Any]:
        analyze, stack = graph_requests(graph)
        diagnostics = [d for r in analyze for d in self.servicer.Analyze(r, None).diagnostics]
        return diagnostics + list(self.servicer.AnalyzeStack(stack, None).diagnostics)


@pytest.fixture(scope="module")
def pack() -> Pack:
    return Pack()


def names(found: list[tuple[str, str]]) -> set[str]:
    return {policy for policy, _ in found}


def test_every_policy_is_documented_and_has_a_severity() -> None:
    assert len({p.name for p in POLICIES}) == len(POLICIES) >= 19
    for policy in POLICIES:
        assert policy.description and policy.remediation_steps and policy.severity, policy.name
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


# -- the whole program --------------------------------------------------------------------------


def test_both_stacks_raise_no_mandatory_violation(
    primary: StackGraph, dr: StackGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    for stack in (primary, dr):
        diagnostics = Pack().graph(stack.graph)
        mandatory = [
            (d.policyName, d.message) for d in diagnostics if d.enforcementLevel == MANDATORY
        ]
        assert mandatory == [], stack.name
        with capsys.disabled():
            for d in diagnostics:
                print(f"advisory in {stack.name}: {d.policyName}: {d.message}")


# -- seed rules ---------------------------------------------------------------------------------

BUCKET = "aws:s3/bucket:Bucket"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def test_public_access_block(pack: Pack) -> None:
    bucket = stack_resource(BUCKET, "b", {"bucket": "b"})
    on = stack_resource(BLOCK, "b", dict.fromkeys(FLAGS, True), {"bucket": [urn(BUCKET, "b")]})
    partial = stack_resource(
        BLOCK,
        "b",
        {**dict.fromkeys(FLAGS, True), "restrictPublicBuckets": False},
        {"bucket": [urn(BUCKET, "b")]},
    )
    missing_flag = stack_resource(
        BLOCK, "b", {"blockPublicAcls": True}, {"bucket": [urn(BUCKET, "b")]}
    )
    assert "s3-public-access-block" not in names(pack.stack(bucket, on))
    assert (
        "s3-public-access-block",
        "bucket b: public access block leaves restrictPublicBuckets off",
    ) in pack.stack(bucket, partial)
    assert "ignorePublicAcls" in dict(pack.stack(bucket, missing_flag))["s3-public-access-block"]
    assert (
        dict(pack.stack(bucket))["s3-public-access-block"] == "bucket b has no public access block"
    )


def test_kms_key_rotation(pack: Pack) -> None:
    key = "aws:kms/key:Key"
    assert not pack.resource(key, {"enableKeyRotation": True})
    assert names(pack.resource(key, {"enableKeyRotation": False})) == {"kms-key-rotation"}
    assert names(pack.resource(key, {})) == {"kms-key-rotation"}
    assert not pack.resource(key, {"customerMasterKeySpec": "RSA_2048"})


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployment(
    pod_context: dict | None, container_context: dict | None, image: str = "nginx:1.27"
) -> dict:
    container: dict[str, Any] = {"name": "app", "image": image}
    if container_context is not None:
        container["securityContext"] = container_context
    spec: dict[str, Any] = {"containers": [container]}
    if pod_context is not None:
        spec["securityContext"] = pod_context
    return {"spec": {"template": {"spec": spec}}}


@pytest.mark.parametrize(
    ("type_", "props", "violates"),
    [
        (DEPLOYMENT, deployment({"runAsNonRoot": True}, None), False),
        (DEPLOYMENT, deployment(None, {"runAsUser": 1000}), False),
        (DEPLOYMENT, deployment({"runAsNonRoot": True}, {"runAsUser": 0}), True),
        (DEPLOYMENT, deployment(None, None), True),
        ("kubernetes:apps/v1:StatefulSet", deployment({"runAsNonRoot": False}, None), True),
        ("kubernetes:apps/v1:DaemonSet", deployment(None, {"runAsNonRoot": True}), False),
        ("kubernetes:batch/v1:Job", deployment(None, None), True),
        ("kubernetes:core/v1:Pod", {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}, True),
        (
            "aws:ecs/taskDefinition:TaskDefinition",
            {"containerDefinitions": json.dumps([{"name": "a", "user": "1000"}])},
            False,
        ),
        (
            "aws:ecs/taskDefinition:TaskDefinition",
            {"containerDefinitions": json.dumps([{"name": "a"}])},
            True,
        ),
    ],
)
def test_containers_non_root(pack: Pack, type_: str, props: dict, violates: bool) -> None:
    assert ("containers-non-root" in names(pack.resource(type_, props))) is violates


@pytest.mark.parametrize(
    ("props", "violates"),
    [
        ({"loadBalancerType": "application", "dropInvalidHeaderFields": True}, False),
        ({"loadBalancerType": "application", "dropInvalidHeaderFields": False}, True),
        ({}, True),
        ({"loadBalancerType": "network"}, False),
    ],
)
def test_alb_drops_invalid_headers(pack: Pack, props: dict, violates: bool) -> None:
    found = names(pack.resource("aws:lb/loadBalancer:LoadBalancer", props))
    assert ("alb-drop-invalid-headers" in found) is violates


def test_log_group_kms(pack: Pack) -> None:
    group = "aws:cloudwatch/logGroup:LogGroup"
    assert not pack.resource(group, {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"})
    assert names(pack.resource(group, {"retentionInDays": 7})) == {"log-group-kms"}


# -- AWS hygiene --------------------------------------------------------------------------------

GOOD_DB = {
    "storageEncrypted": True,
    "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
    "deletionProtection": True,
    "backupRetentionPeriod": 14,
    "multiAz": True,
}


def rds_messages(pack: Pack, props: dict, type_: str = "aws:rds/instance:Instance") -> list[str]:
    return [m for p, m in pack.resource(type_, props) if p == "rds-hardening"]


def test_rds_hardening(pack: Pack) -> None:
    assert rds_messages(pack, GOOD_DB) == []
    assert (
        rds_messages(pack, {**GOOD_DB, "multiAz": False, "replicateSourceDb": "arn:aws:rds:x"})
        == []
    )
    assert rds_messages(pack, {**GOOD_DB, "multiAz": False}) == [
        "a writer database instance is not Multi-AZ"
    ]
    assert rds_messages(pack, {**GOOD_DB, "publiclyAccessible": True}) == [
        "database is publicly accessible"
    ]
    assert len(rds_messages(pack, {})) == 5
    cluster = {k: v for k, v in GOOD_DB.items() if k != "multiAz"}
    assert rds_messages(pack, cluster, "aws:rds/cluster:Cluster") == []


def test_rds_backup_threshold_is_configurable() -> None:
    strict = Pack({"rds-hardening": {"minimumBackupDays": 21}})
    assert rds_messages(strict, GOOD_DB) == [
        "database keeps backups fewer than 21 days (backupRetentionPeriod)"
    ]


def test_dynamodb_hardening(pack: Pack) -> None:
    table = "aws:dynamodb/table:Table"
    good = {
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": "arn:aws:kms:x"},
        "pointInTimeRecovery": {"enabled": True},
    }
    assert not pack.resource(table, good)
    assert len(pack.resource(table, {})) == 2
    assert len(pack.resource(table, {**good, "serverSideEncryption": {"enabled": True}})) == 1
    replica = "aws:dynamodb/tableReplica:TableReplica"
    assert not pack.resource(replica, {"kmsKeyArn": "arn:aws:kms:x", "pointInTimeRecovery": True})
    assert len(pack.resource(replica, {"kmsKeyArn": "arn:aws:kms:x"})) == 1


SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
TLS_ONLY = json.dumps(
    {"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
)


def bucket_set(
    name: str, algorithm: str | None, versioned: bool = True, tls: bool = True
) -> list[Any]:
    on = {"bucket": [urn(BUCKET, name)]}
    resources = [
        stack_resource(BUCKET, name, {"bucket": name}),
        stack_resource(BLOCK, name, dict.fromkeys(FLAGS, True), on),
    ]
    if algorithm:
        rule = {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": algorithm,
                "kmsMasterKeyId": "k" if algorithm == "aws:kms" else "",
            }
        }
        resources.append(stack_resource(SSE, name, {"rules": [rule]}, on))
    if versioned:
        resources.append(
            stack_resource(VERSIONING, name, {"versioningConfiguration": {"status": "Enabled"}}, on)
        )
    if tls:
        resources.append(stack_resource(POLICY, name, {"policy": TLS_ONLY}, on))
    return resources


def bucket_messages(pack: Pack, *resources: Any) -> list[str]:
    return [m for p, m in pack.stack(*resources) if p == "s3-encryption-versioning-tls"]


def test_buckets_use_kms_versioning_and_tls(pack: Pack) -> None:
    assert bucket_messages(pack, *bucket_set("a", "aws:kms")) == []
    assert bucket_messages(pack, *bucket_set("a", "AES256")) == [
        "bucket a is not encrypted with a customer KMS key"
    ]
    assert bucket_messages(pack, *bucket_set("a", None)) == [
        "bucket a is not encrypted with a customer KMS key"
    ]
    assert bucket_messages(pack, *bucket_set("a", "aws:kms", versioned=False)) == [
        "bucket a is not versioned"
    ]
    assert bucket_messages(pack, *bucket_set("a", "aws:kms", tls=False)) == [
        "bucket a has no policy denying requests without TLS"
    ]


def test_access_log_bucket_may_use_sse_s3(pack: Pack) -> None:
    logging = stack_resource(
        LOGGING, "records", {"targetBucket": "logs"}, {"targetBucket": [urn(BUCKET, "logs")]}
    )
    assert bucket_messages(pack, *bucket_set("logs", "AES256"), logging) == []


EKS = "aws:eks/cluster:Cluster"
GOOD_EKS = {
    "vpcConfig": {"endpointPublicAccess": False},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:x"}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
}


def test_eks_hardening(pack: Pack) -> None:
    assert not pack.resource(EKS, GOOD_EKS)
    narrowed = {
        **GOOD_EKS,
        "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
    }
    assert not pack.resource(EKS, narrowed)
    # EKS opens the endpoint to 0.0.0.0/0 when the properties are missing.
    assert [m for _, m in pack.resource(EKS, {**GOOD_EKS, "vpcConfig": {}})] == [
        "the API endpoint is public to 0.0.0.0/0, broader than /16 "
        "(endpointPublicAccess defaults to true, to 0.0.0.0/0)"
    ]
    # Two halves of the internet are the internet.
    halves = {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}
    assert len(pack.resource(EKS, {**GOOD_EKS, "vpcConfig": halves})) == 1
    office = {"endpointPublicAccess": True, "publicAccessCidrs": ["198.0.0.0/12"]}
    assert len(pack.resource(EKS, {**GOOD_EKS, "vpcConfig": office})) == 1
    relaxed = Pack({"eks-hardening": {"minimumPublicPrefixLength": 12}})
    assert not relaxed.resource(EKS, {**GOOD_EKS, "vpcConfig": office})
    assert len(pack.resource(EKS, {})) == 3
    few_logs = {**GOOD_EKS, "enabledClusterLogTypes": ["api", "audit"]}
    assert [m for _, m in pack.resource(EKS, few_logs)] == [
        "control-plane log types not enabled: authenticator, controllerManager, scheduler"
    ]


def test_eks_component_inputs_are_not_judged(pack: Pack) -> None:
    """The engine shows pulumi-eks's components to the pack with no inputs; only the AWS
    resources they create carry the settings."""
    assert not pack.resource("eks:index:Cluster", {})


RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"


def test_no_open_ingress(pack: Pack) -> None:
    def rule(cidr: dict, port: int = 443) -> Any:
        return stack_resource(
            RULE,
            "r",
            {**cidr, "fromPort": port, "toPort": port},
            {"securityGroupId": [urn(GROUP, "sg")]},
        )

    group = stack_resource(GROUP, "sg", {})
    assert "no-open-ingress" not in names(pack.stack(group, rule({"cidrIpv4": "10.0.0.0/16"})))
    assert "no-open-ingress" in names(pack.stack(group, rule({"cidrIpv4": "0.0.0.0/0"})))
    assert "no-open-ingress" in names(pack.stack(group, rule({"cidrIpv6": "::/0"}, 22)))
    public_lb = stack_resource(
        "aws:lb/loadBalancer:LoadBalancer",
        "lb",
        {"internal": False},
        {"securityGroups": [urn(GROUP, "sg")]},
    )
    assert "no-open-ingress" not in names(
        pack.stack(group, public_lb, rule({"cidrIpv4": "0.0.0.0/0"}))
    )
    assert "no-open-ingress" in names(
        pack.stack(group, public_lb, rule({"cidrIpv4": "0.0.0.0/0"}, 80))
    )
    inline = stack_resource(
        GROUP, "sg", {"ingress": [{"fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}
    )
    assert "no-open-ingress" in names(pack.stack(inline))


@pytest.mark.parametrize(
    ("statement", "violations"),
    [
        ({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}, 0),
        ({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}, 0),
        ({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}, 1),
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, 2),
        ({"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:x"}, 1),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, 0),
        (
            {
                "Effect": "Allow",
                "Action": "autoscaling:SetDesiredCapacity",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/c": "owned"}
                },
            },
            0,
        ),
        (
            {
                "Effect": "Allow",
                "Action": "autoscaling:SetDesiredCapacity",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            },
            1,
        ),
    ],
)
def test_iam_least_privilege(pack: Pack, statement: dict, violations: int) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "S", **statement}]})
    found = pack.resource("aws:iam/rolePolicy:RolePolicy", {"policy": policy})
    assert len(found) == violations


def test_lambda_runtime_and_failure_handling(pack: Pack) -> None:
    function = "aws:lambda/function:Function"
    invoke = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
    good = stack_resource(function, "f", {"runtime": "python3.12"})
    destination = stack_resource(
        invoke,
        "f",
        {"destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:x"}}},
        {"functionName": [urn(function, "f")]},
    )
    assert "lambda-runtime-and-failure-handling" not in names(pack.stack(good, destination))
    assert len(pack.stack(good)) == 1
    old = stack_resource(
        function, "f", {"runtime": "python3.8", "deadLetterConfig": {"targetArn": "arn:aws:sqs:x"}}
    )
    (message,) = [m for _, m in pack.stack(old)]
    assert message.startswith("function f: runtime 'python3.8' is not one of")


def test_messaging_encrypted(pack: Pack) -> None:
    assert not pack.resource("aws:sns/topic:Topic", {"kmsMasterKeyId": "k"})
    assert names(pack.resource("aws:sns/topic:Topic", {})) == {"messaging-encrypted"}
    assert not pack.resource("aws:sqs/queue:Queue", {})
    assert names(pack.resource("aws:sqs/queue:Queue", {"sqsManagedSseEnabled": False})) == {
        "messaging-encrypted"
    }


def test_no_latest_images(pack: Pack) -> None:
    assert "no-latest-images" not in names(
        pack.resource(DEPLOYMENT, deployment({"runAsNonRoot": True}, None, "nginx:1.27"))
    )
    for image in ("nginx", "nginx:latest", "registry.example:5000/nginx"):
        assert "no-latest-images" in names(
            pack.resource(DEPLOYMENT, deployment({"runAsNonRoot": True}, None, image))
        )
    release = "kubernetes:helm.sh/v3:Release"
    assert not pack.resource(
        release, {"chart": "c", "version": "1.2.3", "values": {"image": {"tag": "v1"}}}
    )
    assert len(pack.resource(release, {"chart": "c", "values": {"image": {"tag": "latest"}}})) == 2


def test_node_groups_ignore_scaling(pack: Pack) -> None:
    group = stack_resource("aws:eks/nodeGroup:NodeGroup", "ng", {})
    assert names(pack.stack(group)) == {"eks-node-groups-ignore-scaling"}
    group.options.ignoreChanges.append("scalingConfig.desiredSize")
    assert not pack.stack(group)


# -- disaster recovery --------------------------------------------------------------------------

REFERENCE = "pulumi:pulumi:StackReference"
PRIMARY_OUTPUTS = {
    "tableArns": {"orders": "arn:orders"},
    "databaseArn": "arn:db",
    "recordsBucketName": "records",
}


def test_dr_data_replicated(pack: Pack) -> None:
    reference = stack_resource(
        REFERENCE, "ref", {"name": "org/p/primary", "outputs": PRIMARY_OUTPUTS}
    )
    replica_table = stack_resource(
        "aws:dynamodb/tableReplica:TableReplica", "t", {"globalTableArn": "arn:orders"}
    )
    replica_db = stack_resource("aws:rds/instance:Instance", "db", {"replicateSourceDb": "arn:db"})
    replication = stack_resource(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "r", {"bucket": "records"}
    )
    found = [
        m
        for p, m in pack.stack(reference, replica_table, replica_db, replication)
        if p == "dr-data-replicated"
    ]
    assert found == []
    found = [m for p, m in pack.stack(reference, replica_db) if p == "dr-data-replicated"]
    assert found == [
        "table orders of org/p/primary has no replica in this stack",
        "bucket records of org/p/primary is not replicated by this stack",
    ]


def test_dr_failover_records(pack: Pack) -> None:
    record = "aws:route53/record:Record"
    primary = stack_resource(
        record, "p", {"failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": "hc"}
    )
    unchecked = stack_resource(record, "p", {"failoverRoutingPolicies": [{"type": "PRIMARY"}]})
    secondary = stack_resource(record, "s", {"failoverRoutingPolicies": [{"type": "SECONDARY"}]})
    assert "dr-failover-records" not in names(pack.stack(primary, secondary))
    assert "dr-failover-records" in names(pack.stack(unchecked))


def test_dr_detection_fits_rto(pack: Pack) -> None:
    check = "aws:route53/healthCheck:HealthCheck"

    def stack(interval: int, threshold: int, ttl: int) -> list[Any]:
        return [
            stack_resource(
                check, "hc", {"requestInterval": interval, "failureThreshold": threshold}
            ),
            stack_resource(
                "aws:route53/record:Record",
                "rec",
                {
                    "failoverRoutingPolicies": [{"type": "PRIMARY"}],
                    "ttl": ttl,
                    "healthCheckId": "hc",
                },
                {"healthCheckId": [urn(check, "hc")]},
            ),
        ]

    assert "dr-detection-fits-rto" not in names(pack.stack(*stack(10, 3, 60)))
    assert "dr-detection-fits-rto" in names(pack.stack(*stack(30, 10, 300)))
    tight = Pack({"dr-detection-fits-rto": {"rtoSeconds": 600, "scaleUpAllowanceSeconds": 550}})
    assert "dr-detection-fits-rto" in names(tight.stack(*stack(10, 3, 60)))


def test_dr_node_groups_at_pilot_light_is_advisory_by_default(dr: StackGraph) -> None:
    function = dr.one("aws:lambda/function:Function", "dr-handler")
    env = {"environment": function.inputs["environment"]}
    big = stack_resource(
        "aws:eks/nodeGroup:NodeGroup",
        "ng",
        {"nodeGroupName": "trading-dr-trading", "scalingConfig": {"desiredSize": 6}},
    )
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[stack_resource("aws:lambda/function:Function", "f", env), big]
    )

    def pilot_light(pack_: Pack) -> Any:
        (found,) = [
            d
            for d in pack_.servicer.AnalyzeStack(request, None).diagnostics
            if d.policyName == "dr-node-groups-at-pilot-light"
        ]
        return found

    diagnostic = pilot_light(Pack())
    assert violation(diagnostic) == (
        "dr node group trading-dr-trading declares 6 nodes, more than the pilot light's 1"
    )
    assert diagnostic.enforcementLevel == analyzer_pb2.EnforcementLevel.Value("ADVISORY")
    strict = Pack({"dr-node-groups-at-pilot-light": {"enforcementLevel": "mandatory"}})
    assert pilot_light(strict).enforcementLevel == MANDATORY


def test_disabled_policy_reports_nothing() -> None:
    relaxed = Pack({"kms-key-rotation": {"enforcementLevel": "disabled"}})
    assert not relaxed.resource("aws:kms/key:Key", {})


# -- the real pack process ------------------------------------------------------------------------


@pytest.fixture
def pack_process() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(10)


def test_real_pack_process_judges_the_mocked_program(
    pack_process: analyzer_pb2_grpc.AnalyzerStub, dr: StackGraph
) -> None:
    info = pack_process.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "trading-guard"
    assert {p.name for p in info.policies} == {p.name for p in POLICIES}
    analyze, stack = graph_requests(dr.graph)
    diagnostics = [d for r in analyze for d in pack_process.Analyze(r).diagnostics]
    diagnostics += pack_process.AnalyzeStack(stack).diagnostics
    assert [d.policyName for d in diagnostics if d.enforcementLevel == MANDATORY] == []
    bad_key = pack_process.Analyze(analyze_request("aws:kms/key:Key", {"enableKeyRotation": False}))
    assert [d.policyName for d in bad_key.diagnostics] == ["kms-key-rotation"]


def test_node_groups_the_failover_handler_resizes_keep_their_whole_scaling_config(
    pack: Pack,
) -> None:
    function = stack_resource(
        "aws:lambda/function:Function",
        "f",
        {"environment": {"variables": {"NODE_GROUPS": json.dumps({"trading": "dr-trading"})}}},
    )
    group = stack_resource("aws:eks/nodeGroup:NodeGroup", "ng", {"nodeGroupName": "dr-trading"})
    group.options.ignoreChanges.append("scalingConfig.desiredSize")
    scaling = "eks-node-groups-ignore-scaling"
    assert scaling in names(pack.stack(function, group))
    group.options.ignoreChanges.append("scalingConfig")
    assert scaling not in names(pack.stack(function, group))
