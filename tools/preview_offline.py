"""`pulumi preview` of each stack with the policy pack, on the real engine, offline.

    bash scripts/preview-offline [STACK]     # both stacks when none is given

The engine, the program and the policy pack are real; the providers are STAND-INS (they check
inputs against the pinned SDKs and invent outputs; they reach no cloud). The dr stack reads the
primary's outputs through a real StackReference, so a primary never deployed in the offline
backend is deployed there first (to the stand-ins). Exits non-zero on an engine error or a
mandatory policy violation.
"""

from __future__ import annotations

import sys

from tools.offline import Offline, PulumiError

STACKS = ("primary", "dr")


def main(argv: list[str]) -> int:
    stacks = argv or list(STACKS)
    unknown = [s for s in stacks if s not in STACKS]
    if unknown:
        print(f"preview-offline: unknown stack {unknown[0]!r}; allowed: {', '.join(STACKS)}")
        return 2
    offline = Offline()
    offline.prepare()
    print("Offline preview: real Pulumi engine, program and policy pack; STAND-IN providers.")
    failed = []
    for stack in stacks:
        if stack == "dr" and not offline.deployed("primary"):
            print("The dr stack reads the primary's outputs: deploying primary offline first.")
            try:
                offline.up("primary")
            except PulumiError as error:
                print(error)
                return 1
        offline.select(stack)
        result = offline.pulumi(
            "preview", "--stack", stack, *offline.policy_args(), check=False, stream=True
        )
        if result.returncode != 0:
            failed.append(stack)
    if failed:
        print(f"preview-offline: the preview of {', '.join(failed)} failed (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
