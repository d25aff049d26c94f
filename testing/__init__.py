"""Test-side support: what stands in for the cloud and the engine, never part of the product.

The mock harness, the moto world, the invented ids and ARNs, the STAND-IN provider plugins and
the offline CLI wrapper are what tests, `drill emulate`, `drill simulate` and the developer
commands in `tools/` run on; some need requirements-dev.txt (moto). The program, the handlers
and `python -m drill run` import nothing from here, so a machine with only requirements.txt
runs them; `tests/test_layout.py` keeps it that way.
"""
