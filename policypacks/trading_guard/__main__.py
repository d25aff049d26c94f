"""The policy pack's entry point: constructs the PolicyPack, which serves the policies to the
Pulumi engine and never returns. The policies live in the `policies` package, importable by
tests."""

from policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="trading-guard",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
