"""Model calls, meta-prompt versions and traces: what models, judges and conductors record.

Mixed into :class:`~.facade.Archive`; each record is one transaction.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clade.archive.ids import new_id
from clade.archive.tables import MetaPromptVersion, ModelCall, Trace, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session


class CallsMixin:
    """Writers and readers of model calls, meta-prompt versions and traces."""

    def _write(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def _read_session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    def record_model_call(
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
        if getattr(self, "_stopped", None) is not None:
            return 0
        call = ModelCall(
            run_id=run_id, candidate_id=candidate_id, role=role, model=model,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost_usd,
            latency_s=latency_s, error=error, cached=cached, created_at=created_at or utcnow(),
        )  # fmt: skip
        with self._write() as session:
            session.add(call)
            session.flush()
            assert call.id is not None
            return call.id

    def add_meta_prompt_version(
        self,
        kind: str,
        name: str,
        text: str,
        *,
        run_id: str | None = None,
        reason: str | None = None,
        score: float | None = None,
        cases: list[Any] | None = None,
    ) -> MetaPromptVersion:
        """Record the next version of a judge's or conductor's meta-prompt.

        ``cases`` are the records that produced it (a judge's buffered feedback, say).
        """
        from sqlmodel import col, select

        with self._write() as session:
            query = select(MetaPromptVersion).where(
                MetaPromptVersion.kind == kind, MetaPromptVersion.name == name
            )
            query = query.where(
                col(MetaPromptVersion.run_id).is_(None)
                if run_id is None
                else MetaPromptVersion.run_id == run_id
            )
            last = session.exec(query.order_by(col(MetaPromptVersion.version).desc())).first()
            version = MetaPromptVersion(
                id=new_id(), run_id=run_id, kind=kind, name=name, text=text, reason=reason,
                score=score, cases=cases, version=(last.version + 1) if last else 1,
                parent_id=last.id if last else None,
            )  # fmt: skip
            session.add(version)
        return version

    def meta_prompt_versions(
        self, kind: str | None = None, name: str | None = None, run_id: str | None = None
    ) -> list[MetaPromptVersion]:
        """Versions in the order they were made, filtered by whichever arguments are given."""
        from sqlmodel import col, select

        query = select(MetaPromptVersion)
        for column, value in (("kind", kind), ("name", name), ("run_id", run_id)):
            if value is not None:
                query = query.where(getattr(MetaPromptVersion, column) == value)
        with self._read_session() as session:
            return list(session.exec(query.order_by(col(MetaPromptVersion.id))))

    def latest_meta_prompt(
        self, kind: str, name: str, run_id: str | None = None
    ) -> MetaPromptVersion | None:
        """The newest version of ``kind``/``name`` (in ``run_id`` if given), or None."""
        versions = self.meta_prompt_versions(kind, name, run_id)
        return versions[-1] if versions else None

    def record_trace(
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
        with self._write() as session:
            session.add(trace)
        return trace.id

    def traces(self, run_id: str | None = None, kind: str | None = None) -> list[Trace]:
        """Traces in the order they were recorded, filtered by whichever arguments are given."""
        from sqlmodel import col, select

        query = select(Trace)
        if run_id is not None:
            query = query.where(Trace.run_id == run_id)
        if kind is not None:
            query = query.where(Trace.kind == kind)
        with self._read_session() as session:
            return list(session.exec(query.order_by(col(Trace.id))))

    def get_trace(self, trace_id: str) -> Trace:
        """The trace with id ``trace_id``; UnknownIdError when there is none."""
        from clade.archive.errors import UnknownIdError

        with self._read_session() as session:
            trace = session.get(Trace, trace_id)
        if trace is None:
            raise UnknownIdError(f"no trace {trace_id!r} in this archive")
        return trace
