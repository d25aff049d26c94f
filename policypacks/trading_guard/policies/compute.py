"""Compute and Kubernetes: EKS clusters, Kubernetes workloads and Helm releases, Lambda
functions, EC2 instances, launch templates and EBS volumes.

pulumi-eks's components reach the engine with no inputs (a component holds no cloud state;
pulumi/pulumi-kubernetes#2144 shows the same for any component): a cluster's settings are those
of the aws:eks/cluster:Cluster it creates, which is what the EKS policies judge.

Helm's v4 `Chart` is such a component too: the engine hands a multi-language component's inputs
to its provider's Construct (pulumi pkg/resource/deploy/source_eval.go), and policies see the
component with empty properties (pulumi/pulumi-kubernetes#2144). The Helm rules therefore judge
v3 `Release` only; a v4 Chart's version cannot be judged, and the Kubernetes resources it
renders are judged as workloads.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from .common import (
    ADVISORY,
    Settings,
    Stack,
    amount,
    depends_on,
    dig,
    each,
    flag,
    items,
    known_items,
    mapping,
    number,
    peek,
    referring,
    resource_policy,
    stack_policy,
    strings,
    text,
    walk,
)

EKS_CLUSTER = "aws:eks/cluster:Cluster"
WORKLOADS = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
)
# Helm resources whose properties policies see: v3 Release. The v4 Chart (HELM_V4_CHART) is a
# component whose properties reach policies empty (see the module's docstring).
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release",)
HELM_V4_CHART = "kubernetes:helm.sh/v4:Chart"
ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
VOLUME = "aws:ebs/volume:Volume"
SUBNET = "aws:ec2/subnet:Subnet"
EBS_DEFAULT_ENCRYPTION = "aws:ebs/encryptionByDefault:EncryptionByDefault"


# -- Kubernetes workloads ---------------------------------------------------------------------


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    if resource_type == "kubernetes:core/v1:Pod":
        return mapping(props.get("spec"))
    if resource_type == "kubernetes:batch/v1:CronJob":
        return mapping(dig(props, "spec", "jobTemplate", "spec", "template", "spec"))
    return mapping(dig(props, "spec", "template", "spec"))


def containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pod's init and app containers; one not known yet is noted and left out (each rule
    here is broken by a container on its own)."""
    return [
        mapping(c)
        for c in [*known_items(spec.get("initContainers")), *known_items(spec.get("containers"))]
    ]


def runs_as_root(context: Any) -> bool | None:
    """True or False when the security context decides, None when it is silent."""
    context = mapping(context)
    user = number(context.get("runAsUser"))
    if user == 0:
        return True
    if flag(context.get("runAsNonRoot"), False) or user is not None:
        return False
    return None


def ecs_containers(value: Any) -> list[Mapping[str, Any]]:
    """An ECS task's container definitions, given as JSON text or a list."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [mapping(c) for c in items(value)]


def _non_root(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if args.resource_type == ECS_TASK:

        def judge_task(container: Mapping[str, Any]) -> Iterable[str]:
            user = (text(container.get("user")) or "").split(":")[0]
            if user in ("", "0", "root"):
                yield f"ECS container {text(container.get('name'))} runs as root (set a user)"

        yield from each(ecs_containers(args.props.get("containerDefinitions")), judge_task)
        return
    spec = pod_spec(args.resource_type, args.props)

    def judge(container: Mapping[str, Any]) -> Iterable[str]:
        own = runs_as_root(container.get("securityContext"))
        # The pod's context decides only for a container silent on its own.
        if own is True or (own is None and runs_as_root(spec.get("securityContext")) is not False):
            yield (
                f"container {text(container.get('name'))} may run as root (set runAsNonRoot: true)"
            )

    yield from each(containers(spec), judge)


def unpinned(image: str) -> bool:
    last = image.rsplit("/", 1)[-1]
    return "@" not in last and (":" not in last or last.endswith(":latest"))


def _image_tags(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if args.resource_type in HELM_RELEASES:
        for path, value in walk(args.props.get("values")):
            if path.endswith(("tag", "image")) and str(value).endswith("latest"):
                yield f"Helm value {path} uses the latest tag"
        return

    def judge(container: Mapping[str, Any]) -> Iterable[str]:
        image = text(container.get("image")) or ""
        if unpinned(image):
            yield f"container {text(container.get('name'))}: image {image!r} is latest or untagged"

    yield from each(containers(pod_spec(args.resource_type, args.props)), judge)


def _chart_pinned(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    version = text(args.props.get("version"))
    if not version or version == "latest":
        yield f"chart {text(args.props.get('chart'))} is not pinned to a version"


# -- EKS ----------------------------------------------------------------------------------------

ALL_CLUSTER_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def too_broad(cidr: str, minimum_prefix: float) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen < minimum_prefix
    except ValueError:
        return True


def public_cidrs(cluster: Mapping[str, Any], partial: bool = False) -> list[str] | None:
    """The ranges a cluster's public endpoint admits, None when it has no public endpoint.
    EKS opens a public endpoint, to 0.0.0.0/0, unless told otherwise; the provider sends no
    empty list, so an empty publicAccessCidrs is that default too. With `partial`, ranges not
    known yet are noted and left out (for a rule any one range can break)."""
    vpc = mapping(cluster.get("vpcConfig"))
    if not flag(vpc.get("endpointPublicAccess"), True):
        return None
    given = vpc.get("publicAccessCidrs")
    if not partial:
        return strings(given) or ["0.0.0.0/0"]
    found = known_items(given)
    if not found and isinstance(given, Sequence) and not isinstance(given, str) and len(given):
        # Every range is unknown: whether EKS's default applies is not known either.
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["vpcConfig", "publicAccessCidrs"])
    return [t for v in found if (t := text(v)) is not None] or ["0.0.0.0/0"]


def _endpoint(args: ResourceValidationArgs, config: Settings) -> Iterable[str]:
    minimum = amount(config["minimumPublicPrefixLength"], 0)
    # Any one range too broad breaks the rule: ranges not known yet are left out.
    broad = [c for c in public_cidrs(args.props, partial=True) or [] if too_broad(c, minimum)]
    if broad:
        yield (
            f"the API endpoint is public to {', '.join(broad)}, broader than /{minimum:g} "
            "(endpointPublicAccess defaults to true, to 0.0.0.0/0)"
        )


def _secrets_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not text(dig(args.props, "encryptionConfig", "provider", "keyArn")):
        yield "Kubernetes secrets are not encrypted with a customer KMS key (encryptionConfig)"


def _control_plane_logs(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    enabled = set(strings(args.props.get("enabledClusterLogTypes")))
    missing = [log for log in ALL_CLUSTER_LOGS if log not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


# -- Lambda ---------------------------------------------------------------------------------------

DEFAULT_RUNTIMES = [
    "python3.12",
    "python3.13",
    "nodejs20.x",
    "nodejs22.x",
    "java21",
    "provided.al2023",
]


def _runtime(args: ResourceValidationArgs, config: Settings) -> Iterable[str]:
    # A container image function brings its own runtime.
    if args.props.get("packageType") == "Image":
        return
    allowed = strings(config["runtimes"])
    runtime = text(args.props.get("runtime"))
    if runtime not in allowed:
        yield f"runtime {runtime or '(none)'} is not one of {', '.join(allowed)}"


def _failure_destination(function: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    if text(dig(function.props, "deadLetterConfig", "targetArn")):
        return
    configs = referring(stack.of_type(INVOKE_CONFIG), "functionName", function, "name", "arn")
    if not any(
        text(dig(c.props, "destinationConfig", "onFailure", "destination")) for c in configs
    ):
        yield f"function {function.name} has no on-failure destination and no dead-letter queue"


# -- EC2 and EBS ----------------------------------------------------------------------------------


def _detailed_monitoring(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not flag(args.props.get("monitoring"), False):
        yield "instance has no detailed monitoring (monitoring defaults to false)"


def subnet_of(instance: PolicyResource, stack: Stack) -> PolicyResource | None:
    named = text(peek(instance.props, "subnetId"))
    for subnet in stack.of_type(SUBNET):
        if depends_on(instance, "subnetId", subnet) or (
            named is not None and named == text(peek(subnet.props, "id"))
        ):
            return subnet
    return None


def _public_ip(resource: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    if resource.resource_type == LAUNCH_TEMPLATE:

        def judge(interface: Any) -> Iterable[str]:
            if flag(mapping(interface).get("associatePublicIpAddress"), False):
                yield f"launch template {resource.name} gives instances a public IP address"

        yield from each(known_items(resource.props.get("networkInterfaces")), judge)
        return
    explicit = resource.props.get("associatePublicIpAddress")
    if explicit is not None:
        if flag(explicit, False):
            yield f"instance {resource.name} has a public IP address (associatePublicIpAddress)"
        return
    if not text(resource.props.get("subnetId")):
        yield (
            f"instance {resource.name} has no subnet: it launches into the default VPC's "
            "default subnet, which gives it a public IP address"
        )
        return
    subnet = subnet_of(resource, stack)
    if subnet is not None and flag(subnet.props.get("mapPublicIpOnLaunch"), False):
        yield f"instance {resource.name} gets a public IP address from subnet {subnet.name}"


def _imdsv2(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    options = mapping(args.props.get("metadataOptions"))
    if options.get("httpEndpoint") == "disabled":
        return
    if options.get("httpTokens") != "required":
        yield "instance metadata accepts IMDSv1 requests (httpTokens defaults to optional)"


def volumes(
    resource_type: str, name: str, props: Mapping[str, Any]
) -> list[Callable[[], tuple[str, Mapping[str, Any]]]]:
    """A reader of (label, EBS settings) for every volume a resource launches or is: each is
    read, and judged, on its own."""
    if resource_type == VOLUME:
        return [lambda: (name, props)]

    def device(entry: Any, settings: Callable[[Mapping[str, Any]], Any]) -> tuple[str, Any]:
        found = mapping(entry)
        return text(found.get("deviceName")) or "volume", mapping(settings(found))

    if resource_type == INSTANCE:
        return [
            lambda: ("root volume", mapping(props.get("rootBlockDevice"))),
            *(
                lambda d=d: device(d, lambda m: m)
                for d in known_items(props.get("ebsBlockDevices"))
            ),
        ]
    return [
        lambda m=m: device(m, lambda found: found.get("ebs"))
        for m in known_items(props.get("blockDeviceMappings"))
    ]


def _volumes_encrypted(resource: PolicyResource, stack: Stack, config: Settings) -> Iterable[str]:
    required_key = text(config["kmsKeyId"])

    def by_default() -> bool:
        # EBS encryption by default, declared in the stack, encrypts volumes that do not say.
        return any(
            flag(d.props.get("enabled"), True) for d in stack.of_type(EBS_DEFAULT_ENCRYPTION)
        )

    def judge(read: Callable[[], tuple[str, Mapping[str, Any]]]) -> Iterable[str]:
        label, ebs = read()
        given = ebs.get("encrypted")
        # A value flag reads the same whatever its default was given explicitly.
        explicit = flag(given, True) == flag(given, False)
        encrypted = flag(given, False) if explicit else by_default()
        if not encrypted:
            yield f"{resource.name}: {label} is not encrypted (encrypted defaults to false)"
        elif required_key and text(ebs.get("kmsKeyId")) != required_key:
            yield f"{resource.name}: {label} is not encrypted with the key {required_key}"

    yield from each(volumes(resource.resource_type, resource.name, resource.props), judge)


def _delete_on_termination(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    def judge(read: Callable[[], tuple[str, Mapping[str, Any]]]) -> Iterable[str]:
        label, ebs = read()
        # Volumes attached at launch through the API are deleted with the instance by default.
        if not flag(ebs.get("deleteOnTermination"), True):
            yield f"{label} outlives its instance (deleteOnTermination false)"

    yield from each(volumes(args.resource_type, args.name, args.props), judge)


def _approved_ami(args: ResourceValidationArgs, config: Settings) -> Iterable[str]:
    approved = strings(config["amiIds"])
    prop = "ami" if args.resource_type == INSTANCE else "imageId"
    image = text(args.props.get(prop))
    if approved and image and image not in approved:
        yield f"image {image} is not one of the approved AMIs"


POLICIES = [
    resource_policy(
        "containers-non-root",
        "Containers never run as root (Kubernetes workloads and ECS tasks) "
        "(https://kubernetes.io/docs/tasks/configure-pod-container/security-context/).",
        (*WORKLOADS, ECS_TASK),
        _non_root,
        severity=Severity.HIGH,
        remediation="Set securityContext.runAsNonRoot: true, or a non-root user in ECS.",
    ),
    resource_policy(
        "no-latest-images",
        "No container image or Helm release image value uses `latest` or no tag: such an "
        "image changes under a running Deployment "
        "(https://kubernetes.io/docs/concepts/containers/images/#image-names). A v4 Chart's "
        "values reach policies empty; the workloads it renders are judged instead.",
        (*WORKLOADS, *HELM_RELEASES),
        _image_tags,
        severity=Severity.MEDIUM,
        remediation="Pin images by version or digest.",
    ),
    resource_policy(
        "helm-chart-pinned",
        "Helm releases pin a chart version; without one every `pulumi up` may install a newer "
        "chart (https://www.pulumi.com/registry/packages/kubernetes/api-docs/helm/v3/release/). "
        "A v4 Chart is not judged: it is a component whose properties reach policies empty "
        "(https://github.com/pulumi/pulumi-kubernetes/issues/2144); the workloads it renders are "
        "judged by containers-non-root and no-latest-images.",
        HELM_RELEASES,
        _chart_pinned,
        severity=Severity.MEDIUM,
        remediation="Set version to the chart version you tested.",
    ),
    resource_policy(
        "eks-public-endpoint-restricted",
        "EKS API endpoints are private, or public only to ranges no broader than "
        "`minimumPublicPrefixLength`; EKS opens a public endpoint to 0.0.0.0/0 by default "
        "(https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).",
        (EKS_CLUSTER,),
        _endpoint,
        severity=Severity.HIGH,
        remediation="endpoint_public_access=False, or narrow public_access_cidrs.",
        config={"minimumPublicPrefixLength": {"type": "integer", "minimum": 1, "default": 16}},
    ),
    resource_policy(
        "eks-secrets-customer-key",
        "EKS clusters envelope-encrypt Kubernetes secrets with a customer KMS key; without one "
        "EKS (1.28 and later) uses a key owned by AWS, whose use the account can neither audit "
        "nor revoke (https://docs.aws.amazon.com/eks/latest/userguide/envelope-encryption.html).",
        (EKS_CLUSTER,),
        _secrets_encrypted,
        severity=Severity.HIGH,
        remediation="Set encryption_config_key_arn (pulumi-eks) or encryption_config.",
    ),
    resource_policy(
        "eks-control-plane-logging",
        "EKS clusters send every control-plane log type to CloudWatch Logs; none is on by "
        "default (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html).",
        (EKS_CLUSTER,),
        _control_plane_logs,
        severity=Severity.MEDIUM,
        remediation="Set enabled_cluster_log_types to all five types.",
    ),
    resource_policy(
        "lambda-runtime-allowed",
        "Lambda functions use a runtime from the `runtimes` allow-list, so none reaches its "
        "deprecation date unnoticed "
        "(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).",
        (FUNCTION,),
        _runtime,
        severity=Severity.MEDIUM,
        remediation="Pick a runtime from the allow-list, or extend it in policy-config.json.",
        config={
            "runtimes": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_RUNTIMES}
        },
    ),
    stack_policy(
        "lambda-failure-destination",
        "Lambda functions keep the events they fail on: an on-failure destination or a "
        "dead-letter queue "
        "(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).",
        (FUNCTION,),
        _failure_destination,
        severity=Severity.MEDIUM,
        remediation="Add a FunctionEventInvokeConfig on_failure destination or a "
        "dead_letter_config.",
    ),
    resource_policy(
        "ec2-detailed-monitoring",
        "EC2 instances have detailed (one-minute) monitoring, off by default "
        "(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-cloudwatch-new.html). "
        "Advisory by default: it is billed per instance.",
        (INSTANCE,),
        _detailed_monitoring,
        severity=Severity.LOW,
        remediation="Set monitoring=True.",
        enforcement=ADVISORY,
    ),
    stack_policy(
        "ec2-no-public-ip",
        "EC2 instances and launch templates give no public IPv4 address; an instance launched "
        "into a default subnet gets one unless told otherwise "
        "(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceNetworkInterfaceSpecification.html).",
        (INSTANCE, LAUNCH_TEMPLATE),
        _public_ip,
        severity=Severity.HIGH,
        remediation="Set associate_public_ip_address=False and launch into private subnets.",
    ),
    resource_policy(
        "ec2-imdsv2-required",
        "EC2 instances, launch templates and launch configurations require IMDSv2 session "
        "tokens; httpTokens defaults to optional "
        "(https://www.pulumi.com/registry/packages/aws/api-docs/ec2/launchtemplate/).",
        (INSTANCE, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION),
        _imdsv2,
        severity=Severity.HIGH,
        remediation='Set metadata_options.http_tokens="required".',
    ),
    stack_policy(
        "ebs-volumes-encrypted",
        "EBS volumes, and the volumes instances and launch templates create, are encrypted "
        "(with `kmsKeyId` when set); encrypted defaults to false unless the stack turns EBS "
        "encryption by default on (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html).",
        (INSTANCE, LAUNCH_TEMPLATE, VOLUME),
        _volumes_encrypted,
        severity=Severity.HIGH,
        remediation="Set encrypted=True and kms_key_id on every block device.",
        config={"kmsKeyId": {"type": "string", "default": ""}},
    ),
    resource_policy(
        "ebs-delete-on-termination",
        "Volumes created at launch are deleted with their instance (the API's default), so "
        "none is left behind, unowned and billed "
        "(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/preserving-volumes-on-termination.html).",
        (INSTANCE, LAUNCH_TEMPLATE),
        _delete_on_termination,
        severity=Severity.LOW,
        remediation="Leave delete_on_termination unset or true; snapshot data you must keep.",
    ),
    resource_policy(
        "ami-allow-list",
        "Instances, launch templates and launch configurations use an AMI from `amiIds` "
        "(every AMI while the list is empty) "
        "(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/AMIs.html).",
        (INSTANCE, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION),
        _approved_ami,
        severity=Severity.MEDIUM,
        remediation="Use an approved AMI, or add it to amiIds in policy-config.json.",
        config={"amiIds": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
]
