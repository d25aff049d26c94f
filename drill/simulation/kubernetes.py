"""The dr cluster's Kubernetes API as the handler's `Kube` reaches it (its `transport`): the
calls failover makes, answered from the simulated cluster, with the API's own paths and
status codes (https://kubernetes.io/docs/reference/kubernetes-api/)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from drill.simulation.aws import kube_endpoint
from drill.simulation.clock import SimClock
from drill.simulation.world import World
from handlers.kube import NODEGROUP_LABEL, TOKEN_PREFIX, KubeError
from handlers.model import GatewayControl

HPA = re.compile(r"^/apis/autoscaling/v2/namespaces/([^/]+)/horizontalpodautoscalers/([^/?]+)$")
SCALE = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/?]+)/scale$")
DEPLOYMENT = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/?]+)$")
NODES = re.compile(r"^/api/v1/nodes\?labelSelector=(.+)$")


class KubeApi:
    def __init__(self, world: World, clock: SimClock, gateway: GatewayControl | None) -> None:
        self.world, self.clock, self.gateway = world, clock, gateway
        self.region = world.dr_region
        # Every call made, as (method, path).
        self.calls: list[tuple[str, str]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, ca: str
    ) -> tuple[int, Any]:
        endpoint = kube_endpoint(self.region)
        if not url.startswith(endpoint) or not ca:
            raise KubeError(f"{url} is not the dr cluster's endpoint")
        path = url[len(endpoint) :]
        self.calls.append((method, path))
        self.world.advance(self.clock.t)
        if not self.world.up(self.region):
            self.clock.sleep(10)
            raise KubeError(f"{url} unreachable: timed out")
        self.clock.sleep(self.world.physics.api_latency_seconds)
        self.world.advance(self.clock.t)
        if not headers.get("Authorization", "").startswith(f"Bearer {TOKEN_PREFIX}"):
            return 401, {"message": "Unauthorized"}
        patch = json.loads(body) if body else {}
        return self._answer(method, path, patch)

    def _gateway(self, namespace: str, name: str, kind: str) -> bool:
        g = self.gateway
        return g is not None and namespace == g.namespace and name == getattr(g, kind)

    def _answer(self, method: str, path: str, patch: Mapping[str, Any]) -> tuple[int, Any]:
        routes = (
            ("PATCH", HPA, "hpa", self._patch_hpa),
            ("PATCH", SCALE, "deployment", self._patch_scale),
            ("GET", DEPLOYMENT, "deployment", self._get_deployment),
            ("GET", NODES, None, self._list_nodes),
        )
        for verb, pattern, kind, answer in routes:
            match = pattern.match(path)
            if verb != method or match is None:
                continue
            if kind is not None and not self._gateway(match[1], match[2], kind):
                return 404, {"message": f"{kind} {match[1]}/{match[2]} not found"}
            return 200, answer(match, patch)
        return 404, {"message": f"the simulation does not serve {method} {path}"}

    def _patch_hpa(self, match: re.Match[str], patch: Mapping[str, Any]) -> Any:
        gateway = self.world.clusters[self.region].gateway
        spec = patch.get("spec", {})
        gateway.hpa_min = int(spec.get("minReplicas", gateway.hpa_min))
        gateway.hpa_max = int(spec.get("maxReplicas", gateway.hpa_max))
        return {"spec": {"minReplicas": gateway.hpa_min, "maxReplicas": gateway.hpa_max}}

    def _patch_scale(self, match: re.Match[str], patch: Mapping[str, Any]) -> Any:
        self.world.scale_gateway(self.region, int(patch["spec"]["replicas"]))
        return {"spec": {"replicas": self.world.clusters[self.region].gateway.replicas}}

    def _get_deployment(self, match: re.Match[str], patch: Mapping[str, Any]) -> Any:
        gateway = self.world.clusters[self.region].gateway
        ready = gateway.ready_pods(self.world.t)
        return {"spec": {"replicas": gateway.replicas}, "status": {"availableReplicas": ready}}

    def _list_nodes(self, match: re.Match[str], patch: Mapping[str, Any]) -> Any:
        label, _, value = unquote(match[1]).partition("=")
        group = self.world.clusters[self.region].groups.get(value)
        nodes = group.nodes if group is not None and label == NODEGROUP_LABEL else []
        t = self.world.t
        return {
            "items": [
                {
                    "metadata": {"labels": {NODEGROUP_LABEL: value}},
                    "status": {
                        "conditions": [
                            {"type": "Ready", "status": "True" if n.ready_at <= t else "False"}
                        ]
                    },
                }
                for n in nodes
            ]
        }
