"""The failover simulation: both regions on a simulated clock, with faults, running the real
failover handler code (`python -m drill simulate`)."""
