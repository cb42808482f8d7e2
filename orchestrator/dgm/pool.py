"""The asynchronous loop (run option ``loop: async``): no generation barrier.

    START -> seed -> pool -> pool -> ... -> finish -> END

Each ``pool`` step (1) tops the children in flight up to ``parallelism``, selecting ONE
parent at a time from the archive as it stands then (the run's selection policy with
``k = 1``, its random generator seeded by the run's seed and the child's key), each child
keyed ``a<n>`` by a run-wide counter and handed to the graph's ``child`` callable (the
``DGMRun`` attribute, so the wrappers of ``launch.py`` and of Ray execution apply) on a
thread pool of this object; (2) waits for the FIRST child in flight to finish; (3) returns
the keys in flight, the finished ones and the counter, so the checkpointer saves the state
after every completion. The futures themselves live in this process only: a resumed run
(a new process) finds the keys in flight in the state and submits them again, and ``child``
is idempotent by its key, so nothing is lost or evaluated twice. A key issued by a step
that was cut short is issued again by its replay; when the archive already holds that
child, its recorded parent is kept.

Children in flight count towards their parent's children while selecting (until their
candidate is recorded, when the archive counts them), so free slots do not all pick the
parent that ``score_child_prop`` favours. ``budget.generations`` means the same number of
children as the sync loop (generations x children_per_generation); the token, dollar and
time budgets are checked before each submission. Once the budget is spent, the children in
flight finish, then the run does. The seed is reproducible, selection order is not
(docs/SCALING.md): it depends on which child finishes first.
"""

from __future__ import annotations

import contextvars
import dataclasses
import random
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from clade.archive.errors import ConfigError

from .config import RunConfig
from .graph import ChildTask, DGMRun, RunState
from .selection import select_parents


class PoolState(RunState, total=False):
    in_flight: dict[str, str]  # key -> parent id of every child submitted and not finished
    next: int  # n of the next child's key a<n>


def total_children(config: RunConfig) -> int:
    """Children the run makes at most: the same as the sync loop's generations."""
    return config.budget.generations * config.selection.children_per_generation


def recursion_limit(config: RunConfig) -> int:
    """Graph steps a run may take in one invocation (seed, plans or pools, finish)."""
    if config.loop == "async":  # at most one pool step per child finished, one to stop
        return total_children(config) + config.parallelism + 10
    return 2 * config.budget.generations + 10


class ChildPool:
    """The ``pool`` and ``finish`` nodes of the async graph, and the threads of its children."""

    def __init__(self, run: DGMRun) -> None:
        self.run = run
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    # -- nodes -----------------------------------------------------------------------
    def step(self, state: PoolState) -> PoolState:
        """Top up, wait for the first child to finish, return where the run stands.

        A failure stops the run as in the sync loop: a child's error (or the archive's,
        while selecting) passes on once the other children in flight have finished (their
        outcome is in the archive; the checkpoint submits them again on resume). An
        interrupt (a stop signal) passes at once."""
        try:
            return self._step(state)
        except Exception:
            self._shutdown(wait_running=True)
            raise
        except BaseException:
            self._shutdown(wait_running=False)
            raise

    def _step(self, state: PoolState) -> PoolState:
        run_id, config = state["run_id"], self.run.config
        in_flight = dict(state.get("in_flight", {}))
        n, reason = state.get("next", 0), state.get("stop_reason")
        for key, parent in in_flight.items():  # a resumed run: submitted by an earlier process
            if key not in self._futures:
                self._submit(self._task(run_id, key, parent))
        while reason is None and len(in_flight) < config.parallelism:
            reason = self.budget_spent(run_id, n)
            if reason is None:
                task = self._task(run_id, f"a{n}", self._parent(run_id, n, in_flight))
                in_flight[task["key"]] = task["parent_id"]
                self._submit(task)
                self.run.emit(
                    {"event": "started", "key": task["key"], "parent": task["parent_id"],
                     "child": n + 1, "of": total_children(config)}
                )  # fmt: skip
                n += 1
        finished = self._first_finished(list(in_flight)) if in_flight else []
        for key in finished:
            del in_flight[key]
        return {"in_flight": in_flight, "children": finished, "next": n, "stop_reason": reason}

    @staticmethod
    def route(state: PoolState) -> str:
        """Where the graph goes after ``pool``: ``finish`` once stopped and nothing is in flight."""
        return "finish" if state.get("stop_reason") and not state.get("in_flight") else "pool"

    def finish(self, state: PoolState) -> RunState:
        self._shutdown()
        return self.run.finish(state)

    # -- selection and budget ----------------------------------------------------------
    def _parent(self, run_id: str, n: int, in_flight: dict[str, str]) -> str:
        """The parent of child ``a<n>``: the recorded one when a cut-short step already made
        it, else one drawn from the archive as it stands, children in flight counted."""
        made = self.run.find(run_id, f"a{n}")
        if made is not None and made.parent_id is not None:
            return made.parent_id
        # Looked up before the archive is read: a child recorded in between counts twice
        # for one draw at worst, never zero times.
        pending = Counter(p for key, p in in_flight.items() if self.run.find(run_id, key) is None)
        nodes = [
            dataclasses.replace(node, children=node.children + pending[node.id])
            for node in self.run.nodes(run_id)
        ]
        rng = random.Random(f"{self.run.config.seed}:a{n}")
        return select_parents(self.run.config.selection.policy, nodes, 1, rng)[0]

    def budget_spent(self, run_id: str, n: int) -> str | None:
        config = self.run.config
        if n >= total_children(config):
            return (
                f"{total_children(config)} children made ({config.budget.generations} "
                f"generation(s) of {config.selection.children_per_generation})"
            )
        return self.run.spent(run_id)

    def _task(self, run_id: str, key: str, parent_id: str) -> ChildTask:
        """Child ``a<n>`` as the sync loop's child ``g<n // k + 1>c<n % k>`` would be
        scheduled (the experience mutation's first children of each round), keyed ``a<n>``."""
        n, k = int(key[1:]), self.run.config.selection.children_per_generation
        return ChildTask(
            run_id=run_id, generation=n // k + 1, index=n % k, parent_id=parent_id, key=key
        )

    # -- the threads -------------------------------------------------------------------
    def _submit(self, task: ChildTask) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.run.config.parallelism, thread_name_prefix="clade-child"
                )
            context = contextvars.copy_context()  # as LangGraph's own executor does
            # The attribute at call time: the wrappers of launch.py (patience, Ray) apply.
            self._futures[task["key"]] = self._executor.submit(context.run, self.run.child, task)

    def _first_finished(self, keys: list[str]) -> list[str]:
        """Wait for the first of ``keys`` to finish; every one finished by then, in order.
        A child's error (even a BaseException) passes on once the others have finished."""
        wait([self._futures[key] for key in keys], return_when=FIRST_COMPLETED)
        finished = [key for key in keys if self._futures[key].done()]
        failed = [self._futures[key] for key in finished if self._futures[key].exception()]
        if failed:
            self._shutdown(wait_running=True)
            failed[0].result()
        for key in finished:
            del self._futures[key]
        return finished

    def _shutdown(self, *, wait_running: bool = True) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._futures.clear()
        if executor is not None:
            executor.shutdown(wait=wait_running, cancel_futures=True)


def build_async_graph(run: DGMRun, checkpointer: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    if run.approve:
        raise ConfigError(
            "approving each child (approve: true) needs the sync loop",
            hint="resume or start it with loop: sync, or without --approve",
        )
    pool = ChildPool(run)
    builder = StateGraph(PoolState)
    builder.add_node("seed", run.seed)
    builder.add_node("pool", pool.step)
    builder.add_node("finish", pool.finish)
    builder.add_edge(START, "seed")
    builder.add_edge("seed", "pool")
    builder.add_conditional_edges("pool", pool.route, ["pool", "finish"])
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer)
