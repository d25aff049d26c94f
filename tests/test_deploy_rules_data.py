"""Deploy rules of the data tier (issue #13, "Make it deploy"). Each test states an AWS rule, cites
the page it comes from, and checks it on every stack and direction the program can render, not
only on today's values."""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import settings
from components.records_replication import replication_policy
from testing.harness import SECRET, Graph, Resource, run_program
from tests.conftest import StackGraph, postgres, raw_settings

DATABASE_TYPES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")
REVERSED = {"trading:replication": {"direction": "dr-to-primary"}}
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


@pytest.fixture(scope="module")
def aurora_graphs(primary: StackGraph, dr: StackGraph) -> tuple[Graph, Graph]:
    """The stack files' own tier: an Aurora global database."""
    return primary.graph, dr.graph


@pytest.fixture(scope="module")
def reversed_graphs(rds_dr: StackGraph, run_rds_dr: Callable[..., Graph]) -> tuple[Graph, Graph]:
    """Failback on the PostgreSQL tier: dr holds the writer and the primary is rebuilt as its
    replica (an Aurora global database switches over instead: settings refuse the reversal)."""
    reference = "organization/trading/dr"
    primary = run_program(
        "primary",
        {**postgres("primary"), **REVERSED, "trading:drStack": reference},
        references={reference: rds_dr.graph},
    )
    return primary, run_rds_dr(REVERSED)


@pytest.fixture(scope="module")
def every_graph(
    rds_primary: StackGraph,
    rds_dr: StackGraph,
    aurora_graphs: tuple[Graph, Graph],
    reversed_graphs: tuple[Graph, Graph],
) -> dict[str, Graph]:
    return {
        "postgres primary": rds_primary.graph,
        "postgres dr": rds_dr.graph,
        "postgres primary, reversed": reversed_graphs[0],
        "postgres dr, reversed": reversed_graphs[1],
        "aurora primary": aurora_graphs[0],
        "aurora dr": aurora_graphs[1],
    }


def databases(graph: Graph) -> Iterator[Resource]:
    for type_ in DATABASE_TYPES:
        yield from graph.of_type(type_)


# -- database credentials ---------------------------------------------------------------------


def test_no_database_lets_rds_manage_its_master_password(every_graph: dict[str, Graph]) -> None:
    """RDS refuses a Secrets Manager-managed master password on a DB instance with read
    replicas and on a read replica (RDS User Guide, "Limitations for Secrets Manager
    integration with Amazon RDS"), and Aurora on a cluster in an Aurora global database
    (Aurora User Guide, same section). Every database here is a replica source, a replica or a
    global cluster member, in either replication direction, so none may ask for one.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations
    """
    for label, graph in every_graph.items():
        found = list(databases(graph))
        assert found, label
        for database in found:
            assert not database.inputs.get("manageMasterUserPassword"), (label, database.name)
            assert "masterUserSecretKmsKeyId" not in database.inputs, (label, database.name)


def test_every_database_accepts_iam_authentication(every_graph: dict[str, Graph]) -> None:
    """Applications connect with IAM database authentication tokens, not a stored password
    (RDS User Guide, "IAM database authentication for MariaDB, MySQL, and PostgreSQL"), so no
    application password has to follow a failover. A replica has it too: once promoted it is
    the writer the applications reach.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html
    """
    for label, graph in every_graph.items():
        for database in databases(graph):
            assert database.inputs["iamDatabaseAuthenticationEnabled"] is True, (label, database)


def writer_password(graph: Graph) -> Any:
    """The master password the created writer is given, whichever engine."""
    (writer,) = [d for d in databases(graph) if {"username", "masterUsername"} & set(d.inputs)]
    return writer.inputs.get("password", writer.inputs.get("masterPassword"))


@pytest.mark.parametrize("engine", ["postgres", "aurora-postgresql"])
def test_master_credentials_are_a_secret_replicated_to_the_peer_region(
    engine: str, rds_primary: StackGraph, rds_dr: StackGraph, aurora_graphs: tuple[Graph, Graph]
) -> None:
    """The master password lives in a Secrets Manager secret under the primary's data key and is
    replicated to the peer region; a replica secret keeps the name and the value of its primary
    and is encrypted with a KMS key of its own region (Secrets Manager User Guide, "Replicate
    AWS Secrets Manager secrets across Regions"; `SecretReplica.kmsKeyId`, Pulumi AWS
    `secretsmanager.Secret`), so the promoted dr writer, which replicated the same password, is
    reached with credentials read in its own region while the primary region is down.
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html
    https://www.pulumi.com/registry/packages/aws/api-docs/secretsmanager/secret/
    """
    source, replica = (rds_primary.graph, rds_dr.graph) if engine == "postgres" else aurora_graphs
    peer_region = settings.parse(raw_settings("primary")).peer_region

    assert writer_password(source) == SECRET
    (secret,) = source.of_type("aws:secretsmanager/secret:Secret")
    data_key = source.one("aws:kms/key:Key", "trading-primary-data")
    assert secret.inputs["kmsKeyId"] == data_key.outputs["arn"]
    (secret_replica,) = secret.inputs["replicas"]
    assert secret_replica["region"] == peer_region
    replica_key = secret_replica["kmsKeyId"]
    # A key ARN names its region; an alias or key id is resolved in the replica's region.
    if replica_key.startswith("arn:"):
        assert replica_key.split(":")[3] == peer_region
    (version,) = source.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == SECRET

    # dr generates nothing: its database takes the writer's credentials with the data.
    assert not replica.of_type("aws:secretsmanager/secret:Secret")
    assert not [
        r
        for r in replica.of_type(RANDOM_PASSWORD)
        if any(a.type == "trading:data:Database" for a in replica.ancestors(r))
    ]
    for database in databases(replica):
        assert "password" not in database.inputs and "masterPassword" not in database.inputs
    assert replica.exports["masterSecretName"] == source.exports["masterSecretName"]
    assert source.exports["masterSecretName"] == secret.inputs["name"]


def test_master_password_never_appears_in_plain_text(every_graph: dict[str, Graph]) -> None:
    """Pulumi keeps a secret encrypted in state and in stack outputs only when it is marked
    secret (Pulumi docs, "Secrets"); every input and output that carries the generated password
    must be one. The generator's own result is left out: pulumi-random marks it secret itself.
    https://www.pulumi.com/docs/iac/concepts/secrets/
    """
    generated = {
        r.outputs["result"] for g in every_graph.values() for r in g.of_type(RANDOM_PASSWORD)
    }
    assert generated
    for label, graph in every_graph.items():
        exposed = json.dumps(
            [{"inputs": r.inputs, "outputs": r.outputs} for r in graph if r.type != RANDOM_PASSWORD]
            + [graph.exports],
            default=str,
        )
        for password in generated:
            assert password not in exposed, label


# -- engine version -------------------------------------------------------------------------------


def test_engine_versions_are_majors_where_minor_upgrades_are_automatic(
    every_graph: dict[str, Graph],
) -> None:
    """With automatic minor version upgrades RDS moves the minor in the maintenance window
    (RDS User Guide, "Automatic minor version upgrades for RDS for PostgreSQL"), and the
    provider takes a version prefix then, reporting the running one as engineVersionActual
    (Pulumi AWS `rds.Instance` engineVersion). A pinned minor would be reverted on every `up`
    and stops being offered, so a graph that upgrades minors names majors only.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.Minor.html
    https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/
    """
    major = re.compile(r"^[0-9]+$")
    major_minor = re.compile(r"^[0-9]+\.[0-9]+$")
    for label, graph in every_graph.items():
        instances = [
            *graph.of_type("aws:rds/instance:Instance"),
            *graph.of_type("aws:rds/clusterInstance:ClusterInstance"),
        ]
        assert instances, label
        automatic = {i.inputs.get("autoMinorVersionUpgrade") for i in instances}
        if label.startswith("aurora"):
            # A global database's minor moves on the global cluster, never automatically
            # (Aurora User Guide, "Upgrading an Amazon Aurora global database").
            assert automatic == {False}, label
            for resource in (
                *databases(graph),
                *graph.of_type("aws:rds/globalCluster:GlobalCluster"),
            ):
                if "engineVersion" in resource.inputs:
                    assert major_minor.match(resource.inputs["engineVersion"]), resource.name
            continue
        assert automatic == {settings.AUTO_MINOR_VERSION_UPGRADE}, label
        versioned = [
            r
            for type_ in (*DATABASE_TYPES, "aws:rds/globalCluster:GlobalCluster")
            for r in graph.of_type(type_)
            if "engineVersion" in r.inputs
        ]
        for resource in versioned:
            assert major.match(resource.inputs["engineVersion"]), (label, resource.name)


# -- S3 replication with bucket keys ------------------------------------------------------------

ORIGIN = "arn:aws:s3:::records-origin"
TARGET = "arn:aws:s3:::records-target"


def allowed_contexts(statement: dict[str, Any]) -> list[str]:
    values = statement["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
    return [values] if isinstance(values, str) else list(values)


def admits(statement: dict[str, Any], context: str) -> bool:
    """Whether IAM's StringLike (`*` spans any characters) lets `context` through."""
    return any(fnmatch.fnmatchcase(context, p) for p in allowed_contexts(statement))


def kms_statements(policy: str) -> tuple[dict[str, Any], dict[str, Any]]:
    by_sid = {s["Sid"]: s for s in json.loads(policy)["Statement"]}
    return by_sid["DecryptOriginObjects"], by_sid["EncryptReplicas"]


@pytest.mark.parametrize(
    ("origin_bucket_key", "target_bucket_key"), list(itertools.product([True, False], repeat=2))
)
def test_replication_kms_context_admits_the_bucket_arn_when_a_bucket_key_is_used(
    origin_bucket_key: bool, target_bucket_key: bool
) -> None:
    """With an S3 Bucket Key on the source or the destination bucket, the encryption context S3
    gives KMS is the bucket ARN, not the object ARN, and the replica key needs kms:Decrypt
    (S3 User Guide, "Replicating encrypted objects": Amazon S3 Bucket Keys and replication;
    "Reducing the cost of SSE-KMS with Amazon S3 Bucket Keys": changes to note). Without one,
    only object ARNs are allowed (least privilege).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
    """
    decrypt, encrypt = kms_statements(
        replication_policy(
            origin_arn=ORIGIN,
            origin_key="arn:aws:kms:us-east-1:123456789012:key/origin",
            origin_region="us-east-1",
            target_arn=TARGET,
            target_key="arn:aws:kms:us-west-2:123456789012:key/target",
            target_region="us-west-2",
            origin_bucket_key=origin_bucket_key,
            target_bucket_key=target_bucket_key,
        )
    )
    bucket_key = origin_bucket_key or target_bucket_key
    assert admits(decrypt, ORIGIN) is bucket_key
    assert admits(encrypt, TARGET) is bucket_key
    assert ("kms:Decrypt" in encrypt["Action"]) is bucket_key
    # Objects written without a bucket key still carry their own ARN.
    assert admits(decrypt, f"{ORIGIN}/2026/11/26/order.json")
    assert admits(encrypt, f"{TARGET}/2026/11/26/order.json")
    # Each key serves its own bucket only.
    for other in (f"{ORIGIN}-copy", f"{ORIGIN}-copy/x", TARGET, f"{TARGET}/x"):
        assert not admits(decrypt, other)
    for other in (f"{TARGET}-copy", f"{TARGET}-copy/x", ORIGIN, f"{ORIGIN}/x"):
        assert not admits(encrypt, other)


def bucket_key_enabled(graph: Graph, bucket: str) -> bool:
    sse = graph.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
    )
    return any(rule.get("bucketKeyEnabled") for rule in sse.inputs["rules"])


@pytest.mark.parametrize("direction", ["primary-to-dr", "dr-to-primary"])
def test_deployed_replication_role_admits_each_bucket_key_bucket(
    direction: str, rds_primary: StackGraph, run_rds_dr: Callable[..., Graph]
) -> None:
    """The same rule on the rendered stacks, either way the records flow: a bucket whose
    encryption configuration turns the bucket key on makes its ARN an allowed context.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
    """
    primary = rds_primary
    graph = run_rds_dr({"trading:replication": {"direction": direction}})
    ends = {
        "primary": (primary.graph, "primary-records", primary.exports["recordsBucketArn"]),
        "dr": (graph, "dr-records", graph.one("aws:s3/bucket:Bucket", "dr-records").outputs["arn"]),
    }
    origin, target = ("primary", "dr") if direction == "primary-to-dr" else ("dr", "primary")
    decrypt, encrypt = kms_statements(
        graph.one("aws:iam/rolePolicy:RolePolicy", "dr-s3-replication").inputs["policy"]
    )
    uses_bucket_key = any(bucket_key_enabled(g, name) for g, name, _ in ends.values())
    assert admits(decrypt, ends[origin][2]) is uses_bucket_key
    assert admits(encrypt, ends[target][2]) is uses_bucket_key
    assert ("kms:Decrypt" in encrypt["Action"]) is uses_bucket_key
