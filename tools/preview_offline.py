"""`pulumi preview` of each stack with the policy pack, on the real engine, offline.

    bash scripts/preview-offline [STACK]     # both stacks when none is given

The engine, the program and the policy pack are real; the providers are STAND-INS (they check
inputs against the pinned SDKs and invent outputs; they reach no cloud). As on a real account,
the preview compares with a deployed stack: a stack (and, for dr, the primary it references)
never deployed in the offline backend is first deployed there with the policy pack, so the
policies judge known values rather than reporting that they cannot run on unknown ones. Exits
non-zero on an engine error or a mandatory policy violation.
"""

from __future__ import annotations

import sys

from testing.offline import Offline

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
    needed = ["primary", *stacks] if "dr" in stacks else stacks
    for stack in dict.fromkeys(needed):
        if not offline.deployed(stack):
            print(f"{stack} is not deployed offline yet: deploying it to the stand-ins first.")
            if offline.up(stack, *offline.policy_args(), stream=True).returncode != 0:
                print(f"preview-offline: the first deployment of {stack} failed (see above)")
                return 1
    for stack in stacks:
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
