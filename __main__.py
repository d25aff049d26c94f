"""The trading platform program: settings -> components -> exports. No resource is declared here."""

import pulumi

import settings as stack_settings
from components.region import TradingRegion, TradingRegionArgs

config = stack_settings.load()

region = TradingRegion(
    config.role,
    TradingRegionArgs(
        region=config.region,
        cluster_name=config.cluster_name,
        network=config.network,
        capacity=config.capacity.active,
        eks=config.eks,
        log_retention_days=config.log_retention_days,
        tags=config.resource_tags,
    ),
)

pulumi.export("role", config.role)
pulumi.export("region", config.region)
pulumi.export("vpcId", region.vpc_id)
pulumi.export("publicSubnetIds", region.public_subnet_ids)
pulumi.export("privateSubnetIds", region.private_subnet_ids)
pulumi.export("dataSubnetIds", region.data_subnet_ids)
pulumi.export("clusterName", region.cluster_name)
pulumi.export("nodeGroupNames", region.node_group_names)
pulumi.export("kubeconfig", region.kubeconfig)
pulumi.export("keyArns", region.key_arns)
# Both profiles, so failover (and a reviewer) sees the exact sizes dr scales between.
pulumi.export(
    "capacityProfiles",
    {name: profile.as_config() for name, profile in config.capacity.profiles.items()},
)
pulumi.export("activeCapacityProfile", config.capacity.active_profile)
