"""`Account`: the identity facts (account, partition, region) that policies and names need."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Account:
    """Identity facts a policy or a name needs, resolved once per region."""

    account_id: str
    partition: str
    region: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


def current_account(region: str, provider: aws.Provider) -> pulumi.Output[Account]:
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider))
    return identity.apply(
        lambda i: Account(account_id=i.account_id, partition=i.arn.split(":")[1], region=region)
    )
