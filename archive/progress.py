"""Reads a running search needs to pick up where it stands (a store of ``Archive``).

A run finds its own children again after a crash by the key the orchestrator gave them; a
watcher reads how much a run has recorded so far (``run_activity``). A candidate's results
task by task are the evaluation store's (``evaluations.py``; ``TaskResult`` and
``AttemptRow`` are re-exported here, where they were first defined).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clade.archive.evaluations import AttemptRow, TaskResult

if TYPE_CHECKING:
    from clade.archive.tables import Candidate
    from clade.archive.transactions import Database
    from clade.archive.views import RunActivity

__all__ = ["AttemptRow", "ProgressStore", "TaskResult"]


class ProgressStore:
    """``find_candidate`` and ``run_activity``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find_candidate(self, run_id: str, key: str) -> Candidate | None:
        """The candidate of ``run_id`` whose ``meta["key"]`` is ``key`` (the first, if several)."""
        from sqlmodel import col, select

        from clade.archive.tables import Candidate

        query = (
            select(Candidate)
            .where(Candidate.run_id == run_id, col(Candidate.meta)["key"].as_string() == key)
            .order_by(col(Candidate.id))
        )
        with self.db.read_session() as session:
            return session.exec(query).first()

    def run_activity(self, run_id: str) -> RunActivity:
        """How much ``run_id`` has recorded so far; UnknownIdError when there is no such run."""
        from sqlalchemy import func, select
        from sqlmodel import col

        from clade.archive.errors import UnknownIdError
        from clade.archive.tables import Candidate, CandidateScore, ModelCall, Run, Trace
        from clade.archive.views import RunActivity

        in_run = col(Candidate.run_id) == run_id
        counts = select(
            col(Run.status),
            select(func.count()).select_from(Candidate).where(in_run).scalar_subquery(),
            select(func.max(col(Candidate.id))).where(in_run).scalar_subquery(),
            select(func.coalesce(func.sum(col(CandidateScore.n)), 0))
            .join(Candidate, col(Candidate.id) == col(CandidateScore.candidate_id))
            .where(in_run)
            .scalar_subquery(),
            select(func.count()).select_from(ModelCall).where(col(ModelCall.run_id) == run_id)
            .scalar_subquery(),
            select(func.count()).select_from(Trace).where(col(Trace.run_id) == run_id)
            .scalar_subquery(),
        ).where(col(Run.id) == run_id)  # fmt: skip
        statuses = (
            select(col(Candidate.status), func.count())
            .where(in_run)
            .group_by(col(Candidate.status))
            .order_by(col(Candidate.status))
        )
        with self.db.read() as conn:
            row = conn.execute(counts).one_or_none()
            if row is None:
                raise UnknownIdError(
                    f"no run with id {run_id!r}", hint="list them with `clade archive runs`"
                )
            by_status = {status: int(n) for status, n in conn.execute(statuses)}
        status, candidates, last, evaluations, calls, traces = row
        return RunActivity(
            run_id=run_id, status=status, candidates=int(candidates), last_candidate=last,
            statuses=by_status, evaluations=int(evaluations), model_calls=int(calls),
            traces=int(traces),
        )  # fmt: skip
