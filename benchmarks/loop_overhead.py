"""Share of a self-improvement run's wall time spent outside sandboxes and model calls.

A real run (real Docker sandboxes, real gateway, real archive and checkpointer) with the
scripted model of examples/scripted_agent.py, so the model answers instantly and what is
left is the orchestrator's own cost: graph steps, archive writes, tree hashing, tar
transfers set aside. Every sandbox operation and every model call is timed as an
interval; the overhead is the part of the wall time covered by none of them.
Target (run issue): overhead_share < 0.10.

    .venv/bin/python benchmarks/loop_overhead.py [--generations N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

INTERVALS: list[tuple[float, float]] = []
LOCK = threading.Lock()


def timed(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            with LOCK:
                INTERVALS.append((start, time.time()))

    return wrapper


class TimedSandbox:
    """Times every operation of a real sandbox."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        for name in ("start", "put_files", "run", "get_files", "stop"):
            setattr(self, name, timed(getattr(inner, name)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __enter__(self) -> TimedSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def covered(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generations", type=int, default=2)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="clade-bench-"))
    os.environ["CLADE_HOME"] = str(home / ".clade")
    from clade.orchestrator.dgm import launch
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.home import open_archive

    backend = launch._sandbox_backend

    def timed_backend(config: RunConfig) -> tuple[Any, str]:
        factory, image = backend(config)
        return (lambda cfg: TimedSandbox(factory(cfg))), image

    launch._sandbox_backend = timed_backend  # type: ignore[assignment]
    config = RunConfig.model_validate(
        {
            "models": {"default": {"model": "scripted/scripted_agent:reply"}},
            "evaluation": {
                "evaluator": "word-sorting",
                "options": {"n": 40},
                "stages": [{"tasks": 6}],
            },
            "selection": {"policy": "best", "children_per_generation": 2},
            "agent_limits": {"max_steps": 3, "max_seconds": 60},
            "sandbox": {"memory_mb": 512, "cpus": 1.0},
            "budget": {"generations": args.generations},
            "parallelism": 2,
        }
    )
    archive = open_archive()
    run_id = archive.create_run(name="loop-overhead", config=config.model_dump(mode="json")).id
    calls: list[Any] = []
    original = launch.real_steps

    def steps(*a: Any) -> Any:
        built = original(*a)
        layer = built.gateway.layer  # type: ignore[attr-defined]
        sink = layer.sink
        layer.sink = lambda record: (calls.append(record), sink(record))
        return built

    start = time.time()
    launch.execute(archive, config, run_id, resume=False, emit=lambda e: None, steps_factory=steps)
    wall = time.time() - start
    model = [(r.created_at.timestamp() - r.latency_s, r.created_at.timestamp()) for r in calls]
    busy = covered(INTERVALS + model)
    rows = archive.list_candidates(run_id)
    print(f"{len(rows)} candidates, {len(calls)} model calls, {len(INTERVALS)} sandbox operations")
    print(f"wall {wall:.2f}s; in sandboxes or model calls {busy:.2f}s; outside {wall - busy:.2f}s")
    print(
        json.dumps(
            {
                "overhead_share": round(1 - busy / wall, 4),
                "wall_s": round(wall, 2),
                "candidates": len(rows),
            }
        )
    )


if __name__ == "__main__":
    main()
