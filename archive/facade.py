"""The archive's typed facade: what the rest of Clade calls to record and read a run.

``Archive(url, blob_dir)`` opens (and migrates) the database and the blob store. Every
write is one transaction: it lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clade.archive.blobs import BlobStore, unified_diff
from clade.archive.calls import CallsMixin
from clade.archive.db import READ_ONLY, make_engine, upgrade
from clade.archive.errors import (
    ArchiveError,
    MissingBlobError,
    RunStopped,
    UnknownIdError,
)
from clade.archive.ids import new_id
from clade.archive.progress import ProgressMixin
from clade.archive.queries import QueryMixin, iter_chunks
from clade.archive.retry import archive_failure, retry_transient
from clade.archive.selection import SelectionMixin
from clade.archive.tables import (
    Candidate,
    CandidateKind,
    CandidateStatus,
    Evaluation,
    Run,
    utcnow,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from clade.archive.lock import RunLock

_REFRESH_DELETE = "DELETE FROM candidate_score WHERE candidate_id IN ({ids})"
_REFRESH_INSERT = """
INSERT INTO candidate_score
  (candidate_id, evaluator, split, n, n_passed, score_sum, tokens, cost_usd, duration_s)
SELECT candidate_id, evaluator, split, count(*), sum(CASE WHEN passed THEN 1 ELSE 0 END),
       sum(score), sum(tokens), sum(cost_usd), sum(duration_s)
FROM evaluation WHERE candidate_id IN ({ids}) GROUP BY candidate_id, evaluator, split"""


def _placeholders(ids: list[str]) -> tuple[str, dict[str, str]]:
    return ",".join(f":c{i}" for i in range(len(ids))), {f"c{i}": v for i, v in enumerate(ids)}


class Archive(QueryMixin, SelectionMixin, CallsMixin, ProgressMixin):
    """A run archive: a database at `url` and candidate trees and logs under `blob_dir`."""

    def __init__(self, url: str, blob_dir: Path | str, *, wait_s: float = 300.0) -> None:
        self.url = url
        #: How long a transaction waits for a database that is locked or restarting.
        self.wait_s = wait_s
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.blobs = BlobStore(Path(blob_dir))
        self._stopped: str | None = None

    def close(self) -> None:
        self.engine.dispose()

    def lock_run(self, run_id: str, on_lost: Callable[[str], None] | None = None) -> RunLock:
        """A lock on ``run_id`` held by this process (use it as a context manager);
        :class:`~clade.archive.errors.RunLocked` when a live process holds it."""
        from clade.archive.lock import RunLock

        return RunLock(self.engine, self.url, run_id, on_lost)

    def stop_writes(self, reason: str) -> None:
        """Refuse every later write with :class:`RunStopped`: work still in flight after a
        stop signal cannot record half-finished results (it runs again on resume)."""
        self._stopped = reason

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop_writes` was called (the run is stopping)."""
        return self._stopped is not None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection in a read transaction (deferred BEGIN: never waits for writers)."""
        conn = retry_transient(self._begin_read, self.wait_s, self.url)
        with archive_failure(self.url), conn:
            transaction = conn.get_transaction()
            assert transaction is not None
            with transaction:
                yield conn

    def _begin_read(self) -> Connection:
        conn = self.engine.connect().execution_options(**READ_ONLY)
        try:
            conn.begin()
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _read_session(self) -> Iterator[Session]:
        """An ORM session in a read transaction; its objects stay usable after it ends."""
        from sqlmodel import Session

        with self._read() as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session in one write transaction; a refused write leaves nothing behind.

        Connecting and BEGIN wait up to ``wait_s`` for a database that is locked or
        restarting (nothing has been sent yet, so that is safe to repeat); a failure
        after that is one :class:`ArchiveUnavailable` (or :class:`DiskFullError`)."""
        from sqlalchemy.exc import IntegrityError

        if self._stopped is not None:
            raise RunStopped(
                f"the run is stopping ({self._stopped}); nothing more is recorded",
                hint="resume it with `clade run --resume RUN`",
            )
        session = retry_transient(self._begin_write, self.wait_s, self.url)
        try:
            with archive_failure(self.url), session:
                transaction = session.get_transaction()
                assert transaction is not None
                with transaction:
                    yield session
        except IntegrityError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise ArchiveError(
                f"the archive refused the write ({reason}); nothing was recorded",
                hint="a row refers to a run or candidate that is not in the archive, "
                "or repeats a unique key",
            ) from exc

    def _begin_write(self) -> Session:
        from sqlmodel import Session

        session = Session(self.engine, expire_on_commit=False)
        try:
            session.begin()
            session.connection()  # connect and BEGIN (IMMEDIATE on SQLite) now
        except BaseException:
            session.close()
            raise
        return session

    def _refresh_scores(self, session: Session, candidate_ids: Iterable[str]) -> None:
        from sqlalchemy import text

        for chunk in iter_chunks(sorted(set(candidate_ids))):
            marks, params = _placeholders(chunk)
            session.execute(text(_REFRESH_DELETE.format(ids=marks)), params)
            session.execute(text(_REFRESH_INSERT.format(ids=marks)), params)

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

    # -- evaluations ------------------------------------------------------------------
    def add_evaluation(
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
        log_hash = self.put_log(log) if log is not None else None
        row = dict(
            candidate_id=candidate_id, evaluator=evaluator, split=split, task_id=task_id,
            attempt=attempt, score=score, passed=passed, duration_s=duration_s, tokens=tokens,
            cost_usd=cost_usd, log_hash=log_hash,
        )  # fmt: skip
        return self.add_evaluations([row])

    def add_evaluations(self, rows: Iterable[Mapping[str, Any] | Evaluation]) -> int:
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
        with self._write() as session:
            statement, conn = _insert_ignore(session, Evaluation), session.connection()
            for chunk in iter_chunks(values, 2000):
                inserted += len(conn.execute(statement, chunk).all())
            self._refresh_scores(session, (v["candidate_id"] for v in values))
        return inserted

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

    def rebuild_scores(self, run_id: str | None = None) -> None:
        """Recompute the per-candidate totals from the evaluation rows (after bulk loads)."""
        from sqlalchemy import text

        query = "SELECT id FROM candidate" + (" WHERE run_id = :run" if run_id else "")
        with self._write() as session:
            ids = list(session.execute(text(query), {"run": run_id}).scalars())
            self._refresh_scores(session, ids)


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
