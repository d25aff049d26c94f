"""The real drill's Pulumi side, on the Automation API: select both stacks, read their outputs,
and refresh them after the drill so Pulumi's state matches what the handler changed.

One drill at a time: a LocalWorkspace selects stacks in the project folder, which two drills
in parallel would fight over (the CLI's `stack select` is process-global state)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from pulumi import automation as auto

from drill.core import Drill
from drill.model import DrillInputError, Target

# The Pulumi project (Pulumi.yaml): where the Automation API selects the stacks.
ROOT = Path(__file__).resolve().parent.parent
PULUMI_INSTALL = "install the Pulumi CLI (https://www.pulumi.com/docs/install/) and log in"
# A synchronous failover invocation can take the Lambda's full 15 minutes.
LAMBDA_CONFIG = Config(read_timeout=960, connect_timeout=10, retries={"max_attempts": 0})


def select(
    stack_name: str,
    command: auto.PulumiCommand | None,
    work_dir: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> auto.Stack:
    """`stack_name` of the project in `work_dir`, the CLI run with `env` on top of ours."""
    try:
        options = auto.LocalWorkspaceOptions(
            pulumi_command=command or auto.PulumiCommand(), env_vars=dict(env or {})
        )
    except FileNotFoundError:
        raise DrillInputError(f"the Pulumi CLI was not found: {PULUMI_INSTALL}") from None
    try:
        return auto.select_stack(stack_name, work_dir=str(work_dir), opts=options)
    except auto.errors.StackNotFoundError:
        raise DrillInputError(
            f"no stack named {stack_name!r}; `pulumi stack ls --all` lists the stacks"
        ) from None


def outputs(stack: auto.Stack) -> dict[str, Any]:
    return {key: value.value for key, value in stack.outputs().items()}


def refresher(
    stacks: Mapping[str, auto.Stack], progress: Callable[[str], None]
) -> Callable[[], str]:
    """`pulumi refresh` of each stack, so Pulumi's state matches what the handler changed."""

    def refresh() -> str:
        results = []
        for name, stack in stacks.items():
            progress(f"[drill] pulumi refresh {name} ...")
            summary = stack.refresh(on_output=lambda line: None).summary
            results.append(f"{name}: {summary.result}")
        return "; ".join(results)

    return refresh


def lambda_trigger(function_name: str, region: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    client = boto3.client("lambda", region_name=region, config=LAMBDA_CONFIG)  # type: ignore[call-overload]

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = json.loads(response["Payload"].read() or b"{}")
        if "FunctionError" in response:
            return {"outcome": "ERROR", "detail": body.get("errorMessage", body)}
        return body

    return invoke


def lambda_markers(target: Target) -> Callable[[str, dict[str, Any]], dict[str, Any]] | None:
    """Each region's marker writer, invoked synchronously: its answer is its marker log."""
    functions = {
        target.primary_region: target.primary_marker_function,
        target.dr_region: target.dr_marker_function,
    }
    if not all(functions.values()):
        return None
    invokers = {region: lambda_trigger(name, region) for region, name in functions.items()}
    return lambda region, payload: invokers[region](payload)


def build(
    primary_stack: str,
    dr_stack: str,
    command: auto.PulumiCommand | None = None,
    trigger: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    progress: Callable[[str], None] = print,
) -> Drill:
    """The drill against AWS. `command` and `trigger` are injectable for tests."""
    progress(f"[drill] selecting {primary_stack} and {dr_stack} ...")
    stacks = {name: select(name, command) for name in (primary_stack, dr_stack)}
    target = Target.from_outputs(
        primary_stack, outputs(stacks[primary_stack]), dr_stack, outputs(stacks[dr_stack])
    )
    return Drill(
        target=target,
        client=lambda service, region: boto3.client(service, region_name=region),  # type: ignore[call-overload]
        trigger=trigger or lambda_trigger(target.function_name, target.dr_region),
        mode="aws",
        refresh=refresher(stacks, progress),
        progress=progress,
        markers=lambda_markers(target),
    )
