"""What a run's nodes read of the archive: selection's view of the candidates, the dev
ledger, budgets, a child's improvement procedure.

:class:`RunReads` is the part of a :class:`~.graph.DGMRun` that reads and never writes;
the synchronous graph (``graph.py``) and the async loop (``pool.py``) both use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from clade.archive.blobs import unified_diff
from clade.archive.facade import Archive
from clade.archive.tables import Candidate
from clade.orchestrator.evaluators.base import Evaluator, Score, Task

from .admission import Tally, rank_score
from .config import RunConfig
from .experience import held_tasks
from .ledger import Ledger
from .procedure import load_procedure
from .protocol import Emit, Steps
from .selection import Node


@dataclass
class RunReads:
    """A run's archive, config, evaluator and steps, and what its nodes read of them."""

    archive: Archive
    config: RunConfig
    evaluator: Evaluator
    steps: Steps
    started: float = 0.0
    emit: Emit = lambda event: None
    _held_by_tree: dict[str, set[str]] = field(default_factory=dict)

    def diff(self, old_tree: str, new_tree: str) -> str:
        files = self.archive.blobs.files
        return unified_diff(files(old_tree), files(new_tree), "parent", "child")

    @property
    def kind(self) -> str:
        """What the run's candidates are: coding agents, or prompt sets (``kind: prompt_set``)."""
        return "prompt_set" if self.config.kind == "prompt_set" else "coding_agent"

    def procedure(self, parent: Candidate) -> dict[str, Any]:
        """Which improvement procedure makes ``parent``'s children (``improvement.editable``):
        the hash of its meta/ files and which of them fell back to the shipped default."""
        if not self.config.improvement.editable:
            return {}
        files = self.archive.blobs.files(parent.tree_hash)
        return {"procedure": load_procedure(files).record()}

    def find(self, run_id: str, key: str) -> Candidate | None:
        return self.archive.find_candidate(run_id, key)

    def nodes(self, run_id: str) -> list[Node]:
        """The admitted candidates as selection sees them: scores from the dev split alone
        (every attempt), as the run's score rule ranks them."""
        tallies = self.ledger.tallies(run_id, self.held)
        return [
            Node(s.candidate_id, self.rank(tallies.get(s.candidate_id, Tally())), s.children,
                 *self.subtree_outcomes(s.candidate_id))
            for s in self.archive.selection_inputs(run_id, self.evaluator.name)
        ]  # fmt: skip

    @property
    def ledger(self) -> Ledger:
        """The run's evaluations on the selection split (never the held-out test split)."""
        return Ledger(self.archive, self.evaluator.name, self.config.evaluation.split)

    def held(self, candidate_id: str) -> set[str]:
        """The dev tasks whose worked examples the candidate holds: not credited to it when
        it is ranked or admitted, since its prompt shows their solution."""
        tree = self.archive.get_candidate(candidate_id).tree_hash
        if tree not in self._held_by_tree:
            files = self.archive.blobs.files(tree)
            self._held_by_tree[tree] = held_tasks(files, self.evaluator.tasks("dev"))
        return self._held_by_tree[tree]

    def rank(self, tally: Tally) -> float:
        selection = self.config.selection
        return rank_score(tally, selection.score, selection.confidence)

    def failures(self, parent: Candidate) -> list[tuple[Task, Score, str]]:
        """The parent's failed tasks, each with its score and log, for diagnosis."""
        return self.ledger.failures(parent, self.tasks())

    def tasks(self) -> list[Task]:
        return self.evaluator.tasks(self.config.evaluation.split)

    def subtree_outcomes(self, candidate_id: str) -> tuple[int, int]:
        """Passed and failed evaluations pooled over the candidate's subtree (its clade, in
        the Huxley-Gödel Machine's terms), which ``cmp_thompson`` selection draws from."""
        evaluation = self.config.evaluation
        stats = self.archive.clade_stats(candidate_id, evaluation.evaluator, evaluation.split)
        return stats.successes, stats.failures

    def budget_spent(self, run_id: str, generation: int) -> str | None:
        budget = self.config.budget
        if generation >= budget.generations:
            return f"{budget.generations} generation(s) done"
        return self.spent(run_id)

    def spent(self, run_id: str) -> str | None:
        """Which of the token, dollar and time budgets is spent, if one is."""
        budget = self.config.budget
        tokens, usd = self.archive.run_usage(run_id)
        if budget.max_tokens is not None and tokens >= budget.max_tokens:
            return f"token budget spent ({tokens} >= {budget.max_tokens})"
        if budget.max_usd is not None and usd >= budget.max_usd:
            return f"dollar budget spent (${usd:.4f} >= ${budget.max_usd})"
        if budget.max_hours is not None and time.time() - self.started >= budget.max_hours * 3600:
            return f"time budget spent ({budget.max_hours} h)"
        return None
