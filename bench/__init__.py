"""Benchmarks and the load test: each prints its figures."""
