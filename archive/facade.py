"""The archive's typed facade: what the rest of Clade calls to record and read a run.

``Archive(url, blob_dir)`` opens (and migrates) the database and the blob store. Every
write is one transaction: it lands whole or not at all. The facade is composed of stores
(``archive.stores``: blobs, evaluations, model calls, meta-prompts, traces; stores.py) over one
:class:`~.transactions.Database`; its flat methods delegate to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clade.archive.blobs import BlobStore, unified_diff
from clade.archive.calls import CallStore
from clade.archive.errors import MissingBlobError, UnknownIdError
from clade.archive.evaluations import EvaluationStore
from clade.archive.ids import new_id
from clade.archive.progress import ProgressMixin
from clade.archive.prompts import PromptStore
from clade.archive.queries import QueryMixin
from clade.archive.selection import SelectionMixin
from clade.archive.stores import Stores, delegate
from clade.archive.tables import (
    Candidate,
    CandidateKind,
    CandidateStatus,
    Run,
    utcnow,
)
from clade.archive.traces import TraceStore
from clade.archive.transactions import Database

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from clade.archive.lock import RunLock


class Archive(QueryMixin, SelectionMixin, ProgressMixin):
    """A run archive: a database at `url` and candidate trees and logs under `blob_dir`."""

    def __init__(self, url: str, blob_dir: Path | str, *, wait_s: float = 300.0) -> None:
        self.db = Database(url, wait_s=wait_s)
        self.url, self.engine = url, self.db.engine
        self.blobs = BlobStore(Path(blob_dir))
        self.stores = Stores(
            blobs=self.blobs,
            evaluations=EvaluationStore(self.db, self.blobs),
            calls=CallStore(self.db),
            prompts=PromptStore(self.db),
            traces=TraceStore(self.db),
        )

    @property
    def wait_s(self) -> float:
        """How long a transaction waits for a database that is locked or restarting."""
        return self.db.wait_s

    @wait_s.setter
    def wait_s(self, seconds: float) -> None:
        self.db.wait_s = seconds

    def close(self) -> None:
        self.db.close()

    def lock_run(self, run_id: str, on_lost: Callable[[str], None] | None = None) -> RunLock:
        """A lock on ``run_id`` held by this process (use it as a context manager);
        :class:`~clade.archive.errors.RunLocked` when a live process holds it."""
        from clade.archive.lock import RunLock

        return RunLock(self.engine, self.url, run_id, on_lost)

    def stop_writes(self, reason: str) -> None:
        """Refuse every later write with :class:`RunStopped`: work still in flight after a
        stop signal cannot record half-finished results (it runs again on resume)."""
        self.db.stop_writes(reason)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop_writes` was called (the run is stopping)."""
        return self.db.stopping

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions (see transactions.py) --------------------------------------------
    def _read(self) -> AbstractContextManager[Connection]:
        return self.db.read()

    def _read_session(self) -> AbstractContextManager[Session]:
        return self.db.read_session()

    def _write(self) -> AbstractContextManager[Session]:
        return self.db.write()

    # -- evaluations (evaluations.py) -------------------------------------------------
    add_evaluation = delegate("evaluations", EvaluationStore.add)
    add_evaluations = delegate("evaluations", EvaluationStore.add_many)
    rebuild_scores = delegate("evaluations", EvaluationStore.rebuild_scores)
    evaluations = delegate("evaluations", EvaluationStore.rows)
    task_results = delegate("evaluations", EvaluationStore.task_results)
    attempt_rows = delegate("evaluations", EvaluationStore.attempt_rows)

    # -- model calls, meta-prompt versions and traces (calls.py, prompts.py, traces.py) --
    record_model_call = delegate("calls", CallStore.record)
    call_usage = delegate("calls", CallStore.usage)
    usage_by_candidate = delegate("calls", CallStore.usage_by_candidate)
    run_usage = delegate("calls", CallStore.run_usage)
    add_meta_prompt_version = delegate("prompts", PromptStore.add)
    meta_prompt_versions = delegate("prompts", PromptStore.versions)
    latest_meta_prompt = delegate("prompts", PromptStore.latest)
    record_trace = delegate("traces", TraceStore.record)
    traces = delegate("traces", TraceStore.filter)
    get_trace = delegate("traces", TraceStore.get)

    # -- runs and candidates -----------------------------------------------------------
    def create_run(
        self, name: str = "", kind: str = "dgm", config: Mapping[str, Any] | None = None
    ) -> Run:
        run = Run(id=new_id(), name=name, kind=kind, config=dict(config or {}))
        with self._write() as session:
            session.add(run)
        return run

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._write() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise UnknownIdError(f"no run with id {run_id!r}")
            run.status, run.finished_at = status, utcnow()

    def set_run_config(self, run_id: str, config: Mapping[str, Any]) -> None:
        """Replace a run's stored config (an option turned on at resume, e.g. approval)."""
        with self._write() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise UnknownIdError(f"no run with id {run_id!r}")
            run.config = dict(config)

    def get_run(self, run_id: str) -> Run:
        with self._read_session() as session:
            run = session.get(Run, run_id)
        if run is None:
            raise UnknownIdError(f"no run with id {run_id!r}")
        return run

    def get_candidate(self, candidate_id: str) -> Candidate:
        with self._read_session() as session:
            cand = session.get(Candidate, candidate_id)
        if cand is None:
            raise UnknownIdError(f"no candidate with id {candidate_id!r}")
        return cand

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
        with self._write() as session:
            if session.get(Run, run_id) is None:
                raise UnknownIdError(f"no run with id {run_id!r}")
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
        with self._write() as session:
            cand = session.get(Candidate, candidate_id)
            if cand is None:
                raise UnknownIdError(f"no candidate with id {candidate_id!r}")
            cand.status, cand.rejection_reason = CandidateStatus(status).value, rejection_reason

    # -- trees and logs ----------------------------------------------------------------
    def put_tree(self, root: Path | str) -> str:
        return self.blobs.put_tree(Path(root))

    def export_tree(self, tree_hash: str, dest: Path | str) -> Path:
        return self.blobs.export_tree(tree_hash, Path(dest))

    def export_candidate(self, candidate_id: str, dest: Path | str) -> Path:
        return self.export_tree(self.get_candidate(candidate_id).tree_hash, dest)

    def put_log(self, log: str | bytes) -> str:
        return self.blobs.put(log.encode() if isinstance(log, str) else log, "log")

    def get_log(self, log_hash: str) -> str:
        return self.blobs.get(log_hash, "log").decode(errors="replace")

    def diff(self, a: str, b: str) -> str:
        """Unified diff from candidate `a`'s tree to candidate `b`'s."""
        old, new = self.get_candidate(a), self.get_candidate(b)
        return unified_diff(self.blobs.files(old.tree_hash), self.blobs.files(new.tree_hash), a, b)

    # -- whole runs --------------------------------------------------------------------
    def export_run(self, run_id: str, path: Path | str) -> int:
        """Write a run, its rows and its blobs to a JSON-lines file; returns the line count."""
        from clade.archive.jsonl import export_run

        return export_run(self, run_id, Path(path))

    def import_run(self, path: Path | str) -> str:
        """Read a JSON-lines export into this archive (validated, one transaction)."""
        from clade.archive.jsonl import import_run

        return import_run(self, Path(path))
