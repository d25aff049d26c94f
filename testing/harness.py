"""Runs the real Pulumi program for a stack under Pulumi's mock runtime and records the graph.

This is an offline rendering: no Pulumi engine, no provider plugins, no cloud. Every resource the
program registers is recorded with its inputs and options; outputs the program reads back are
invented here (ids, ARNs, kubeconfig) so that it can run to the end. The fast tests assert on
it. It is not a `pulumi preview`: provider-side checks and defaults do not run (for that,
`bash scripts/preview-offline` runs the real engine).
"""

from __future__ import annotations

import json
import runpy
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from testing.invented import ACCOUNT, invented_outputs

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"

_RESOURCE_SIG = rpc._special_resource_sig
_SECRET_SIG = rpc._special_secret_sig
_SIG_KEY = rpc._special_sig_key
# What a secret input is recorded as: tests must never hold its value.
SECRET = "[secret]"


def project_name() -> str:
    return str(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"])


def stack_config(stack: str) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml`, values as YAML gave them."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.stem.split(".", 1)[1] for p in ROOT.glob("Pulumi.*.yaml"))
        raise ValueError(f"no stack file {path.name}; known stacks: {', '.join(known)}")
    return dict(yaml.safe_load(path.read_text()).get("config") or {})


@dataclass
class Resource:
    """One registered resource: what the program asked for, and its options."""

    urn: str
    type: str
    name: str
    custom: bool
    remote: bool
    inputs: dict[str, Any]
    parent: str
    provider: str
    providers: dict[str, str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    ignore_changes: list[str]
    protect: bool
    delete_before_replace: bool
    retain_on_delete: bool
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The recorded resource graph of one stack, plus its stack outputs."""

    stack: str
    resources: list[Resource]
    exports: dict[str, Any]
    secret_exports: set[str]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Resource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_))
            raise LookupError(f"{len(found)} {type_} named {name!r}; {type_} names: {names}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise LookupError(urn)

    def provider_of(self, resource: Resource) -> Resource | None:
        """The provider resource a custom resource uses (its explicit provider reference)."""
        if not resource.provider:
            return None
        return self.by_urn(resource.provider.rsplit("::", 1)[0])

    def ancestors(self, resource: Resource) -> list[Resource]:
        chain: list[Resource] = []
        current = resource
        while current.parent:
            try:
                current = self.by_urn(current.parent)
            except LookupError:
                break
            chain.append(current)
        return chain


def _strip_resource_references(value: Any) -> Any:
    """Replaces resource references by their URN string and secrets by `SECRET`.

    The stock mock monitor hangs or fails intermittently when it deserializes resource
    references on its worker threads; the URN is all a test needs.
    """
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _RESOURCE_SIG:
            return value.get("urn", "")
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET
        return {k: _strip_resource_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_resource_references(v) for v in value]
    return value


def _whole_numbers(value: Any) -> Any:
    """Numbers cross the mock boundary as floats; give whole ones back as the ints they were."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


class _Mocks(mocks.Mocks):
    """Invents the outputs the program reads back from AWS and from pulumi-eks."""

    def __init__(self, references: Mapping[str, Graph]) -> None:
        self._regions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._references = references

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/deployer",
                "userId": "AROAMOCK:deployer",
                "id": ACCOUNT,
            }, []
        raise NotImplementedError(f"the offline harness does not mock the invoke {args.token}")

    def _region(self, provider: str | None) -> str:
        with self._lock:
            return self._regions.get((provider or "").rsplit("::", 1)[-1], "us-east-1")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        resource_id = f"{args.name}-id"
        state = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            return resource_id, self._stack_reference(str(args.inputs["name"]))
        if args.typ == "pulumi:providers:aws":
            with self._lock:
                self._regions[resource_id] = str(args.inputs.get("region", "us-east-1"))
            return resource_id, state
        state.update(invented_outputs(args.typ, args.name, self._region(args.provider), state))
        if args.typ == "aws:rds/globalCluster:GlobalCluster":
            return str(state["id"]), state
        return resource_id, state

    def _stack_reference(self, name: str) -> dict[str, Any]:
        if name not in self._references:
            fed = ", ".join(sorted(self._references)) or "none"
            raise LookupError(f"the harness was not given outputs for stack {name!r} (fed: {fed})")
        graph = self._references[name]
        return {
            "name": name,
            "outputs": graph.exports,
            "secretOutputNames": sorted(graph.secret_exports),
        }


class _RecordingMonitor(mocks.MockMonitor):
    """The stock mock monitor, plus a record of every request's inputs and options."""

    def __init__(self, mock: _Mocks) -> None:
        super().__init__(mock)
        self.recorded: list[Resource] = []

    def RegisterResource(self, request: Any) -> Any:
        _ensure_event_loop()
        plain = _strip_resource_references(json_format.MessageToDict(request.object))
        rewritten = struct_pb2.Struct()
        rewritten.update(plain)
        request.object.CopyFrom(rewritten)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registered = self.resources.get(response.urn)
        self.recorded.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=request.custom,
                remote=request.remote,
                inputs=_whole_numbers(rpc.deserialize_properties(rewritten)),
                parent=request.parent,
                provider=request.provider,
                providers=dict(request.providers),
                dependencies=list(request.dependencies),
                property_dependencies={
                    key: list(value.urns) for key, value in request.propertyDependencies.items()
                },
                ignore_changes=list(request.ignoreChanges),
                protect=request.protect,
                delete_before_replace=request.deleteBeforeReplace,
                retain_on_delete=request.retainOnDelete,
                outputs=_whole_numbers(dict(registered.state)) if registered else {},
            )
        )
        return response


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# What a DIY backend calls every stack's organization.
MOCK_ORGANIZATION = "organization"
# Config keys that name another stack whose outputs this one reads.
STACK_REFERENCE_KEYS = ("trading:primaryStack", "trading:drStack")


def _referenced_graphs(config: Mapping[str, Any]) -> dict[str, Graph]:
    """Feed each stack reference with the referenced stack's own mocked run (its stack is the
    last part of the reference, `org/project/<stack>`)."""
    return {
        reference_name(str(config[key])): run_program(str(config[key]).rsplit("/", 1)[-1])
        for key in STACK_REFERENCE_KEYS
        if config.get(key)
    }


def reference_name(stack: str) -> str:
    """The name the program's StackReference asks for, under this harness's organization."""
    return stack if "/" in stack else f"{MOCK_ORGANIZATION}/{project_name()}/{stack}"


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    references: Mapping[str, Graph] | None = None,
) -> Graph:
    """Run `__main__.py` for `stack` with its real config, `overrides` (full keys) on top.

    Stack references read `references` (reference name -> that stack's graph); by default the
    referenced stacks are run first. When the program fails, the exception carries the
    resources registered until then as `partial_graph`.
    """
    config = stack_config(stack) | dict(overrides or {})
    config = {key: value for key, value in config.items() if value is not None}
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    fed = _referenced_graphs(config) if references is None else dict(references)

    settings.ROOT.set(None)
    # Outputs are tracked process-wide; a failed earlier run would otherwise be awaited, and
    # its error reported, by this one.
    settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue]
    pulumi.runtime.set_all_config({k: _config_value(v) for k, v in config.items()}, [])
    mock = _Mocks(fed)
    monitor = _RecordingMonitor(mock)
    mocks.set_mocks(
        mock,
        project=project_name(),
        stack=stack,
        preview=False,
        monitor=monitor,
        organization=MOCK_ORGANIZATION,
    )
    root = settings.get_root_resource()
    assert isinstance(root, pulumi.runtime.stack.Stack)

    def program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")

    try:
        _sync_await(run_pulumi_func(program))
    except Exception as error:
        error.partial_graph = Graph(stack, list(monitor.recorded), {}, set())  # type: ignore[attr-defined]
        raise

    exports: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in root.outputs.items():
        output = pulumi.Output.from_input(value)
        exports[key] = _whole_numbers(_sync_await(output.future()))
        if _sync_await(output.is_secret()):
            secret.add(key)
    return Graph(stack, list(monitor.recorded), exports, secret)
