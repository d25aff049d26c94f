"""IAM roles for Kubernetes service accounts (IRSA): one service account of one cluster only."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


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
