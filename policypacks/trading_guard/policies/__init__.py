"""The trading platform's CrossGuard policies, one module per area, importable without starting
a policy server (only the pack's `__main__.py` constructs the PolicyPack)."""

from . import compute, database, deployability, dr, encryption, iam, network, storage

# Areas in the order the README and docs/policies.md list them.
AREAS = {
    "storage": storage.POLICIES,
    "database": database.POLICIES,
    "compute and Kubernetes": compute.POLICIES,
    "network": network.POLICIES,
    "IAM": iam.POLICIES,
    "logging and encryption": encryption.POLICIES,
    "disaster recovery": dr.POLICIES,
    "deployability": deployability.POLICIES,
}
POLICIES = [policy for policies in AREAS.values() for policy in policies]
