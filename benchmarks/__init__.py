"""Benchmarks of the Workload resource against the local control plane; run ``python benchmarks/run.py``."""
