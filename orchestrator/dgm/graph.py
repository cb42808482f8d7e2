"""A Darwin-Gödel self-improvement run as a LangGraph graph.

    START -> seed -> plan --route: Send x k--> child -> plan -> ... -> finish -> END

``seed`` evaluates and admits the seed agent. ``plan`` checks the budget and, while some is
left, selects the generation's ``k`` parents from the archive and announces them. The router
``route`` is a pure function of the state, as in LangGraph's map-reduce examples: ``finish``
once a stop reason is set, else one ``Send("child", ...)`` per selected parent. Each
``child`` (in parallel, up to ``parallelism``) diagnoses its parent, lets the parent rewrite
a copy of its own code in a sandbox (or, by the experience mutation, adds the run's solved
dev tasks to it as worked examples: ``experience.py``), evaluates the child in stages and
admits or rejects it. Scores come from the selection split alone, every attempt counted
(``ledger.py``), ranked by the run's score rule (``admission.py``: the mean, or a
confidence bound). The archive is the source of truth and the graph's state is small: a
SQLite checkpointer saves it after every step (``durability="sync"``).

LangGraph runs a node at least once: one in flight at a crash runs again on resume. So
every node is idempotent: a child is found again by its key (generation and index), an
evaluation already recorded is never redone, and selection draws from a random generator
seeded by the run's seed and the generation, so a replayed ``plan`` picks the same parents.

With ``loop: async`` the graph is ``seed -> pool -> ... -> finish`` instead, with no
generation barrier (``pool.py``); ``child`` and the work it does are the same.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, TypedDict

from clade.archive.errors import CladeError, InfrastructureError
from clade.archive.tables import Candidate, CandidateStatus
from clade.sandbox.health import as_machine_failure, machine_failure

from .admission import beats_parent
from .diagnosis import DiagnosisFailed
from .experience import experience_tree
from .ledger import evaluate_in_stages
from .patience import unstalled
from .protocol import SelfModificationFailed
from .reads import RunReads
from .selection import select_parents
from .validation import validation_tasks, validation_verdict


class RunState(TypedDict, total=False):
    run_id: str
    generation: int
    stop_reason: str | None
    parents: list[str]  # the generation's parents, selected by ``plan``
    children: Annotated[list[str], operator.add]


class ChildTask(TypedDict):
    run_id: str
    generation: int
    index: int
    parent_id: str
    key: NotRequired[str]  # the async loop's a<n>; else g<generation>c<index>


@dataclass
class DGMRun(RunReads):
    """Everything the graph's nodes need; they are closures over one instance (the run's
    archive, config, evaluator, steps and its reads of the archive: ``reads.py``)."""

    approve: bool = False

    # -- nodes -----------------------------------------------------------------------
    def seed(self, state: RunState) -> RunState:
        run_id = state["run_id"]
        seed = self.find(run_id, "seed")
        if self.config.selection.admit == "validation":
            validation_tasks(self.evaluator, self.config)  # enough tasks? before any work
        if seed is None:
            seed = self.archive.add_candidate(
                run_id,
                self.steps.seed_tree(),
                status=CandidateStatus.EVALUATING,
                kind=self.kind,
                meta={"key": "seed"},
            )
        if seed.status == CandidateStatus.EVALUATING:
            score = self._evaluate_in_stages(seed)
            self.archive.set_status(seed.id, CandidateStatus.ADMITTED)
            self.emit({"event": "seed", "candidate": seed.id, "score": score})
        return {"generation": 0, "stop_reason": None}

    def plan(self, state: RunState) -> RunState:
        run_id, generation = state["run_id"], state.get("generation", 0) + 1
        reason = self.budget_spent(run_id, generation - 1)
        if reason is not None:
            return {"stop_reason": reason}
        rng = random.Random(f"{self.config.seed}:{generation}")
        parents = select_parents(
            self.config.selection.policy,
            self.nodes(run_id),
            self.config.selection.children_per_generation,
            rng,
        )
        self.emit({"event": "generation", "generation": generation, "parents": parents})
        return {"generation": generation, "parents": parents}

    @staticmethod
    def route(state: RunState) -> Any:
        """Where the graph goes after ``plan``: a pure function of the state."""
        from langgraph.types import Send

        if state.get("stop_reason"):
            return "finish"
        run_id, generation = state["run_id"], state["generation"]
        return [
            Send("child", ChildTask(run_id=run_id, generation=generation, index=i, parent_id=p))
            for i, p in enumerate(state.get("parents", []))
        ]

    def child(self, task: ChildTask) -> RunState:
        key = task.get("key") or f"g{task['generation']}c{task['index']}"
        child = self.find(task["run_id"], key)
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
            self._admit_or_reject(child)
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
        meta: dict[str, Any] = {"key": key, **self.procedure(parent)}
        if task["index"] < self.config.experience.children:  # scheduled by the run's options
            made = self._experience_child(task, parent, key, None)
            if made is not None:
                return made
        try:
            with unstalled(f"{key}'s diagnosis"):
                proposal = self.steps.diagnose(parent, self.failures(parent), key)
        except CladeError as exc:  # no valid proposal, a failed model call, a spent budget
            if isinstance(exc, InfrastructureError):  # the machine's failure: never a verdict
                raise
            replies = exc.replies[-1:] if isinstance(exc, DiagnosisFailed) else []
            reason = f"diagnosis failed: {exc}"
            self.emit({"event": "child", "key": key, "status": "failed", "reason": reason})
            return self.archive.add_candidate(
                task["run_id"], parent.tree_hash, parent_id=parent.id, status=CandidateStatus.FAILED,
                rejection_reason=reason, meta={**meta, "replies": replies}, kind=self.kind,
            )  # fmt: skip
        if proposal.mutation == "experience":  # proposed by diagnosis
            made = self._experience_child(task, parent, key, proposal.model_dump())
            if made is not None:
                return made
            meta["experience"] = "no solved dev task to learn from yet: an edit instead"
        try:
            with unstalled(f"{key}'s self-modification"):
                tree, log = self.steps.self_modify(parent, proposal, key)
        except Exception as exc:  # one bad step is a failed candidate, not a failed run
            if machine_failure(exc, docker=self.config.sandbox.backend == "docker"):
                raise as_machine_failure(exc) from exc  # the engine's or the archive's, not its
            reason = f"self-modification failed: {type(exc).__name__}: {exc}"
            if isinstance(exc, SelfModificationFailed) and exc.log:
                meta["self_modify_log"] = self.archive.put_log(exc.log)
            self.emit({"event": "child", "key": key, "status": "failed", "reason": reason})
            return self.archive.add_candidate(
                task["run_id"], parent.tree_hash, parent_id=parent.id, status=CandidateStatus.FAILED,
                rejection_reason=reason, proposal=proposal.model_dump(), meta=meta, kind=self.kind,
            )  # fmt: skip
        if log:
            meta["self_modify_log"] = self.archive.put_log(log)
        return self._add_child(task, parent, key, tree, proposal.model_dump(), meta)

    def _experience_child(
        self, task: ChildTask, parent: Candidate, key: str, proposal: dict[str, Any] | None
    ) -> Candidate | None:
        """A child that gains the run's solved dev tasks as worked examples (see
        ``experience.py``), or None when there is nothing new to add."""
        options = self.config.experience
        # The first experience child of a generation gets the best examples; others a draw.
        rng = random.Random(f"{self.config.seed}:{key}") if task["index"] > 0 else None
        made = experience_tree(
            self.archive, task["run_id"], self.evaluator.name, self.evaluator.tasks("dev"),
            parent.tree_hash, examples=options.examples, max_chars=options.max_chars, rng=rng,
        )  # fmt: skip
        if made is None:
            return None
        tree, added = made
        meta = {"key": key, "mutation": "experience", "examples": added}
        if proposal is not None:  # diagnosis proposed it: the parent's procedure made it
            meta |= self.procedure(parent)
        self.emit({"event": "experience", "key": key, "examples": len(added)})
        return self._add_child(task, parent, key, tree, proposal, meta)

    def _add_child(
        self,
        task: ChildTask,
        parent: Candidate,
        key: str,
        tree: str,
        proposal: dict[str, Any] | None,
        meta: dict[str, Any],
    ) -> Candidate:
        """Record a made child: to evaluate, or rejected (no change, flagged by review)."""
        status: CandidateStatus = CandidateStatus.EVALUATING
        rejection: str | None = None
        if tree == parent.tree_hash:
            status, rejection = CandidateStatus.REJECTED, "the self-modification changed nothing"
        elif self.config.review.enabled:
            review = self.steps.review(parent, self.diff(parent.tree_hash, tree))
            meta["review"] = review.model_dump()
            if review.flagged and self.config.review.reject:
                status, rejection = CandidateStatus.REJECTED, f"flagged by review: {review.reason}"
        if rejection is not None:
            self.emit({"event": "child", "key": key, "status": status.value, "reason": rejection})
        return self.archive.add_candidate(
            task["run_id"], tree, parent_id=parent.id, status=status, rejection_reason=rejection,
            proposal=proposal, meta=meta, kind=self.kind,
        )  # fmt: skip

    def _admit_or_reject(self, child: Candidate) -> None:
        """Evaluate ``child`` in stages, then admit it or reject it with the reason."""
        score = self._evaluate_in_stages(child)
        mine = self.ledger.tally(child, self.held)
        reason = None
        if mine.passed == 0:
            held = len(self.held(child.id))
            reason = "solved no task" + (
                f" besides the {held} it holds examples of" if held else ""
            )
        elif self.config.selection.keep_better and child.parent_id is not None:
            parent = self.ledger.tally(self.archive.get_candidate(child.parent_id), self.held)
            rule, confidence = self.config.selection.score, self.config.selection.confidence
            if not beats_parent(mine, parent, rule, confidence):
                what = "score" if rule == "mean" else f"lower bound ({confidence:.0%})"
                reason = f"{what} {self.rank(mine):.3f} does not beat its parent's mean {parent.mean:.3f}"
        validate = self.config.selection.admit == "validation" and child.parent_id is not None
        if reason is None and validate:  # held-out dev tasks must say it is better
            reason = validation_verdict(
                self.archive, self.steps, self.evaluator, self.config, child, self.emit
            )
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
        return evaluate_in_stages(
            self.ledger, self.steps, candidate, self.tasks(), self.config.evaluation, self.emit
        )


def build_graph(run: DGMRun, checkpointer: Any) -> Any:
    """The run's graph: generations (``loop: sync``), or the async loop's pool (``pool.py``)."""
    from langgraph.graph import END, START, StateGraph

    if run.config.loop == "async":
        from .pool import build_async_graph

        return build_async_graph(run, checkpointer)
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
