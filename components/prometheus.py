"""The kube-prometheus-stack release's values (components/addons.py installs it): Prometheus
on the encrypted storage class, Alertmanager paging the region's alerts topic through SNS, and
Grafana with CloudWatch as a data source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.cluster import NODE_GROUP_LABELS
from components.context import RegionalContext
from settings import Observability

# The default storage class, encrypted with the cluster's EBS key (components/addons.py).
STORAGE_CLASS = "gp3-encrypted"


def kube_prometheus_stack_values(
    context: RegionalContext,
    observability: Observability,
    resources: Mapping[str, Any],
    alertmanager_account: Mapping[str, Any],
    grafana_account: Mapping[str, Any],
) -> dict[str, Any]:
    """`alertmanager_account` and `grafana_account` are the charts' `serviceAccount` values of
    the IRSA roles that publish to the topic and read CloudWatch."""
    storage = f"{observability.prometheus_storage_gb}Gi"
    # Alertmanager's own template syntax, not Python's.
    subject = f"[{context.cluster_name}] {{{{ .CommonLabels.alertname }}}}"
    return {
        "prometheus": {
            "prometheusSpec": {
                "retention": observability.prometheus_retention,
                "resources": resources,
                "nodeSelector": dict(NODE_GROUP_LABELS["system"]),
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": STORAGE_CLASS,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": storage}},
                        }
                    }
                },
            }
        },
        "alertmanager": {
            "serviceAccount": alertmanager_account,
            "alertmanagerSpec": {"resources": resources},
            # Helm merges maps but replaces lists: the chart's default route holds a
            # `routes` list sending Watchdog to a `null` receiver, which survives a
            # `route` map of ours unless ours sets `routes` too; without `null` among
            # our receivers Alertmanager then refuses the whole configuration.
            "config": {
                "route": {
                    "receiver": "sns",
                    "group_by": ["alertname", "namespace"],
                    # Watchdog always fires (a heartbeat for an external dead man's
                    # switch): paging it through SNS would page every minute.
                    "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}],
                },
                "receivers": [
                    {"name": "null"},
                    {
                        "name": "sns",
                        "sns_configs": [
                            {
                                "topic_arn": context.alerts_topic_arn,
                                "sigv4": {"region": context.region},
                                "subject": subject,
                            }
                        ],
                    },
                ],
            },
        },
        "grafana": {
            # The password lives only in the Kubernetes secret, never in these values.
            "admin": {
                "existingSecret": "grafana-admin",
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "service": {"type": "ClusterIP"},
            # Unnamed, the grafana subchart would name it after the release's full name
            # (kube-prometheus-stack-grafana), not the account the role trusts.
            "serviceAccount": grafana_account,
            "resources": resources,
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard"}},
            "additionalDataSources": [
                {
                    "name": "CloudWatch",
                    "type": "cloudwatch",
                    "jsonData": {
                        "authType": "default",
                        "defaultRegion": context.region,
                    },
                }
            ],
        },
    }
