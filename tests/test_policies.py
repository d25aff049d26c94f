"""The CrossGuard pack as a whole: its policies' metadata and settings, both stacks of the
program, and the real pack process over the analyzer protocol. Each policy's own cases are in
tests/test_policies_<area>.py; tests/test_policies_robustness.py feeds every policy missing,
unknown and mis-shaped properties.

Requests are the analyzer protocol's own messages, answered by the pack's servicer (the code
the policy server runs): resource inputs go to Analyze, outputs to AnalyzeStack, as the engine
sends them (pulumi pkg/resource/deploy/step_generator.go: analyzeAll sends inputs,
AnalyzeResources `v.Outputs`), and AnalyzeStack also gets the root pulumi:pulumi:Stack resource,
whose properties are the stack's outputs. An `R` may carry outputs that differ from its inputs
(what the provider read back), and `refreshed` gives a graph the outputs a `pulumi refresh`
reads from AWS. This module also holds the harness the area modules share (`R`, `Pack`, `Case`).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policypacks.trading_guard.policies import AREAS, POLICIES
from testing.harness import ROOT, Graph, Resource, project_name
from tests.conftest import StackGraph

PACK_DIR = ROOT / "policypacks" / "trading_guard"
POLICY_CONFIG = json.loads((PACK_DIR / "policy-config.json").read_text())
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
ADVISORY = analyzer_pb2.EnforcementLevel.Value("ADVISORY")
# What the engine sends, during a preview, for a value that depends on a resource not yet made.
UNKNOWN = UNKNOWN_STRING_VALUE
BY_NAME = {p.name: p for p in POLICIES}
# How the SDK's servicer words the advisory diagnostic for an UnknownValueError a policy raises
# (pulumi_policy.policy._PolicyAnalyzerServicer), and how the pack's UnverifiedError words what
# it could not verify.
CANT_RUN = "can't run policy"
NOT_VERIFIED = "not verified, as values are not known yet: "


def struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(value, default=str)))
    return message


@dataclass(eq=False)
class R:
    """A resource as the engine shows it to the pack: its type, properties (inputs, sent to
    Analyze), the outputs sent to AnalyzeStack when they differ from the inputs (what the
    provider read back), the resources its properties were computed from, and its options."""

    type: str
    props: Mapping[str, Any] = field(default_factory=dict)
    name: str = "r"
    deps: Mapping[str, Sequence[R]] = field(default_factory=dict)
    depends_on: Sequence[R] = ()
    ignore_changes: Sequence[str] = ()
    parent: R | None = None
    provider: R | None = None
    stack: str = "test"
    outputs: Mapping[str, Any] | None = None

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{self.stack}::trading::{self.type}::{self.name}"

    def options(self) -> Any:
        return analyzer_pb2.AnalyzerResourceOptions(
            ignoreChanges=list(self.ignore_changes),
            customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        )

    def provider_message(self) -> Any:
        if self.provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=self.provider.type,
            properties=struct(self.provider.props),
            urn=self.provider.urn,
            name=self.provider.name,
        )

    def analyze_request(self) -> Any:
        return analyzer_pb2.AnalyzeRequest(
            type=self.type,
            properties=struct(self.props),
            urn=self.urn,
            name=self.name,
            options=self.options(),
            provider=self.provider_message(),
        )

    def stack_resource(self) -> Any:
        return analyzer_pb2.AnalyzerResource(
            type=self.type,
            properties=struct(self.props if self.outputs is None else self.outputs),
            urn=self.urn,
            name=self.name,
            options=self.options(),
            provider=self.provider_message(),
            parent=self.parent.urn if self.parent else "",
            dependencies=[d.urn for d in self.depends_on],
            propertyDependencies={
                k: analyzer_pb2.AnalyzerPropertyDependencies(urns=[d.urn for d in v])
                for k, v in self.deps.items()
            },
        )


def closure(resources: Sequence[R]) -> list[R]:
    """The resources with every resource they reference, each once, as a stack holds them."""
    found: dict[int, R] = {}

    def visit(resource: R) -> None:
        if id(resource) in found:
            return
        found[id(resource)] = resource
        related = [*resource.depends_on, *(d for v in resource.deps.values() for d in v)]
        for other in [*related, resource.parent, resource.provider]:
            if other is not None:
                visit(other)

    for resource in resources:
        visit(resource)
    return list(found.values())


def violation(diagnostic: Any) -> str:
    """The reported message, without the policy description the servicer puts first."""
    return diagnostic.message.split("\n", 1)[-1]


def is_note(diagnostic: Any) -> bool:
    """Whether a diagnostic is the advisory note of what a policy could not verify yet."""
    return CANT_RUN in diagnostic.message


def unverified(diagnostic: Any) -> list[str]:
    """What an advisory note names as not verified ("<resource>: <value> is not known yet")."""
    named = diagnostic.message.split(NOT_VERIFIED, 1)[-1].split(". AWS may refuse", 1)[0]
    return named.split("; ")


def policy_config(config: Mapping[str, Any]) -> Any:
    return analyzer_pb2.ConfigureAnalyzerRequest(
        policyConfig={
            name: analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.EnforcementLevel.Value(
                    str(value.get("enforcementLevel", "mandatory")).upper()
                ),
                properties=struct({k: v for k, v in value.items() if k != "enforcementLevel"}),
            )
            for name, value in config.items()
        }
    )


class Pack:
    """The servicer the policy server runs, called in-process, with `policies` (all of them
    unless given) and a policy config as `policy-config.json` spells it."""

    def __init__(
        self, config: Mapping[str, Any] | None = None, policies: Sequence[Policy] = POLICIES
    ) -> None:
        self.servicer = _PolicyAnalyzerServicer(
            "trading-guard", "0.0.1", list(policies), EnforcementLevel.MANDATORY
        )
        if config:
            self.servicer.Configure(policy_config(config), None)

    def diagnostics(self, *resources: R) -> list[Any]:
        """Analyze for each resource (and those it references), then AnalyzeStack of all."""
        stack = closure(resources)
        found = [
            d for r in stack for d in self.servicer.Analyze(r.analyze_request(), None).diagnostics
        ]
        request = analyzer_pb2.AnalyzeStackRequest(resources=[r.stack_resource() for r in stack])
        return found + list(self.servicer.AnalyzeStack(request, None).diagnostics)

    def violations(self, policy: str, *resources: R) -> list[str]:
        """The policy's violations, without its notes of what it could not verify."""
        return [
            violation(d)
            for d in self.diagnostics(*resources)
            if d.policyName == policy and not is_note(d)
        ]

    def notes(self, policy: str, *resources: R) -> list[Any]:
        """The policy's advisory notes of what it could not verify."""
        return [d for d in self.diagnostics(*resources) if d.policyName == policy and is_note(d)]

    def graph(self, graph: Graph) -> list[Any]:
        analyze, stack = graph_requests(graph)
        diagnostics = [d for r in analyze for d in self.servicer.Analyze(r, None).diagnostics]
        return diagnostics + list(self.servicer.AnalyzeStack(stack, None).diagnostics)


@dataclass(frozen=True)
class Case:
    """One specification line of a policy: these resources make it report exactly these
    messages, and (a deployability stack policy) note exactly these values as not verified.
    `kind` is compliant, non-compliant, missing (a property left to its default) or unknown (a
    value the engine does not know during a preview)."""

    policy: str
    kind: str
    resources: tuple[R, ...]
    expected: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.policy}-{self.kind}"


KINDS = ("compliant", "non-compliant", "missing", "unknown")


def case(
    policy: str,
    kind: str,
    resources: R | Sequence[R],
    *expected: str,
    config: Mapping[str, Any] | None = None,
    unverified: Sequence[str] = (),
) -> Case:
    assert policy in BY_NAME, policy
    given = (resources,) if isinstance(resources, R) else tuple(resources)
    return Case(policy, kind, given, expected, config or {}, tuple(unverified))


def case_pack(case_: Case) -> Pack:
    return Pack({case_.policy: case_.config} if case_.config else None, [BY_NAME[case_.policy]])


def run(case_: Case) -> list[str]:
    return case_pack(case_).violations(case_.policy, *case_.resources)


def noted(case_: Case) -> list[str]:
    """What the policy's advisory notes name as not verified in the case."""
    return [
        n for d in case_pack(case_).notes(case_.policy, *case_.resources) for n in unverified(d)
    ]


def check(case_: Case) -> None:
    """The case's violations, and what it notes as not verified, are exactly as specified."""
    assert run(case_) == list(case_.expected)
    assert noted(case_) == list(case_.unverified)


# -- the mocked program's graphs ------------------------------------------------------------------


def provider_message(graph: Graph, resource: Resource) -> Any:
    try:
        provider = graph.provider_of(resource)
    except LookupError:
        return None
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, properties=struct(provider.inputs), urn=provider.urn, name=provider.name
    )


def root_stack(graph: Graph) -> Any:
    """The pulumi:pulumi:Stack resource AnalyzeStack receives, its properties the stack's
    outputs (the engine finalizes them before it analyzes the stack: deployment_executor.go)."""
    project = project_name()
    return analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack",
        properties=struct(graph.exports),
        urn=f"urn:pulumi:{graph.stack}::{project}::pulumi:pulumi:Stack::{project}-{graph.stack}",
        name=f"{project}-{graph.stack}",
    )


def refreshed(graph: Graph) -> Graph:
    """The graph as AnalyzeStack sees it after `pulumi refresh`: the provider reads every
    managed policy attached to a role and every inline policy put on it back into the role's
    outputs, the stack's own attachments and RolePolicies included (pulumi/pulumi-aws#2246;
    terraform-provider-aws internal/service/iam/role.go, resourceRoleRead), and a RolePolicy
    the program did not name has the name the provider gave it."""
    result = copy.deepcopy(graph)
    managers = {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "role",
        "aws:iam/rolePolicy:RolePolicy": "role",
    }
    attached: dict[str, list[str]] = {}
    inline: dict[str, list[dict[str, Any]]] = {}
    for r in result:
        if r.type not in managers:
            continue
        r.outputs = dict(r.outputs or r.inputs)
        for role in r.property_dependencies.get(managers[r.type], []):
            if r.type.endswith("RolePolicyAttachment"):
                attached.setdefault(role, []).append(str(r.outputs["policyArn"]))
            else:
                r.outputs.setdefault("name", f"{r.name}-20240101000000000000000001")
                inline.setdefault(role, []).append(
                    {"name": r.outputs["name"], "policy": r.outputs["policy"]}
                )
    for r in result.of_type("aws:iam/role:Role"):
        r.outputs = {
            **(r.outputs or r.inputs),
            "managedPolicyArns": sorted(attached.get(r.urn, [])),
            "inlinePolicies": inline.get(r.urn, []),
        }
    return result


def graph_requests(graph: Graph) -> tuple[list[Any], Any]:
    """One Analyze request per resource (its inputs) and one AnalyzeStack (its outputs, and the
    root stack resource with the stack's outputs)."""
    analyze, stack = [], [root_stack(graph)]
    for r in graph:
        options = analyzer_pb2.AnalyzerResourceOptions(
            ignoreChanges=r.ignore_changes,
            deleteBeforeReplace=r.delete_before_replace,
            customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        )
        provider = provider_message(graph, r)
        analyze.append(
            analyzer_pb2.AnalyzeRequest(
                type=r.type,
                properties=struct(r.inputs),
                urn=r.urn,
                name=r.name,
                options=options,
                provider=provider,
            )
        )
        stack.append(
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=struct(r.outputs or r.inputs),
                urn=r.urn,
                name=r.name,
                options=options,
                provider=provider,
                parent=r.parent,
                dependencies=r.dependencies,
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                    for k, v in r.property_dependencies.items()
                },
            )
        )
    return analyze, analyzer_pb2.AnalyzeStackRequest(resources=stack)


def judged(graph: Graph | StackGraph) -> list[tuple[str, int, str]]:
    """(policy, enforcement level, message) the pack reports on a graph, with the levels of
    policy-config.json, as the engine runs it. A stack as rendered (a session's StackGraph, which
    tests change only through `edited` copies) is judged once: the pack takes seconds on it."""
    if isinstance(graph, StackGraph):
        return list(_judged_as_rendered(graph))
    return [
        (d.policyName, d.enforcementLevel, violation(d)) for d in Pack(POLICY_CONFIG).graph(graph)
    ]


@functools.cache
def _judged_as_rendered(stack: StackGraph) -> tuple[tuple[str, int, str], ...]:
    return tuple(judged(stack.graph))


def edited(stack: StackGraph) -> Graph:
    """A copy of a stack's graph to change."""
    return copy.deepcopy(stack.graph)


# -- the pack's policies --------------------------------------------------------------------------


def test_every_policy_is_documented_with_its_source_and_a_level() -> None:
    assert len({p.name for p in POLICIES}) == len(POLICIES) >= 30
    for policy in POLICIES:
        assert "https://" in policy.description, policy.name
        assert policy.remediation_steps and policy.severity, policy.name
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


def test_the_docs_list_every_policy_in_its_area_with_its_level() -> None:
    """docs/policies.md has one table per area, a row per policy marked (advisory) when that is
    its level, and the area counts and total the README repeats."""
    docs = " ".join((ROOT / "docs" / "policies.md").read_text().split())
    readme = " ".join((ROOT / "README.md").read_text().split())
    for area, policies in AREAS.items():
        assert f"| {area} | {len(policies)} |" in docs, area
        assert f"{area} {len(policies)}" in readme, area
        for policy in policies:
            advisory = policy.enforcement_level == EnforcementLevel.ADVISORY
            row = f"| `{policy.name}`{' (advisory)' if advisory else ''} |"
            assert row in docs, row
    assert f"| **total** | **{len(POLICIES)}** |" in docs
    assert f"{len(POLICIES)} policies, one concern each" in readme


def test_every_setting_has_its_default_in_the_schema() -> None:
    for policy in POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        for setting, spec in schema.items():
            assert "default" in spec, (policy.name, setting)


def test_policy_config_names_existing_policies_and_settings() -> None:
    for name, settings in POLICY_CONFIG.items():
        assert name in BY_NAME, name
        schema = BY_NAME[name].config_schema
        known = set(schema.properties) if schema else set()
        assert set(settings) - {"enforcementLevel"} <= known, (name, settings)


def test_a_disabled_policy_reports_nothing() -> None:
    key = R("aws:kms/key:Key")
    assert Pack().violations("kms-key-rotation", key)
    relaxed = Pack({"kms-key-rotation": {"enforcementLevel": "disabled"}})
    assert relaxed.violations("kms-key-rotation", key) == []


def test_a_team_can_relax_one_database_rule_without_its_neighbours() -> None:
    single_az = R(
        "aws:rds/instance:Instance",
        {
            "storageEncrypted": True,
            "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
            "deletionProtection": True,
            "backupRetentionPeriod": 14,
        },
    )
    relaxed = Pack({"rds-multi-az-writers": {"enforcementLevel": "advisory"}})
    levels = {(d.policyName, d.enforcementLevel) for d in relaxed.diagnostics(single_az)}
    assert levels == {("rds-multi-az-writers", ADVISORY)}
    exposed = R("aws:rds/instance:Instance", {**single_az.props, "publiclyAccessible": True})
    levels = {(d.policyName, d.enforcementLevel) for d in relaxed.diagnostics(exposed)}
    assert ("rds-not-publicly-accessible", MANDATORY) in levels


# -- the whole program ----------------------------------------------------------------------------


def test_both_stacks_raise_no_mandatory_violation(
    primary: StackGraph, dr: StackGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    for stack in (primary, dr):
        found = judged(stack)
        assert [(p, m) for p, level, m in found if level == MANDATORY] == [], stack.name
        with capsys.disabled():
            for policy, _, message in found:
                print(f"advisory in {stack.name}: {policy}: {message}")


def test_our_stacks_raise_only_the_documented_advisories(
    primary: StackGraph, dr: StackGraph
) -> None:
    """docs/policies.md lists these; a change to the program that adds or clears one updates
    the list there."""
    assert {p for p, _, _ in judged(primary)} == {
        "elb-deletion-protection",
        "s3-bucket-logging-enabled",
    }
    assert {p for p, _, _ in judged(dr)} == {
        "elb-deletion-protection",
        "s3-bucket-logging-enabled",
        "dr-resources-outside-primary-region",
    }


# -- the real pack process ------------------------------------------------------------------------


@pytest.fixture
def pack_process() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(10)


def test_real_pack_process_judges_the_mocked_program(
    pack_process: analyzer_pb2_grpc.AnalyzerStub, dr: StackGraph
) -> None:
    info = pack_process.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "trading-guard"
    assert {p.name for p in info.policies} == set(BY_NAME)
    pack_process.Configure(policy_config(POLICY_CONFIG))
    analyze, stack = graph_requests(dr.graph)
    diagnostics = [d for r in analyze for d in pack_process.Analyze(r).diagnostics]
    diagnostics += pack_process.AnalyzeStack(stack).diagnostics
    assert [d.policyName for d in diagnostics if d.enforcementLevel == MANDATORY] == []
    bad_key = pack_process.Analyze(
        R("aws:kms/key:Key", {"enableKeyRotation": False}).analyze_request()
    )
    assert [d.policyName for d in bad_key.diagnostics] == ["kms-key-rotation"]


def test_the_real_pack_notes_what_a_stack_policy_could_not_verify_as_advisory(
    pack_process: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    """A failed `pulumi up` runs no stack policy, so a mandatory deployability rule that meets
    an unknown value during a preview says so, at the ADVISORY level, beside its violations at
    its own level."""
    pack_process.Configure(policy_config(POLICY_CONFIG))
    instance = "aws:rds/instance:Instance"
    unknown_source = R(instance, {"identifier": "a", "manageMasterUserPassword": UNKNOWN}, "a")
    managing_source = R(instance, {"identifier": "b", "manageMasterUserPassword": True}, "b")
    replicas = [
        R(
            instance,
            {"replicateSourceDb": "a"},
            "replica-a",
            {"replicateSourceDb": [unknown_source]},
        ),
        R(
            instance,
            {"replicateSourceDb": "b"},
            "replica-b",
            {"replicateSourceDb": [managing_source]},
        ),
    ]
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[r.stack_resource() for r in closure(replicas)]
    )
    found = [
        d
        for d in pack_process.AnalyzeStack(request).diagnostics
        if d.policyName == "rds-replica-without-managed-password"
    ]
    assert [(d.enforcementLevel, is_note(d)) for d in found] == [
        (MANDATORY, False),
        (ADVISORY, True),
    ]
    violation_, note = found
    assert violation_.urn == replicas[1].urn
    assert unverified(note) == ["replica-a: .manageMasterUserPassword is not known yet"]
