"""The trading platform's CrossGuard policies, importable without starting a policy server.

Every policy has a name, a description, a severity, remediation text and a default enforcement
level that a policy config file can change per policy (`pulumi preview --policy-pack-config`);
thresholds are config with a schema. A property the program did not set is judged as the
provider's default, never as compliant.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

Props = Mapping[str, Any]
ResourceCheck = Callable[[str, Props, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[
    [Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str | None]]
]


def resource_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: ResourceCheck,
    *,
    severity: Severity,
    remediation: str,
    enforcement: EnforcementLevel = MANDATORY,
    config: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    """A policy over single resources of `types`; `check(type, props, config)` yields messages."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type in types:
            for message in check(args.resource_type, args.props, args.get_config()):
                report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement,
        config_schema=config,
        severity=severity,
        remediation_steps=remediation,
    )


def stack_policy(
    name: str,
    description: str,
    check: StackCheck,
    *,
    severity: Severity,
    remediation: str,
    enforcement: EnforcementLevel = MANDATORY,
    config: PolicyConfigSchema | None = None,
) -> StackValidationPolicy:
    """A policy over the whole stack; `check(resources, config)` yields (message, urn)."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message, urn in check(args.resources, args.get_config()):
            report(message, urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement,
        config_schema=config,
        severity=severity,
        remediation_steps=remediation,
    )


def of_type(resources: Sequence[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def depends_on(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether `resource`'s `prop` was computed from `target` (for example a bucket's id)."""
    return any(d.urn == target.urn for d in resource.property_dependencies.get(prop, []))


def _document(policy: Any) -> Mapping[str, Any]:
    if isinstance(policy, str):
        try:
            decoded = json.loads(policy)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, Mapping) else {}
    return policy if isinstance(policy, Mapping) else {}


def _statements(policy: Any) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(_document(policy).get("Statement")) if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    """Properties arrive as read-only proxies: any non-string sequence counts as a list."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


# -- the seed's five guard rules ---------------------------------------------------------------


def _public_access_blocks(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    blocks = of_type(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for bucket in of_type(resources, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        mine = [b for b in blocks if depends_on(b, "bucket", bucket)]
        if not mine:
            yield f"bucket {bucket.name} has no public access block", bucket.urn
        for block in mine:
            off = [f for f in flags if block.props.get(f) is not True]
            if off:
                yield (
                    f"bucket {bucket.name}: public access block leaves {', '.join(off)} off",
                    block.urn,
                )


def _key_rotation(_: str, props: Props, __: Mapping[str, Any]) -> Iterable[str]:
    spec = props.get("customerMasterKeySpec") or props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and props.get("enableKeyRotation") is not True:
        yield "KMS key does not rotate (enableKeyRotation defaults to false)"


WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:core/v1:Pod",
)


def _pod_spec(resource_type: str, props: Props) -> Props:
    if resource_type == "kubernetes:core/v1:Pod":
        return props.get("spec") or {}
    return ((props.get("spec") or {}).get("template") or {}).get("spec") or {}


def _runs_as_root(context: Props) -> bool | None:
    """True or False when the security context decides, None when it is silent."""
    if context.get("runAsUser") == 0:
        return True
    if context.get("runAsNonRoot") is True:
        return False
    if isinstance(context.get("runAsUser"), int | float):
        return False
    return None


def _non_root(resource_type: str, props: Props, _: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == "aws:ecs/taskDefinition:TaskDefinition":
        containers = props.get("containerDefinitions")
        definitions = json.loads(containers) if isinstance(containers, str) else containers or []
        for container in definitions:
            user = str(container.get("user", "")).split(":")[0]
            if user in ("", "0", "root"):
                yield f"ECS container {container.get('name')} runs as root (set a non-root user)"
        return
    spec = _pod_spec(resource_type, props)
    pod_root = _runs_as_root(spec.get("securityContext") or {})
    for container in [*_as_list(spec.get("initContainers")), *_as_list(spec.get("containers"))]:
        own = _runs_as_root(container.get("securityContext") or {})
        if own is True or (own is None and pod_root is not False):
            yield f"container {container.get('name')} may run as root (set runAsNonRoot: true)"


def _alb_invalid_headers(_: str, props: Props, __: Mapping[str, Any]) -> Iterable[str]:
    if props.get("loadBalancerType", "application") != "application":
        return
    if props.get("dropInvalidHeaderFields") is not True:
        yield "application load balancer forwards invalid header fields (dropInvalidHeaderFields)"


def _log_group_key(_: str, props: Props, __: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("kmsKeyId"):
        yield "log group is not encrypted with a customer KMS key (kmsKeyId)"


# -- AWS hygiene ------------------------------------------------------------------------------

RDS_TYPES = (
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
)


def _rds(resource_type: str, props: Props, config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("storageEncrypted") is not True:
        yield "database storage is not encrypted (storageEncrypted defaults to false)"
    if not props.get("kmsKeyId"):
        yield "database is encrypted with the AWS managed key, not a customer key (kmsKeyId)"
    if props.get("publiclyAccessible") is True:
        yield "database is publicly accessible"
    if props.get("deletionProtection") is not True:
        yield "database has no deletion protection"
    minimum = int(config.get("minimumBackupDays", 7))
    if int(props.get("backupRetentionPeriod") or 0) < minimum:
        yield f"database keeps backups fewer than {minimum} days (backupRetentionPeriod)"
    writer = not props.get("replicateSourceDb")
    if resource_type == "aws:rds/instance:Instance" and writer and props.get("multiAz") is not True:
        yield "a writer database instance is not Multi-AZ"


def _dynamodb(resource_type: str, props: Props, _: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == "aws:dynamodb/tableReplica:TableReplica":
        key, recovery = props.get("kmsKeyArn"), props.get("pointInTimeRecovery") is True
    else:
        encryption = props.get("serverSideEncryption") or {}
        key = encryption.get("kmsKeyArn") if encryption.get("enabled") else None
        recovery = (props.get("pointInTimeRecovery") or {}).get("enabled") is True
    if not key:
        yield "table is not encrypted with a customer KMS key"
    if not recovery:
        yield "table has no point-in-time recovery"


def _bucket_settings(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    encryption = of_type(
        resources,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    versioning = of_type(resources, "aws:s3/bucketVersioning:BucketVersioning")
    policies = of_type(resources, "aws:s3/bucketPolicy:BucketPolicy")
    logging = of_type(resources, "aws:s3/bucketLogging:BucketLogging")
    for bucket in of_type(resources, "aws:s3/bucket:Bucket"):
        # S3 delivers server access logs only into SSE-S3 buckets.
        log_target = any(depends_on(entry, "targetBucket", bucket) for entry in logging)
        rules = [
            rule.get("applyServerSideEncryptionByDefault", {})
            for config in encryption
            if depends_on(config, "bucket", bucket)
            for rule in _as_list(config.props.get("rules"))
        ]
        customer_key = any(
            r.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and r.get("kmsMasterKeyId")
            for r in rules
        )
        log_bucket_sse_s3 = log_target and any(r.get("sseAlgorithm") == "AES256" for r in rules)
        if not (customer_key or log_bucket_sse_s3):
            yield f"bucket {bucket.name} is not encrypted with a customer KMS key", bucket.urn
        enabled = [
            v
            for v in versioning
            if depends_on(v, "bucket", bucket)
            and (v.props.get("versioningConfiguration") or {}).get("status") == "Enabled"
        ]
        if not enabled:
            yield f"bucket {bucket.name} is not versioned", bucket.urn
        if not any(
            depends_on(p, "bucket", bucket) and _denies_plain_http(p.props.get("policy"))
            for p in policies
        ):
            yield f"bucket {bucket.name} has no policy denying requests without TLS", bucket.urn


def _denies_plain_http(policy: Any) -> bool:
    return any(
        s.get("Effect") == "Deny"
        and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        in ("false", False)
        for s in _statements(policy)
    )


# pulumi-eks's components reach the engine with no inputs (a component holds no cloud state,
# pulumi/pulumi-kubernetes#2144 shows the same for any component): the cluster's settings are
# those of the aws:eks/cluster:Cluster it creates.
EKS_TYPES = ("aws:eks/cluster:Cluster",)
ALL_CLUSTER_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


# The broadest range an EKS public endpoint may admit: an office or CI runners' egress range.
MINIMUM_PUBLIC_PREFIX = 16


def _too_broad(cidr: Any, minimum_prefix: int) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen < minimum_prefix
    except ValueError:
        return True


def _eks(_: str, props: Props, config: Mapping[str, Any]) -> Iterable[str]:
    vpc = props.get("vpcConfig") or {}
    public = vpc.get("endpointPublicAccess", True)
    # EKS opens a public endpoint to 0.0.0.0/0 when no CIDR is given.
    cidrs = _as_list(vpc.get("publicAccessCidrs")) or ["0.0.0.0/0"]
    encrypted = bool(props.get("encryptionConfig"))
    logs = set(props.get("enabledClusterLogTypes") or [])
    minimum = int(config.get("minimumPublicPrefixLength", MINIMUM_PUBLIC_PREFIX))
    broad = [str(c) for c in cidrs if _too_broad(c, minimum)]
    if public is not False and broad:
        yield (
            f"the API endpoint is public to {', '.join(broad)}, broader than /{minimum} "
            "(endpointPublicAccess defaults to true, to 0.0.0.0/0)"
        )
    if not encrypted:
        yield "Kubernetes secrets are not envelope-encrypted with a KMS key"
    missing = sorted(ALL_CLUSTER_LOGS - logs)
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _open_ingress(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    public_lb_groups = {
        urn
        for lb in of_type(
            resources, "aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"
        )
        if lb.props.get("internal") is not True
        for urn in (d.urn for d in lb.property_dependencies.get("securityGroups", []))
    }
    rules: list[tuple[PolicyResource, Props, str]] = []
    for rule in of_type(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        group = next(iter(rule.property_dependencies.get("securityGroupId", [])), None)
        rules.append((rule, rule.props, group.urn if group else ""))
    for rule in of_type(resources, "aws:ec2/securityGroupRule:SecurityGroupRule"):
        if rule.props.get("type") == "ingress":
            group = next(iter(rule.property_dependencies.get("securityGroupId", [])), None)
            props = {
                **rule.props,
                "cidrIpv4": _as_list(rule.props.get("cidrBlocks")),
                "cidrIpv6": _as_list(rule.props.get("ipv6CidrBlocks")),
            }
            rules.append((rule, props, group.urn if group else ""))
    for group in of_type(resources, "aws:ec2/securityGroup:SecurityGroup"):
        for ingress in _as_list(group.props.get("ingress")):
            props = {
                **ingress,
                "cidrIpv4": _as_list(ingress.get("cidrBlocks")),
                "cidrIpv6": _as_list(ingress.get("ipv6CidrBlocks")),
            }
            rules.append((group, props, group.urn))
    for resource, props, group_urn in rules:
        cidrs = [*_as_list(props.get("cidrIpv4")), *_as_list(props.get("cidrIpv6"))]
        if not any(c in OPEN_CIDRS for c in cidrs):
            continue
        https_only = props.get("fromPort") == 443 and props.get("toPort") == 443
        if https_only and group_urn in public_lb_groups:
            continue
        yield (
            f"{resource.name} admits the internet ({', '.join(set(cidrs) & set(OPEN_CIDRS))})",
            resource.urn,
        )


IAM_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
READ_ONLY_VERBS = ("Get", "List", "Describe", "Head", "BatchGet", "Query", "Scan", "View", "Lookup")


def is_mutating(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return verb == "*" or not verb.startswith(READ_ONLY_VERBS)


def _tag_scoped(statement: Mapping[str, Any]) -> bool:
    """A condition on the resources' own tags scopes `*` to the resources carrying them (the
    cluster autoscaler's rights over its cluster's Auto Scaling groups)."""
    conditions = statement.get("Condition") or {}
    return any(
        "ResourceTag/" in key
        for operator in conditions.values()
        if isinstance(operator, Mapping)
        for key in operator
    )


def _iam(_: str, props: Props, __: Mapping[str, Any]) -> Iterable[str]:
    for statement in _statements(props.get("policy")):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        sid = statement.get("Sid", "(no Sid)")
        if any(a == "*" or a.endswith(":*") for a in actions):
            yield f"statement {sid} allows every action of a service ({', '.join(actions)})"
        on_everything = "*" in _as_list(statement.get("Resource"))
        if on_everything and any(is_mutating(a) for a in actions) and not _tag_scoped(statement):
            yield f"statement {sid} allows a mutating action on every resource"


def _lambdas(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    allowed = list(config.get("runtimes", DEFAULT_RUNTIMES))
    invoke_configs = of_type(
        resources, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
    )
    for function in of_type(resources, "aws:lambda/function:Function"):
        if function.props.get("runtime") not in allowed:
            yield (
                f"function {function.name}: runtime {function.props.get('runtime')!r} is not "
                f"one of {allowed}",
                function.urn,
            )
        has_dlq = bool((function.props.get("deadLetterConfig") or {}).get("targetArn"))
        has_destination = any(
            depends_on(c, "functionName", function)
            and ((c.props.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
            for c in invoke_configs
        )
        if not (has_dlq or has_destination):
            yield (
                f"function {function.name} has no on-failure destination and no dead-letter queue",
                function.urn,
            )


DEFAULT_RUNTIMES = (
    "python3.12",
    "python3.13",
    "nodejs20.x",
    "nodejs22.x",
    "java21",
    "provided.al2023",
)


def _messaging(resource_type: str, props: Props, _: Mapping[str, Any]) -> Iterable[str]:
    if props.get("kmsMasterKeyId"):
        return
    if resource_type == "aws:sqs/queue:Queue" and props.get("sqsManagedSseEnabled") is not False:
        return
    yield "topic or queue is not encrypted (kmsMasterKeyId)"


def _image_tags(resource_type: str, props: Props, _: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == "kubernetes:helm.sh/v3:Release":
        if not props.get("version") or props.get("version") == "latest":
            yield f"chart {props.get('chart')} is not pinned to a version"
        for path, value in _walk(props.get("values") or {}):
            if path.endswith(("tag", "image")) and str(value).endswith("latest"):
                yield f"Helm value {path} uses the latest tag"
        return
    spec = _pod_spec(resource_type, props)
    for container in [*_as_list(spec.get("initContainers")), *_as_list(spec.get("containers"))]:
        image = str(container.get("image", ""))
        last = image.rsplit("/", 1)[-1]
        if "@" not in last and (":" not in last or last.endswith(":latest")):
            yield f"container {container.get('name')}: image {image!r} is latest or untagged"


def _walk(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def _failover_scaled(resources: Sequence[PolicyResource]) -> set[str]:
    """Node group names a failover function resizes (its NODE_GROUPS environment variable)."""
    names: set[str] = set()
    for function in of_type(resources, "aws:lambda/function:Function"):
        variables = ((function.props.get("environment") or {}).get("variables")) or {}
        if "NODE_GROUPS" in variables:
            names.update(json.loads(variables["NODE_GROUPS"]).values())
    return names


def _node_group_scaling(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    """The node groups EKS creates (for pulumi-eks, with `ignoreScalingChanges`): the desired
    size belongs to the autoscaler; a group the failover handler resizes keeps its whole
    scaling config, or `pulumi up` after a failover would restore the pilot light's min and max."""
    failover = _failover_scaled(resources)
    for group in of_type(resources, "aws:eks/nodeGroup:NodeGroup"):
        ignored = set(group.opts.ignore_changes or [])
        name = group.props.get("nodeGroupName")
        if name in failover and "scalingConfig" not in ignored:
            yield (
                f"node group {name} is resized by the failover handler but `pulumi up` would "
                "reset its min and max: ignore changes to the whole scalingConfig",
                group.urn,
            )
        elif not ignored & {"scalingConfig", "scalingConfig.desiredSize"}:
            yield (
                "node group does not ignore scaling changes: `pulumi up` would undo a failover",
                group.urn,
            )


# -- disaster recovery --------------------------------------------------------------------------


def _replicated(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    """In a stack that reads a primary's data outputs, each of those stores has a copy here."""
    for reference in of_type(resources, "pulumi:pulumi:StackReference"):
        outputs = reference.props.get("outputs") or {}
        if "tableArns" not in outputs:
            continue
        origin = reference.props.get("name", reference.name)
        replicas = {
            r.props.get("globalTableArn")
            for r in of_type(resources, "aws:dynamodb/tableReplica:TableReplica")
        }
        for table, arn in (outputs.get("tableArns") or {}).items():
            if arn not in replicas:
                yield f"table {table} of {origin} has no replica in this stack", None
        if not _database_copied(resources, outputs):
            yield f"database {outputs.get('databaseArn')} of {origin} has no replica here", None
        bucket = outputs.get("recordsBucketName")
        configs = of_type(resources, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        if bucket and not configs:
            yield f"bucket {bucket} of {origin} is not replicated by this stack", None


def _database_copied(resources: Sequence[PolicyResource], outputs: Mapping[str, Any]) -> bool:
    """A replica of the referenced writer, a secondary in its global cluster, or (failback
    direction) this stack's own writer, which the referenced stack then replicates."""
    instances = of_type(resources, "aws:rds/instance:Instance")
    clusters = of_type(resources, "aws:rds/cluster:Cluster")
    sources = {i.props.get("replicateSourceDb") for i in instances}
    globals_ = {c.props.get("globalClusterIdentifier") for c in clusters}
    return (
        outputs.get("databaseArn") in sources
        or outputs.get("globalClusterIdentifier") in globals_ - {None}
        or any(not i.props.get("replicateSourceDb") for i in instances)
    )


def _failover_records(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    for record in of_type(resources, "aws:route53/record:Record"):
        policies = _as_list(record.props.get("failoverRoutingPolicies"))
        kinds = {p.get("type") for p in policies}
        if not kinds:
            continue
        if kinds - {"PRIMARY", "SECONDARY"}:
            yield f"record {record.name} has failover type {sorted(kinds)}", record.urn
        if "PRIMARY" in kinds and not record.props.get("healthCheckId"):
            yield (
                f"PRIMARY record {record.name} has no health check: it could never fail over",
                record.urn,
            )


ALIAS_TTL_SECONDS = 60


def _detection_budget(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    rto = int(config.get("rtoSeconds", 900))
    allowance = int(config.get("scaleUpAllowanceSeconds", 600))
    checks = of_type(resources, "aws:route53/healthCheck:HealthCheck")
    for record in of_type(resources, "aws:route53/record:Record"):
        if not record.props.get("failoverRoutingPolicies"):
            continue
        ttl = int(record.props.get("ttl") or ALIAS_TTL_SECONDS)
        for check in checks:
            if not depends_on(record, "healthCheckId", check):
                continue
            interval = int(check.props.get("requestInterval") or 30)
            threshold = int(check.props.get("failureThreshold") or 3)
            total = interval * threshold + ttl + allowance
            if total > rto:
                yield (
                    f"record {record.name}: detection {interval} s x {threshold} + TTL {ttl} s + "
                    f"scale-up {allowance} s = {total} s exceeds the RTO of {rto} s",
                    record.urn,
                )


def _pilot_light(
    resources: Sequence[PolicyResource], _: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    """The dr node groups run at the pilot-light sizes the failover handler returns them to."""
    for function in of_type(resources, "aws:lambda/function:Function"):
        variables = ((function.props.get("environment") or {}).get("variables")) or {}
        if "PILOT_LIGHT_PROFILE" not in variables:
            continue
        names = json.loads(variables["NODE_GROUPS"])
        pilot = json.loads(variables["PILOT_LIGHT_PROFILE"])
        for group in of_type(resources, "aws:eks/nodeGroup:NodeGroup"):
            matching = [g for g, n in names.items() if n == group.props.get("nodeGroupName")]
            for name in matching:
                desired = (group.props.get("scalingConfig") or {}).get("desiredSize")
                if desired is None or desired > pilot[name]["desiredSize"]:
                    declared = "no size" if desired is None else f"{desired:g} nodes"
                    yield (
                        f"dr node group {group.props.get('nodeGroupName')} declares {declared}, "
                        f"more than the pilot light's {pilot[name]['desiredSize']:g}",
                        group.urn,
                    )


def _schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=dict(properties))


POLICIES = [
    stack_policy(
        "s3-public-access-block",
        "Every S3 bucket has a public access block with all four settings on.",
        _public_access_blocks,
        severity=Severity.CRITICAL,
        remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with every flag true.",
    ),
    resource_policy(
        "kms-key-rotation",
        "Every symmetric customer KMS key rotates automatically.",
        ("aws:kms/key:Key",),
        _key_rotation,
        severity=Severity.HIGH,
        remediation="Set enable_key_rotation=True on the key.",
    ),
    resource_policy(
        "containers-non-root",
        "Containers never run as root (Kubernetes workloads and ECS tasks).",
        (*WORKLOAD_TYPES, "aws:ecs/taskDefinition:TaskDefinition"),
        _non_root,
        severity=Severity.HIGH,
        remediation="Set securityContext.runAsNonRoot: true, or a non-root user in ECS.",
    ),
    resource_policy(
        "alb-drop-invalid-headers",
        "Application load balancers drop invalid HTTP header fields.",
        ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"),
        _alb_invalid_headers,
        severity=Severity.MEDIUM,
        remediation="Set drop_invalid_header_fields=True on application load balancers.",
    ),
    resource_policy(
        "log-group-kms",
        "Every CloudWatch log group is encrypted with a customer KMS key.",
        ("aws:cloudwatch/logGroup:LogGroup",),
        _log_group_key,
        severity=Severity.MEDIUM,
        remediation="Set kms_key_id to a key whose policy lets logs.<region>.amazonaws.com use it.",
    ),
    resource_policy(
        "rds-hardening",
        "Databases are encrypted with a customer key, private, deletion-protected, backed up "
        "for at least N days, and Multi-AZ when they are writers.",
        RDS_TYPES,
        _rds,
        severity=Severity.HIGH,
        remediation="Set storage_encrypted, kms_key_id, deletion_protection, "
        "backup_retention_period and (writers) multi_az; never publicly_accessible.",
        config=_schema(minimumBackupDays={"type": "integer", "minimum": 1, "default": 7}),
    ),
    resource_policy(
        "dynamodb-hardening",
        "DynamoDB tables and replicas use a customer key and point-in-time recovery.",
        ("aws:dynamodb/table:Table", "aws:dynamodb/tableReplica:TableReplica"),
        _dynamodb,
        severity=Severity.HIGH,
        remediation="Set server_side_encryption with kms_key_arn and point_in_time_recovery.",
    ),
    stack_policy(
        "s3-encryption-versioning-tls",
        "S3 buckets use SSE-KMS with a customer key (access-log targets SSE-S3, as S3 "
        "requires), are versioned, and deny requests without TLS.",
        _bucket_settings,
        severity=Severity.HIGH,
        remediation="Use components.storage.SecureBucket, which sets all three.",
    ),
    resource_policy(
        "eks-hardening",
        "EKS clusters have no internet-open API endpoint, encrypt secrets with KMS and log "
        "every control-plane log type.",
        EKS_TYPES,
        _eks,
        severity=Severity.HIGH,
        remediation="endpoint_public_access=False (or narrow public_access_cidrs), "
        "encryption_config_key_arn, all five enabled_cluster_log_types.",
        config=_schema(
            minimumPublicPrefixLength={
                "type": "integer",
                "minimum": 1,
                "default": MINIMUM_PUBLIC_PREFIX,
            }
        ),
    ),
    stack_policy(
        "no-open-ingress",
        "No security group admits 0.0.0.0/0 or ::/0, except HTTPS (443) on a public load "
        "balancer's group.",
        _open_ingress,
        severity=Severity.CRITICAL,
        remediation="Admit a VPC CIDR or a security group instead of the internet.",
    ),
    resource_policy(
        "iam-least-privilege",
        "No IAM statement allows `*` actions, or a mutating action on `*` resources unless a "
        "condition on resource tags scopes it.",
        IAM_POLICY_TYPES,
        _iam,
        severity=Severity.HIGH,
        remediation="Name the actions and the resource ARNs the principal really needs.",
    ),
    stack_policy(
        "lambda-runtime-and-failure-handling",
        "Lambda functions use an allowed runtime and have an on-failure destination or DLQ.",
        _lambdas,
        severity=Severity.MEDIUM,
        remediation="Pick a runtime from the allow-list; add a FunctionEventInvokeConfig "
        "on_failure destination or a dead_letter_config.",
        config=_schema(
            runtimes={
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_RUNTIMES),
            }
        ),
    ),
    resource_policy(
        "messaging-encrypted",
        "SNS topics and SQS queues are encrypted.",
        ("aws:sns/topic:Topic", "aws:sqs/queue:Queue"),
        _messaging,
        severity=Severity.MEDIUM,
        remediation="Set kms_master_key_id to a customer key.",
    ),
    resource_policy(
        "no-latest-images",
        "No container image or Helm chart value uses `latest` or no tag.",
        (*WORKLOAD_TYPES, "kubernetes:helm.sh/v3:Release"),
        _image_tags,
        severity=Severity.MEDIUM,
        remediation="Pin images by version or digest and charts by version.",
    ),
    stack_policy(
        "eks-node-groups-ignore-scaling",
        "EKS managed node groups ignore scaling changes, so `pulumi up` never undoes failover.",
        _node_group_scaling,
        severity=Severity.HIGH,
        remediation="Set ignore_scaling_changes=True.",
    ),
    stack_policy(
        "dr-data-replicated",
        "In a stack that replicates a primary (its StackReference exports tables, a database "
        "and a records bucket), each of those stores has a replica.",
        _replicated,
        severity=Severity.CRITICAL,
        remediation="Use components.data.DataReplication in the dr stack.",
    ),
    stack_policy(
        "dr-failover-records",
        "Failover DNS records are PRIMARY (with a health check) or SECONDARY.",
        _failover_records,
        severity=Severity.CRITICAL,
        remediation="Give the PRIMARY failover record the primary region's health check.",
    ),
    stack_policy(
        "dr-detection-fits-rto",
        "Worst-case detection (interval x threshold) plus record TTL plus the scale-up "
        "allowance fits the RTO objective.",
        _detection_budget,
        severity=Severity.HIGH,
        remediation="Use a 10 s interval, a lower failure threshold or TTL, or raise the RTO.",
        config=_schema(
            rtoSeconds={"type": "integer", "minimum": 60, "default": 900},
            scaleUpAllowanceSeconds={"type": "integer", "minimum": 0, "default": 600},
        ),
    ),
    stack_policy(
        "dr-node-groups-at-pilot-light",
        "The dr node groups are declared at (or below) the pilot-light sizes the failover "
        "handler returns them to.",
        _pilot_light,
        severity=Severity.MEDIUM,
        remediation="Set the dr stack's trading:capacity.activeProfile to pilot-light.",
        enforcement=ADVISORY,
    ),
]
