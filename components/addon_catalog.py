"""What `ClusterAddons` installs, as plain values: each Helm chart's repository and pinned version
(the cluster autoscaler's, whose minor must be the cluster's, one chart and image per supported
Kubernetes minor), and the service account EKS runs each EKS-managed add-on as.

Apart from components/addons.py, which installs them, because these are facts taken from the
charts' indexes and the EKS User Guide, read and tested without a Pulumi runtime, and the one
place a chart upgrade or a new Kubernetes minor changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

AUTOSCALER = "cluster-autoscaler"
CHART_REPOSITORIES = {
    AUTOSCALER: "https://kubernetes.github.io/autoscaler",
    "metrics-server": "https://kubernetes-sigs.github.io/metrics-server/",
    "kube-prometheus-stack": "https://prometheus-community.github.io/helm-charts",
}
# Charts that run on any Kubernetes minor this program supports. The cluster autoscaler's is not
# among them: it follows the cluster's minor (AUTOSCALER_RELEASES).
CHART_VERSIONS = {"metrics-server": "3.12.1", "kube-prometheus-stack": "78.3.0"}


@dataclass(frozen=True)
class AutoscalerRelease:
    chart_version: str
    image_tag: str


# The cluster autoscaler simulates the scheduler of the Kubernetes minor it was built for, and
# its minor must be the cluster's (cluster-autoscaler README, "Releases"). Per supported minor:
# the newest chart whose appVersion is that minor and the image tag of that appVersion, both
# from the chart repository's index (https://kubernetes.github.io/autoscaler/index.yaml).
# Supporting a new minor (see the EKS release calendar) is a new row here.
AUTOSCALER_RELEASES: Mapping[str, AutoscalerRelease] = {
    "1.34": AutoscalerRelease(chart_version="9.53.0", image_tag="v1.34.2"),
    "1.35": AutoscalerRelease(chart_version="9.56.0", image_tag="v1.35.0"),
}


def autoscaler_release(kubernetes_version: str) -> AutoscalerRelease:
    """The cluster autoscaler for a cluster of `kubernetes_version` ("1.34" or "1.34.2")."""
    minor = ".".join(kubernetes_version.split(".")[:2])
    release = AUTOSCALER_RELEASES.get(minor)
    if release is None:
        raise ValueError(
            f"no cluster autoscaler is pinned for Kubernetes {kubernetes_version!r}; pinned "
            f"minors: {', '.join(AUTOSCALER_RELEASES)} (add a row to AUTOSCALER_RELEASES, or "
            "set trading:eks.version to one of them)"
        )
    return release


def chart_version(chart: str, kubernetes_version: str) -> str:
    if chart == AUTOSCALER:
        return autoscaler_release(kubernetes_version).chart_version
    return CHART_VERSIONS[chart]


# The service account each EKS add-on's AWS-calling pods run as. EKS fixes these names, so the
# IRSA role's trust must name exactly them (EKS User Guide: "Amazon EBS CSI driver" and "Amazon
# CloudWatch Observability agent" add-on pages, docs.aws.amazon.com/eks/latest/userguide/).
EKS_ADDON_SERVICE_ACCOUNTS: Mapping[str, tuple[str, str]] = {
    "aws-ebs-csi-driver": ("kube-system", "ebs-csi-controller-sa"),
    "amazon-cloudwatch-observability": ("amazon-cloudwatch", "cloudwatch-agent"),
}
