"""Deployability: configurations that read as valid but that AWS (or the provider) refuses at
`pulumi up`, or that break the next `pulumi up`. Each rule is the one behind a real deploy
failure of this project, and its description cites the page that states it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity
from pulumi_policy.proxy import UnknownValueError

from .common import (
    ADVISORY,
    Settings,
    Stack,
    UnresolvedReferenceError,
    allows,
    ancestors,
    condition_keys,
    condition_tests,
    condition_values,
    depends_on,
    dig,
    each,
    each_known,
    flag,
    known,
    known_items,
    mapping,
    mappings,
    peek,
    principals,
    referring,
    region_of,
    resource_policy,
    stack_name,
    stack_policy,
    statements,
    strings,
    text,
    uses,
)
from .compute import EKS_CLUSTER, HELM_RELEASES, public_cidrs
from .storage import BUCKETS, default_encryption_rules

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
TRAIL = "aws:cloudtrail/trail:Trail"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
# Where IAM puts every service-linked role: role/aws-service-role/<service principal>/<name>.
SERVICE_LINKED_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::[\d*]+:role/aws-service-role/([^/]+)/")
S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
S3_KMS_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


# -- RDS ---------------------------------------------------------------------------------------

CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
ROOT_STACK = "pulumi:pulumi:Stack"


def sql_server(engine: str | None) -> bool:
    """RDS for SQL Server (sqlserver-ee, -se, -ex, -web): RDS creates its read replicas even
    when the source manages its master password in Secrets Manager."""
    return (engine or "").startswith("sqlserver")


def manages_password(database: PolicyResource) -> bool:
    return flag(database.props.get("manageMasterUserPassword"), False)


def replica_source(replica: PolicyResource, stack: Stack) -> PolicyResource | None:
    """The in-stack instance a replica's replicateSourceDb names (ARN or identifier)."""
    named = text(peek(replica.props, "replicateSourceDb"))
    for source in stack.of_type(INSTANCE):
        if source.urn == replica.urn:
            continue
        if depends_on(replica, "replicateSourceDb", source) or (
            named is not None
            and named in (text(peek(source.props, "arn")), text(peek(source.props, "identifier")))
        ):
            return source
    return None


def replication_exports(database: PolicyResource, stack: Stack, names: list[str]) -> list[str]:
    """The stack outputs among `names` (the root stack resource's properties in AnalyzeStack)
    that give the database's ARN or identifier: what a replica in another stack is built from.
    Raises UnresolvedReferenceError when such an output, or the database's own ARN and
    identifier, is not known yet."""
    found, maybe = [], False
    # Its ARN and identifier as far as known; one not known yet leaves the match open.
    own = {text(peek(database.props, n)) for n in ("arn", "identifier")} - {None}
    open_match = not all(known(database.props, n) for n in ("arn", "identifier"))
    for root in stack.of_type(ROOT_STACK):
        exported_names = list(root.props)  # the keys alone: reading a value may raise
        for name in names:
            if name not in exported_names:
                continue
            try:
                exported = text(root.props.get(name))
            except UnknownValueError:
                maybe = True
                continue
            if exported is not None and exported in own:
                found.append(name)
            elif exported is not None and open_match:
                maybe = True
    if maybe and not found:
        raise UnresolvedReferenceError(f"whether the stack exports {database.name} to replicate")
    return found


def _replica_asks(database: PolicyResource, _: Stack, __: Settings) -> Iterable[str]:
    if text(database.props.get("replicateSourceDb")) and manages_password(database):
        yield (
            f"read replica {database.name} asks RDS to manage its master password in Secrets "
            "Manager, which RDS refuses for a replica"
        )


def _source_manages(database: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    if not text(database.props.get("replicateSourceDb")):
        return
    source = replica_source(database, stack)
    if (
        source is not None
        and manages_password(source)
        and not sql_server(text(source.props.get("engine")))
    ):
        yield (
            f"read replica {database.name}: its source {source.name} manages its master "
            "password in Secrets Manager, so RDS refuses to create the replica"
        )


def _exported_writer_manages(
    database: PolicyResource, stack: Stack, config: Settings
) -> Iterable[str]:
    """The cross-stack case: the replica lives in another stack (dr replicates primary's
    writer), so this stack sees only that it exports the writer for replication."""
    names = strings(config["replicationExports"])
    # The outputs' names alone: a stack that offers nothing for replication is not judged.
    if not any(name in list(root.props) for root in stack.of_type(ROOT_STACK) for name in names):
        return
    if text(database.props.get("replicateSourceDb")) or not manages_password(database):
        return
    if sql_server(text(database.props.get("engine"))):
        return
    exports = replication_exports(database, stack, names)
    if exports:
        yield (
            f"instance {database.name} manages its master password in Secrets Manager and the "
            f"stack exports it ({', '.join(exports)}) for a read replica in another stack: RDS "
            "refuses to create that replica"
        )


def _global_cluster_manages(database: PolicyResource, _: Stack, __: Settings) -> Iterable[str]:
    if text(database.props.get("globalClusterIdentifier")) and manages_password(database):
        yield (
            f"cluster {database.name} is in a global database and asks RDS to manage its "
            "master password in Secrets Manager, which Aurora refuses"
        )


def _managed_password(database: PolicyResource, stack: Stack, config: Settings) -> Iterable[str]:
    rules = (
        (_global_cluster_manages,)
        if database.resource_type == CLUSTER
        else (_replica_asks, _source_manages, _exported_writer_manages)
    )
    yield from each(rules, lambda rule: rule(database, stack, config))


# Engines whose major version is the first number (16.4 is 16's minor 4), and those whose major
# is the first two (8.0.36 is 8.0's minor 36). Aurora MySQL's versions carry the Aurora release
# (8.0.mysql_aurora.3.05.2), whose accepted prefixes the provider does not document: not judged.
ONE_PART_MAJOR = ("postgres", "aurora-postgresql")
TWO_PART_MAJOR = ("mysql", "mariadb")


def pinned_minor(engine: str, version: str) -> bool:
    parts = len(version.split(".")) if version else 0
    return (engine in ONE_PART_MAJOR and parts > 1) or (engine in TWO_PART_MAJOR and parts > 2)


def upgrades_minors(database: PolicyResource, stack: Stack) -> bool:
    """Whether RDS moves the database's minor on its own. An instance (or a Multi-AZ DB
    cluster) does unless its autoMinorVersionUpgrade is off. An Aurora cluster does only when
    every one of its instances has it on (the default), and never in a global database, whose
    minor is upgraded on the global cluster."""
    if not flag(database.props.get("autoMinorVersionUpgrade"), True):
        return False
    if database.resource_type == INSTANCE:
        return True
    engine = text(database.props.get("engine")) or ""
    if not engine.startswith("aurora"):
        return True
    if text(database.props.get("globalClusterIdentifier")):
        return False
    members = referring(
        stack.of_type(CLUSTER_INSTANCE), "clusterIdentifier", database, "clusterIdentifier", "id"
    )
    return all(flag(m.props.get("autoMinorVersionUpgrade"), True) for m in members)


def _pinned_minor(database: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    engine = text(database.props.get("engine")) or ""
    version = text(database.props.get("engineVersion")) or ""
    if not pinned_minor(engine, version) or not upgrades_minors(database, stack):
        return
    yield (
        f"engineVersion {version} pins a minor while RDS upgrades minors automatically "
        "(autoMinorVersionUpgrade, on by default): once RDS upgrades the minor, `pulumi up` "
        "asks for a downgrade RDS refuses; give the major only"
    )


# -- KMS key policies ------------------------------------------------------------------------


def _service_linked_roles(key: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    declared = {
        text(role.props.get("awsServiceName")): role for role in stack.of_type(SERVICE_LINKED_ROLE)
    }

    def judge(statement: Mapping[str, Any]) -> Iterable[str]:
        for arn in principals(statement, "AWS"):
            match = SERVICE_LINKED_ROLE_ARN.match(arn)
            if match is None:
                continue
            service = match[1]
            role = declared.get(service)
            if role is None:
                yield (
                    f"key {key.name} names the service-linked role of {service}, which this "
                    "stack does not declare: KMS refuses a principal that does not exist yet"
                )
            elif not uses(key, role):
                yield (
                    f"key {key.name} names the service-linked role of {service} but does not "
                    f"depend on {role.name}: the key may be created first, and KMS refuses it"
                )

    yield from each(statements(key.props.get("policy")), judge)


def trail_keys(trail: PolicyResource, stack: Stack) -> list[PolicyResource]:
    """The in-stack keys a trail's kmsKeyId comes from, directly or through an alias."""
    found = []
    for dependency in trail.property_dependencies.get("kmsKeyId", []):
        if dependency.resource_type == KEY:
            found.append(dependency)
        elif dependency.resource_type == ALIAS:
            found += [
                k
                for k in dependency.property_dependencies.get("targetKeyId", [])
                if k.resource_type == KEY
            ]
    named = text(peek(trail.props, "kmsKeyId"))
    found += [
        k
        for k in stack.of_type(KEY)
        if named is not None and named == text(peek(k.props, "arn")) and k not in found
    ]
    return found


# The only condition keys CloudTrail's DescribeKey request carries.
DESCRIBE_KEY_CONTEXT = {"aws:sourcearn", "aws:sourceaccount"}
# Condition operators that compare with IAM's wildcards; the others compare exactly.
WILDCARD_OPERATORS = ("StringLike", "ArnLike", "StringLikeIfExists", "ArnLikeIfExists")


def grants_cloudtrail(statement: Mapping[str, Any], action: str) -> bool:
    services = principals(statement, "Service")
    return allows(statement, action) and ("*" in services or CLOUDTRAIL in services)


@dataclass(frozen=True)
class TrailArn:
    """A trail's ARN, arn:PARTITION:cloudtrail:REGION:ACCOUNT:trail/NAME. The account is None
    when the trail has no ARN to read it from: not known yet (`account_unknown`, before the
    trail exists) or not given (then it is not compared)."""

    region: str | None
    account: str | None
    name: str
    account_unknown: bool = False

    @staticmethod
    def of(trail: PolicyResource) -> TrailArn | None:
        arn = text(peek(trail.props, "arn"))
        parts = arn.split(":", 5) if arn else []
        if len(parts) == 6:
            region, account, resource = parts[3] or region_of(trail), parts[4] or None, parts[5]
            if resource.startswith("trail/"):
                return TrailArn(region, account, resource.removeprefix("trail/"))
            name = text(trail.props.get("name"))
            return TrailArn(region, account, name) if name else None
        name = text(trail.props.get("name"))
        if not name:
            return None
        return TrailArn(region_of(trail), None, name, not known(trail.props, "arn"))

    def admitted(self, operator: str, pattern: str, unknown_matches: bool) -> bool:
        """Whether an aws:SourceArn test with this operator and value admits the trail, a part
        not known yet matching anything or nothing."""
        parts = pattern.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("trail/"):
            return False
        wildcard = operator in WILDCARD_OPERATORS

        def same(value: str | None, tested: str, unknown: bool = False) -> bool:
            if value is None:
                # Not known yet: as told; not given: not compared.
                return unknown_matches if unknown else True
            return fnmatchcase(value, tested) if wildcard else value == tested

        return (
            parts[2] in ("cloudtrail", "*")
            and same(self.region, parts[3])
            and same(self.account, parts[4], self.account_unknown)
            and same(self.name, parts[5].removeprefix("trail/"))
        )

    def __str__(self) -> str:
        return f"arn:aws:cloudtrail:{self.region or '*'}:{self.account or '*'}:trail/{self.name}"


def admits_trail(statement: Mapping[str, Any], trail: TrailArn) -> bool:
    """Whether every aws:SourceArn and aws:SourceAccount test of the statement admits the
    trail's DescribeKey request. Raises UnresolvedReferenceError when that depends on a part
    of the trail's ARN not known yet (its account, before the trail exists)."""
    arns = condition_tests(statement, "aws:SourceArn")
    accounts = condition_tests(statement, "aws:SourceAccount")

    def admits(unknown_matches: bool) -> bool:
        return all(
            any(trail.admitted(operator, v, unknown_matches) for v in strings(values))
            for operator, values in arns
        ) and all(
            trail.account in strings(values)
            if trail.account
            else unknown_matches or not trail.account_unknown
            for _, values in accounts
        )

    if admits(unknown_matches=False):
        return True
    if not admits(unknown_matches=True):
        return False
    raise UnresolvedReferenceError(f"the account of trail {trail.name}")


def _trail_key_describable(trail: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    def judge(key: PolicyResource) -> Iterable[str]:
        policy = key.props.get("policy")
        granting = [s for s in statements(policy) if grants_cloudtrail(s, "kms:DescribeKey")]
        if not granting:
            yield f"key {key.name}'s policy does not let CloudTrail call kms:DescribeKey"
            return
        answerable = [s for s in granting if condition_keys(s) <= DESCRIBE_KEY_CONTEXT]
        if not answerable:
            keys = {k for s in granting for k in condition_keys(s)}
            extra = sorted(keys - DESCRIBE_KEY_CONTEXT)
            yield (
                f"key {key.name} lets CloudTrail call kms:DescribeKey only under conditions "
                f"that request never carries ({', '.join(extra)}): CreateTrail fails"
            )
            return
        if any(not condition_keys(s) for s in answerable):
            return
        arn = TrailArn.of(trail)
        if arn is None:
            # Neither an ARN nor a name: nothing to compare (the provider fills both in).
            return
        if not any(admits_trail(s, arn) for s in answerable):
            tested = sorted(
                {v for s in answerable for v in condition_values(s, "aws:SourceArn")}
                | {v for s in answerable for v in condition_values(s, "aws:SourceAccount")}
            )
            yield (
                f"key {key.name} lets CloudTrail call kms:DescribeKey only for "
                f"{', '.join(tested)}, not for trail {trail.name} ({arn}): CreateTrail fails"
            )

    yield from each(trail_keys(trail, stack), judge)


# -- S3 replication ---------------------------------------------------------------------------


def replication_buckets(config: PolicyResource, stack: Stack) -> list[PolicyResource]:
    """The in-stack source and destination buckets of a replication configuration."""
    linked = {
        d.urn for prop in ("bucket", "rules") for d in config.property_dependencies.get(prop, [])
    }
    return [b for b in stack.of_type(*BUCKETS) if b.urn in linked]


def role_statements(config: PolicyResource, stack: Stack) -> list[tuple[str, Mapping[str, Any]]]:
    """(policy name, statement) of every inline policy of the replication role; a document not
    known yet is noted and left out, so the others are still judged."""
    roles = [d for d in config.property_dependencies.get("role", []) if d.resource_type == ROLE]
    documents: list[tuple[str, Callable[[], Any]]] = [
        (p.name, lambda p=p: p.props.get("policy"))
        for p in stack.of_type(ROLE_POLICY)
        if any(depends_on(p, "role", role) for role in roles)
    ]
    for role in roles:
        documents += [
            (role.name, lambda p=p: mapping(p).get("policy"))
            for p in known_items(role.props.get("inlinePolicies"))
        ]
    return [
        (name, statement)
        for name, statements_of in each_known(documents, lambda d: (d[0], statements(d[1]())))
        for statement in statements_of
    ]


def bucket_arn(bucket: PolicyResource) -> str | None:
    """The bucket's ARN: its output, else arn:aws:s3:::<bucket>; None without either (the
    provider fills both in once the bucket exists). Raises UnknownValueError while its name is
    not known yet."""
    arn = text(peek(bucket.props, "arn"))
    if arn:
        return arn
    name = text(bucket.props.get("bucket"))
    return f"arn:aws:s3:::{name}" if name else None


def bucket_key_rule(bucket: PolicyResource, stack: Stack) -> Mapping[str, Any] | None:
    """The bucket's default-encryption rule that uses an S3 Bucket Key, if any."""
    for rule in default_encryption_rules(bucket, stack):
        if flag(rule.get("bucketKeyEnabled"), False):
            return rule
    return None


def concerns(context: str, arn: str) -> bool:
    """Whether an encryption-context pattern can match the bucket's ARN or one of its objects'
    (arn:aws:s3:::bucket/key): the statement is about that bucket."""
    head, _, _ = context.partition("/")
    return fnmatchcase(arn, head)


def serves_key(statement: Mapping[str, Any], key: str | None) -> bool:
    """Whether the statement's Resource can be the bucket's key; a key given as an id or alias,
    or not at all, is not compared."""
    resources = strings(statement.get("Resource"))
    if not key or not key.startswith("arn:") or not resources:
        return True
    return any(fnmatchcase(key, pattern) for pattern in resources)


def _bucket_key_context(config: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    """Each bucket's own operations carry its own ARN as context under a Bucket Key (S3 User
    Guide, "Replicating encrypted objects": decrypting the source's objects, encrypting the
    destination's replicas), so a statement is judged against the bucket its contexts (and
    key) name, and only a bucket that uses a Bucket Key is judged."""

    def judge_bucket(bucket: PolicyResource) -> Iterable[str]:
        rule = bucket_key_rule(bucket, stack)
        if rule is None:
            return
        arn = bucket_arn(bucket)
        if arn is None:
            return
        # A key not known yet is not compared, as one given by id or alias is not.
        keys = each_known(
            [rule], lambda r: text(dig(r, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"))
        )
        key = keys[0] if keys else None

        def judge_statement(named: tuple[str, Mapping[str, Any]]) -> Iterable[str]:
            policy_name, statement = named
            if not any(allows(statement, action) for action in S3_KMS_ACTIONS):
                return
            contexts = condition_values(statement, S3_CONTEXT)
            about = [c for c in contexts if concerns(c, arn)]
            if not about or not serves_key(statement, key):
                return
            if not any(fnmatchcase(arn, c) for c in about):
                sid = text(statement.get("Sid")) or "(no Sid)"
                yield (
                    f"{policy_name} statement {sid} lets KMS serve objects of {bucket.name} "
                    f"only ({', '.join(about)}), but {bucket.name} uses an S3 Bucket Key, whose "
                    f"encryption context is the bucket ARN {arn}: replication fails"
                )

        yield from each(role_statements(config, stack), judge_statement)

    yield from each(replication_buckets(config, stack), judge_bucket)


# -- EKS and the Kubernetes provider ------------------------------------------------------------


def kubernetes_providers(cluster: PolicyResource, stack: Stack) -> list[PolicyResource]:
    """Kubernetes providers built from the cluster (their kubeconfig comes from it or from the
    component that created it) that the stack declares resources through."""
    origins = [cluster, *ancestors(cluster)]
    providers = [p for p in stack.of_type(KUBERNETES_PROVIDER) if any(uses(p, o) for o in origins)]
    used = {r.provider.urn for r in stack.resources if r.provider is not None}
    return [p for p in providers if p.urn in used]


def network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def covers(cidrs: list[str], deployer: str) -> bool:
    """Whether one of `cidrs` contains the whole `deployer` range."""
    wanted = network(deployer)
    return wanted is not None and any(
        (found := network(cidr)) is not None
        and found.version == wanted.version
        and int(found.network_address) <= int(wanted.network_address)
        and int(wanted.broadcast_address) <= int(found.broadcast_address)
        for cidr in cidrs
    )


# Address space no request from the internet comes from: private networks (RFC 1918, RFC 4193),
# shared address space (RFC 6598), loopback, link-local and "this network". A public endpoint
# sees a client's public (egress) address, so it admits nobody from these alone.
UNROUTED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)


def unrouted(cidr: str) -> bool:
    """Whether a range lies wholly in address space no internet request comes from (an
    unparsable range counts: it admits nobody either)."""
    found = network(cidr)
    return found is None or any(
        found.version == space.version and found.subnet_of(space)  # type: ignore[arg-type]
        for space in UNROUTED
    )


def _reachable_endpoint(cluster: PolicyResource, stack: Stack, config: Settings) -> Iterable[str]:
    """Whether the deployers reach the API. A public endpoint admits its publicAccessCidrs
    (EKS's default, 0.0.0.0/0, when none are given: the provider sends none for an empty
    list). A private endpoint answers inside the cluster's VPC and networks connected to it;
    `deployerCidrs` in private address space declares the deployers run there, which a
    policy cannot check further (routes and security groups decide)."""
    providers = kubernetes_providers(cluster, stack)
    if not providers:
        return
    names = ", ".join(p.name for p in providers)
    vpc = mapping(cluster.props.get("vpcConfig"))
    cidrs = public_cidrs(cluster.props)
    deployers = strings(config["deployerCidrs"])

    def private() -> bool:
        return flag(vpc.get("endpointPrivateAccess"), False)

    if not deployers:
        if cidrs is None:
            yield (
                f"the cluster has no public endpoint and deployerCidrs does not declare the "
                f"deployers inside its network, but the stack deploys Kubernetes resources "
                f"through {names}: `pulumi up` from outside the VPC cannot reach the API"
            )
        elif all(unrouted(c) for c in cidrs):
            yield (
                f"the public endpoint admits only {', '.join(cidrs)}, address space no internet "
                f"request comes from, so it is public to nobody: {names} cannot reach the API "
                "during `pulumi up` from outside the VPC"
            )
        return

    def reached(deployer: str) -> bool:
        if cidrs is not None and covers(cidrs, deployer):
            return True
        return unrouted(deployer) and private()

    unreached = [d for d in deployers if not reached(d)]
    if not unreached:
        return
    if cidrs is not None:
        yield (
            f"the public endpoint admits {', '.join(cidrs)}, not the deployers' "
            f"{', '.join(unreached)}: {names} cannot reach the API during `pulumi up`"
        )
    else:
        where = (
            "are not in private address space, where a private endpoint answers"
            if private()
            else "cannot reach it: the cluster has no endpoint enabled"
        )
        yield (
            f"the cluster has no public endpoint, and the deployers' {', '.join(unreached)} "
            f"{where}: {names} cannot reach the API during `pulumi up`"
        )


# -- physical names -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameLimit:
    what: str
    types: tuple[str, ...]
    prop: str
    limit: int
    source: str


NAME_LIMITS = (
    NameLimit(
        "load balancer name",
        ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"),
        "name",
        32,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    ),
    NameLimit(
        "target group name",
        ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"),
        "name",
        32,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    ),
    NameLimit(
        "IAM role name",
        ("aws:iam/role:Role",),
        "name",
        64,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    ),
    NameLimit(
        "IAM policy name",
        ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy"),
        "name",
        128,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    ),
    NameLimit(
        "Lambda function name",
        ("aws:lambda/function:Function",),
        "name",
        64,
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    ),
    NameLimit(
        "S3 bucket name",
        BUCKETS,
        "bucket",
        63,
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    NameLimit(
        "RDS instance identifier",
        (INSTANCE, "aws:rds/clusterInstance:ClusterInstance"),
        "identifier",
        63,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
    ),
    NameLimit(
        "RDS cluster identifier",
        (CLUSTER,),
        "clusterIdentifier",
        63,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
    ),
    NameLimit(
        "SQS queue name",
        ("aws:sqs/queue:Queue",),
        "name",
        80,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    NameLimit(
        "EKS node group name",
        ("aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup"),
        "nodeGroupName",
        63,
        "https://www.pulumi.com/registry/packages/aws/api-docs/eks/nodegroup/",
    ),
    NameLimit(
        "log group name",
        ("aws:cloudwatch/logGroup:LogGroup",),
        "name",
        512,
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    ),
)


def _name_length(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    for rule in NAME_LIMITS:
        if args.resource_type not in rule.types:
            continue
        name = text(args.props.get(rule.prop)) or ""
        if len(name) > rule.limit:
            yield (
                f"{rule.what} {name!r} is {len(name)} characters, over the {rule.limit} AWS allows"
            )


# -- IRSA ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A service account an IRSA trust admits: exactly, or by a StringLike pattern."""

    namespace: str
    name: str
    pattern: bool

    def admits(self, namespace: str, name: str) -> bool:
        if self.pattern:
            return fnmatchcase(f"{namespace}:{name}", f"{self.namespace}:{self.name}")
        return (self.namespace, self.name) == (namespace, name)


def trusted_subjects(role: PolicyResource) -> list[Subject]:
    """The service accounts a role's web-identity trust admits through its `:sub` conditions;
    empty for a role that is not an IRSA role."""
    found = []
    for statement in statements(role.props.get("assumeRolePolicy")):
        if not allows(statement, "sts:AssumeRoleWithWebIdentity"):
            continue
        for operator, tests in mapping(statement.get("Condition")).items():
            for key, values in mapping(tests).items():
                if not str(key).endswith(":sub"):
                    continue
                for value in strings(values):
                    parts = value.split(":")
                    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
                        found.append(Subject(parts[2], parts[3], operator.startswith("StringLike")))
    return found


def role_for(arn: str | None, stack: Stack) -> PolicyResource | None:
    if arn is None:
        return None
    for role in stack.of_type(ROLE):
        if text(peek(role.props, "arn")) == arn:
            return role
    return None


def service_accounts(release: PolicyResource) -> list[tuple[Mapping[str, Any], str | None]]:
    """(values block, role ARN annotation) of each service-account block in a release's
    values: a block that sets a name or carries the IRSA annotation. A block whose annotation
    is not known yet is noted and left out."""

    def read(block: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None, bool]:
        annotation = text(mapping(block.get("annotations")).get(ROLE_ARN_ANNOTATION))
        keys = list(block)  # the keys alone: reading a value may raise
        return block, annotation, bool(annotation) or ("create" in keys and "name" in keys)

    return [
        (block, annotation)
        for block, annotation, wanted in each_known(mappings(release.props.get("values")), read)
        if wanted
    ]


def release_namespace(release: PolicyResource) -> str:
    return text(release.props.get("namespace")) or "default"


def _irsa_match(resource: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    if resource.resource_type == ROLE:
        yield from _trusted_accounts_carry_the_role(resource, stack)
        return

    def judge(found: tuple[Mapping[str, Any], str | None]) -> Iterable[str]:
        block, annotation = found
        role = role_for(annotation, stack)
        subjects = trusted_subjects(role) if role is not None else []
        if role is None or not subjects:
            return
        name = text(block.get("name"))
        if name is None:
            yield (
                f"release {resource.name} annotates a service account with role {role.name} "
                "but leaves its name to the chart: the role's trust names one account"
            )
        elif not any(s.admits(namespace := release_namespace(resource), name) for s in subjects):
            yield (
                f"release {resource.name} runs service account {namespace}/{name} with role "
                f"{role.name}, whose trust admits "
                f"{', '.join(f'{s.namespace}/{s.name}' for s in subjects)}: "
                "AssumeRoleWithWebIdentity is refused"
            )

    yield from each(service_accounts(resource), judge)


def _trusted_accounts_carry_the_role(role: PolicyResource, stack: Stack) -> Iterable[str]:
    """The reverse: a release creating an account the role trusts annotates it with the role."""
    subjects = [s for s in trusted_subjects(role) if not s.pattern]
    if not subjects:
        return
    arn = text(role.props.get("arn"))
    if arn is None:
        return

    def judge(release: PolicyResource) -> Iterable[str]:
        namespace = release_namespace(release)
        for block, annotation in service_accounts(release):
            name = text(block.get("name"))
            for subject in subjects:
                if (namespace, name) == (subject.namespace, subject.name) and annotation != arn:
                    yield (
                        f"role {role.name} trusts {subject.namespace}/{subject.name}, which "
                        f"release {release.name} creates with "
                        f"{'no role annotation' if annotation is None else annotation}"
                    )

    yield from each(stack.of_type(*HELM_RELEASES), judge)


# -- regions ----------------------------------------------------------------------------------

# Services whose control plane (every create, read, update, delete and list call) is in one
# region of the aws partition, us-east-1, whatever region a resource names, while their data
# planes (IAM authentication and authorization; Route 53 DNS answers and health checks) run in
# every region (AWS Fault Isolation Boundaries, Appendix A for IAM, Appendix B for Route 53).
GLOBAL_SERVICES = ("aws:iam/", "aws:route53/")


def placed_resource(resource: PolicyResource) -> bool:
    """AWS resources whose region the program chooses: not those of IAM and Route 53, which
    need us-east-1 to change wherever they are declared (see GLOBAL_SERVICES)."""
    return resource.resource_type.startswith("aws:") and not resource.resource_type.startswith(
        GLOBAL_SERVICES
    )


def _outside_primary(resource: PolicyResource, _: Stack, config: Settings) -> Iterable[str]:
    if stack_name(resource.urn) not in strings(config["drStacks"]):
        return
    primary = text(config["primaryRegion"])
    if region_of(resource) == primary:
        yield (
            f"{resource.resource_type.rsplit(':', 1)[-1]} {resource.name} is placed in "
            f"{primary}, the primary's region: a change to it "
            f"needs {primary} to answer while the dr stack is meant to stand alone"
        )


RDS_SECRETS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations"
UNVERIFIED = (
    " A value this policy needs that is not known during a preview is named in an advisory "
    "note, as a failed `pulumi up` runs no stack policy."
)

POLICIES = [
    stack_policy(
        "rds-replica-without-managed-password",
        "No read replica, source of an in-stack replica, writer this stack exports for a "
        "replica in another stack (a stack output in `replicationExports` giving its ARN or "
        "identifier), or global-database cluster asks RDS to manage its master password in "
        "Secrets Manager: RDS refuses to create a replica of such a source, except for RDS for "
        f"SQL Server ({RDS_SECRETS}; Aurora: https://docs.aws.amazon.com/AmazonRDS/latest/"
        "AuroraUserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations). A stack's "
        "outputs are the properties of its pulumi:pulumi:Stack resource." + UNVERIFIED,
        (INSTANCE, CLUSTER),
        _managed_password,
        severity=Severity.HIGH,
        remediation="Keep the master password in your own Secrets Manager secret (replicated to "
        "the peer region) and pass it as password / master_password.",
        config={
            "replicationExports": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["databaseArn"],
            }
        },
        note_unverified=True,
    ),
    stack_policy(
        "rds-engine-version-major-only",
        "An RDS instance, Multi-AZ DB cluster or Aurora PostgreSQL cluster whose minor RDS "
        "upgrades automatically gives its engine version as a major only: the provider takes a "
        "version prefix and reports the running one as engineVersionActual, while a pinned "
        "minor turns into a refused downgrade after the first automatic upgrade "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/; "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.Minor.html)."
        " An Aurora cluster upgrades automatically only when every one of its instances has "
        "autoMinorVersionUpgrade on (their default) and it is not in a global database "
        "(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Maintenance.AMVU.html;"
        " https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Updates.AMVU.html);"
        " Aurora MySQL versions (8.0.mysql_aurora.3.05.2) are not judged." + UNVERIFIED,
        (INSTANCE, CLUSTER),
        _pinned_minor,
        severity=Severity.HIGH,
        remediation='Give engine_version as the major ("16", or "8.0" for MySQL), or turn '
        "auto_minor_version_upgrade off (on an Aurora cluster's instances) and upgrade minors "
        "yourself.",
        note_unverified=True,
    ),
    stack_policy(
        "kms-key-policy-principals-exist",
        "A key policy that names a service-linked role is created after that role, which the "
        "stack declares: KMS refuses a key policy whose principals do not exist "
        "(https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html), and a "
        "service-linked role exists only once something creates it "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/iam/servicelinkedrole/)."
        + UNVERIFIED,
        (KEY,),
        _service_linked_roles,
        severity=Severity.HIGH,
        remediation="Declare an aws.iam.ServiceLinkedRole for the service and make the key "
        "depend on it (depends_on).",
        note_unverified=True,
    ),
    stack_policy(
        "cloudtrail-key-describable",
        "A trail's KMS key lets CloudTrail call kms:DescribeKey with no condition that request "
        "cannot meet: it carries aws:SourceArn (the trail's ARN, "
        "arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME) and aws:SourceAccount, no encryption "
        "context, so a statement conditioned on them must name this trail and account "
        "(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html#create-kms-key-policy-for-cloudtrail-describe)."
        + UNVERIFIED,
        (TRAIL,),
        _trail_key_describable,
        severity=Severity.HIGH,
        remediation="Add a statement allowing cloudtrail.amazonaws.com kms:DescribeKey, "
        "conditioned on aws:SourceArn equal to the trail's ARN at most.",
        note_unverified=True,
    ),
    stack_policy(
        "s3-replication-bucket-key-context",
        "When a bucket of a replication uses an S3 Bucket Key, the replication role's KMS "
        "statements about that bucket (their kms:EncryptionContext:aws:s3:arn names its "
        "objects, their Resource its key) admit the bucket ARN as encryption context, not its "
        "object ARNs only: S3 asks KMS with the bucket ARN of the bucket whose key it uses "
        "("
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html;"
        " https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html). A bucket "
        "outside the stack is not judged: whether it uses a Bucket Key is not known here."
        + UNVERIFIED,
        (REPLICATION,),
        _bucket_key_context,
        severity=Severity.HIGH,
        remediation="List both arn:aws:s3:::<bucket> and arn:aws:s3:::<bucket>/* in the "
        "kms:EncryptionContext:aws:s3:arn condition of that bucket's statement.",
        note_unverified=True,
    ),
    stack_policy(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "An EKS cluster that the stack deploys Kubernetes resources to can be reached by the "
        "deployers: its public endpoint admits `deployerCidrs`, or, for deployers in private "
        "address space (the VPC or a network connected to it), its private endpoint is on. "
        "Without deployerCidrs, a private-only endpoint, or a public one admitting only "
        "private address space (public to nobody: it sees clients' public addresses), is "
        "reported. An empty publicAccessCidrs is EKS's default, 0.0.0.0/0: the provider sends "
        "none "
        "(https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html; "
        "https://docs.aws.amazon.com/eks/latest/APIReference/API_VpcConfigRequest.html)."
        + UNVERIFIED,
        (EKS_CLUSTER,),
        _reachable_endpoint,
        severity=Severity.HIGH,
        remediation="Keep the public endpoint, restricted to the deployers' egress ranges, or "
        "run `pulumi up` from inside the VPC (private endpoint on) and give those private "
        "ranges in deployerCidrs.",
        config={"deployerCidrs": {"type": "array", "items": {"type": "string"}, "default": []}},
        note_unverified=True,
    ),
    resource_policy(
        "physical-name-length",
        "Physical names fit their service's limit, which AWS enforces only at `pulumi up`: "
        + "; ".join(f"{rule.what} {rule.limit} ({rule.source})" for rule in NAME_LIMITS)
        + ".",
        tuple(t for rule in NAME_LIMITS for t in rule.types),
        _name_length,
        severity=Severity.HIGH,
        remediation="Shorten the name (or the prefix it is built from).",
    ),
    stack_policy(
        "irsa-service-account-match",
        "A Helm release that annotates a service account with an IRSA role names that account "
        "as the role's trust does (`system:serviceaccount:<namespace>:<name>`), and an account "
        "a role trusts carries that role "
        "(https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts-technical-overview.html)."
        " Helm v3 releases only: a v4 Chart's values reach policies empty." + UNVERIFIED,
        (*HELM_RELEASES, ROLE),
        _irsa_match,
        severity=Severity.HIGH,
        remediation="Set the chart's serviceAccount.name (and namespace) to what the role's "
        "trust names; the cluster's components share one definition of both.",
        note_unverified=True,
    ),
    stack_policy(
        "dr-resources-outside-primary-region",
        "Resources of a dr stack (`drStacks`) are not placed in `primaryRegion`, so that "
        "changing them does not need that region "
        "(https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/aws-service-types.html)."
        " Advisory: some must live there (Route 53 health-check metrics exist only in "
        "us-east-1). IAM and Route 53 resources are exempt, not independent: their control "
        "planes are in us-east-1 whatever region a resource names, so creating, changing or "
        "deleting them needs us-east-1 from any stack, and no placement removes that; their "
        "data planes (IAM authentication, DNS answers, health checks) keep working without it, "
        "so keep them unchanged in the recovery path "
        "(https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/appendix-a---partitional-service-guidance.html;"
        " https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/appendix-b---edge-network-global-service-guidance.html)."
        " The whitepaper's other single-Region operations (creating or deleting an S3 bucket "
        "among them) are not modelled either.",
        placed_resource,
        _outside_primary,
        severity=Severity.MEDIUM,
        remediation="Move the resource to the dr region, or accept it as a known dependency.",
        enforcement=ADVISORY,
        config={
            "primaryRegion": {"type": "string", "default": "us-east-1"},
            "drStacks": {"type": "array", "items": {"type": "string"}, "default": ["dr"]},
        },
    ),
]
