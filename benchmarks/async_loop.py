"""Wall time of the sync and async loops when children take varied times (issue 19).

The real run path (``launch.execute``: the graph, its SQLite checkpointer, the archive,
``patient``) with in-process stand-in steps instead of models and sandboxes: each child's
self-modification sleeps a set time, drawn per child from a seeded uniform range (varied)
or the same for all (fixed, the control). Child ``n`` is ``a<n>`` in the async loop and
``g<n // k + 1>c<n % k>`` in the sync one, so both loops meet the same times in the same
order. Both run side by side in one process; each figure is measured, nothing is assumed.
Expect async_vs_sync (sync wall / async wall) near 1 with fixed times, and above 1 with
varied ones: a generation waits for its slowest child, the async loop does not.

    .venv/bin/python benchmarks/async_loop.py [--children 16] [--parallelism 4]

``measure(loop, durations, ...)`` is importable (``benchmarks/`` on ``sys.path``), e.g. by
benchmarks/scaling.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class SleepSteps:
    """Agents are trees with a ``skill.txt`` of solved task ids; making child ``n`` takes
    ``durations[n]`` seconds and teaches it the parent's first failed task."""

    def __init__(self, archive: Any, k: int, durations: list[float]) -> None:
        self.archive, self.k, self.durations = archive, k, durations
        self.made: Counter[str] = Counter()
        self.folder = Path(tempfile.mkdtemp(prefix="clade-async-trees-"))

    def _number(self, key: str) -> int:
        sync = re.fullmatch(r"g(\d+)c(\d+)", key)
        return (int(sync[1]) - 1) * self.k + int(sync[2]) if sync else int(key[1:])

    def _tree(self, skills: set[str]) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.folder))
        (folder / "skill.txt").write_text(" ".join(sorted(skills)))
        return str(self.archive.put_tree(folder))

    def _skills(self, candidate: Any) -> set[str]:
        return set(self.archive.blobs.files(candidate.tree_hash)["skill.txt"].decode().split())

    def seed_tree(self) -> str:
        return self._tree(set())

    def diagnose(self, parent: Any, failures: Any, key: str = "") -> Any:
        from clade.orchestrator.dgm.diagnosis import Proposal

        task = failures[0][0].id if failures else "none"
        return Proposal(what_failed=task, improvement="learn it", implementation_plan="add it",
                        problem_statement=f"learn task {task}")  # fmt: skip

    def self_modify(self, parent: Any, proposal: Any, key: str) -> Any:
        from clade.orchestrator.dgm.protocol import Modification

        self.made[key] += 1
        time.sleep(self.durations[self._number(key)])
        return Modification(self._tree(self._skills(parent) | {proposal.what_failed}))

    def evaluate(self, candidate: Any, tasks: list[Any]) -> list[Any]:
        from clade.orchestrator.evaluators.base import Score

        skills = self._skills(candidate)
        return [(Score(score=float(t.id in skills), passed=t.id in skills), {}) for t in tasks]

    def review(self, parent: Any, diff: str) -> Any:
        raise AssertionError("review is off")


def measure(
    loop: str, durations: list[float], *, k: int, parallelism: int, policy: str = "best"
) -> dict[str, Any]:
    """One run of ``len(durations)`` children (a multiple of ``k``) with ``loop``: its wall
    time, children made, and keys made more than once (0 expected)."""
    home = Path(tempfile.mkdtemp(prefix="clade-bench-async-"))
    os.environ["CLADE_HOME"] = str(home / ".clade")
    from clade.orchestrator.config import settings

    settings.cache_clear()
    from clade.orchestrator.dgm import launch
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.home import open_archive

    config = RunConfig.model_validate(
        {
            "loop": loop,
            "evaluation": {"evaluator": "word-sorting", "options": {"n": 40},
                           "stages": [{"tasks": 4}]},
            "selection": {"policy": policy, "children_per_generation": k},
            "sandbox": {"backend": "local"},
            "budget": {"generations": len(durations) // k},
            "parallelism": parallelism,
        }
    )  # fmt: skip
    archive = open_archive()
    run_id = archive.create_run(name=f"async-{loop}", config=config.model_dump(mode="json")).id
    made: list[SleepSteps] = []

    def steps(archive: Any, run_id: str, config: Any, evaluator: Any) -> Any:
        made.append(SleepSteps(archive, k, durations))
        return made[0]

    start = time.monotonic()
    launch.execute(archive, config, run_id, resume=False, emit=lambda e: None, steps_factory=steps)
    wall = time.monotonic() - start
    rows = archive.list_candidates(run_id)
    keys = Counter(archive.get_candidate(r.id).meta["key"] for r in rows)
    return {
        "wall_s": round(wall, 3),
        "children": len(rows) - 1,
        # a key recorded twice, or a child made twice (the work of a key done again)
        "duplicates": sum(n - 1 for n in [*keys.values(), *made[0].made.values()]),
        "status": archive.get_run(run_id).status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=16, help="a multiple of --parallelism")
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--low", type=float, default=0.5, help="shortest child, s")
    parser.add_argument("--high", type=float, default=3.0, help="longest child, s")
    args = parser.parse_args()
    k = args.parallelism  # a generation fills every slot, as a sync run is sized
    rng = random.Random(0)
    varied = [round(rng.uniform(args.low, args.high), 3) for _ in range(args.children)]
    fixed = [round((args.low + args.high) / 2, 3)] * args.children
    # Warm-up, not counted: the first run in a process pays the imports (LangGraph, ...).
    measure("sync", [0.0] * k, k=k, parallelism=args.parallelism)
    figures: dict[str, Any] = {}
    for name, durations in (("varied", varied), ("fixed", fixed)):
        for loop in ("sync", "async"):
            result = measure(loop, durations, k=k, parallelism=args.parallelism)
            figures[f"{name}_{loop}"] = result
            print(f"{name:6} {loop:5}: {result}", flush=True)
    ideal_sync = sum(max(varied[i : i + k]) for i in range(0, len(varied), k))
    print(f"varied times (s): {varied}; sum of generation maxima {ideal_sync:.2f}, "
          f"total work / slots {sum(varied) / args.parallelism:.2f}")  # fmt: skip
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load: {load}")
    ratio = figures["varied_sync"]["wall_s"] / figures["varied_async"]["wall_s"]
    control = figures["fixed_sync"]["wall_s"] / figures["fixed_async"]["wall_s"]
    every = figures.values()
    print(
        json.dumps(
            {
                "async_vs_sync": round(ratio, 3),
                "async_vs_sync_fixed_times": round(control, 3),
                "wall_sync_varied_s": figures["varied_sync"]["wall_s"],
                "wall_async_varied_s": figures["varied_async"]["wall_s"],
                "children": args.children,
                "parallelism": args.parallelism,
                "lost": sum(args.children - f["children"] for f in every),
                "duplicates": sum(f["duplicates"] for f in every),
                "all_finished": all(f["status"] == "finished" for f in every),
            }
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
