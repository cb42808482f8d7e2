"""Reads a running search needs to pick up where it stands (mixed into ``Archive``).

A run finds its own work again after a crash: a child by the key the orchestrator gave it,
a candidate's recorded results task by task, and what the run's model calls spent.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from clade.archive.tables import Candidate


class TaskResult(NamedTuple):
    score: float
    passed: bool
    log_hash: str | None


class AttemptRow(NamedTuple):
    candidate_id: str
    task_id: str
    attempt: int
    score: float
    passed: bool
    log_hash: str | None


class ProgressMixin:
    """``find_candidate``, ``task_results``, ``attempt_rows`` and ``run_usage``."""

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _read_session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def find_candidate(self, run_id: str, key: str) -> Candidate | None:
        """The candidate of ``run_id`` whose ``meta["key"]`` is ``key`` (the first, if several)."""
        from sqlmodel import col, select

        from clade.archive.tables import Candidate

        query = (
            select(Candidate)
            .where(Candidate.run_id == run_id, col(Candidate.meta)["key"].as_string() == key)
            .order_by(col(Candidate.id))
        )
        with self._read_session() as session:
            return session.exec(query).first()

    def task_results(self, candidate_id: str, evaluator: str, split: str) -> dict[str, TaskResult]:
        """Task id -> the recorded result of attempt 0, for one evaluator and split."""
        from sqlalchemy import text

        query = text(
            "SELECT task_id, score, passed, log_hash FROM evaluation WHERE candidate_id = :c "
            "AND evaluator = :e AND split = :s AND attempt = 0"
        )
        with self._read() as conn:
            rows = conn.execute(query, {"c": candidate_id, "e": evaluator, "s": split})
            return {r.task_id: TaskResult(float(r.score), bool(r.passed), r.log_hash) for r in rows}

    def attempt_rows(
        self, run_id: str, evaluator: str, split: str, *, passed_only: bool = False
    ) -> list[AttemptRow]:
        """Every recorded attempt (all attempt numbers) of the run's candidates on one
        evaluator and split, ordered by candidate, task and attempt."""
        from sqlalchemy import text

        query = text(
            "SELECT e.candidate_id, e.task_id, e.attempt, e.score, e.passed, e.log_hash "
            "FROM evaluation e JOIN candidate c ON c.id = e.candidate_id "
            "WHERE c.run_id = :r AND e.evaluator = :e AND e.split = :s"
            + (" AND e.passed" if passed_only else "")
            + " ORDER BY e.candidate_id, e.task_id, e.attempt"
        )
        with self._read() as conn:
            rows = conn.execute(query, {"r": run_id, "e": evaluator, "s": split})
            return [
                AttemptRow(r.candidate_id, r.task_id, int(r.attempt), float(r.score),
                           bool(r.passed), r.log_hash)
                for r in rows
            ]  # fmt: skip

    def run_usage(self, run_id: str) -> tuple[int, float]:
        """(tokens, dollars) of every model call metered to ``run_id``."""
        from sqlalchemy import text

        query = text(
            "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0), coalesce(sum(cost_usd), 0) "
            "FROM model_call WHERE run_id = :r"
        )
        with self._read() as conn:
            tokens, usd = conn.execute(query, {"r": run_id}).one()
        return int(tokens), float(usd)
