"""The asynchronous loop (``loop: async``, orchestrator/dgm/pool.py) with a real archive, a
real checkpointer and the in-process stand-in steps of test_dgm_graph.py, slowed down per
child so that children take varied times."""

from __future__ import annotations

import threading
import time
from typing import ClassVar, get_args

import pytest

from clade.archive.errors import ConfigError
from clade.orchestrator.dgm.config import RunConfig, load_config
from clade.orchestrator.dgm.graph import DGMRun, build_graph
from clade.orchestrator.dgm.pool import ChildPool, recursion_limit
from clade.orchestrator.dgm.selection import PolicyName
from clade.orchestrator.evaluators.generated import WordSorting

from .test_dgm_graph import Crash, SeedSolvesOne, invoke, make_run


class SlowSteps(SeedSolvesOne):
    """Self-modification of child ``key`` takes ``slow[key]`` seconds (else ``fast``)."""

    slow: ClassVar[dict[str, float]] = {}
    fast = 0.02

    def self_modify(self, parent, proposal, key):
        time.sleep(self.slow.get(key, self.fast))
        made = super().self_modify(parent, proposal, key)
        self.made.append(key)
        return made

    @property
    def made(self) -> list[str]:
        """Keys of the children made, in order (one entry per self-modification that ended)."""
        return self.__dict__.setdefault("_made", [])


def made_once(archive, run_id, steps) -> bool:
    """Every child that got past diagnosis was made exactly once."""
    edited = [
        archive.get_candidate(r.id).meta["key"]
        for r in archive.list_candidates(run_id)
        if r.generation > 0 and r.status != "failed"
    ]
    return sorted(steps.made) == sorted(edited)


class Timeline:
    """Wraps the run's ``child`` attribute, as launch.py and Ray execution do, and records
    when each child's work started and ended."""

    def __init__(self, dgm: DGMRun) -> None:
        self.inner, self.lock = dgm.child, threading.Lock()
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.calls: list[str] = []
        dgm.child = self  # type: ignore[method-assign]

    def __call__(self, task):
        key = task.get("key") or f"g{task['generation']}c{task['index']}"
        with self.lock:
            self.calls.append(key)
            self.start.setdefault(key, time.monotonic())
        result = self.inner(task)
        with self.lock:
            self.end[key] = time.monotonic()
        return result


def async_run(tmp_path, **overrides):
    overrides.setdefault("loop", "async")
    return make_run(tmp_path, steps_cls=SlowSteps, **overrides)


def keys_of(archive, run_id) -> list[str]:
    return sorted(archive.get_candidate(r.id).meta["key"] for r in archive.list_candidates(run_id))


def run_async(dgm, run_id, saver, resume=False):
    """As launch.execute invokes the graph (its recursion limit, durability sync)."""
    graph = build_graph(dgm, saver)
    config = {"configurable": {"thread_id": run_id}, "recursion_limit": recursion_limit(dgm.config)}
    return graph.invoke(None if resume else {"run_id": run_id}, config, durability="sync")


@pytest.fixture
def slow_first_child():
    """The first child takes 2 s, the others a few hundredths (room for a loaded machine)."""
    SlowSteps.slow = {"a0": 2.0, "g1c0": 2.0}
    yield
    SlowSteps.slow = {}


@pytest.fixture
def saver(tmp_path):
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)
    yield SqliteSaver(connection)
    connection.close()


def test_no_barrier_a_fast_childs_successor_starts_before_a_slow_child_ends(
    tmp_path, saver, slow_first_child
):
    archive, _steps, run_id, dgm, events = async_run(tmp_path)
    timeline = Timeline(dgm)
    state = run_async(dgm, run_id, saver)
    assert keys_of(archive, run_id) == ["a0", "a1", "a2", "a3", "seed"]
    # a1 was fast: a2 and a3 took its slot (and the next one's) while the slow a0 worked.
    assert timeline.start["a2"] < timeline.end["a0"]
    assert timeline.start["a3"] < timeline.end["a0"]
    assert state["stop_reason"] == "4 children made (2 generation(s) of 2)"
    assert state["in_flight"] == {} and sorted(state["children"]) == ["a0", "a1", "a2", "a3"]
    started = [e for e in events if e["event"] == "started"]
    assert [(e["key"], e["child"], e["of"]) for e in started] == [
        ("a0", 1, 4), ("a1", 2, 4), ("a2", 3, 4), ("a3", 4, 4)
    ]  # fmt: skip
    assert events[-1]["event"] == "finished"
    assert archive.get_run(run_id).status == "finished"


def test_the_sync_loop_keeps_its_barrier(tmp_path, saver, slow_first_child):
    """The same stand-in with ``loop: sync``: the second generation waits for the slow child."""
    archive, _steps, run_id, dgm, _ = async_run(tmp_path, loop="sync")
    timeline = Timeline(dgm)
    invoke(dgm, run_id, saver)
    assert keys_of(archive, run_id) == ["g1c0", "g1c1", "g2c0", "g2c1", "seed"]
    assert min(timeline.start["g2c0"], timeline.start["g2c1"]) >= timeline.end["g1c0"]


@pytest.mark.parametrize("policy", get_args(PolicyName))
def test_every_policy_makes_the_budgeted_children(tmp_path, saver, policy):
    archive, steps, run_id, dgm, _ = async_run(
        tmp_path,
        selection={"policy": policy, "children_per_generation": 2},
        budget={"generations": 3},
        parallelism=3,
    )
    run_async(dgm, run_id, saver)
    assert keys_of(archive, run_id) == ["a0", "a1", "a2", "a3", "a4", "a5", "seed"]
    rows = archive.list_candidates(run_id)
    assert all(r.status in {"admitted", "rejected", "failed"} for r in rows)
    assert made_once(archive, run_id, steps)
    # Parents are drawn from the archive as it stands: later children descend from earlier ones.
    if policy == "best":
        assert max(r.generation for r in rows) >= 2


# The seed's two stages are evaluations 1-2; each child's are two more.
@pytest.mark.parametrize(
    "crash_on", [("evaluate", 3), ("self_modify", 3), ("evaluate", 8), ("diagnose", 5)]
)
def test_a_crash_mid_run_resumes_with_no_duplicate_key_or_evaluation(tmp_path, saver, crash_on):
    archive, steps, run_id, dgm, _ = async_run(tmp_path, budget={"generations": 3})
    steps.crash_on = crash_on
    with pytest.raises(Crash):
        run_async(dgm, run_id, saver)
    assert archive.get_run(run_id).status == "running"
    steps.crash_on = None
    # A new process: a fresh DGMRun (so a fresh pool, no future left) and the same checkpoints.
    fresh = DGMRun(archive, dgm.config, WordSorting(n=40), steps, emit=lambda e: None)
    timeline = Timeline(fresh)
    run_async(fresh, run_id, saver, resume=True)
    assert keys_of(archive, run_id) == ["a0", "a1", "a2", "a3", "a4", "a5", "seed"]
    assert len(timeline.calls) == len(set(timeline.calls))  # each key submitted once
    for row in archive.list_candidates(run_id):  # a parent that solves all fails diagnosis
        expected = 0 if row.status == "failed" else 4
        assert len(archive.task_results(row.id, "word-sorting", "dev")) == expected  # none twice
    assert made_once(archive, run_id, steps)
    assert archive.get_run(run_id).status == "finished"


def test_the_children_in_flight_are_resubmitted_on_resume(tmp_path, saver, slow_first_child):
    """The slow a0 is in flight (in the checkpoint) when a2 crashes: resume submits a0 again
    (found finished by its key) and issues a2 again, each once."""
    archive, steps, run_id, dgm, _ = async_run(tmp_path)
    steps.crash_on = ("evaluate", 5)  # the seed: 1-2, the fast a1: 3-4, a2: 5
    with pytest.raises(Crash):
        run_async(dgm, run_id, saver)
    saved = build_graph(dgm, saver).get_state({"configurable": {"thread_id": run_id}}).values
    assert saved["in_flight"] == {"a0": saved["in_flight"]["a0"]} and saved["next"] == 2
    fresh = DGMRun(archive, dgm.config, WordSorting(n=40), steps, emit=lambda e: None)
    steps.crash_on = None
    timeline = Timeline(fresh)
    run_async(fresh, run_id, saver, resume=True)
    assert keys_of(archive, run_id) == ["a0", "a1", "a2", "a3", "seed"]
    assert sorted(timeline.calls) == ["a0", "a2", "a3"]
    assert made_once(archive, run_id, steps)
    for row in archive.list_candidates(run_id):
        assert len(archive.task_results(row.id, "word-sorting", "dev")) == 4
    assert archive.get_run(run_id).status == "finished"


def test_a_spent_budget_stops_submitting_and_the_children_in_flight_finish(tmp_path, saver):
    archive, _steps, run_id, dgm, events = async_run(tmp_path, budget={"generations": 5})
    spend = {"submitted": 0}
    original = dgm.spent

    def spent_after_three(run: str) -> str | None:
        spend["submitted"] += 1
        return "token budget spent (test)" if spend["submitted"] > 3 else original(run)

    dgm.spent = spent_after_three  # type: ignore[method-assign]
    state = run_async(dgm, run_id, saver)
    assert state["stop_reason"] == "token budget spent (test)"
    assert keys_of(archive, run_id) == ["a0", "a1", "a2", "seed"]
    assert all(r.status != "evaluating" for r in archive.list_candidates(run_id))
    assert events[-1] == {"event": "finished", "reason": "token budget spent (test)"}


def test_a_time_budget_spent_before_the_first_child_makes_none(tmp_path, saver):
    archive, _steps, run_id, dgm, _ = async_run(tmp_path, budget={"max_hours": 1e-6})
    dgm.started = time.time() - 1.0
    state = run_async(dgm, run_id, saver)
    assert state["stop_reason"].startswith("time budget spent")
    assert keys_of(archive, run_id) == ["seed"]


def test_children_in_flight_count_towards_their_parent(tmp_path, saver):
    """score_child_prop weighs a parent by 1 / (1 + children): three children of a0 in
    flight make a0 less likely to be drawn for the next free slot."""
    archive, _steps, run_id, dgm, _ = async_run(
        tmp_path, selection={"policy": "score_child_prop"}, budget={"generations": 1}
    )
    run_async(dgm, run_id, saver)
    seed_id = next(r.id for r in archive.list_candidates(run_id) if r.generation == 0)
    pool = ChildPool(dgm)
    child_id = next(r.id for r in archive.list_candidates(run_id) if r.parent_id == seed_id)
    draws = range(100, 220)
    idle = [pool._parent(run_id, n, {}) for n in draws]
    busy = {f"a{n}": child_id for n in range(1000, 1003)}
    crowded = [pool._parent(run_id, n, busy) for n in draws]
    assert crowded.count(child_id) < idle.count(child_id) * 0.75
    # A key the archive already holds (made by a step cut short) keeps its recorded parent.
    assert pool._parent(run_id, 0, {}) == pool._parent(run_id, 1, {}) == seed_id


def test_with_parallelism_1_the_async_loop_is_reproducible(tmp_path, saver):
    """One child at a time: every draw sees the same archive, so two runs make the same
    children (by key) of the same parents with the same scores (docs/SCALING.md)."""

    def one_run(folder):
        folder.mkdir()
        archive, _steps, run_id, dgm, _ = async_run(
            folder, selection={"policy": "random"}, budget={"generations": 3}, parallelism=1
        )
        run_async(dgm, run_id, saver)
        rows = archive.list_candidates(run_id)
        key = {r.id: archive.get_candidate(r.id).meta["key"] for r in rows}
        return sorted((key[r.id], key.get(r.parent_id or ""), r.status, r.score) for r in rows)

    first = one_run(tmp_path / "one")
    assert first == one_run(tmp_path / "two")
    assert len({parent for _key, parent, *_ in first}) > 2  # parents other than the seed


def test_loop_is_validated_and_async_refuses_approval(tmp_path):
    assert RunConfig().loop == "sync"
    assert load_config(None, ["loop=async"]).loop == "async"
    with pytest.raises(ConfigError, match="loop"):
        load_config(None, ["loop=asynchronous"])
    with pytest.raises(ConfigError, match="approve works with loop: sync only"):
        load_config(None, ["loop=async", "approve=true"])
    _archive, _steps, _run_id, dgm, _ = async_run(tmp_path)
    dgm.approve = True  # `clade run --resume --approve` on an async run
    with pytest.raises(ConfigError, match="needs the sync loop"):
        build_graph(dgm, None)


def test_recursion_limit_covers_the_async_graph():
    config = RunConfig.model_validate(
        {"loop": "async", "budget": {"generations": 50}, "parallelism": 4}
    )
    assert recursion_limit(config) >= 50 * 2 + 2
    assert recursion_limit(RunConfig()) == 2 * 3 + 10  # the sync loop's, as before
