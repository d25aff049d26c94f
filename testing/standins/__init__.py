"""STAND-IN provider plugins for the real Pulumi engine, for offline tests only.

The real `aws`, `eks`, `kubernetes` and `random` plugins cannot be installed on a machine that
reaches only package registries (pulumi-aws is built from a patched Terraform provider). These
stand-ins take their place in an offline `PULUMI_HOME` (never the user's): they speak the real
provider protocol, check every resource's inputs against what the pinned Python SDK declares,
answer pulumi-eks's remote components through Construct, invent the outputs the program reads,
and can make a whole region unreachable. They call no cloud and prove nothing about AWS itself.
"""
