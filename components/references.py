"""Reading another stack's outputs, with a clear error when one the consumer needs is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


class MissingStackOutputError(Exception):
    """The referenced stack has not exported what this stack needs (not deployed yet, or an
    older version of the program)."""


def require_outputs(
    stack_name: str, outputs: dict[str, Any], required: Sequence[str], consumer: str
) -> dict[str, Any]:
    missing = [key for key in required if outputs.get(key) in (None, "", {}, [])]
    if missing:
        raise MissingStackOutputError(
            f"stack {stack_name!r} lacks the output(s) {', '.join(missing)} that the {consumer} "
            f"stack needs; deploy {stack_name!r} with this version of the program first, or "
            "point the stack reference setting at the right stack"
        )
    return outputs


def qualified(stack_name: str) -> str:
    """`stack_name` as `organization/project/stack`: a bare stack name is one of this project's
    stacks in the organization of the backend in use (on Pulumi Cloud the user's, on a DIY
    backend the literal `organization`), so the same stack file works on both."""
    if "/" in stack_name:
        return stack_name
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack_name}"


def stack_outputs(
    name: str,
    stack_name: str,
    required: Sequence[str],
    consumer: str,
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[dict[str, Any]]:
    """Outputs of `stack_name`, failing the run when one of `required` is missing.

    Everything declared from these outputs waits for the check, so nothing that depends on
    them reaches the engine when an output is missing.
    """
    full_name = qualified(stack_name)
    reference = pulumi.StackReference(name, stack_name=full_name, opts=opts)
    return reference.outputs.apply(
        lambda outputs: require_outputs(full_name, dict(outputs), required, consumer)
    )
