"""The archive's database and its transactions, shared by every store of the archive.

:class:`Database` opens (and migrates) the database at a URL and hands out transactions:
``read()`` (a connection, deferred BEGIN: it never waits for writers), ``read_session()``
(an ORM session whose objects stay usable after it ends) and ``write()`` (one write
transaction: it lands whole or not at all). The stores (calls, prompts, traces, ...) take a
:class:`Database` and nothing else of the facade, so none re-declares another's methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from clade.archive.db import READ_ONLY, make_engine, upgrade
from clade.archive.errors import ArchiveError, RunStopped
from clade.archive.retry import archive_failure, retry_transient

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session


class Database:
    """The archive's database at ``url``; transactions wait up to ``wait_s`` for it."""

    def __init__(self, url: str, *, wait_s: float = 300.0) -> None:
        self.url = url
        #: How long a transaction waits for a database that is locked or restarting.
        self.wait_s = wait_s
        self.engine = make_engine(url)
        upgrade(self.engine)
        self._stopped: str | None = None

    def close(self) -> None:
        self.engine.dispose()

    def stop_writes(self, reason: str) -> None:
        """Refuse every later write with :class:`RunStopped`."""
        self._stopped = reason

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop_writes` was called."""
        return self._stopped is not None

    @contextmanager
    def read(self) -> Iterator[Connection]:
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
    def read_session(self) -> Iterator[Session]:
        """An ORM session in a read transaction; its objects stay usable after it ends."""
        from sqlmodel import Session

        with self.read() as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
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
