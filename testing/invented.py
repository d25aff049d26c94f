"""Outputs invented for resources that exist nowhere: ids, ARNs, endpoints and kubeconfigs in
the shapes AWS and pulumi-eks give them, so the program can run to the end offline. Shared by the
mock-runtime harness and the stand-in providers, so both invent the same values."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
# A reserved top-level domain (RFC 2606): no invented endpoint can ever resolve.
OFFLINE_DOMAIN = "offline.invalid"


@dataclass(frozen=True)
class _Created:
    """What is known of a resource when its outputs are invented."""

    name: str
    physical: str
    region: str
    inputs: dict[str, Any]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{resource}"


def _validation_options(r: _Created) -> dict[str, Any]:
    names = [r.inputs["domainName"], *r.inputs.get("subjectAlternativeNames", [])]
    return {
        "domainValidationOptions": [
            {
                "domainName": name,
                "resourceRecordName": f"_mock.{name}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_mock.acm-validations.aws.{name}.",
            }
            for name in names
        ]
    }


def _rds_instance(r: _Created) -> dict[str, Any]:
    identifier = r.inputs.get("identifier")
    return {
        "arn": r.arn("rds", f"db:{identifier}"),
        "address": f"{identifier}.mock.{r.region}.rds.amazonaws.com",
    }


def _rds_cluster(r: _Created) -> dict[str, Any]:
    identifier = r.inputs.get("clusterIdentifier")
    return {
        "arn": r.arn("rds", f"cluster:{identifier}"),
        "endpoint": f"{identifier}.cluster-mock.{r.region}.rds.amazonaws.com",
    }


# Where a new ARC cluster's five endpoints are, as DescribeCluster lists them
# (https://docs.aws.amazon.com/recovery-cluster/latest/api/describe-cluster.html).
ARC_ENDPOINT_REGIONS = ("us-east-1", "ap-southeast-2", "eu-west-1", "us-west-2", "ap-northeast-1")
_ARC = f"arn:aws:route53-recovery-control::{ACCOUNT}"


def _arc_cluster(r: _Created) -> dict[str, Any]:
    return {
        "arn": f"{_ARC}:cluster/{r.name}",
        "status": "DEPLOYED",
        "clusterEndpoints": [
            {"region": region, "endpoint": f"https://{r.name}.{region}.{OFFLINE_DOMAIN}/v1"}
            for region in ARC_ENDPOINT_REGIONS
        ],
    }


def _arc_child(kind: str) -> Callable[[_Created], dict[str, Any]]:
    """A routing control's or safety rule's ARN, under its control panel's."""
    return lambda r: {
        "arn": f"{r.inputs.get('controlPanelArn')}/{kind}/{r.name}",
        "status": "DEPLOYED",
    }


_INVENTED_OUTPUTS: dict[str, Callable[[_Created], dict[str, Any]]] = {
    "aws:route53recoverycontrol/cluster:Cluster": _arc_cluster,
    "aws:route53recoverycontrol/controlPanel:ControlPanel": lambda r: {
        "arn": f"{_ARC}:controlpanel/{r.name}",
        "status": "DEPLOYED",
    },
    "aws:route53recoverycontrol/routingControl:RoutingControl": _arc_child("routingcontrol"),
    "aws:route53recoverycontrol/safetyRule:SafetyRule": _arc_child("safetyrule"),
    "aws:kms/key:Key": lambda r: {
        "keyId": f"key-{r.name}",
        "arn": r.arn("kms", f"key/key-{r.name}"),
    },
    "aws:cloudwatch/logGroup:LogGroup": lambda r: {"arn": r.arn("logs", f"log-group:{r.physical}")},
    "aws:iam/role:Role": lambda r: {
        "name": r.physical,
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{r.physical}",
    },
    "eks:index:Cluster": lambda r: _cluster_outputs(r.physical, r.region),
    "aws:s3/bucket:Bucket": lambda r: {"arn": f"arn:aws:s3:::{r.inputs.get('bucket')}"},
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/cluster:Cluster": _rds_cluster,
    "aws:rds/globalCluster:GlobalCluster": lambda r: {
        "id": str(r.inputs.get("globalClusterIdentifier"))
    },
    "aws:dynamodb/table:Table": lambda r: {"arn": r.arn("dynamodb", f"table/{r.physical}")},
    "aws:acm/certificate:Certificate": _validation_options,
    "aws:apigateway/domainName:DomainName": lambda r: {
        "regionalDomainName": f"d-{r.name}.execute-api.{r.region}.amazonaws.com",
        "regionalZoneId": f"ZMOCK{r.region.upper().replace('-', '')}",
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda r: {
        "dnsName": f"{r.physical}.elb.{r.region}.amazonaws.com"
    },
    "aws:route53/record:Record": lambda r: {"fqdn": str(r.inputs.get("name"))},
    "aws:ec2transitgateway/transitGateway:TransitGateway": lambda r: {
        "associationDefaultRouteTableId": f"tgw-rtb-{r.name}"
    },
    "aws:ec2/launchTemplate:LaunchTemplate": lambda r: {"latestVersion": 1},
    "random:index/randomPassword:RandomPassword": lambda r: {
        "result": "mock-password-not-a-secret"
    },
}


def _cluster_outputs(name: str, region: str) -> dict[str, Any]:
    issuer = f"oidc.eks.{region}.amazonaws.com/id/MOCK{name.upper().replace('-', '')}"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": f"https://{name}.{region}.{OFFLINE_DOMAIN}"}}
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {}}],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "oidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}",
        "oidcProviderUrl": f"https://{issuer}",
        "oidcIssuer": issuer,
        "clusterSecurityGroupId": f"sg-{name}-cluster",
    }


def region_of_endpoint(url: str) -> str | None:
    """The region an invented cluster endpoint belongs to (None for any other URL)."""
    host = url.removeprefix("https://").split("/", 1)[0]
    if not host.endswith("." + OFFLINE_DOMAIN):
        return None
    return host.removesuffix("." + OFFLINE_DOMAIN).rsplit(".", 1)[-1]


def invented_outputs(
    type_: str, name: str, region: str, inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The outputs the program reads from a resource of `type_` that it created with `inputs`
    through a provider for `region` (a resource's own `region` input wins)."""
    region = str(inputs.get("region") or region)
    service = type_.split(":")[1].split("/", maxsplit=1)[0]
    physical = str(inputs.get("name") or name)
    outputs: dict[str, Any] = {}
    if "arn" not in inputs:
        outputs["arn"] = f"arn:aws:{service}:{region}:{ACCOUNT}:{physical}"
    invent = _INVENTED_OUTPUTS.get(type_)
    if invent is not None:
        outputs.update(invent(_Created(name, physical, region, dict(inputs))))
    return outputs
