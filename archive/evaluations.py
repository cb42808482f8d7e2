"""Evaluations: every scored attempt of a candidate on a task, and its per-candidate totals.

:class:`EvaluationStore` writes evaluations in one transaction, ignoring an attempt that is
already there (a step run twice after a crash counts once), and keeps ``candidate_score``
(the totals listings and selection read) in step in the same transaction. It reads back a
candidate's rows, its results task by task, and a run's attempts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from clade.archive.errors import ArchiveError
from clade.archive.queries import iter_chunks
from clade.archive.tables import Evaluation

if TYPE_CHECKING:
    from sqlmodel import Session

    from clade.archive.blobs import BlobStore
    from clade.archive.transactions import Database

_REFRESH_DELETE = "DELETE FROM candidate_score WHERE candidate_id IN ({ids})"
_REFRESH_INSERT = """
INSERT INTO candidate_score
  (candidate_id, evaluator, split, n, n_passed, score_sum, tokens, cost_usd, duration_s)
SELECT candidate_id, evaluator, split, count(*), sum(CASE WHEN passed THEN 1 ELSE 0 END),
       sum(score), sum(tokens), sum(cost_usd), sum(duration_s)
FROM evaluation WHERE candidate_id IN ({ids}) GROUP BY candidate_id, evaluator, split"""


def _placeholders(ids: list[str]) -> tuple[str, dict[str, str]]:
    return ",".join(f":c{i}" for i in range(len(ids))), {f"c{i}": v for i, v in enumerate(ids)}


class TaskResult(NamedTuple):
    """The recorded result of one task (attempt 0) in a candidate's evaluation."""

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


class EvaluationStore:
    """The ``evaluation`` and ``candidate_score`` rows of the archive at ``db``; logs go to
    ``blobs``."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db, self.blobs = db, blobs

    def add(
        self,
        candidate_id: str,
        evaluator: str,
        task_id: str,
        score: float,
        passed: bool,
        *,
        split: str = "test",
        attempt: int = 0,
        duration_s: float = 0.0,
        tokens: int = 0,
        cost_usd: float = 0.0,
        log: str | bytes | None = None,
    ) -> int:
        """Record one evaluation; returns 1, or 0 when this exact attempt is already there."""
        log_hash = (
            self.blobs.put(log.encode() if isinstance(log, str) else log, "log")
            if log is not None
            else None
        )
        row = dict(
            candidate_id=candidate_id, evaluator=evaluator, split=split, task_id=task_id,
            attempt=attempt, score=score, passed=passed, duration_s=duration_s, tokens=tokens,
            cost_usd=cost_usd, log_hash=log_hash,
        )  # fmt: skip
        return self.add_many([row])

    def add_many(self, rows: Iterable[Mapping[str, Any] | Evaluation]) -> int:
        """Record many evaluations in one transaction; returns how many were new.

        Re-recording the same (candidate, evaluator, split, task, attempt) is ignored, so
        a step that runs twice after a crash counts once.
        """
        values = []
        for row in rows:
            data = row.model_dump() if isinstance(row, Evaluation) else dict(row)
            data.pop("id", None)
            values.append(Evaluation.model_validate(data).model_dump(exclude={"id"}))
        if not values:
            return 0
        inserted = 0
        with self.db.write() as session:
            statement, conn = _insert_ignore(session, Evaluation), session.connection()
            for chunk in iter_chunks(values, 2000):
                inserted += len(conn.execute(statement, chunk).all())
            self.refresh_scores(session, (v["candidate_id"] for v in values))
        return inserted

    def refresh_scores(self, session: Session, candidate_ids: Iterable[str]) -> None:
        """Recompute the ``candidate_score`` totals of ``candidate_ids`` inside ``session``'s
        write transaction (every write of evaluations calls it)."""
        from sqlalchemy import text

        for chunk in iter_chunks(sorted(set(candidate_ids))):
            marks, params = _placeholders(chunk)
            session.execute(text(_REFRESH_DELETE.format(ids=marks)), params)
            session.execute(text(_REFRESH_INSERT.format(ids=marks)), params)

    def rebuild_scores(self, run_id: str | None = None) -> None:
        """Recompute the per-candidate totals from the evaluation rows (after bulk loads)."""
        from sqlalchemy import text

        query = "SELECT id FROM candidate" + (" WHERE run_id = :run" if run_id else "")
        with self.db.write() as session:
            ids = list(session.execute(text(query), {"run": run_id}).scalars())
            self.refresh_scores(session, ids)

    def rows(
        self,
        candidate_id: str,
        *,
        evaluator: str | None = None,
        split: str | None = None,
        attempt: int | None = None,
    ) -> list[Evaluation]:
        """A candidate's evaluation rows, filtered by whichever arguments are given, ordered
        by evaluator, split, task and attempt."""
        from sqlmodel import col, select

        query = select(Evaluation).where(Evaluation.candidate_id == candidate_id)
        for column, value in (("evaluator", evaluator), ("split", split), ("attempt", attempt)):
            if value is not None:
                query = query.where(getattr(Evaluation, column) == value)
        order = (Evaluation.evaluator, Evaluation.split, Evaluation.task_id, Evaluation.attempt)
        with self.db.read_session() as session:
            return list(session.exec(query.order_by(*(col(c) for c in order))))

    def task_results(self, candidate_id: str, evaluator: str, split: str) -> dict[str, TaskResult]:
        """Task id -> the recorded result of attempt 0, for one evaluator and split."""
        rows = self.rows(candidate_id, evaluator=evaluator, split=split, attempt=0)
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
        with self.db.read() as conn:
            rows = conn.execute(query, {"r": run_id, "e": evaluator, "s": split})
            return [
                AttemptRow(r.candidate_id, r.task_id, int(r.attempt), float(r.score),
                           bool(r.passed), r.log_hash)
                for r in rows
            ]  # fmt: skip


def _insert_ignore(session: Session, table: type) -> Any:
    """An INSERT that skips rows whose unique key already exists (SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        raise ArchiveError(f"unsupported database {dialect}", hint="use SQLite or PostgreSQL")
    # RETURNING counts the rows really inserted (rowcount is unreliable for executemany).
    return insert(table).on_conflict_do_nothing().returning(table.candidate_id)  # type: ignore[attr-defined]
