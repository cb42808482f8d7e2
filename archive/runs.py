"""Runs and candidates: the rows every other record hangs from.

A run is one piece of recorded work with its config; a candidate is one version of what
evolves (its tree already in the blob store), with its parent, status and proposal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from clade.archive.errors import MissingBlobError, UnknownIdError
from clade.archive.ids import new_id
from clade.archive.tables import Candidate, CandidateKind, CandidateStatus, Run, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

    from clade.archive.blobs import BlobStore
    from clade.archive.transactions import Database

_T = TypeVar("_T")


class RunStore:
    """The ``run`` and ``candidate`` rows of the archive at ``db`` (trees in ``blobs``)."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db, self.blobs = db, blobs

    def create_run(
        self, name: str = "", kind: str = "dgm", config: Mapping[str, Any] | None = None
    ) -> Run:
        run = Run(id=new_id(), name=name, kind=kind, config=dict(config or {}))
        with self.db.write() as session:
            session.add(run)
        return run

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self.db.write() as session:
            run = _row(session, Run, run_id)
            run.status, run.finished_at = status, utcnow()

    def set_run_config(self, run_id: str, config: Mapping[str, Any]) -> None:
        """Replace a run's stored config (an option turned on at resume, e.g. approval)."""
        with self.db.write() as session:
            _row(session, Run, run_id).config = dict(config)

    def get_run(self, run_id: str) -> Run:
        with self.db.read_session() as session:
            return _row(session, Run, run_id)

    def get_candidate(self, candidate_id: str) -> Candidate:
        with self.db.read_session() as session:
            return _row(session, Candidate, candidate_id)

    def add_candidate(
        self,
        run_id: str,
        tree_hash: str,
        *,
        parent_id: str | None = None,
        kind: CandidateKind | str = CandidateKind.CODING_AGENT,
        status: CandidateStatus | str = CandidateStatus.PENDING,
        proposal: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        rejection_reason: str | None = None,
    ) -> Candidate:
        """Record a candidate whose tree is already in the blob store (see `put_tree`)."""
        kind, status = CandidateKind(kind), CandidateStatus(status)
        if not self.blobs.has(tree_hash):
            raise MissingBlobError(
                f"tree {tree_hash[:12]} is not in the blob store", hint="store it with put_tree"
            )
        with self.db.write() as session:
            _row(session, Run, run_id)
            generation = 0
            if parent_id is not None:
                parent = session.get(Candidate, parent_id)
                if parent is None or parent.run_id != run_id:
                    raise UnknownIdError(f"no candidate {parent_id!r} in run {run_id}")
                generation = parent.generation + 1
            cand = Candidate(
                id=new_id(), run_id=run_id, parent_id=parent_id, kind=kind.value,
                tree_hash=tree_hash, generation=generation, status=status.value,
                rejection_reason=rejection_reason,
                proposal=dict(proposal) if proposal is not None else None, meta=dict(meta or {}),
            )  # fmt: skip
            session.add(cand)
        return cand

    def set_status(
        self,
        candidate_id: str,
        status: CandidateStatus | str,
        rejection_reason: str | None = None,
    ) -> None:
        with self.db.write() as session:
            cand = _row(session, Candidate, candidate_id)
            cand.status, cand.rejection_reason = CandidateStatus(status).value, rejection_reason


def _row(session: Session, table: type[_T], row_id: str) -> _T:
    """The row of ``table`` with ``row_id``, or UnknownIdError naming what is missing."""
    row = session.get(table, row_id)
    if row is None:
        raise UnknownIdError(f"no {table.__name__.lower()} with id {row_id!r}")
    return row
