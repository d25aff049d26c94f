"""Shared harness: the real program, run once per stack with that stack's real config."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testing.fast_aws import share_service_models, skip_default_amis
from testing.harness import Graph, Resource, run_program, stack_config
from testing.offline import Deployed, Offline, deploy

STACKS = ("primary", "dr")

share_service_models()
skip_default_amis()


class StackGraph:
    """A stack's recorded resource graph, with the questions the specifications ask of it."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.name = graph.stack

    def __iter__(self):
        return iter(self.graph)

    def of_type(self, type_: str) -> list[Resource]:
        return self.graph.of_type(type_)

    def one(self, type_: str, name: str) -> Resource:
        return self.graph.one(type_, name)

    def node_group(self, group: str) -> Resource:
        return self.one("eks:index:ManagedNodeGroup", f"{self.name}-{group}-ng")

    def scaling(self, group: str) -> dict[str, float]:
        return self.node_group(group).inputs["scalingConfig"]

    @property
    def cluster(self) -> Resource:
        return self.one("eks:index:Cluster", f"{self.name}-eks")

    @property
    def exports(self) -> dict[str, Any]:
        return self.graph.exports


@dataclass(frozen=True)
class Shipped:
    """Both stacks as shipped, deployed by the real engine (tests/test_engine.py describes the
    set-up): the workspace, and each stack as the engine recorded it right after its update."""

    offline: Offline
    stacks: dict[str, Deployed]


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Shipped:
    """One deployment for every engine test that reads the shipped stacks: they share the
    xdist group `engine`, so one worker deploys once instead of once per module."""
    offline = Offline(base=tmp_path_factory.mktemp("shipped"))
    return Shipped(offline, deploy(offline, STACKS))


def listed(value: Any) -> list[Any]:
    """An IAM policy element as a list: `Action` and `Resource` may be one string or several."""
    return value if isinstance(value, list) else [value]


def raw_settings(stack: str) -> dict[str, Any]:
    """A stack file's `trading:*` values keyed without the namespace, as settings.parse takes."""
    return {
        key.split(":", 1)[1]: value
        for key, value in stack_config(stack).items()
        if key.startswith("trading:")
    }


def shared(graph: Graph) -> Iterator[StackGraph]:
    """A session's graph, which every test on the worker reads and the pack's verdict on it is
    computed once for (tests/test_policies.py `judged`): a test that changed it in place would
    change what later tests see, so the session fails at its end if one did. Tests change
    `edited` copies."""
    before = repr(graph)
    yield StackGraph(graph)
    # Not an assert: pytest would diff two half-megabyte reprs for minutes.
    if repr(graph) != before:
        pytest.fail(
            f"a test changed the session's {graph.stack} graph in place; change a copy instead "
            "(tests/test_policies.py `edited`)"
        )


@pytest.fixture(scope="session")
def primary() -> Iterator[StackGraph]:
    yield from shared(run_program("primary"))


PRIMARY_REFERENCE = "organization/trading/primary"


@pytest.fixture(scope="session")
def run_dr(primary: StackGraph) -> Callable[..., Graph]:
    """Runs the dr stack (with config overrides) against the session's primary graph."""

    def run(overrides: dict[str, Any] | None = None) -> Graph:
        return run_program("dr", overrides, references={PRIMARY_REFERENCE: primary.graph})

    return run


@pytest.fixture(scope="session")
def dr(run_dr: Callable[..., Graph]) -> Iterator[StackGraph]:
    yield from shared(run_dr())


def postgres(stack: str) -> dict[str, Any]:
    """The config override that puts `stack` on the RDS PostgreSQL cross-region replica tier,
    the option beside the stack files' Aurora global database."""
    database = stack_config(stack)["trading:database"]
    return {
        "trading:database": database
        | {"engine": "postgres", "engineVersion": "16", "allocatedStorageGb": 200}
    }


@pytest.fixture(scope="session")
def rds_primary() -> Iterator[StackGraph]:
    yield from shared(run_program("primary", postgres("primary")))


@pytest.fixture(scope="session")
def run_rds_dr(rds_primary: StackGraph) -> Callable[..., Graph]:
    """Runs the dr stack on the PostgreSQL tier (with more overrides) against `rds_primary`."""

    def run(overrides: dict[str, Any] | None = None) -> Graph:
        return run_program(
            "dr",
            postgres("dr") | dict(overrides or {}),
            references={PRIMARY_REFERENCE: rds_primary.graph},
        )

    return run


@pytest.fixture(scope="session")
def rds_dr(run_rds_dr: Callable[..., Graph]) -> Iterator[StackGraph]:
    yield from shared(run_rds_dr())


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, primary: StackGraph, dr: StackGraph) -> StackGraph:
    return {"primary": primary, "dr": dr}[request.param]
