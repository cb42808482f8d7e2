"""Traces: recorded conversations (a conductor's solve, a judge's decision), step by step.

:class:`TraceStore` records each in one transaction and reads them back in the order they
were recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clade.archive.errors import UnknownIdError
from clade.archive.ids import new_id
from clade.archive.tables import Trace

if TYPE_CHECKING:
    from clade.archive.transactions import Database


class TraceStore:
    """The ``trace`` rows of the archive at ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        kind: str,
        item: str,
        steps: list[Any],
        *,
        answer: str | None = None,
        run_id: str | None = None,
        candidate_id: str | None = None,
        calls: int = 0,
        tokens: int = 0,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Record one conversation (a conductor's solve, a judge's decision); returns its id."""
        trace = Trace(
            id=new_id(), run_id=run_id, candidate_id=candidate_id, kind=kind, item=item,
            answer=answer, steps=steps, calls=calls, tokens=tokens, meta=meta or {},
        )  # fmt: skip
        with self.db.write() as session:
            session.add(trace)
        return trace.id

    def filter(self, run_id: str | None = None, kind: str | None = None) -> list[Trace]:
        """Traces in the order they were recorded, filtered by whichever arguments are given."""
        from sqlmodel import col, select

        query = select(Trace)
        if run_id is not None:
            query = query.where(Trace.run_id == run_id)
        if kind is not None:
            query = query.where(Trace.kind == kind)
        with self.db.read_session() as session:
            return list(session.exec(query.order_by(col(Trace.id))))

    def get(self, trace_id: str) -> Trace:
        """The trace with id ``trace_id``; UnknownIdError when there is none."""
        with self.db.read_session() as session:
            trace = session.get(Trace, trace_id)
        if trace is None:
            raise UnknownIdError(f"no trace {trace_id!r} in this archive")
        return trace
