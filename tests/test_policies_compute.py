"""Compute and Kubernetes policies, case by case: workloads and Helm releases, EKS clusters,
Lambda functions, EC2 instances, launch templates and EBS volumes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_policies import UNKNOWN, Case, R, case, check

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRONJOB = "kubernetes:batch/v1:CronJob"
RELEASE = "kubernetes:helm.sh/v3:Release"
ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"
EKS = "aws:eks/cluster:Cluster"
FUNCTION = "aws:lambda/function:Function"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
VOLUME = "aws:ebs/volume:Volume"
SUBNET = "aws:ec2/subnet:Subnet"
EBS_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
RUNTIMES = "python3.12, python3.13, nodejs20.x, nodejs22.x, java21, provided.al2023"


def deployment(
    pod_context: Any = None, container_context: Any = None, image: Any = "nginx:1.27"
) -> R:
    container: dict[str, Any] = {"name": "app", "image": image}
    if container_context is not None:
        container["securityContext"] = container_context
    spec: dict[str, Any] = {"containers": [container]}
    if pod_context is not None:
        spec["securityContext"] = pod_context
    return R(DEPLOYMENT, {"spec": {"template": {"spec": spec}}})


def eks(**vpc: Any) -> R:
    return R(
        EKS,
        {
            "vpcConfig": vpc,
            "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}},
            "enabledClusterLogTypes": ALL_LOGS,
        },
    )


def template(**ebs: Any) -> R:
    mapping = {"deviceName": "/dev/xvda", "ebs": ebs}
    return R(LAUNCH_TEMPLATE, {"blockDeviceMappings": [mapping]}, "nodes")


FUNCTION_F = R(FUNCTION, {"name": "f", "runtime": "python3.12"}, "f")
PRIVATE_SUBNET = R(SUBNET, {"mapPublicIpOnLaunch": False}, "private")
PUBLIC_SUBNET = R(SUBNET, {"mapPublicIpOnLaunch": True}, "public")


def invoke_config(destination: Any) -> R:
    return R(
        INVOKE_CONFIG,
        {"functionName": "f", "destinationConfig": {"onFailure": {"destination": destination}}},
        "f",
        {"functionName": [FUNCTION_F]},
    )


def instance(subnet: R | None = None, **props: Any) -> R:
    deps = {"subnetId": [subnet]} if subnet else {}
    given = {"subnetId": f"{subnet.name}-id"} if subnet else {}
    return R(INSTANCE, {**given, **props}, "i", deps)


CASES = [
    case("containers-non-root", "compliant", deployment({"runAsNonRoot": True})),
    case(
        "containers-non-root",
        "non-compliant: a container overrides the pod",
        deployment({"runAsNonRoot": True}, {"runAsUser": 0}),
        "container app may run as root (set runAsNonRoot: true)",
    ),
    case(
        "containers-non-root",
        "missing",
        deployment(),
        "container app may run as root (set runAsNonRoot: true)",
    ),
    case("containers-non-root", "unknown", deployment(UNKNOWN)),
    case(
        "containers-non-root",
        "compliant: a cron job's pod",
        R(
            CRONJOB,
            {
                "spec": {
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "securityContext": {"runAsUser": 1000},
                                    "containers": [{"name": "job", "image": "job:1"}],
                                }
                            }
                        }
                    }
                }
            },
        ),
    ),
    case(
        "containers-non-root",
        "compliant: an ECS container with a user",
        R(ECS_TASK, {"containerDefinitions": json.dumps([{"name": "a", "user": "1000"}])}),
    ),
    case(
        "containers-non-root",
        "missing ECS user",
        R(ECS_TASK, {"containerDefinitions": json.dumps([{"name": "a"}])}),
        "ECS container a runs as root (set a user)",
    ),
    case("no-latest-images", "compliant", deployment({"runAsNonRoot": True})),
    case(
        "no-latest-images",
        "non-compliant",
        deployment(image="nginx:latest"),
        "container app: image 'nginx:latest' is latest or untagged",
    ),
    case(
        "no-latest-images",
        "missing tag",
        deployment(image="registry.example:5000/nginx"),
        "container app: image 'registry.example:5000/nginx' is latest or untagged",
    ),
    case("no-latest-images", "unknown image", deployment(image=UNKNOWN)),
    case(
        "no-latest-images",
        "non-compliant Helm value",
        R(RELEASE, {"chart": "c", "version": "1", "values": {"image": {"tag": "latest"}}}),
        "Helm value image.tag uses the latest tag",
    ),
    case("helm-chart-pinned", "compliant", R(RELEASE, {"chart": "c", "version": "1.2.3"})),
    case(
        "helm-chart-pinned",
        "non-compliant",
        R(RELEASE, {"chart": "c", "version": "latest"}),
        "chart c is not pinned to a version",
    ),
    case(
        "helm-chart-pinned",
        "missing",
        R(RELEASE, {"chart": "c"}),
        "chart c is not pinned to a version",
    ),
    case("helm-chart-pinned", "unknown", R(RELEASE, {"chart": "c", "version": UNKNOWN})),
    case(
        "helm-chart-pinned",
        "compliant: a v4 Chart is not judged, its properties reach policies empty",
        R("kubernetes:helm.sh/v4:Chart", {}, "chart"),
    ),
    case("eks-public-endpoint-restricted", "compliant", eks(endpointPublicAccess=False)),
    case(
        "eks-public-endpoint-restricted",
        "compliant: narrowed to an office",
        eks(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]),
    ),
    case(
        "eks-public-endpoint-restricted",
        "non-compliant: the two halves of the internet are the internet",
        eks(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/1"]),
        "the API endpoint is public to 0.0.0.0/1, 128.0.0.0/1, broader than /16 "
        "(endpointPublicAccess defaults to true, to 0.0.0.0/0)",
    ),
    case(
        "eks-public-endpoint-restricted",
        "missing",
        eks(),
        "the API endpoint is public to 0.0.0.0/0, broader than /16 "
        "(endpointPublicAccess defaults to true, to 0.0.0.0/0)",
    ),
    case("eks-public-endpoint-restricted", "unknown", eks(publicAccessCidrs=UNKNOWN)),
    case(
        "eks-public-endpoint-restricted",
        "compliant under a relaxed prefix",
        eks(publicAccessCidrs=["198.0.0.0/12"]),
        config={"minimumPublicPrefixLength": 12},
    ),
    case("eks-secrets-customer-key", "compliant", eks(endpointPublicAccess=False)),
    case(
        "eks-secrets-customer-key",
        "non-compliant: no key in the configuration",
        R(EKS, {"encryptionConfig": {"resources": ["secrets"], "provider": {}}}),
        "Kubernetes secrets are not encrypted with a customer KMS key (encryptionConfig)",
    ),
    case(
        "eks-secrets-customer-key",
        "missing",
        R(EKS),
        "Kubernetes secrets are not encrypted with a customer KMS key (encryptionConfig)",
    ),
    case(
        "eks-secrets-customer-key",
        "unknown",
        R(EKS, {"encryptionConfig": {"provider": {"keyArn": UNKNOWN}}}),
    ),
    case("eks-control-plane-logging", "compliant", eks()),
    case(
        "eks-control-plane-logging",
        "non-compliant",
        R(EKS, {"enabledClusterLogTypes": ["api", "audit"]}),
        "control-plane log types not enabled: authenticator, controllerManager, scheduler",
    ),
    case(
        "eks-control-plane-logging",
        "missing",
        R(EKS),
        "control-plane log types not enabled: api, audit, authenticator, controllerManager, "
        "scheduler",
    ),
    case("eks-control-plane-logging", "unknown", R(EKS, {"enabledClusterLogTypes": UNKNOWN})),
    case("lambda-runtime-allowed", "compliant", FUNCTION_F),
    case(
        "lambda-runtime-allowed",
        "non-compliant",
        R(FUNCTION, {"runtime": "python3.8"}),
        f"runtime python3.8 is not one of {RUNTIMES}",
    ),
    case(
        "lambda-runtime-allowed",
        "missing",
        R(FUNCTION),
        f"runtime (none) is not one of {RUNTIMES}",
    ),
    case("lambda-runtime-allowed", "unknown", R(FUNCTION, {"runtime": UNKNOWN})),
    case(
        "lambda-runtime-allowed",
        "compliant: a container image brings its runtime",
        R(FUNCTION, {"packageType": "Image"}),
    ),
    case(
        "lambda-runtime-allowed",
        "non-compliant under a narrower allow-list",
        FUNCTION_F,
        "runtime python3.12 is not one of python3.13",
        config={"runtimes": ["python3.13"]},
    ),
    case("lambda-failure-destination", "compliant", [FUNCTION_F, invoke_config("arn:aws:sqs:q")]),
    case(
        "lambda-failure-destination",
        "compliant: a dead-letter queue",
        R(FUNCTION, {"deadLetterConfig": {"targetArn": "arn:aws:sqs:q"}}),
    ),
    case(
        "lambda-failure-destination",
        "non-compliant: an invoke config without an on-failure destination",
        [FUNCTION_F, invoke_config(None)],
        "function f has no on-failure destination and no dead-letter queue",
    ),
    case(
        "lambda-failure-destination",
        "missing",
        FUNCTION_F,
        "function f has no on-failure destination and no dead-letter queue",
    ),
    case("lambda-failure-destination", "unknown", [FUNCTION_F, invoke_config(UNKNOWN)]),
    case("ec2-detailed-monitoring", "compliant", R(INSTANCE, {"monitoring": True})),
    case(
        "ec2-detailed-monitoring",
        "non-compliant",
        R(INSTANCE, {"monitoring": False}),
        "instance has no detailed monitoring (monitoring defaults to false)",
    ),
    case(
        "ec2-detailed-monitoring",
        "missing",
        R(INSTANCE),
        "instance has no detailed monitoring (monitoring defaults to false)",
    ),
    case("ec2-detailed-monitoring", "unknown", R(INSTANCE, {"monitoring": UNKNOWN})),
    case("ec2-no-public-ip", "compliant", instance(PRIVATE_SUBNET)),
    case(
        "ec2-no-public-ip",
        "non-compliant",
        instance(PRIVATE_SUBNET, associatePublicIpAddress=True),
        "instance i has a public IP address (associatePublicIpAddress)",
    ),
    case(
        "ec2-no-public-ip",
        "missing, in a public subnet",
        instance(PUBLIC_SUBNET),
        "instance i gets a public IP address from subnet public",
    ),
    case(
        "ec2-no-public-ip",
        "missing subnet (the default VPC's default subnet)",
        R(INSTANCE, {}, "i"),
        "instance i has no subnet: it launches into the default VPC's default subnet, which "
        "gives it a public IP address",
    ),
    case("ec2-no-public-ip", "unknown", R(INSTANCE, {"subnetId": UNKNOWN}, "i")),
    case(
        "ec2-no-public-ip",
        "non-compliant launch template",
        R(LAUNCH_TEMPLATE, {"networkInterfaces": [{"associatePublicIpAddress": "true"}]}, "lt"),
        "launch template lt gives instances a public IP address",
    ),
    case(
        "ec2-imdsv2-required",
        "compliant",
        R(LAUNCH_TEMPLATE, {"metadataOptions": {"httpTokens": "required"}}),
    ),
    case(
        "ec2-imdsv2-required",
        "non-compliant",
        R(INSTANCE, {"metadataOptions": {"httpTokens": "optional"}}),
        "instance metadata accepts IMDSv1 requests (httpTokens defaults to optional)",
    ),
    case(
        "ec2-imdsv2-required",
        "missing",
        R(LAUNCH_TEMPLATE),
        "instance metadata accepts IMDSv1 requests (httpTokens defaults to optional)",
    ),
    case(
        "ec2-imdsv2-required",
        "unknown",
        R(INSTANCE, {"metadataOptions": {"httpTokens": UNKNOWN}}),
    ),
    case(
        "ec2-imdsv2-required",
        "compliant: no metadata service at all",
        R(INSTANCE, {"metadataOptions": {"httpEndpoint": "disabled"}}),
    ),
    case("ebs-volumes-encrypted", "compliant", template(encrypted="true", kmsKeyId="k")),
    case(
        "ebs-volumes-encrypted",
        "non-compliant",
        R(VOLUME, {"encrypted": False}, "data"),
        "data: data is not encrypted (encrypted defaults to false)",
    ),
    case(
        "ebs-volumes-encrypted",
        "missing",
        R(INSTANCE, {}, "i"),
        "i: root volume is not encrypted (encrypted defaults to false)",
    ),
    case(
        "ebs-volumes-encrypted",
        "missing, with EBS encryption by default in the stack",
        [R(INSTANCE, {}, "i"), R(EBS_DEFAULT, {"enabled": True})],
    ),
    case("ebs-volumes-encrypted", "unknown", template(encrypted=UNKNOWN)),
    case(
        "ebs-volumes-encrypted",
        "non-compliant with another key than the required one",
        template(encrypted="true", kmsKeyId="other"),
        "nodes: /dev/xvda is not encrypted with the key required",
        config={"kmsKeyId": "required"},
    ),
    case("ebs-delete-on-termination", "compliant", template(deleteOnTermination="true")),
    case(
        "ebs-delete-on-termination",
        "non-compliant",
        template(deleteOnTermination="false"),
        "/dev/xvda outlives its instance (deleteOnTermination false)",
    ),
    case("ebs-delete-on-termination", "missing (deleted with the instance by default)", template()),
    case("ebs-delete-on-termination", "unknown", template(deleteOnTermination=UNKNOWN)),
    case(
        "ami-allow-list",
        "compliant: every AMI while the list is empty",
        R(INSTANCE, {"ami": "ami-1"}),
    ),
    case(
        "ami-allow-list",
        "non-compliant",
        R(INSTANCE, {"ami": "ami-2"}),
        "image ami-2 is not one of the approved AMIs",
        config={"amiIds": ["ami-1"]},
    ),
    case(
        "ami-allow-list",
        "missing image (EKS picks the node AMI)",
        R(LAUNCH_TEMPLATE),
        config={"amiIds": ["ami-1"]},
    ),
    case(
        "ami-allow-list",
        "unknown",
        R(LAUNCH_TEMPLATE, {"imageId": UNKNOWN}),
        config={"amiIds": ["ami-1"]},
    ),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_compute_policy(spec: Case) -> None:
    check(spec)
