"""Rules a first `pulumi up` of the cluster depends on (issue #13), checked on each stack's graph.

Each test states the rule and the page it comes from; none pins the one value right today."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from components.addon_catalog import (
    AUTOSCALER,
    AUTOSCALER_RELEASES,
    EKS_ADDON_SERVICE_ACCOUNTS,
    autoscaler_release,
)
from components.irsa import ROLE_ARN_ANNOTATION
from testing.harness import Resource
from tests.conftest import StackGraph, raw_settings

# Where IAM puts every service-linked role: role/aws-service-role/<service principal>/<name>.
_SERVICE_LINKED_ROLE = re.compile(r"^arn:[\w-]+:iam::\d{12}:role/aws-service-role/([^/]+)/")


def minor(version: str) -> str:
    return ".".join(version.removeprefix("v").split(".")[:2])


def mappings(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping inside a Helm release's values, nested ones included."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from mappings(item)
    elif isinstance(value, list):
        for item in value:
            yield from mappings(item)


def principals(statement: dict[str, Any]) -> list[str]:
    found = statement.get("Principal", {})
    aws = found.get("AWS", []) if isinstance(found, dict) else []
    return [aws] if isinstance(aws, str) else list(aws)


def test_every_service_linked_role_a_key_policy_names_is_declared_before_the_key(
    stack: StackGraph,
) -> None:
    """KMS refuses a key policy whose principals do not exist ("The principals in the key
    policy must exist and be visible to KMS",
    https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html), and a service-linked
    role exists in a fresh account only once something creates it: EC2 Auto Scaling's, which
    must be granted use of the node volume key
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html),
    appears with the account's first Auto Scaling group, after the key. So every service-linked
    role a key policy names is declared in the stack
    (https://www.pulumi.com/registry/packages/aws/api-docs/iam/servicelinkedrole/) and the key
    is created after it."""
    declared = {
        role.inputs["awsServiceName"]: role
        for role in stack.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    }
    named: set[str] = set()
    for key in stack.of_type("aws:kms/key:Key"):
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            for arn in principals(statement):
                match = _SERVICE_LINKED_ROLE.match(arn)
                if match is None:
                    continue
                service = match[1]
                named.add(service)
                assert service in declared, (key.name, arn, sorted(declared))
                assert declared[service].urn in key.dependencies, (key.name, service)
    # The node volume key names Auto Scaling's role: the rule above is not vacuous.
    assert "autoscaling.amazonaws.com" in named


def _irsa_subject(role: Resource) -> tuple[str, str] | None:
    """(namespace, service account) a role's web-identity trust names in its `sub` condition,
    None for a role that is not an IRSA role."""
    for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
        actions = statement["Action"]
        if "sts:AssumeRoleWithWebIdentity" not in (
            [actions] if isinstance(actions, str) else actions
        ):
            continue
        (subject,) = [
            value
            for key, value in statement["Condition"]["StringEquals"].items()
            if key.endswith(":sub")
        ]
        kind, account_kind, namespace, name = subject.split(":")
        assert (kind, account_kind) == ("system", "serviceaccount"), subject
        return namespace, name
    return None


def test_every_irsa_trust_names_the_service_account_its_consumer_creates(
    stack: StackGraph,
) -> None:
    """An IRSA role is assumable only by the one service account its trust's `sub` condition
    names, `system:serviceaccount:<namespace>:<name>`
    (https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts-technical-overview.html).
    Charts name their service account after the release unless told otherwise (the grafana
    chart's `serviceAccount.name` defaults to its full name, `kube-prometheus-stack-grafana`
    here), so every Helm release annotated with a role must set the account's name explicitly,
    in the release's namespace, to what the trust names; an EKS add-on runs as the account its
    user-guide page documents. Each role has exactly one such consumer."""
    releases = stack.of_type("kubernetes:helm.sh/v3:Release")
    addons = stack.of_type("aws:eks/addon:Addon")
    accounts = stack.of_type("kubernetes:core/v1:ServiceAccount")
    deployments = stack.of_type("kubernetes:apps/v1:Deployment")
    checked = 0
    for role in stack.of_type("aws:iam/role:Role"):
        subject = _irsa_subject(role)
        if subject is None:
            continue
        namespace, service_account = subject
        arn = role.outputs["arn"]
        consumers: list[str] = []
        for found in releases:
            for block in mappings(found.inputs["values"]):
                annotations = block.get("annotations")
                if not (isinstance(annotations, dict) and annotations.get(ROLE_ARN_ANNOTATION)):
                    continue
                if annotations[ROLE_ARN_ANNOTATION] != arn:
                    continue
                consumers.append(found.name)
                assert block.get("create") is True, (role.name, found.name)
                assert block.get("name") == service_account, (role.name, found.name, block)
                assert found.inputs["namespace"] == namespace, (role.name, found.name)
        for addon in addons:
            if addon.inputs.get("serviceAccountRoleArn") == arn:
                consumers.append(addon.name)
                documented = EKS_ADDON_SERVICE_ACCOUNTS[addon.inputs["addonName"]]
                assert documented == subject, (role.name, addon.name)
        for account in accounts:
            metadata = account.inputs["metadata"]
            if metadata.get("annotations", {}).get(ROLE_ARN_ANNOTATION) != arn:
                continue
            consumers.append(account.name)
            assert (metadata["namespace"], metadata["name"]) == subject, (role.name, account.name)
            # The account is worth something only to pods that run as it.
            assert any(
                d.inputs["metadata"]["namespace"] == namespace
                and d.inputs["spec"]["template"]["spec"].get("serviceAccountName")
                == service_account
                for d in deployments
            ), (role.name, account.name)
        assert len(consumers) == 1, (role.name, subject, consumers)
        checked += 1
    # EBS CSI, CloudWatch agent, cluster autoscaler, Alertmanager, Grafana, LB controller, the
    # gateway's write gate.
    assert checked == 7


def test_grafana_runs_as_the_service_account_its_role_trusts(stack: StackGraph) -> None:
    values = stack.one("kubernetes:helm.sh/v3:Release", f"{stack.name}-kube-prometheus-stack")
    role = stack.one("aws:iam/role:Role", f"{stack.name}-grafana")
    assert _irsa_subject(role) == (
        "monitoring",
        values.inputs["values"]["grafana"]["serviceAccount"]["name"],
    )


def test_cluster_autoscaler_runs_the_clusters_kubernetes_minor(stack: StackGraph) -> None:
    """The cluster autoscaler's minor version must be the cluster's Kubernetes minor
    (https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/README.md#releases):
    for the version each stack file configures, the chart and the image tag both come from that
    minor's row, and the image is of that minor."""
    configured = raw_settings(stack.name)["eks"]["version"]
    assert stack.cluster.inputs["version"] == configured
    pinned = autoscaler_release(configured)
    found = stack.one("kubernetes:helm.sh/v3:Release", f"{stack.name}-{AUTOSCALER}")
    assert found.inputs["version"] == pinned.chart_version
    tag = found.inputs["values"]["image"]["tag"]
    assert tag == pinned.image_tag
    assert minor(tag) == minor(configured)


@pytest.mark.parametrize("kubernetes_minor", sorted(AUTOSCALER_RELEASES))
def test_every_pinned_autoscaler_image_is_of_its_rows_minor(kubernetes_minor: str) -> None:
    """Each row pairs a chart with an image of the row's own minor (chart repository index,
    https://kubernetes.github.io/autoscaler/index.yaml, gives each chart's appVersion)."""
    release = AUTOSCALER_RELEASES[kubernetes_minor]
    assert re.fullmatch(rf"v{re.escape(kubernetes_minor)}\.\d+", release.image_tag)
    assert re.fullmatch(r"\d+\.\d+\.\d+", release.chart_version)
    assert autoscaler_release(f"{kubernetes_minor}.3") == release


def test_a_kubernetes_minor_without_a_pinned_autoscaler_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'1\.30'.*pinned minors: .*1\.34"):
        autoscaler_release("1.30")


def test_every_eks_addon_waits_for_the_node_groups(stack: StackGraph) -> None:
    """EKS add-ons run on the nodes provisioned for the cluster
    (https://docs.aws.amazon.com/eks/latest/userguide/eks-add-ons.html): an add-on created
    before any node group has nowhere to run its pods and is left DEGRADED. Every add-on this
    program creates waits for every managed node group, as the Helm releases do."""
    node_groups = {g.urn for g in stack.of_type("eks:index:ManagedNodeGroup")}
    addons = stack.of_type("aws:eks/addon:Addon")
    assert node_groups
    assert {a.inputs["addonName"] for a in addons} >= set(EKS_ADDON_SERVICE_ACCOUNTS)
    for addon in addons:
        assert node_groups <= set(addon.dependencies), addon.name
