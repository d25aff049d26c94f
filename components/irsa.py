"""IAM roles for Kubernetes service accounts (IRSA): one service account of one cluster only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# The service-account annotation EKS's pod identity webhook reads the role from.
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def irsa_trust(
    oidc_provider_arn: str, oidc_provider_url: str, namespace: str, service_account: str
) -> str:
    issuer = oidc_provider_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


@dataclass(frozen=True)
class OidcProvider:
    """The cluster's IAM OIDC provider, as pulumi-eks exports it."""

    arn: pulumi.Input[str]
    url: pulumi.Input[str]


def irsa_role(
    name: str,
    oidc: OidcProvider,
    *,
    namespace: str,
    service_account: str,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    return aws.iam.Role(
        name,
        assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(
            lambda v: irsa_trust(v[0], v[1], namespace, service_account)
        ),
        opts=opts,
    )


@dataclass(frozen=True)
class ServiceAccountRole:
    """An IRSA role and the one Kubernetes service account its trust names: the pairing is
    defined once, here, and both the role and the chart values are made from it."""

    namespace: str
    service_account: str
    role: aws.iam.Role

    def helm_values(self) -> dict[str, Any]:
        """A chart's `serviceAccount` values. The name is always explicit: unset, charts derive
        it from the release's full name (the grafana chart's `grafana.serviceAccountName`, for
        example), and the role's trust would name an account that does not exist."""
        return {
            "create": True,
            "name": self.service_account,
            "annotations": {ROLE_ARN_ANNOTATION: self.role.arn},
        }


def service_account_role(
    name: str,
    oidc: OidcProvider,
    *,
    namespace: str,
    service_account: str,
    opts: pulumi.ResourceOptions,
) -> ServiceAccountRole:
    role = irsa_role(name, oidc, namespace=namespace, service_account=service_account, opts=opts)
    return ServiceAccountRole(namespace, service_account, role)
