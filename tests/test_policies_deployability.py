"""Deployability policies, case by case, then on the program's own graphs: each rule is quiet on
both stacks as they are and catches the change that broke a real `pulumi up`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from naming import PHYSICAL_NAMES
from policypacks.trading_guard.policies.deployability import NAME_LIMITS
from testing.harness import Graph
from tests.conftest import StackGraph
from tests.test_policies import UNKNOWN, Case, R, case, check, edited, judged

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
ROOT_STACK = "pulumi:pulumi:Stack"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
EKS_COMPONENT = "eks:index:Cluster"
EKS = "aws:eks/cluster:Cluster"
K8S_PROVIDER = "pulumi:providers:kubernetes"
AWS_PROVIDER = "pulumi:providers:aws"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
LB = "aws:lb/loadBalancer:LoadBalancer"
ACCOUNT = "123456789012"
AUTOSCALING_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit"
GRAFANA_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/grafana"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


WEST = R(AWS_PROVIDER, {"region": "us-west-2"}, "dr-aws")
EAST = R(AWS_PROVIDER, {"region": "us-east-1"}, "east")


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# -- RDS --------------------------------------------------------------------------------------

SOURCE = R(INSTANCE, {"identifier": "primary-db"}, "primary-db")
MANAGING_SOURCE = R(
    INSTANCE, {"identifier": "primary-db", "manageMasterUserPassword": True}, "primary-db"
)


def replica(source: R | None, **props: Any) -> R:
    deps = {"replicateSourceDb": [source]} if source else {}
    return R(
        INSTANCE,
        {"replicateSourceDb": "arn:aws:rds:us-east-1:1:db:primary-db", **props},
        "replica",
        deps,
    )


def postgres(version: Any, **props: Any) -> R:
    return R(INSTANCE, {"engine": "postgres", "engineVersion": version, **props})


WRITER_ARN = "arn:aws:rds:us-east-1:1:db:primary-db"


def exported_writer(exports: dict[str, Any], **props: Any) -> list[R]:
    """A writer whose master password RDS manages, and the stack's outputs (the root stack
    resource's properties), as the primary stack shows them: the replica is in dr."""
    writer = R(
        INSTANCE,
        {
            "identifier": "primary-db",
            "arn": WRITER_ARN,
            "engine": "postgres",
            "manageMasterUserPassword": True,
            **props,
        },
        "primary-db",
    )
    return [writer, R(ROOT_STACK, exports, "trading-primary")]


def aurora(version: Any, *instances: Any, **props: Any) -> list[R]:
    """An Aurora PostgreSQL cluster and its instances, each with this autoMinorVersionUpgrade
    (None: left to its default)."""
    cluster = R(
        CLUSTER,
        {
            "engine": "aurora-postgresql",
            "engineVersion": version,
            "clusterIdentifier": "db",
            **props,
        },
        "db",
    )
    members = [
        R(
            CLUSTER_INSTANCE,
            {"clusterIdentifier": "db"}
            | ({} if upgrade is None else {"autoMinorVersionUpgrade": upgrade}),
            f"db-{index}",
            {"clusterIdentifier": [cluster]},
        )
        for index, upgrade in enumerate(instances)
    ]
    return [cluster, *members]


# -- KMS --------------------------------------------------------------------------------------

LINKED_ROLE = R(SERVICE_LINKED_ROLE, {"awsServiceName": "autoscaling.amazonaws.com"}, "autoscaling")
NODE_KEY_POLICY = document(
    {"Effect": "Allow", "Principal": {"AWS": AUTOSCALING_ROLE}, "Action": "kms:*", "Resource": "*"}
)


def node_key(*after: R, policy: Any = NODE_KEY_POLICY) -> R:
    return R(KEY, {"policy": policy}, "nodes", depends_on=after)


def describe_statement(condition: dict[str, Any] | None, action: str = "kms:DescribeKey") -> dict:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": action,
        "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


SOURCE_ARN_CONDITION = {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
CONTEXT_CONDITION = {
    "StringLike": {
        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
    }
}


def trail(policy: Any, **props: Any) -> R:
    key = R(KEY, {"policy": policy}, "trail-key")
    return R(
        TRAIL,
        {"kmsKeyId": "arn:aws:kms:key/trail", "name": "audit", "arn": TRAIL_ARN, **props},
        "audit",
        {"kmsKeyId": [key]},
        provider=EAST,
    )


# -- S3 replication ----------------------------------------------------------------------------

ORIGIN = R(BUCKET, {"bucket": "origin"}, "origin")
TARGET = R(BUCKET, {"bucket": "target"}, "target")


def encryption(bucket: R, bucket_key: Any, key: str = "k") -> R:
    rule = {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key},
        "bucketKeyEnabled": bucket_key,
    }
    return R(SSE, {"bucket": bucket.name, "rules": [rule]}, bucket.name, {"bucket": [bucket]})


def kms_statement(sid: str, actions: list[str], key: str, contexts: Any) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key,
        "Condition": {"StringLike": {"kms:EncryptionContext:aws:s3:arn": contexts}},
    }


def replication(
    contexts: Any,
    bucket_key: Any = True,
    origin_contexts: Any = "arn:aws:s3:::origin/*",
    policy_known: bool = True,
) -> list[R]:
    """Replication from ORIGIN (no Bucket Key) to TARGET (a Bucket Key unless told otherwise):
    the role decrypts origin objects with the origin's key and encrypts replicas with the
    target's."""
    role = R(ROLE, {"name": "replication"}, "replication")
    statements = [
        kms_statement(
            "DecryptOriginObjects", ["kms:Decrypt"], "arn:aws:kms:key/o", origin_contexts
        ),
        kms_statement(
            "EncryptReplicas", ["kms:Encrypt", "kms:GenerateDataKey"], "arn:aws:kms:key/t", contexts
        ),
    ]
    policy = R(
        ROLE_POLICY,
        {"role": "replication", "policy": document(*statements) if policy_known else UNKNOWN},
        "replication",
        {"role": [role]},
    )
    config = R(
        REPLICATION,
        {"bucket": "origin", "role": "arn:aws:iam::1:role/replication"},
        "replication",
        {"bucket": [ORIGIN], "rules": [TARGET], "role": [role]},
    )
    return [config, policy, encryption(TARGET, bucket_key, "arn:aws:kms:key/t")]


# -- EKS and the Kubernetes provider ------------------------------------------------------------


def cluster_stack(endpoint: dict[str, Any] | Any, with_workloads: bool = True) -> list[R]:
    component = R(EKS_COMPONENT, {}, "eks")
    cluster = R(EKS, {"vpcConfig": endpoint}, "eks-eksCluster", parent=component)
    provider = R(K8S_PROVIDER, {"kubeconfig": "{}"}, "k8s", {"kubeconfig": [component]})
    workloads = [R(DEPLOYMENT, {}, "app", provider=provider)] if with_workloads else []
    return [cluster, provider, *workloads]


# -- IRSA ---------------------------------------------------------------------------------------


def irsa_role(
    subject: str = "system:serviceaccount:monitoring:grafana",
    operator: str = "StringEquals",
    arn: Any = GRAFANA_ROLE_ARN,
) -> R:
    trust = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks/id/X"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {operator: {"oidc.eks/id/X:sub": subject}},
    }
    return R(ROLE, {"arn": arn, "assumeRolePolicy": document(trust)}, "grafana")


def grafana(service_account: dict[str, Any], namespace: str = "monitoring") -> R:
    values = {"grafana": {"serviceAccount": service_account}}
    return R(
        RELEASE,
        {"chart": "kube-prometheus-stack", "namespace": namespace, "values": values},
        "prometheus",
    )


ANNOTATED = {"annotations": {ROLE_ANNOTATION: GRAFANA_ROLE_ARN}}

# -- regions ----------------------------------------------------------------------------------


def dr_resource(provider: R | None = WEST, stack: str = "dr", **props: Any) -> R:
    return R("aws:sns/topic:Topic", props, "alerts", provider=provider, stack=stack)


PINNED = (
    "pins a minor while RDS upgrades minors automatically (autoMinorVersionUpgrade, on by "
    "default): once RDS upgrades the minor, `pulumi up` asks for a downgrade RDS refuses; give "
    "the major only"
)
EXPORTED = (
    "instance primary-db manages its master password in Secrets Manager and the stack exports "
    "it (databaseArn) for a read replica in another stack: RDS refuses to create that replica"
)

CASES = [
    case("rds-replica-without-managed-password", "compliant", replica(SOURCE)),
    case(
        "rds-replica-without-managed-password",
        "non-compliant: the source manages its password",
        replica(MANAGING_SOURCE),
        "read replica replica: its source primary-db manages its master password in Secrets "
        "Manager, so RDS refuses to create the replica",
    ),
    case(
        "rds-replica-without-managed-password",
        "compliant: RDS for SQL Server replicates a source that manages its password",
        replica(
            R(
                INSTANCE,
                {**MANAGING_SOURCE.props, "engine": "sqlserver-se"},
                "primary-db",
            )
        ),
    ),
    case(
        "rds-replica-without-managed-password",
        "non-compliant: the replica asks for one",
        replica(SOURCE, manageMasterUserPassword=True),
        "read replica replica asks RDS to manage its master password in Secrets Manager, which "
        "RDS refuses for a replica",
    ),
    case(
        "rds-replica-without-managed-password",
        "non-compliant: a global-database cluster",
        R(CLUSTER, {"globalClusterIdentifier": "trading", "manageMasterUserPassword": True}, "dr"),
        "cluster dr is in a global database and asks RDS to manage its master password in "
        "Secrets Manager, which Aurora refuses",
    ),
    case(
        "rds-replica-without-managed-password",
        "missing source (in another stack)",
        replica(None),
    ),
    case(
        "rds-replica-without-managed-password",
        "non-compliant: the writer a replica in another stack is built from (primary and dr)",
        exported_writer({"databaseArn": WRITER_ARN, "replicationDirection": "primary-to-dr"}),
        EXPORTED,
    ),
    case(
        "rds-replica-without-managed-password",
        "non-compliant: exported by identifier under a configured name",
        exported_writer({"sourceDb": "primary-db"}),
        "instance primary-db manages its master password in Secrets Manager and the stack "
        "exports it (sourceDb) for a read replica in another stack: RDS refuses to create that "
        "replica",
        config={"replicationExports": ["sourceDb"]},
    ),
    case(
        "rds-replica-without-managed-password",
        "compliant: a writer no stack output offers for replication",
        exported_writer({"databaseEndpoint": "primary-db.example"}),
    ),
    case(
        "rds-replica-without-managed-password",
        "compliant: an exported SQL Server writer",
        exported_writer({"databaseArn": WRITER_ARN}, engine="sqlserver-ee"),
    ),
    case(
        "rds-replica-without-managed-password",
        "unknown setting of the source",
        replica(
            R(
                INSTANCE,
                {"identifier": "primary-db", "manageMasterUserPassword": UNKNOWN},
                "primary-db",
            )
        ),
        unverified=["replica: .manageMasterUserPassword is not known yet"],
    ),
    case(
        "rds-replica-without-managed-password",
        "unknown export: the writer is not created yet",
        exported_writer({"databaseArn": UNKNOWN}, arn=UNKNOWN),
        unverified=[
            "primary-db: whether the stack exports primary-db to replicate is not known yet"
        ],
    ),
    case("rds-engine-version-major-only", "compliant", postgres("16")),
    case(
        "rds-engine-version-major-only",
        "non-compliant",
        postgres("16.4", autoMinorVersionUpgrade=True),
        f"engineVersion 16.4 {PINNED}",
    ),
    case(
        "rds-engine-version-major-only",
        "missing autoMinorVersionUpgrade (on by default), MySQL's two-part major",
        R(INSTANCE, {"engine": "mysql", "engineVersion": "8.0.36"}),
        f"engineVersion 8.0.36 {PINNED}",
    ),
    case(
        "rds-engine-version-major-only",
        "unknown",
        postgres(UNKNOWN),
        unverified=["r: .engineVersion is not known yet"],
    ),
    case(
        "rds-engine-version-major-only",
        "compliant: a pinned minor with automatic upgrades off",
        postgres("16.4", autoMinorVersionUpgrade=False),
    ),
    case(
        "rds-engine-version-major-only",
        "non-compliant: an Aurora cluster whose instances upgrade minors (their default)",
        aurora("16.6", None, True),
        f"engineVersion 16.6 {PINNED}",
    ),
    case(
        "rds-engine-version-major-only",
        "compliant: an Aurora cluster with one instance that does not upgrade",
        aurora("16.6", None, False),
    ),
    case(
        "rds-engine-version-major-only",
        "compliant: an Aurora cluster in a global database",
        aurora("16.6", None, globalClusterIdentifier="trading-global"),
    ),
    case("rds-engine-version-major-only", "compliant: an Aurora major", aurora("16", None)),
    case(
        "rds-engine-version-major-only",
        "unknown: which instances belong to the Aurora cluster",
        [
            aurora("16.6")[0],
            R(CLUSTER_INSTANCE, {"clusterIdentifier": UNKNOWN, "autoMinorVersionUpgrade": False}),
        ],
        unverified=["db: clusterIdentifier of a resource that may refer to db is not known yet"],
    ),
    case("kms-key-policy-principals-exist", "compliant", node_key(LINKED_ROLE)),
    case(
        "kms-key-policy-principals-exist",
        "non-compliant: declared, but the key does not wait for it",
        [LINKED_ROLE, node_key()],
        "key nodes names the service-linked role of autoscaling.amazonaws.com but does not "
        "depend on autoscaling: the key may be created first, and KMS refuses it",
    ),
    case(
        "kms-key-policy-principals-exist",
        "missing role",
        node_key(),
        "key nodes names the service-linked role of autoscaling.amazonaws.com, which this stack "
        "does not declare: KMS refuses a principal that does not exist yet",
    ),
    case(
        "kms-key-policy-principals-exist",
        "unknown policy",
        node_key(policy=UNKNOWN),
        unverified=["nodes: .policy is not known yet"],
    ),
    case(
        "cloudtrail-key-describable",
        "compliant: scoped to the trail",
        trail(document(describe_statement(SOURCE_ARN_CONDITION))),
    ),
    case(
        "cloudtrail-key-describable",
        "unknown ARN: before the trail exists its account is not known",
        trail(document(describe_statement(SOURCE_ARN_CONDITION)), arn=UNKNOWN),
        unverified=["audit: the account of trail audit is not known yet"],
    ),
    case(
        "cloudtrail-key-describable",
        "non-compliant before the trail exists: another trail's name",
        trail(
            document(
                describe_statement(
                    {"StringEquals": {"aws:SourceArn": TRAIL_ARN.replace("/audit", "/old")}}
                )
            ),
            arn=UNKNOWN,
        ),
        "key trail-key lets CloudTrail call kms:DescribeKey only for "
        f"{TRAIL_ARN.replace('/audit', '/old')}, not for trail audit "
        "(arn:aws:cloudtrail:us-east-1:*:trail/audit): CreateTrail fails",
    ),
    case(
        "cloudtrail-key-describable",
        "compliant: the account's trails, with ArnLike",
        trail(
            document(
                describe_statement(
                    {"ArnLike": {"AWS:SourceArn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}}
                )
            )
        ),
    ),
    case(
        "cloudtrail-key-describable",
        "non-compliant: scoped to another trail",
        trail(
            document(
                describe_statement(
                    {"StringEquals": {"aws:SourceArn": TRAIL_ARN.replace("/audit", "/old")}}
                )
            )
        ),
        "key trail-key lets CloudTrail call kms:DescribeKey only for "
        f"{TRAIL_ARN.replace('/audit', '/old')}, not for trail audit ({TRAIL_ARN}): "
        "CreateTrail fails",
    ),
    case(
        "cloudtrail-key-describable",
        "non-compliant: scoped to another account",
        trail(
            document(
                describe_statement(
                    {
                        "StringEquals": {
                            "aws:SourceArn": TRAIL_ARN,
                            "aws:SourceAccount": "210987654321",
                        }
                    }
                )
            )
        ),
        f"key trail-key lets CloudTrail call kms:DescribeKey only for 210987654321, {TRAIL_ARN}, "
        f"not for trail audit ({TRAIL_ARN}): CreateTrail fails",
    ),
    case(
        "cloudtrail-key-describable",
        "compliant: a Describe* wildcard through an alias",
        R(
            TRAIL,
            {"kmsKeyId": "alias/trail"},
            "audit",
            {
                "kmsKeyId": [
                    R(
                        ALIAS,
                        {"name": "alias/trail"},
                        "trail-alias",
                        {
                            "targetKeyId": [
                                R(
                                    KEY,
                                    {"policy": document(describe_statement(None, "kms:Describe*"))},
                                    "trail-key",
                                )
                            ]
                        },
                    )
                ]
            },
        ),
    ),
    case(
        "cloudtrail-key-describable",
        "non-compliant: conditioned on the encryption context",
        trail(document(describe_statement(CONTEXT_CONDITION))),
        "key trail-key lets CloudTrail call kms:DescribeKey only under conditions that request "
        "never carries (kms:encryptioncontext:aws:cloudtrail:arn): CreateTrail fails",
    ),
    case(
        "cloudtrail-key-describable",
        "missing statement",
        trail(
            document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::1:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            )
        ),
        "key trail-key's policy does not let CloudTrail call kms:DescribeKey",
    ),
    case(
        "cloudtrail-key-describable",
        "missing key (another stack's)",
        R(TRAIL, {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/elsewhere"}, "audit"),
    ),
    case(
        "cloudtrail-key-describable",
        "unknown policy",
        trail(UNKNOWN),
        unverified=["audit: .policy is not known yet"],
    ),
    case(
        "s3-replication-bucket-key-context",
        "compliant",
        replication(["arn:aws:s3:::target", "arn:aws:s3:::target/*"]),
    ),
    case(
        "s3-replication-bucket-key-context",
        "non-compliant",
        replication("arn:aws:s3:::target/*"),
        "replication statement EncryptReplicas lets KMS serve objects of target only "
        "(arn:aws:s3:::target/*), but target uses an S3 Bucket Key, whose encryption context "
        "is the bucket ARN arn:aws:s3:::target: replication fails",
    ),
    case(
        "s3-replication-bucket-key-context",
        "compliant: object ARNs only for the origin, which uses no Bucket Key",
        replication(
            ["arn:aws:s3:::target", "arn:aws:s3:::target/*"], True, "arn:aws:s3:::origin/*"
        ),
    ),
    case(
        "s3-replication-bucket-key-context",
        "missing bucket key: object ARNs only is least privilege",
        replication("arn:aws:s3:::target/*", bucket_key=None),
    ),
    case(
        "s3-replication-bucket-key-context",
        "unknown policy of the replication role",
        replication(UNKNOWN, policy_known=False),
        unverified=["replication: .policy is not known yet"],
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "compliant",
        cluster_stack({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}),
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "non-compliant",
        cluster_stack({"endpointPublicAccess": False, "endpointPrivateAccess": True}),
        "the cluster has no public endpoint and deployerCidrs does not declare the deployers "
        "inside its network, but the stack deploys Kubernetes resources through k8s: "
        "`pulumi up` from outside the VPC cannot reach the API",
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "compliant: private, with the deployers declared inside the VPC",
        cluster_stack({"endpointPublicAccess": False, "endpointPrivateAccess": True}),
        config={"deployerCidrs": ["10.20.0.0/16"]},
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "non-compliant: private, with deployers on public addresses",
        cluster_stack({"endpointPublicAccess": False, "endpointPrivateAccess": True}),
        "the cluster has no public endpoint, and the deployers' 198.51.100.0/24 are not in "
        "private address space, where a private endpoint answers: k8s cannot reach the API "
        "during `pulumi up`",
        config={"deployerCidrs": ["198.51.100.0/24"]},
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "non-compliant: public to nobody",
        cluster_stack({"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8"]}),
        "the public endpoint admits only 10.0.0.0/8, address space no internet request comes "
        "from, so it is public to nobody: k8s cannot reach the API during `pulumi up` from "
        "outside the VPC",
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "compliant: an empty publicAccessCidrs is EKS's default, 0.0.0.0/0",
        cluster_stack({"endpointPublicAccess": True, "publicAccessCidrs": []}),
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "non-compliant: public, but not to the deployers",
        cluster_stack({"publicAccessCidrs": ["203.0.113.0/24"]}),
        "the public endpoint admits 203.0.113.0/24, not the deployers' 198.51.100.0/24: k8s "
        "cannot reach the API during `pulumi up`",
        config={"deployerCidrs": ["198.51.100.0/24"]},
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "missing endpoint settings (public to everyone by default)",
        cluster_stack({}),
        config={"deployerCidrs": ["198.51.100.0/24"]},
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "compliant: a private cluster the stack deploys nothing to",
        cluster_stack({"endpointPublicAccess": False}, with_workloads=False),
    ),
    case(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "unknown",
        cluster_stack(UNKNOWN),
        unverified=["eks-eksCluster: .vpcConfig is not known yet"],
    ),
    case("physical-name-length", "compliant", R(LB, {"name": "a" * 32})),
    case(
        "physical-name-length",
        "non-compliant",
        R(LB, {"name": "a" * 33}),
        f"load balancer name {'a' * 33!r} is 33 characters, over the 32 AWS allows",
    ),
    case(
        "physical-name-length",
        "non-compliant role name",
        R(ROLE, {"name": "r" * 65}),
        f"IAM role name {'r' * 65!r} is 65 characters, over the 64 AWS allows",
    ),
    case("physical-name-length", "missing name (the provider names it)", R(LB)),
    case("physical-name-length", "unknown name", R(LB, {"name": UNKNOWN})),
    case(
        "irsa-service-account-match",
        "compliant",
        [irsa_role(), grafana({"create": True, "name": "grafana", **ANNOTATED})],
    ),
    case(
        "irsa-service-account-match",
        "compliant: a StringLike trust",
        [
            irsa_role("system:serviceaccount:monitoring:*", "StringLike"),
            grafana({"create": True, "name": "grafana", **ANNOTATED}),
        ],
    ),
    case(
        "irsa-service-account-match",
        "non-compliant: the chart's own name",
        [
            irsa_role(),
            grafana({"create": True, "name": "kube-prometheus-stack-grafana", **ANNOTATED}),
        ],
        "release prometheus runs service account monitoring/kube-prometheus-stack-grafana with "
        "role grafana, whose trust admits monitoring/grafana: AssumeRoleWithWebIdentity is "
        "refused",
    ),
    case(
        "irsa-service-account-match",
        "non-compliant the other way: the trusted account lacks the role",
        [irsa_role(), grafana({"create": True, "name": "grafana"})],
        "role grafana trusts monitoring/grafana, which release prometheus creates with no role "
        "annotation",
    ),
    case(
        "irsa-service-account-match",
        "missing name",
        [irsa_role(), grafana({"create": True, **ANNOTATED})],
        "release prometheus annotates a service account with role grafana but leaves its name "
        "to the chart: the role's trust names one account",
    ),
    case(
        "irsa-service-account-match",
        "unknown role ARN",
        [irsa_role(arn=UNKNOWN), grafana({"create": True, "name": "grafana"})],
        unverified=["grafana: .arn is not known yet"],
    ),
    case("dr-resources-outside-primary-region", "compliant", dr_resource()),
    case(
        "dr-resources-outside-primary-region",
        "non-compliant: its own region",
        dr_resource(region="us-east-1"),
        "Topic alerts is placed in us-east-1, the primary's region: a change to it needs "
        "us-east-1 to answer while the dr stack is meant to stand alone",
    ),
    case(
        "dr-resources-outside-primary-region",
        "non-compliant: its provider's region",
        dr_resource(EAST),
        "Topic alerts is placed in us-east-1, the primary's region: a change to it needs "
        "us-east-1 to answer while the dr stack is meant to stand alone",
    ),
    case(
        "dr-resources-outside-primary-region",
        "compliant: the primary stack",
        dr_resource(EAST, stack="primary"),
    ),
    case(
        "dr-resources-outside-primary-region",
        "missing region and provider (not known here)",
        dr_resource(None),
    ),
    case(
        "dr-resources-outside-primary-region",
        "compliant: IAM and Route 53, exempt (their control plane is in us-east-1 anyway)",
        [
            R("aws:iam/role:Role", {}, "failover", provider=WEST, stack="dr"),
            R("aws:route53/record:Record", {"region": "us-east-1"}, "api", stack="dr"),
        ],
    ),
    case("dr-resources-outside-primary-region", "unknown region", dr_resource(region=UNKNOWN)),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_deployability_policy(spec: Case) -> None:
    check(spec)


def test_name_limits_agree_with_the_programs_naming_table() -> None:
    """naming.PHYSICAL_NAMES is what settings checks the program's own names with; the pack,
    which also guards other stacks, states the same limits."""
    limits = {(t, rule.prop): rule.limit for rule in NAME_LIMITS for t in rule.types}
    for row in PHYSICAL_NAMES:
        assert limits[(row.type, row.prop)] == row.limit, row.what


# -- on the program's own graphs ------------------------------------------------------------------


def reported(graph: Graph | StackGraph, policy: str) -> list[str]:
    return [message for name, _, message in judged(graph) if name == policy]


def rewrite(resource: Any, **props: Any) -> None:
    """Change a recorded resource's inputs and the outputs the stack policies read."""
    resource.inputs.update(props)
    resource.outputs.update(props)


def test_a_grafana_account_named_by_the_chart_is_caught(primary: StackGraph) -> None:
    graph = edited(primary)
    release = graph.one(RELEASE, "primary-kube-prometheus-stack")
    values = json.loads(json.dumps(release.inputs["values"]))
    values["grafana"]["serviceAccount"]["name"] = "kube-prometheus-stack-grafana"
    rewrite(release, values=values)
    assert reported(primary, "irsa-service-account-match") == []
    (message,) = reported(graph, "irsa-service-account-match")
    assert "monitoring/kube-prometheus-stack-grafana with role primary-grafana" in message


def test_a_trail_key_conditioned_on_the_encryption_context_is_caught(primary: StackGraph) -> None:
    graph = edited(primary)
    key = graph.one(KEY, "trading-primary-trail")
    policy = json.loads(key.inputs["policy"])
    for statement in policy["Statement"]:
        if statement.get("Sid") == "CloudTrailDescribesKey":
            statement["Condition"] = CONTEXT_CONDITION
    rewrite(key, policy=json.dumps(policy))
    assert reported(primary, "cloudtrail-key-describable") == []
    assert reported(graph, "cloudtrail-key-describable") == [
        "key trading-primary-trail lets CloudTrail call kms:DescribeKey only under conditions "
        "that request never carries (kms:encryptioncontext:aws:cloudtrail:arn): CreateTrail fails"
    ]


def test_a_node_key_created_before_auto_scalings_role_is_caught(primary: StackGraph) -> None:
    graph = edited(primary)
    key = graph.one(KEY, "trading-primary-nodes")
    key.dependencies = [urn for urn in key.dependencies if SERVICE_LINKED_ROLE not in urn]
    assert reported(primary, "kms-key-policy-principals-exist") == []
    (message,) = reported(graph, "kms-key-policy-principals-exist")
    assert message.startswith("key trading-primary-nodes names the service-linked role of ")
    assert "but does not depend on primary-autoscaling-service-role" in message


def test_object_only_replication_contexts_are_caught(dr: StackGraph) -> None:
    graph = edited(dr)
    policy = graph.one(ROLE_POLICY, "dr-s3-replication")
    document_ = json.loads(policy.inputs["policy"])
    for statement in document_["Statement"]:
        contexts = statement.get("Condition", {}).get("StringLike", {})
        if "kms:EncryptionContext:aws:s3:arn" in contexts:
            contexts["kms:EncryptionContext:aws:s3:arn"] = [
                c for c in contexts["kms:EncryptionContext:aws:s3:arn"] if c.endswith("/*")
            ]
    rewrite(policy, policy=json.dumps(document_))
    assert reported(dr, "s3-replication-bucket-key-context") == []
    # DecryptOriginObjects serves the primary's bucket, which is not in the dr stack: whether
    # it uses a Bucket Key is not known here, so only the dr bucket's statement is judged.
    (message,) = reported(graph, "s3-replication-bucket-key-context")
    assert message.startswith("dr-s3-replication statement EncryptReplicas lets KMS serve objects")


def test_a_primary_writer_that_manages_its_password_is_caught(
    rds_primary: StackGraph, rds_dr: StackGraph
) -> None:
    """dr's replica is built from the databaseArn primary exports (components.primary_data): the
    primary stack is where the mistake shows, as the replica's source is in another stack."""
    primary, dr = rds_primary, rds_dr
    graph = edited(primary)
    rewrite(graph.one(INSTANCE, "primary-db"), manageMasterUserPassword=True)
    assert reported(primary, "rds-replica-without-managed-password") == []
    assert reported(graph, "rds-replica-without-managed-password") == [
        "instance primary-db manages its master password in Secrets Manager and the stack "
        "exports it (databaseArn) for a read replica in another stack: RDS refuses to create "
        "that replica"
    ]
    assert reported(dr, "rds-replica-without-managed-password") == []


def test_a_pinned_minor_on_the_programs_database_is_caught(rds_primary: StackGraph) -> None:
    primary = rds_primary
    graph = edited(primary)
    rewrite(graph.one(INSTANCE, "primary-db"), engineVersion="16.4")
    assert reported(primary, "rds-engine-version-major-only") == []
    (message,) = reported(graph, "rds-engine-version-major-only")
    assert message.startswith("engineVersion 16.4 pins a minor while RDS upgrades minors")


def test_the_trail_key_is_scoped_to_the_trail_of_the_stack(primary: StackGraph) -> None:
    """The key policy's aws:SourceArn names trading-primary-trail; a key scoped to another
    trail is caught."""
    graph = edited(primary)
    key = graph.one(KEY, "trading-primary-trail")
    policy = json.loads(key.inputs["policy"])
    for statement in policy["Statement"]:
        if statement.get("Sid") == "CloudTrailDescribesKey":
            condition = statement["Condition"]["StringEquals"]
            condition["aws:SourceArn"] = condition["aws:SourceArn"].replace("-trail", "-old")
    rewrite(key, policy=json.dumps(policy))
    (message,) = reported(graph, "cloudtrail-key-describable")
    assert "trail/trading-primary-old, not for trail primary-trail" in message


def test_an_over_long_physical_name_is_caught(dr: StackGraph) -> None:
    graph = edited(dr)
    (balancer,) = graph.of_type(LB)
    rewrite(balancer, name=f"{balancer.inputs['name']}-{'x' * 32}")
    assert reported(dr, "physical-name-length") == []
    (message,) = reported(graph, "physical-name-length")
    assert message.startswith("load balancer name ")
