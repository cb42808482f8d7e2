"""Meta-prompt versions: every text a judge or conductor prompted with, and why it changed.

:class:`PromptStore` numbers the versions of each (kind, name, run) from 1 and links each
to the one before, so a judge resumes from its latest text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clade.archive.ids import new_id
from clade.archive.tables import MetaPromptVersion

if TYPE_CHECKING:
    from clade.archive.transactions import Database


class PromptStore:
    """The ``meta_prompt_version`` rows of the archive at ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
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

        with self.db.write() as session:
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

    def versions(
        self, kind: str | None = None, name: str | None = None, run_id: str | None = None
    ) -> list[MetaPromptVersion]:
        """Versions in the order they were made, filtered by whichever arguments are given."""
        from sqlmodel import col, select

        query = select(MetaPromptVersion)
        for column, value in (("kind", kind), ("name", name), ("run_id", run_id)):
            if value is not None:
                query = query.where(getattr(MetaPromptVersion, column) == value)
        with self.db.read_session() as session:
            return list(session.exec(query.order_by(col(MetaPromptVersion.id))))

    def latest(self, kind: str, name: str, run_id: str | None = None) -> MetaPromptVersion | None:
        """The newest version of ``kind``/``name`` (in ``run_id`` if given), or None."""
        versions = self.versions(kind, name, run_id)
        return versions[-1] if versions else None
