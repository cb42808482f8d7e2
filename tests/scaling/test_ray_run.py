"""A scripted-model run across a real 2-node Ray cluster, with a node killed mid-run.

Real Docker sandboxes on each node (the nodes share this host's engine), a real SQLite
archive whose file the nodes share, the real LangGraph checkpointer on the orchestrator
(this test's process). The second node is SIGKILLed (raylet, workers) while one of its
children is being evaluated; Ray runs that child again on the head, which finds it by its
key and evaluates only what is not recorded. The archive must then match an undisturbed
run of the same config on the same cluster: the same candidates by key, parents, trees,
statuses and scores, every task evaluated exactly once.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.slow]


def _config(address: str) -> dict[str, Any]:
    return {
        "name": "scripted-on-ray",
        "models": {"default": {"model": "scripted/scripted_agent:reply"}},
        "evaluation": {
            "evaluator": "word-sorting",
            "options": {"n": 12},
            "stages": [{"tasks": 2, "threshold": 0.0}],
        },
        "selection": {"policy": "best", "children_per_generation": 2},
        "agent_limits": {"max_steps": 3, "max_seconds": 60, "command_timeout": 20},
        "sandbox": {"memory_mb": 512, "cpus": 1.0},
        "budget": {"generations": 2},
        "parallelism": 2,
        "execution": {"backend": "ray", "address": address, "docker": 1, "cpus": 1},
    }


def _start(home: Path, address: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    from clade.orchestrator.config import settings
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.launch import create_run
    from clade.orchestrator.home import open_archive

    monkeypatch.setenv("CLADE_HOME", str(home))
    settings.cache_clear()
    archive = open_archive()
    return archive, create_run(archive, RunConfig.model_validate(_config(address)))


def _execute(archive: Any, run_id: str, events: list[dict[str, Any]]) -> None:
    from clade.orchestrator.dgm.launch import execute, run_config

    execute(archive, run_config(archive, run_id), run_id, resume=False, emit=events.append)


def _record(archive: Any, run_id: str) -> dict[str, Any]:
    """What the run left, by candidate key (ids differ between runs; keys do not)."""
    rows = archive.list_candidates(run_id)
    key_of = {r.id: archive.get_candidate(r.id).meta["key"] for r in rows}
    record: dict[str, Any] = {}
    for row in rows:
        candidate = archive.get_candidate(row.id)
        evaluations = archive.evaluations(row.id)
        tasks = [(e.evaluator, e.split, e.task_id, e.attempt) for e in evaluations]
        record[key_of[row.id]] = {
            "parent": key_of.get(candidate.parent_id) if candidate.parent_id else None,
            "tree": candidate.tree_hash,
            "status": str(candidate.status),
            "score": row.score,
            "evaluated": sorted((e.task_id, e.score, e.passed) for e in evaluations),
            "twice": len(tasks) - len(set(tasks)),
        }
    assert len(key_of) == len(set(key_of.values())), "a key was made twice"
    # Blobs travel by hash (execution.blobs: shipped): the workers wrote every tree and log
    # into caches of their own and sent them here, before any row named them.
    assert archive.blobs.upstream is None
    for row in rows:
        assert archive.blobs.has(row.tree_hash), f"{key_of[row.id]}'s tree never arrived"
        for e in archive.evaluations(row.id):
            assert e.log_hash is None or archive.blobs.has(e.log_hash, "log")
    return record


def test_a_node_killed_mid_child_loses_nothing_and_repeats_nothing(
    ray_cluster, tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    address = ray_cluster.address

    calm, calm_id = _start(tmp_path / "calm", address, monkeypatch)
    started = time.monotonic()
    calm_events: list[dict[str, Any]] = []
    _execute(calm, calm_id, calm_events)
    calm_s = time.monotonic() - started
    placed = {e["node"] for e in calm_events if e["event"] == "placed"}
    assert len(placed) == 2, f"the undisturbed run used {len(placed)} node(s), not both"
    expected = _record(calm, calm_id)
    assert sorted(expected) == ["g1c0", "g1c1", "g2c0", "g2c1", "seed"]
    assert calm.get_run(calm_id).status == "finished"

    disturbed, run_id = _start(tmp_path / "disturbed", address, monkeypatch)
    events: list[dict[str, Any]] = []
    failure: list[BaseException] = []

    def orchestrate() -> None:
        try:
            _execute(disturbed, run_id, events)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)

    thread = threading.Thread(target=orchestrate, daemon=True)
    thread.start()
    workers_of = sys.modules["clade_ray_cluster"].workers_of
    deadline = time.monotonic() + 120
    killed_at = None
    while thread.is_alive() and time.monotonic() < deadline:
        # The first child's evaluation is in the archive and node 2 is working on a child.
        evaluated = any(
            disturbed.get_candidate(r.id).meta.get("key", "").startswith("g")
            and disturbed.evaluations(r.id)
            for r in disturbed.list_candidates(run_id)
        )
        if evaluated and workers_of(ray_cluster.second):
            ray_cluster.kill(ray_cluster.second)
            killed_at = len(events)
            break
        time.sleep(0.1)
    assert killed_at is not None, f"node 2 was never caught working on a child: {failure}"
    in_flight = _unplaced(events[:killed_at])
    thread.join(timeout=240)
    assert not thread.is_alive(), "the run did not finish after the node was killed"
    assert not failure, failure

    import ray

    head = next(n["NodeID"] for n in ray.nodes() if "node:__internal_head__" in n["Resources"])
    after = [e for e in events[killed_at:] if e["event"] == "placed"]
    assert after and all(e["node"] == head for e in after), after  # retried elsewhere
    assert in_flight & {e["key"] for e in after}, (in_flight, after)
    assert disturbed.get_run(run_id).status == "finished"
    assert _record(disturbed, run_id) == expected  # nothing lost, nothing evaluated twice
    assert all(row["twice"] == 0 and len(row["evaluated"]) == 2 for row in expected.values())
    print(f"undisturbed run: {calm_s:.1f} s")


def _unplaced(events: list[dict[str, Any]]) -> set[str]:
    """Keys announced by a generation and not yet returned from a worker."""
    announced: set[str] = set()
    for event in events:
        if event["event"] == "generation":
            announced |= {f"g{event['generation']}c{i}" for i in range(len(event["parents"]))}
    return announced - {e["key"] for e in events if e["event"] == "placed"}
