"""Parts of benchmarks/reliability.py: the harness, private engines, the trials."""
