"""Wall time of a run on 1 and 2 Ray worker nodes, and of the sync and async loops (issue 19).

One real local Ray cluster (benchmarks/scaling_parts/ray_cluster.py): a head, later a
second node, each with ``--slots`` CPUs and ``docker`` units (one child holds one of each). One scripted run
config (examples/scripted_agent.py: the seed solves nothing, its children sort), real
Docker sandboxes on the nodes, a SQLite archive the nodes share, the graph and its
checkpointer in this process, ``execution.backend: ray``. The evaluator is
benchmarks/scaling_parts/timed_tasks.py: word sorting whose children each take a set
extra time (``--seconds``; fixed, or varied by ``--spread`` around it, drawn by the child's number).
Measured in this order, side by side in one process:

1. fixed times, sync loop, head only (1 node);
2. the second node joins; fixed times, sync loop, 2 nodes;
3. varied times, sync loop, 2 nodes; 4. the same with ``loop: async``.

speedup_2_nodes = wall(1) / wall(2) (target >= 1.7 with equal nodes); async_vs_sync =
wall(3) / wall(4) (target >= 1.2). lost and duplicates are counted from the archives of all
four runs: a child key missing or left unfinished, or a task evaluation missing, is lost; a
key made twice, or a task evaluated more than once, is a duplicate. Both nodes share this
host's cores (and its one Docker engine), so only the set time scales perfectly; the real
work of each child (containers, the agent, grading) competes for the same CPUs.

    .venv/bin/python benchmarks/scaling.py [--seconds 20] [--spread 18] [--slots 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
sys.path[:0] = [str(HERE), str(EXAMPLES)]

from scaling_parts.ray_cluster import LocalCluster  # noqa: E402
from scaling_parts.timed_tasks import timed_steps  # noqa: E402

TASKS = 2


def run_config(args: argparse.Namespace, address: str, loop: str, spread: float) -> dict[str, Any]:
    k = args.children
    return {
        "name": f"scaling-{loop}",
        "seed": 0,
        "loop": loop,
        "models": {"default": {"model": "scripted/scripted_agent:reply"}},
        "evaluation": {
            "evaluator": "scaling_parts.timed_tasks:TimedWordSorting",
            "options": {
                "n": 12,
                "seconds": args.seconds,
                "spread": spread,
                "children_per_generation": k,
            },
            "stages": [{"tasks": TASKS, "threshold": 0.0}],
        },
        "selection": {"policy": "score_child_prop", "children_per_generation": k},
        "agent_limits": {"max_steps": 3, "max_seconds": 120, "command_timeout": 30},
        "sandbox": {"memory_mb": 512, "cpus": 1.0},
        "budget": {"generations": args.generations},
        "parallelism": 2 * args.slots,  # what 2 nodes hold; on 1 node the rest wait in Ray
        "execution": {"backend": "ray", "address": address, "docker": 1, "cpus": 1},
    }


def measure(root: Path, name: str, config: dict[str, Any]) -> dict[str, Any]:
    """One run to its end in a fresh Clade home; its wall time and what it left."""
    import os

    from clade.archive.facade import Archive
    from clade.orchestrator.config import settings
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.launch import create_run, execute

    home = root / name
    home.mkdir(parents=True)
    os.environ["CLADE_HOME"] = str(home)
    settings.cache_clear()
    archive = Archive(f"sqlite:///{home / 'clade.db'}", home / "blobs")
    run = RunConfig.model_validate(config)
    run_id = create_run(archive, run)
    nodes: set[str] = set()

    def emit(event: dict[str, Any]) -> None:
        if event.get("event") == "placed":
            nodes.add(event["node"])

    started = time.monotonic()
    execute(archive, run, run_id, resume=False, emit=emit, steps_factory=timed_steps)
    wall = time.monotonic() - started
    lost, duplicates = count(archive, run_id, run)
    archive.close()
    return {"wall_s": round(wall, 1), "nodes_used": len(nodes), "lost": lost,
            "duplicates": duplicates}  # fmt: skip


def count(archive: Any, run_id: str, config: Any) -> tuple[int, int]:
    """(lost, duplicates) of a finished run, from its archive alone."""
    rows = archive.list_candidates(run_id)
    keys = [archive.get_candidate(r.id).meta.get("key") for r in rows]
    expected = config.budget.generations * config.selection.children_per_generation + 1
    lost = max(0, expected - len(set(keys))) + sum(1 for r in rows if r.status == "evaluating")
    duplicates = len(keys) - len(set(keys))
    for row in rows:
        done = archive.evaluations(row.id)
        tasks = {(e.evaluator, e.split, e.task_id) for e in done}
        duplicates += len(done) - len(tasks)  # an attempt recorded twice (never, by its key)
        if done:
            lost += max(0, TASKS - len(tasks))
            duplicates += max(0, len(tasks) - TASKS)
    if archive.get_run(run_id).status != "finished":
        lost += 1
    return lost, duplicates


def warm_up(address: str, slots: int) -> None:
    """Start and warm a Ray worker in every slot (Clade's imports, the agent image), so
    no measured run pays a node's cold start; the runs reuse these workers (one job)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, configure_logging=False)

    def warm() -> None:
        import clade.orchestrator.dgm.launch  # noqa: F401
        from clade.orchestrator.evaluators.runner import agent_image

        agent_image()
        time.sleep(3)  # hold the slot, so the next warm-up lands on another

    remote = ray.remote(warm).options(num_cpus=1, resources={"docker": 1})
    ray.get([remote.remote() for _ in range(slots)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="a child's set time")
    parser.add_argument("--spread", type=float, default=18.0, help="varied: +- this")
    parser.add_argument("--slots", type=int, default=2, help="children at once per node")
    parser.add_argument("--children", type=int, default=4, help="children per generation")
    parser.add_argument("--generations", type=int, default=2)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="clade-scaling-"))
    cluster = LocalCluster({"PYTHONPATH": f"{HERE}:{EXAMPLES}"})
    results: dict[str, dict[str, Any]] = {}
    try:
        address = cluster.start_head(cpus=args.slots, docker=args.slots)
        warm_up(address, args.slots)
        plan = [("one_node", "sync", 0.0), ("two_nodes", "sync", 0.0),
                ("varied_sync", "sync", args.spread), ("varied_async", "async", args.spread)]  # fmt: skip
        for name, loop, spread in plan:
            if name == "two_nodes":
                cluster.add_node(cpus=args.slots, docker=args.slots)
                warm_up(address, 2 * args.slots)
            results[name] = measure(root, name, run_config(args, address, loop, spread))
            print(f"{name:>13}: {json.dumps(results[name])}", flush=True)
    finally:
        import ray

        ray.shutdown()
        cluster.stop()
    one, two = results["one_node"]["wall_s"], results["two_nodes"]["wall_s"]
    sync, asynchronous = results["varied_sync"]["wall_s"], results["varied_async"]["wall_s"]
    print(json.dumps({
        "wall_1_node_s": one,
        "wall_2_nodes_s": two,
        "speedup_2_nodes": round(one / two, 2),
        "wall_varied_sync_s": sync,
        "wall_varied_async_s": asynchronous,
        "async_vs_sync": round(sync / asynchronous, 2),
        "lost": sum(r["lost"] for r in results.values()),
        "duplicates": sum(r["duplicates"] for r in results.values()),
        "config": {"seconds": args.seconds, "spread": args.spread, "slots_per_node": args.slots,
                   "children_per_generation": args.children, "generations": args.generations,
                   "tasks_per_child": TASKS, "sandbox": "docker"},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
