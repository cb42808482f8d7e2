"""Model calls: what every model, judge and conductor call was metered to and spent.

:class:`CallStore` records each call in its own transaction and reads back what the calls
spent: per (role, model), per candidate, and in all for a run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from clade.archive.tables import ModelCall, utcnow

if TYPE_CHECKING:
    from clade.archive.transactions import Database
    from clade.archive.views import CallUsage, Usage


class CallStore:
    """The ``model_call`` rows of the archive at ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        run_id: str | None,
        candidate_id: str | None,
        role: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        latency_s: float,
        error: str | None = None,
        *,
        cached: bool = False,
        created_at: datetime | None = None,
    ) -> int:
        """Record one model call; returns its row id (0 when the run is stopping: the
        step that made the call is cut short and runs again on resume, so its calls are
        not kept, and metering never fails a call)."""
        if self.db.stopping:
            return 0
        call = ModelCall(
            run_id=run_id, candidate_id=candidate_id, role=role, model=model,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost_usd,
            latency_s=latency_s, error=error, cached=cached, created_at=created_at or utcnow(),
        )  # fmt: skip
        with self.db.write() as session:
            session.add(call)
            session.flush()
            assert call.id is not None
            return call.id

    def usage(
        self, *, run_id: str | None = None, candidate_id: str | None = None
    ) -> list[CallUsage]:
        """Model calls per (role, model), sorted, of a run and/or a candidate (all if neither)."""
        from sqlalchemy import case, func, select
        from sqlmodel import col

        from clade.archive.views import CallUsage

        query = select(
            col(ModelCall.role),
            col(ModelCall.model),
            func.count(),
            func.coalesce(func.sum(col(ModelCall.prompt_tokens)), 0),
            func.coalesce(func.sum(col(ModelCall.completion_tokens)), 0),
            func.coalesce(func.sum(col(ModelCall.cost_usd)), 0.0),
            func.coalesce(func.sum(case((col(ModelCall.error).is_(None), 0), else_=1)), 0),
        )
        if run_id is not None:
            query = query.where(col(ModelCall.run_id) == run_id)
        if candidate_id is not None:
            query = query.where(col(ModelCall.candidate_id) == candidate_id)
        query = query.group_by(col(ModelCall.role), col(ModelCall.model))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(col(ModelCall.role), col(ModelCall.model))).all()
        return [
            CallUsage(role, model, int(n), int(prompt), int(completion), float(cost), int(errors))
            for role, model, n, prompt, completion, cost, errors in rows
        ]

    def usage_by_candidate(self, run_id: str) -> dict[str | None, Usage]:
        """Candidate id -> what the run's model calls metered to it spent; the key None holds
        the calls metered to the run but to no candidate. Candidates without calls are absent."""
        from sqlalchemy import func, select
        from sqlmodel import col

        from clade.archive.views import Usage

        query = (
            select(
                col(ModelCall.candidate_id),
                func.sum(col(ModelCall.prompt_tokens) + col(ModelCall.completion_tokens)),
                func.sum(col(ModelCall.cost_usd)),
            )
            .where(col(ModelCall.run_id) == run_id)
            .group_by(col(ModelCall.candidate_id))
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return {cid: Usage(int(tokens or 0), float(cost or 0)) for cid, tokens, cost in rows}

    def run_usage(self, run_id: str) -> tuple[int, float]:
        """(tokens, dollars) of every model call metered to ``run_id``."""
        from sqlalchemy import text

        query = text(
            "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0), coalesce(sum(cost_usd), 0) "
            "FROM model_call WHERE run_id = :r"
        )
        with self.db.read() as conn:
            tokens, usd = conn.execute(query, {"r": run_id}).one()
        return int(tokens), float(usd)
