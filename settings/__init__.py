"""Typed, validated stack settings: the only place that reads `trading:*` configuration.

`parse()` turns the raw config mapping into frozen pydantic models or raises one `SettingsError`
listing every problem, each naming the key, the bad value and what is allowed. `load()` reads
the mapping from `pulumi.Config`; components receive the typed models, never the config.

Where things are: `stack.py` (`Settings`, the rules across keys, `parse`, `load`), one module
per group of keys (`network.py`, `capacity.py`, `data.py`, `operations.py`), `fields.py` (the
base model and the rules fields use), `errors.py` (the error format) and `reference.py`, which
writes the key reference in `Pulumi.yaml` and the README from the models' descriptions:
`python -m settings.reference --write`.
"""

from settings.capacity import (
    LATENCY_NODE_GROUP,
    NAT_MODES,
    NODE_GROUP_ROLES,
    NON_ENA_FAMILIES,
    PROFILE_NAMES,
    AddonRequests,
    Capacity,
    CapacityProfile,
    GatewaySize,
    NodeGroupSize,
)
from settings.data import (
    AUTO_MINOR_VERSION_UPGRADE,
    DATABASE_ENGINES,
    MAX_RPO_SECONDS,
    MAX_RTO_SECONDS,
    REPLICATION_DIRECTIONS,
    Database,
    Objectives,
    Records,
    Replication,
)
from settings.errors import NAMESPACE, SettingsError
from settings.network import (
    CLUSTER_LOG_TYPES,
    MAX_AZ_COUNT,
    MIN_AZ_COUNT,
    REGION_AZS,
    Connectivity,
    EksSettings,
    LowLatency,
    Network,
    Vpn,
)
from settings.operations import (
    API_AUTHORIZATIONS,
    FAILOVER_MODES,
    HEALTH_CHECK_INTERVALS,
    HEALTH_CHECK_INVERSION,
    ROUTING_CONTROL,
    TRAFFIC_CONTROLS,
    WRITE_GATE_PORT,
    Dns,
    Failover,
    Gateway,
    Observability,
    SecurityBaseline,
)
from settings.stack import (
    CONFIG_KEYS,
    LOG_RETENTION_DAYS,
    ROLES,
    STRING_KEYS,
    STRUCTURED_KEYS,
    Settings,
    load,
    parse,
)

__all__ = [
    "API_AUTHORIZATIONS",
    "AUTO_MINOR_VERSION_UPGRADE",
    "CLUSTER_LOG_TYPES",
    "CONFIG_KEYS",
    "DATABASE_ENGINES",
    "FAILOVER_MODES",
    "HEALTH_CHECK_INTERVALS",
    "HEALTH_CHECK_INVERSION",
    "LATENCY_NODE_GROUP",
    "LOG_RETENTION_DAYS",
    "MAX_AZ_COUNT",
    "MAX_RPO_SECONDS",
    "MAX_RTO_SECONDS",
    "MIN_AZ_COUNT",
    "NAMESPACE",
    "NAT_MODES",
    "NODE_GROUP_ROLES",
    "NON_ENA_FAMILIES",
    "PROFILE_NAMES",
    "REGION_AZS",
    "REPLICATION_DIRECTIONS",
    "ROLES",
    "ROUTING_CONTROL",
    "STRING_KEYS",
    "STRUCTURED_KEYS",
    "TRAFFIC_CONTROLS",
    "WRITE_GATE_PORT",
    "AddonRequests",
    "Capacity",
    "CapacityProfile",
    "Connectivity",
    "Database",
    "Dns",
    "EksSettings",
    "Failover",
    "Gateway",
    "GatewaySize",
    "LowLatency",
    "Network",
    "NodeGroupSize",
    "Objectives",
    "Observability",
    "Records",
    "Replication",
    "SecurityBaseline",
    "Settings",
    "SettingsError",
    "Vpn",
    "load",
    "parse",
]
