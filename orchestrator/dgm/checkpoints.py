"""The LangGraph checkpointer beside the archive, and what its failures mean to a user.

SQLite beside a SQLite archive (``<home>/checkpoints.db``, WAL), PostgreSQL beside a
PostgreSQL one. On PostgreSQL the saver draws its connections from a pool that checks
each one before use, and repeats a write that fails because the server went away: the
saver's writes are upserts keyed by checkpoint and task, so repeating one records nothing
twice. A restart of the server mid-run is waited out (up to :data:`WAIT_S`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from clade.archive.errors import ArchiveUnavailable, ConfigError, DiskFullError

T = TypeVar("T")
WAIT_S = 300.0
log = logging.getLogger("clade.checkpoints")


@contextmanager
def checkpointer(url: str, home: Path) -> Iterator[Any]:
    """The LangGraph checkpointer that lives beside the archive."""
    if url.startswith("postgresql"):
        with _postgres(url.replace("postgresql+psycopg://", "postgresql://")) as saver:
            yield saver
        return
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(home / "checkpoints.db", check_same_thread=False, timeout=60)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        yield SqliteSaver(connection)
    finally:
        connection.close()


@contextmanager
def _postgres(conninfo: str) -> Iterator[Any]:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise ConfigError(
            "a PostgreSQL archive needs langgraph-checkpoint-postgres",
            hint="pip install 'clade-agents[postgres]'",
        ) from None

    class RetryingSaver(PostgresSaver):
        """Repeats a write or read that failed because the server went away."""

        def put(self, *args: Any, **kwargs: Any) -> Any:
            return _retry(lambda: super(RetryingSaver, self).put(*args, **kwargs))

        def put_writes(self, *args: Any, **kwargs: Any) -> Any:
            return _retry(lambda: super(RetryingSaver, self).put_writes(*args, **kwargs))

        def get_tuple(self, *args: Any, **kwargs: Any) -> Any:
            return _retry(lambda: super(RetryingSaver, self).get_tuple(*args, **kwargs))

    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=4,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        check=ConnectionPool.check_connection,
        timeout=WAIT_S,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=30)
    except Exception as exc:
        raise ArchiveUnavailable(
            f"cannot reach the checkpoint database: {exc}", hint="check CLADE_DB_URL"
        ) from exc
    try:
        saver = RetryingSaver(pool)  # type: ignore[arg-type]  # rows are dicts (row_factory)
        _retry(saver.setup)
        yield saver
    finally:
        pool.close()


def _retry(call: Callable[[], T]) -> T:
    import psycopg

    began, delay = time.monotonic(), 0.2
    while True:
        try:
            return call()
        except psycopg.OperationalError as exc:
            if time.monotonic() - began + delay > WAIT_S:
                raise ArchiveUnavailable(
                    f"the checkpoint database did not answer for {WAIT_S:.0f} s: {exc}",
                    hint="check the PostgreSQL server; then `clade run --resume RUN`",
                ) from exc
            log.warning("the checkpoint database is unavailable (%s); retrying", exc)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def explain(exc: BaseException) -> BaseException:
    """The one-line Clade error for a checkpointer failure that reached the run; other
    exceptions are returned as they are."""
    import sqlite3

    text = str(exc).lower()
    if isinstance(exc, OSError | sqlite3.OperationalError) and (
        "disk is full" in text or "no space left" in text or getattr(exc, "errno", 0) == 28
    ):
        return DiskFullError(
            f"no space left for the run's checkpoints: {exc}",
            hint="free disk space under CLADE_HOME; then `clade run --resume RUN`",
        )
    if isinstance(exc, sqlite3.OperationalError):
        return ArchiveUnavailable(
            f"the checkpoint database failed: {exc}",
            hint="check CLADE_HOME; then `clade run --resume RUN`",
        )
    return exc
