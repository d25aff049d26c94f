"""The few Kubernetes API calls failover needs, with boto3 and the standard library only.

The Lambda authenticates as its IAM role with the token `aws eks get-token` makes: a presigned
STS GetCallerIdentity URL that carries the cluster's name in the signed `x-k8s-aws-id`
header, base64url-encoded without padding, after `k8s-aws-v1.`, valid 60 seconds
(https://docs.aws.amazon.com/cli/latest/reference/eks/get-token.html; EKS maps the role to
Kubernetes groups through its access entry, https://docs.aws.amazon.com/eks/latest/userguide/
access-entries.html). The endpoint and its CA come from DescribeCluster.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_SECONDS = 60
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
# (method, url, headers, body, the cluster's CA as DescribeCluster gives it: base64 of PEM)
# -> (HTTP status, decoded JSON body).
Transport = Callable[[str, str, Mapping[str, str], bytes | None, str], tuple[int, Any]]


class KubeError(Exception):
    """The Kubernetes API refused a call or could not be reached."""


def name_cluster(sts: Any, cluster_name: str) -> None:
    """Sign the cluster's name into every GetCallerIdentity this client presigns."""

    def header(request: Any, **_: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", header)


def token(sts: Any) -> str:
    """For a client `name_cluster` prepared."""
    url = sts.generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=TOKEN_SECONDS, HttpMethod="GET"
    )
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _urllib(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, ca: str
) -> tuple[int, Any]:
    context = ssl.create_default_context(cadata=base64.b64decode(ca).decode())
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError as error:
        raise KubeError(f"{url} unreachable: {error}") from None


class Kube:
    def __init__(
        self, eks: Any, sts: Any, cluster_name: str, transport: Transport | None = None
    ) -> None:
        self.eks, self.sts, self.cluster_name = eks, sts, cluster_name
        self.transport = transport or _urllib
        name_cluster(sts, cluster_name)
        self._endpoint: tuple[str, str] | None = None

    def _cluster(self) -> tuple[str, str]:
        if self._endpoint is None:
            cluster = self.eks.describe_cluster(name=self.cluster_name)["cluster"]
            self._endpoint = (cluster["endpoint"], cluster["certificateAuthority"]["data"])
        return self._endpoint

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        endpoint, ca = self._cluster()
        headers = {
            "Authorization": f"Bearer {token(self.sts)}",
            "Accept": "application/json",
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/merge-patch+json"
            data = json.dumps(body).encode()
        status, answer = self.transport(method, endpoint + path, headers, data, ca)
        if status >= 300:
            message = answer.get("message", "") if isinstance(answer, dict) else ""
            raise KubeError(f"{method} {path}: HTTP {status} {message}".strip())
        return answer

    # -- what failover does with it -------------------------------------------------------------

    def scale_gateway(self, namespace: str, deployment: str, hpa: str, replicas: int, top: int):
        """The HPA's floor first (it would otherwise scale a raised Deployment back down),
        then the Deployment itself, so the pods start without waiting for the HPA's sync."""
        self.call(
            "PATCH",
            f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{hpa}",
            {"spec": {"minReplicas": replicas, "maxReplicas": top}},
        )
        self.call(
            "PATCH",
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale",
            {"spec": {"replicas": replicas}},
        )

    def available_replicas(self, namespace: str, deployment: str) -> int:
        status = self.call("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")
        return int(status.get("status", {}).get("availableReplicas", 0) or 0)

    def ready_nodes(self, nodegroup: str) -> int:
        nodes = self.call("GET", f"/api/v1/nodes?labelSelector={NODEGROUP_LABEL}%3D{nodegroup}")
        return sum(
            1
            for node in nodes.get("items", [])
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
        )
