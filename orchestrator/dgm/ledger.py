"""A run's evaluations on its selection split: staged evaluation, tallies, failures.

The run graph reads scores only through a :class:`Ledger`, and a ledger reads only the
split selection sees (``evaluation.split``, the dev split by default), so evaluations on
the held-out test split (recorded after a run, see :mod:`.heldout`) never reach
selection, admission or diagnosis. Every attempt counts (run option
``evaluation.attempts``): evaluations are unique per (candidate, evaluator, split, task,
attempt), so a stage that runs again after a crash records nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from clade.archive.facade import Archive
from clade.archive.progress import AttemptRow
from clade.archive.tables import Candidate
from clade.orchestrator.evaluators.base import Score, Split, Task

from .admission import Tally
from .config import EvaluationConfig
from .patience import unstalled
from .protocol import Steps

#: Candidate id -> the ids of the tasks it holds worked examples of (see experience.py).
Held = Callable[[str], set[str]]
#: The splits evaluations are recorded under: an evaluator's two, and ``val``, the
#: validation tasks carved from the dev split (see validation.py).
RecordedSplit = Split | Literal["val"]


@dataclass
class Ledger:
    """Reads and records one run's evaluations on one evaluator and split."""

    archive: Archive
    evaluator: str
    split: RecordedSplit

    def rows(self, run_id: str) -> list[AttemptRow]:
        """Every attempt recorded on the split, ordered by candidate, task and attempt."""
        return self.archive.attempt_rows(run_id, self.evaluator, self.split)

    def _mine(self, candidate: Candidate) -> list[AttemptRow]:
        return [r for r in self.rows(candidate.run_id) if r.candidate_id == candidate.id]

    def attempts(self, candidate: Candidate) -> dict[tuple[str, int], float]:
        """(task id, attempt) -> score of what ``candidate`` has recorded."""
        return {(r.task_id, r.attempt): r.score for r in self._mine(candidate)}

    def tallies(self, run_id: str, held: Held | None = None) -> dict[str, Tally]:
        """Candidate id -> the tally of all its recorded attempts; with ``held``, a
        candidate's attempts on the tasks it holds worked examples of are left out."""
        tallies: dict[str, Tally] = {}
        skip: dict[str, set[str]] = {}
        for r in self.rows(run_id):
            if held is not None:
                if r.candidate_id not in skip:
                    skip[r.candidate_id] = held(r.candidate_id)
                if r.task_id in skip[r.candidate_id]:
                    continue
            tallies[r.candidate_id] = tallies.get(r.candidate_id, Tally()).add(r.score, r.passed)
        return tallies

    def tally(self, candidate: Candidate, held: Held | None = None) -> Tally:
        return self.tallies(candidate.run_id, held).get(candidate.id, Tally())

    def failures(self, candidate: Candidate, tasks: list[Task]) -> list[tuple[Task, Score, str]]:
        """The candidate's failed tasks (task, score, log of its first failed attempt), for
        diagnosis; a task passed in one attempt and failed in another counts as failed."""
        by_id = {t.id: t for t in tasks}
        first: dict[str, AttemptRow] = {}
        for r in self._mine(candidate):
            if not r.passed and r.task_id in by_id and r.task_id not in first:
                first[r.task_id] = r
        return [
            (by_id[task_id], Score(score=r.score, passed=False), self._log(r.log_hash))
            for task_id, r in sorted(first.items())
        ]

    def _log(self, log_hash: str | None) -> str:
        return self.archive.get_log(log_hash) if log_hash else ""


def evaluate_in_stages(
    ledger: Ledger,
    steps: Steps,
    candidate: Candidate,
    tasks: list[Task],
    evaluation: EvaluationConfig,
    emit: Callable[[dict[str, Any]], None],
) -> float:
    """Run the stages on prefixes of ``tasks``, each task ``evaluation.attempts`` times,
    skipping attempts already recorded; returns the candidate's mean over all of them.

    A stage whose mean is under its threshold ends the evaluation (the Darwin Gödel
    Machine's staged evaluation: a small stage, then a larger one for promising agents)."""
    done = ledger.attempts(candidate)
    for stage in evaluation.stages:
        staged = tasks[: stage.tasks]
        todo = [(t, a) for t in staged for a in range(evaluation.attempts) if (t.id, a) not in done]
        if todo:
            with unstalled(f"the evaluation of {candidate.id}"):
                results = steps.evaluate(candidate, [t for t, _ in todo])
            archive = ledger.archive
            archive.add_evaluations(
                {
                    "candidate_id": candidate.id,
                    "evaluator": ledger.evaluator,
                    "split": ledger.split,
                    "task_id": t.id,
                    "attempt": a,
                    "score": s.score,
                    "passed": s.passed,
                    "duration_s": facts.get("duration_s", 0.0),
                    "tokens": facts.get("tokens", 0),
                    "log_hash": archive.put_log(facts.get("log", s.detail)),
                }
                for (t, a), (s, facts) in zip(todo, results, strict=True)
            )
            done = ledger.attempts(candidate)
            emit({"event": "evaluated", "candidate": candidate.id, "tasks": len(todo)})
        ids = {t.id for t in staged}
        scores = [score for (task_id, _), score in done.items() if task_id in ids]
        if scores and sum(scores) / len(scores) < stage.threshold:
            break
    return ledger.tally(candidate).mean
