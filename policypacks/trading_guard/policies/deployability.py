"""Deployability: configurations that read as valid but that AWS (or the provider) refuses at
`pulumi up`, or that break the next `pulumi up`. Each rule is the one behind a real deploy
failure of this project, and its description cites the page that states it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .common import (
    ADVISORY,
    Settings,
    Stack,
    allows,
    ancestors,
    condition_keys,
    condition_values,
    depends_on,
    flag,
    items,
    mapping,
    mappings,
    peek,
    principals,
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


def _managed_password(database: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    manages = flag(database.props.get("manageMasterUserPassword"), False)
    if database.resource_type == CLUSTER:
        if manages and text(database.props.get("globalClusterIdentifier")):
            yield (
                f"cluster {database.name} is in a global database and asks RDS to manage its "
                "master password in Secrets Manager, which Aurora refuses"
            )
        return
    if not text(database.props.get("replicateSourceDb")):
        return
    if manages:
        yield (
            f"read replica {database.name} asks RDS to manage its master password in Secrets "
            "Manager, which RDS refuses for a replica"
        )
    source = replica_source(database, stack)
    if source is not None and flag(source.props.get("manageMasterUserPassword"), False):
        yield (
            f"read replica {database.name}: its source {source.name} manages its master "
            "password in Secrets Manager, so RDS refuses to create the replica"
        )


# Engines whose major version is the first number (16.4 is 16's minor 4), and those whose major
# is the first two (8.0.36 is 8.0's minor 36).
ONE_PART_MAJOR = ("postgres",)
TWO_PART_MAJOR = ("mysql", "mariadb")


def _pinned_minor(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    props = args.props
    if not flag(props.get("autoMinorVersionUpgrade"), True):
        return
    engine = text(props.get("engine")) or ""
    version = text(props.get("engineVersion")) or ""
    parts = len(version.split(".")) if version else 0
    if (engine in ONE_PART_MAJOR and parts > 1) or (engine in TWO_PART_MAJOR and parts > 2):
        yield (
            f"engineVersion {version} pins a minor while autoMinorVersionUpgrade is on "
            "(its default): once RDS upgrades the minor, `pulumi up` asks for a downgrade RDS "
            "refuses; give the major only"
        )


# -- KMS key policies ------------------------------------------------------------------------


def _service_linked_roles(key: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    declared = {
        text(role.props.get("awsServiceName")): role for role in stack.of_type(SERVICE_LINKED_ROLE)
    }
    for statement in statements(key.props.get("policy")):
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


def grants_cloudtrail(statement: Mapping[str, Any], action: str) -> bool:
    services = principals(statement, "Service")
    return allows(statement, action) and ("*" in services or CLOUDTRAIL in services)


def _trail_key_describable(trail: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    for key in trail_keys(trail, stack):
        policy = key.props.get("policy")
        granting = [s for s in statements(policy) if grants_cloudtrail(s, "kms:DescribeKey")]
        if not granting:
            yield f"key {key.name}'s policy does not let CloudTrail call kms:DescribeKey"
        elif not any(condition_keys(s) <= DESCRIBE_KEY_CONTEXT for s in granting):
            keys = {k for s in granting for k in condition_keys(s)}
            extra = sorted(keys - DESCRIBE_KEY_CONTEXT)
            yield (
                f"key {key.name} lets CloudTrail call kms:DescribeKey only under conditions "
                f"that request never carries ({', '.join(extra)}): CreateTrail fails"
            )


# -- S3 replication ---------------------------------------------------------------------------


def replication_buckets(config: PolicyResource, stack: Stack) -> list[PolicyResource]:
    """The in-stack source and destination buckets of a replication configuration."""
    linked = {
        d.urn for prop in ("bucket", "rules") for d in config.property_dependencies.get(prop, [])
    }
    return [b for b in stack.of_type(*BUCKETS) if b.urn in linked]


def role_documents(config: PolicyResource, stack: Stack) -> list[tuple[str, Any]]:
    """(name, policy document) of every inline policy of the replication role."""
    roles = [d for d in config.property_dependencies.get("role", []) if d.resource_type == ROLE]
    found = [
        (p.name, p.props.get("policy"))
        for p in stack.of_type(ROLE_POLICY)
        if any(depends_on(p, "role", role) for role in roles)
    ]
    for role in roles:
        found += [
            (role.name, mapping(p).get("policy")) for p in items(role.props.get("inlinePolicies"))
        ]
    return found


def object_level(pattern: str) -> bool:
    """Whether an S3 ARN pattern can match object ARNs only (arn:aws:s3:::bucket/...)."""
    resource = pattern.split(":::", 1)[-1]
    return "/" in resource


def _bucket_key_context(config: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    keyed = [
        b.name
        for b in replication_buckets(config, stack)
        if any(flag(r.get("bucketKeyEnabled"), False) for r in default_encryption_rules(b, stack))
    ]
    if not keyed:
        return
    for policy_name, policy in role_documents(config, stack):
        for statement in statements(policy):
            if not any(allows(statement, action) for action in S3_KMS_ACTIONS):
                continue
            contexts = condition_values(statement, S3_CONTEXT)
            if contexts and all(object_level(c) for c in contexts):
                sid = text(statement.get("Sid")) or "(no Sid)"
                yield (
                    f"{policy_name} statement {sid} lets KMS serve object ARNs only, but "
                    f"{', '.join(keyed)} uses an S3 Bucket Key, whose encryption context is the "
                    "bucket ARN: replication fails"
                )


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


def _reachable_endpoint(cluster: PolicyResource, stack: Stack, config: Settings) -> Iterable[str]:
    providers = kubernetes_providers(cluster, stack)
    if not providers:
        return
    names = ", ".join(p.name for p in providers)
    cidrs = public_cidrs(cluster.props)
    if cidrs is None:
        yield (
            f"the cluster has no public endpoint, but the stack deploys Kubernetes resources "
            f"through {names}: `pulumi up` from outside the VPC cannot reach the API"
        )
        return
    unreached = [d for d in strings(config["deployerCidrs"]) if not covers(cidrs, d)]
    if unreached:
        yield (
            f"the public endpoint admits {', '.join(cidrs)}, not the deployers' "
            f"{', '.join(unreached)}: {names} cannot reach the API during `pulumi up`"
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
    values: a block that sets a name or carries the IRSA annotation."""
    found = []
    for block in mappings(release.props.get("values")):
        annotation = text(mapping(block.get("annotations")).get(ROLE_ARN_ANNOTATION))
        if annotation or ("create" in block and "name" in block):
            found.append((block, annotation))
    return found


def release_namespace(release: PolicyResource) -> str:
    return text(release.props.get("namespace")) or "default"


def _irsa_match(resource: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    if resource.resource_type == ROLE:
        yield from _trusted_accounts_carry_the_role(resource, stack)
        return
    namespace = release_namespace(resource)
    for block, annotation in service_accounts(resource):
        role = role_for(annotation, stack)
        subjects = trusted_subjects(role) if role is not None else []
        if role is None or not subjects:
            continue
        name = text(block.get("name"))
        if name is None:
            yield (
                f"release {resource.name} annotates a service account with role {role.name} "
                "but leaves its name to the chart: the role's trust names one account"
            )
        elif not any(s.admits(namespace, name) for s in subjects):
            yield (
                f"release {resource.name} runs service account {namespace}/{name} with role "
                f"{role.name}, whose trust admits "
                f"{', '.join(f'{s.namespace}/{s.name}' for s in subjects)}: "
                "AssumeRoleWithWebIdentity is refused"
            )


def _trusted_accounts_carry_the_role(role: PolicyResource, stack: Stack) -> Iterable[str]:
    """The reverse: a release creating an account the role trusts annotates it with the role."""
    arn = text(peek(role.props, "arn"))
    if arn is None:
        return
    for subject in (s for s in trusted_subjects(role) if not s.pattern):
        for release in stack.of_type(*HELM_RELEASES):
            if release_namespace(release) != subject.namespace:
                continue
            for block, annotation in service_accounts(release):
                if text(block.get("name")) == subject.name and annotation != arn:
                    yield (
                        f"role {role.name} trusts {subject.namespace}/{subject.name}, which "
                        f"release {release.name} creates with "
                        f"{'no role annotation' if annotation is None else annotation}"
                    )


# -- regions ----------------------------------------------------------------------------------


def is_cloud_resource(resource: PolicyResource) -> bool:
    return resource.resource_type.startswith("aws:")


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

POLICIES = [
    stack_policy(
        "rds-replica-without-managed-password",
        "No read replica, source of an in-stack replica, or global-database cluster asks RDS "
        "to manage its master password in Secrets Manager: RDS refuses to create such a "
        f"replica ({RDS_SECRETS}; Aurora: https://docs.aws.amazon.com/AmazonRDS/latest/"
        "AuroraUserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations).",
        (INSTANCE, CLUSTER),
        _managed_password,
        severity=Severity.HIGH,
        remediation="Keep the master password in your own Secrets Manager secret (replicated to "
        "the peer region) and pass it as password / master_password.",
    ),
    resource_policy(
        "rds-engine-version-major-only",
        "An RDS instance that upgrades minors automatically (the default) gives its engine "
        "version as a major only: the provider takes a version prefix and reports the running "
        "one as engineVersionActual, while a pinned minor turns into a refused downgrade after "
        "the first automatic upgrade "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/; "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.Minor.html).",
        (INSTANCE,),
        _pinned_minor,
        severity=Severity.HIGH,
        remediation='Give engine_version as the major ("16", or "8.0" for MySQL), or turn '
        "auto_minor_version_upgrade off and upgrade minors yourself.",
    ),
    stack_policy(
        "kms-key-policy-principals-exist",
        "A key policy that names a service-linked role is created after that role, which the "
        "stack declares: KMS refuses a key policy whose principals do not exist "
        "(https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html), and a "
        "service-linked role exists only once something creates it "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/iam/servicelinkedrole/).",
        (KEY,),
        _service_linked_roles,
        severity=Severity.HIGH,
        remediation="Declare an aws.iam.ServiceLinkedRole for the service and make the key "
        "depend on it (depends_on).",
    ),
    stack_policy(
        "cloudtrail-key-describable",
        "A trail's KMS key lets CloudTrail call kms:DescribeKey with no condition that request "
        "cannot meet (it carries aws:SourceArn and aws:SourceAccount, no encryption context) "
        "(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html#create-kms-key-policy-for-cloudtrail-describe).",
        (TRAIL,),
        _trail_key_describable,
        severity=Severity.HIGH,
        remediation="Add a statement allowing cloudtrail.amazonaws.com kms:DescribeKey, "
        "conditioned on aws:SourceArn at most.",
    ),
    stack_policy(
        "s3-replication-bucket-key-context",
        "When the source or destination bucket of a replication uses an S3 Bucket Key, the "
        "replication role's KMS permissions admit the bucket ARN as encryption context, not "
        "object ARNs only ("
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html;"
        " https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html).",
        (REPLICATION,),
        _bucket_key_context,
        severity=Severity.HIGH,
        remediation="List both arn:aws:s3:::<bucket> and arn:aws:s3:::<bucket>/* in the "
        "kms:EncryptionContext:aws:s3:arn condition.",
    ),
    stack_policy(
        "eks-endpoint-reachable-by-kubernetes-provider",
        "An EKS cluster that the stack deploys Kubernetes resources to has a public endpoint "
        "admitting the deployers (`deployerCidrs`, when given): a private-only endpoint answers "
        "only inside the cluster's VPC "
        "(https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).",
        (EKS_CLUSTER,),
        _reachable_endpoint,
        severity=Severity.HIGH,
        remediation="Keep the public endpoint, restricted to the deployers' egress ranges, or "
        "run `pulumi up` from inside the VPC and declare that in deployerCidrs.",
        config={"deployerCidrs": {"type": "array", "items": {"type": "string"}, "default": []}},
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
        "(https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts-technical-overview.html).",
        (*HELM_RELEASES, ROLE),
        _irsa_match,
        severity=Severity.HIGH,
        remediation="Set the chart's serviceAccount.name (and namespace) to what the role's "
        "trust names; the cluster's components share one definition of both.",
    ),
    stack_policy(
        "dr-resources-outside-primary-region",
        "Resources of a dr stack (`drStacks`) are placed outside `primaryRegion`, so the dr "
        "stack stays deployable while that region is down "
        "(https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/aws-service-types.html)."
        " Advisory: some must live there (Route 53 health-check metrics exist only in "
        "us-east-1).",
        is_cloud_resource,
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
