"""A real local Ray cluster (a head and a second node on this host) for the scaling tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cluster_module():
    """benchmarks/scaling_parts/ray_cluster.py (shared with benchmarks/scaling.py), loaded by path."""
    name = "clade_ray_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "benchmarks" / "scaling_parts" / "ray_cluster.py"
        )
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def ray_cluster():
    """A head (1 CPU, 1 docker unit) and a second node like it, each `ray start`ed in its
    own process group; the workers find examples/ (the scripted model) on PYTHONPATH.
    Torn down with `ray stop --force` whatever happens."""
    cluster = _cluster_module().LocalCluster({"PYTHONPATH": str(ROOT / "examples")})
    try:
        cluster.start_head(cpus=1, docker=1)
        cluster.second = cluster.add_node(cpus=1, docker=1)
        yield cluster
    finally:
        import ray

        ray.shutdown()
        cluster.stop()
