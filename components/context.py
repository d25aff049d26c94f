"""`RegionalContext`: what every component of one region needs from the region, in one value.

`TradingRegion` builds it once (its provider, account, logs key and alerts topic) and hands it
to its components and to the stack's other regional components, so none of them takes these
as a dozen separate fields, and none reaches into a sibling for them. Tags are not here: the
provider's default tags put them on every taggable resource that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import Account


@dataclass(frozen=True)
class RegionalContext:
    region: str
    # Physical names start with it (`trading-primary`).
    prefix: str
    # The EKS cluster's name: subnet tags, log groups and alarms name the cluster by it.
    cluster_name: str
    provider: aws.Provider
    account: pulumi.Output[Account]
    # Encrypts every CloudWatch log group of the region.
    logs_key_arn: pulumi.Output[str]
    log_retention_days: int
    # What the region's alarms page.
    alerts_topic_arn: pulumi.Output[str]

    def in_region(self, parent: pulumi.Resource | None = None) -> pulumi.ResourceOptions:
        """Options for a component of this region: its provider, handed down to children."""
        return pulumi.ResourceOptions(parent=parent, providers=[self.provider])
