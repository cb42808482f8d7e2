"""Model calls and meta-prompt versions: what the model layer, judges and conductors record.

Mixed into :class:`~.facade.Archive`; each record is one transaction.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from clade.archive.ids import new_id
from clade.archive.tables import MetaPromptVersion, ModelCall, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session


class CallsMixin:
    """Writers and readers of model calls and meta-prompt versions."""

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
        """Record one model call; returns its row id."""
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
    ) -> MetaPromptVersion:
        """Record the next version of a judge's or conductor's meta-prompt."""
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
                score=score, version=(last.version + 1) if last else 1,
                parent_id=last.id if last else None,
            )  # fmt: skip
            session.add(version)
        return version

    def meta_prompt_versions(
        self, kind: str | None = None, name: str | None = None, run_id: str | None = None
    ) -> list[MetaPromptVersion]:
        from sqlmodel import col, select

        query = select(MetaPromptVersion)
        for column, value in (("kind", kind), ("name", name), ("run_id", run_id)):
            if value is not None:
                query = query.where(getattr(MetaPromptVersion, column) == value)
        with self._read_session() as session:
            return list(session.exec(query.order_by(col(MetaPromptVersion.id))))
