"""The physical names this program gives AWS resources and each service's length limit, in one
table. Settings refuse a `trading:namePrefix` that would make any of them too long (AWS refuses
such a name only at `pulumi up`); tests/test_deploy_rules.py checks that the program names each
resource exactly as its row says, so the table cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

# Long enough for any account: the length, not the value, is what a rule checks.
ACCOUNT_PLACEHOLDER = "123456789012"
NODE_GROUPS = ("system", "trading", "latency")


@dataclass(frozen=True)
class PhysicalName:
    """`template` uses {cluster} (<namePrefix>-<role>), {account} and {group}."""

    what: str
    type: str
    prop: str
    template: str
    limit: int
    source: str

    def render(self, cluster: str, account: str = ACCOUNT_PLACEHOLDER, group: str = "") -> str:
        return self.template.format(cluster=cluster, account=account, group=group)

    def longest(self, cluster: str) -> str:
        return max((self.render(cluster, group=g) for g in NODE_GROUPS), key=len)


PHYSICAL_NAMES = (
    PhysicalName(
        "network load balancer",
        "aws:lb/loadBalancer:LoadBalancer",
        "name",
        "{cluster}-gateway",
        32,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    ),
    PhysicalName(
        "target group",
        "aws:lb/targetGroup:TargetGroup",
        "name",
        "{cluster}-gateway",
        32,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    ),
    PhysicalName(
        "records bucket",
        "aws:s3/bucket:Bucket",
        "bucket",
        "{cluster}-records-{account}",
        63,
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    PhysicalName(
        "access-log bucket",
        "aws:s3/bucket:Bucket",
        "bucket",
        "{cluster}-access-logs-{account}",
        63,
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    PhysicalName(
        "AWS Config bucket",
        "aws:s3/bucket:Bucket",
        "bucket",
        "{cluster}-config-{account}",
        63,
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    PhysicalName(
        "database instance",
        "aws:rds/instance:Instance",
        "identifier",
        "{cluster}-db",
        63,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
    ),
    PhysicalName(
        "Aurora cluster",
        "aws:rds/cluster:Cluster",
        "clusterIdentifier",
        "{cluster}-db",
        63,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
    ),
    PhysicalName(
        "Aurora cluster instance",
        "aws:rds/clusterInstance:ClusterInstance",
        "identifier",
        # The first instance; a Multi-AZ cluster's second, `-1`, is as long
        # (components/database_aurora.py).
        "{cluster}-db-0",
        63,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
    ),
    PhysicalName(
        "failover function",
        "aws:lambda/function:Function",
        "name",
        "{cluster}-failover",
        64,
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    ),
    PhysicalName(
        "failover dead-letter queue",
        "aws:sqs/queue:Queue",
        "name",
        "{cluster}-failover-on-failure",
        80,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    PhysicalName(
        "EKS managed node group",
        "eks:index:ManagedNodeGroup",
        "nodeGroupName",
        "{cluster}-{group}",
        63,
        "https://www.pulumi.com/registry/packages/aws/api-docs/eks/nodegroup/",
    ),
    PhysicalName(
        "VPC flow-log group",
        "aws:cloudwatch/logGroup:LogGroup",
        "name",
        "/trading/{cluster}/vpc-flow-logs",
        512,
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    ),
)


def overflows(cluster: str) -> list[str]:
    """Each physical name `cluster` would make longer than its service allows."""
    return [
        f"the {rule.what} name {rule.longest(cluster)!r} would be "
        f"{len(rule.longest(cluster))} characters, over the {rule.limit} allowed ({rule.source})"
        for rule in PHYSICAL_NAMES
        if len(rule.longest(cluster)) > rule.limit
    ]
