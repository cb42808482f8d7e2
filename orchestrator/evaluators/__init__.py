"""Benchmark evaluators: the protocol, the registry, and the built-ins."""
