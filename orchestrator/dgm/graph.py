"""A Darwin-Gödel self-improvement run as a LangGraph graph.

    START -> seed -> plan --Send x k--> child -> plan -> ... -> finish -> END

``seed`` evaluates and admits the seed agent; ``plan`` checks the budget and selects
``k`` parents; each ``child`` (in parallel, up to ``parallelism``) diagnoses its parent,
lets the parent rewrite a copy of its own code in a sandbox, evaluates the child in
stages and admits or rejects it. The archive is the source of truth and the graph's
state is small: a SQLite checkpointer saves it after every step (``durability="sync"``).

LangGraph runs a node at least once: one in flight at a crash runs again on resume. So
every node is idempotent: a child is found again by its key (generation and index), an
evaluation already recorded is never redone, and selection draws from a random generator
seeded by the run's seed and the generation, so a replayed ``plan`` picks the same parents.
"""

from __future__ import annotations

import operator
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from clade.archive.blobs import unified_diff
from clade.archive.errors import CladeError
from clade.archive.facade import Archive
from clade.archive.progress import TaskResult
from clade.archive.tables import Candidate, CandidateStatus
from clade.orchestrator.evaluators.base import Evaluator, Score, Task

from .config import RunConfig
from .diagnosis import DiagnosisFailed
from .protocol import SelfModificationFailed, Steps
from .selection import Node, select_parents

Emit = Callable[[dict[str, Any]], None]


class RunState(TypedDict, total=False):
    run_id: str
    generation: int
    stop_reason: str | None
    children: Annotated[list[str], operator.add]


class ChildTask(TypedDict):
    run_id: str
    generation: int
    index: int
    parent_id: str


@dataclass
class DGMRun:
    """Everything the graph's nodes need; they are closures over one instance."""

    archive: Archive
    config: RunConfig
    evaluator: Evaluator
    steps: Steps
    started: float = 0.0
    approve: bool = False
    emit: Emit = lambda event: None

    # -- nodes -----------------------------------------------------------------------
    def seed(self, state: RunState) -> RunState:
        run_id = state["run_id"]
        seed = self._find(run_id, "seed")
        if seed is None:
            seed = self.archive.add_candidate(
                run_id,
                self.steps.seed_tree(),
                status=CandidateStatus.EVALUATING,
                meta={"key": "seed"},
            )
        if seed.status == CandidateStatus.EVALUATING:
            score = self._evaluate_in_stages(seed)
            self.archive.set_status(seed.id, CandidateStatus.ADMITTED)
            self.emit({"event": "seed", "candidate": seed.id, "score": score})
        return {"generation": 0, "stop_reason": None}

    def plan(self, state: RunState) -> RunState:
        run_id, generation = state["run_id"], state.get("generation", 0)
        reason = self._budget_spent(run_id, generation)
        if reason is not None:
            return {"stop_reason": reason}
        return {"generation": generation + 1}

    def route(self, state: RunState) -> Any:
        from langgraph.types import Send

        if state.get("stop_reason"):
            return "finish"
        run_id, generation = state["run_id"], state["generation"]
        nodes = [
            Node(s.candidate_id, s.score, s.children, *self._clade(s.candidate_id))
            for s in self.archive.selection_inputs(run_id, self.config.evaluation.evaluator)
        ]
        rng = random.Random(f"{self.config.seed}:{generation}")
        parents = select_parents(
            self.config.selection.policy, nodes, self.config.selection.children_per_generation, rng
        )
        self.emit({"event": "generation", "generation": generation, "parents": parents})
        return [
            Send("child", ChildTask(run_id=run_id, generation=generation, index=i, parent_id=p))
            for i, p in enumerate(parents)
        ]

    def child(self, task: ChildTask) -> RunState:
        key = f"g{task['generation']}c{task['index']}"
        child = self._find(task["run_id"], key)
        if child is None:
            child = self._make_child(task, key)
        if (
            child.status == CandidateStatus.EVALUATING
            and self.approve
            and not self._approved(child, key)
        ):
            self.archive.set_status(child.id, CandidateStatus.REJECTED, "rejected by the user")
            self.emit(
                {
                    "event": "child",
                    "candidate": child.id,
                    "status": "rejected",
                    "reason": "rejected by the user",
                }
            )
        elif child.status == CandidateStatus.EVALUATING:
            self._judge(child)
        return {"children": [key]}

    def _approved(self, child: Candidate, key: str) -> bool:
        """Ask the user (a LangGraph interrupt: the run pauses, checkpointed, until answered)."""
        from langgraph.types import interrupt

        assert child.parent_id is not None
        question = {
            "candidate": child.id,
            "key": key,
            "parent": child.parent_id,
            "diff": self.archive.diff(child.parent_id, child.id),
        }
        return bool(interrupt(question))

    def finish(self, state: RunState) -> RunState:
        self.archive.finish_run(state["run_id"])
        self.emit({"event": "finished", "reason": state.get("stop_reason")})
        return {}

    # -- the work --------------------------------------------------------------------
    def _make_child(self, task: ChildTask, key: str) -> Candidate:
        parent = self.archive.get_candidate(task["parent_id"])
        meta: dict[str, Any] = {"key": key}
        try:
            proposal = self.steps.diagnose(parent, self._failures(parent))
        except CladeError as exc:  # no valid proposal, a failed model call, a spent budget
            replies = exc.replies[-1:] if isinstance(exc, DiagnosisFailed) else []
            reason = f"diagnosis failed: {exc}"
            self.emit({"event": "child", "key": key, "status": "failed", "reason": reason})
            return self.archive.add_candidate(
                task["run_id"], parent.tree_hash, parent_id=parent.id, status=CandidateStatus.FAILED,
                rejection_reason=reason, meta={**meta, "replies": replies},
            )  # fmt: skip
        try:
            tree, log = self.steps.self_modify(parent, proposal, key)
        except Exception as exc:  # one bad step is a failed candidate, not a failed run
            reason = f"self-modification failed: {type(exc).__name__}: {exc}"
            if isinstance(exc, SelfModificationFailed) and exc.log:
                meta["self_modify_log"] = self.archive.put_log(exc.log)
            self.emit({"event": "child", "key": key, "status": "failed", "reason": reason})
            return self.archive.add_candidate(
                task["run_id"], parent.tree_hash, parent_id=parent.id, status=CandidateStatus.FAILED,
                rejection_reason=reason, proposal=proposal.model_dump(), meta=meta,
            )  # fmt: skip
        if log:
            meta["self_modify_log"] = self.archive.put_log(log)
        status: CandidateStatus = CandidateStatus.EVALUATING
        rejection: str | None = None
        if tree == parent.tree_hash:
            status, rejection = CandidateStatus.REJECTED, "the self-modification changed nothing"
        elif self.config.review.enabled:
            review = self.steps.review(parent, self._diff(parent.tree_hash, tree))
            meta["review"] = review.model_dump()
            if review.flagged and self.config.review.reject:
                status, rejection = CandidateStatus.REJECTED, f"flagged by review: {review.reason}"
        if rejection is not None:
            self.emit({"event": "child", "key": key, "status": status.value, "reason": rejection})
        return self.archive.add_candidate(
            task["run_id"], tree, parent_id=parent.id, status=status, rejection_reason=rejection,
            proposal=proposal.model_dump(), meta=meta,
        )  # fmt: skip

    def _judge(self, child: Candidate) -> None:
        score, solved = self._evaluate_in_stages(child), self._solved(child)
        reason = None
        if solved == 0:
            reason = "solved no task"
        elif self.config.selection.keep_better and child.parent_id is not None:
            parent_score = self._mean(child.parent_id)
            if score <= parent_score:
                reason = f"score {score:.3f} does not beat its parent's {parent_score:.3f}"
        status = CandidateStatus.ADMITTED if reason is None else CandidateStatus.REJECTED
        self.archive.set_status(child.id, status, reason)
        self.emit(
            {
                "event": "child",
                "candidate": child.id,
                "status": status.value,
                "score": score,
                "reason": reason,
            }
        )

    def _evaluate_in_stages(self, candidate: Candidate) -> float:
        """Run the stages, skipping tasks already recorded; returns the mean score so far."""
        evaluation = self.config.evaluation
        all_tasks = self._tasks()
        done = self._recorded(candidate.id)
        for stage in evaluation.stages:
            tasks = all_tasks[: stage.tasks]
            todo = [t for t in tasks if t.id not in done]
            if todo:
                results = self.steps.evaluate(candidate, todo)
                self.archive.add_evaluations(
                    {
                        "candidate_id": candidate.id,
                        "evaluator": self.evaluator.name,
                        "split": evaluation.split,
                        "task_id": t.id,
                        "score": s.score,
                        "passed": s.passed,
                        "duration_s": facts.get("duration_s", 0.0),
                        "tokens": facts.get("tokens", 0),
                        "log_hash": self.archive.put_log(facts.get("log", s.detail)),
                    }
                    for t, (s, facts) in zip(todo, results, strict=True)
                )
                done = self._recorded(candidate.id)
                self.emit({"event": "evaluated", "candidate": candidate.id, "tasks": len(todo)})
            stage_scores = [done[t.id] for t in tasks if t.id in done]
            if stage_scores and sum(stage_scores) / len(stage_scores) < stage.threshold:
                break
        return self._mean(candidate.id)

    # -- archive reads ---------------------------------------------------------------
    def _diff(self, old_tree: str, new_tree: str) -> str:
        files = self.archive.blobs.files
        return unified_diff(files(old_tree), files(new_tree), "parent", "child")

    def _find(self, run_id: str, key: str) -> Candidate | None:
        return self.archive.find_candidate(run_id, key)

    def _results(self, candidate_id: str) -> dict[str, TaskResult]:
        split = self.config.evaluation.split
        return self.archive.task_results(candidate_id, self.evaluator.name, split)

    def _recorded(self, candidate_id: str) -> dict[str, float]:
        return {task_id: r.score for task_id, r in self._results(candidate_id).items()}

    def _mean(self, candidate_id: str) -> float:
        scores = self._recorded(candidate_id)
        return sum(scores.values()) / len(scores) if scores else 0.0

    def _solved(self, candidate: Candidate) -> int:
        return sum(1 for r in self._results(candidate.id).values() if r.passed)

    def _failures(self, parent: Candidate) -> list[tuple[Task, Score, str]]:
        """The parent's unsolved tasks, each with its score and log, for diagnosis."""
        tasks = {t.id: t for t in self._tasks()}
        return [
            (tasks[task_id], Score(score=r.score, passed=False), self._log(r.log_hash))
            for task_id, r in sorted(self._results(parent.id).items())
            if not r.passed and task_id in tasks
        ]

    def _log(self, log_hash: str | None) -> str:
        return self.archive.get_log(log_hash) if log_hash else ""

    def _tasks(self) -> list[Task]:
        return self.evaluator.tasks(self.config.evaluation.split)  # type: ignore[arg-type]

    def _clade(self, candidate_id: str) -> tuple[int, int]:
        stats = self.archive.clade_stats(candidate_id, self.config.evaluation.evaluator)
        return stats.successes, stats.failures

    def _budget_spent(self, run_id: str, generation: int) -> str | None:
        budget = self.config.budget
        if generation >= budget.generations:
            return f"{budget.generations} generation(s) done"
        tokens, usd = self.archive.run_usage(run_id)
        if budget.max_tokens is not None and tokens >= budget.max_tokens:
            return f"token budget spent ({tokens} >= {budget.max_tokens})"
        if budget.max_usd is not None and usd >= budget.max_usd:
            return f"dollar budget spent (${usd:.4f} >= ${budget.max_usd})"
        if budget.max_hours is not None and time.time() - self.started >= budget.max_hours * 3600:
            return f"time budget spent ({budget.max_hours} h)"
        return None


def build_graph(run: DGMRun, checkpointer: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(RunState)
    builder.add_node("seed", run.seed)
    builder.add_node("plan", run.plan)
    builder.add_node("child", run.child)  # type: ignore[arg-type]  # takes a Send payload, not the state
    builder.add_node("finish", run.finish)
    builder.add_edge(START, "seed")
    builder.add_edge("seed", "plan")
    builder.add_conditional_edges("plan", run.route, ["child", "finish"])
    builder.add_edge("child", "plan")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer)
