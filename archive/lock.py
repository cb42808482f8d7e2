"""One process per run: a lock that a second process on the same run cannot take, and that
a dead holder does not keep.

- SQLite: an exclusive ``flock`` on ``<database>-locks/<run id>.lock`` beside the database.
  The kernel releases it when the holder's process ends, however it ends (SIGKILL
  included). The file names its holder (host, pid, start time) for the refusal message.
- PostgreSQL: a session-level advisory lock on a connection kept open for the run; the
  server releases it when that connection ends (the process exits or dies). The
  connection's ``application_name`` names the holder. A keeper thread pings the
  connection; after a server restart it takes the lock again, and if another process
  holds it by then the lock is ``lost`` and ``on_lost`` is called.
- an in-memory SQLite database belongs to one process: there is nothing to lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clade.archive.errors import ArchiveError, RunLocked

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_PG_CLASS = 0x434C4144  # "CLAD": the advisory lock space of run locks
KEEPER_INTERVAL_S = 5.0


def holder_label() -> str:
    """``host/pid/start-time`` of this process (start time in clock ticks since boot)."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/stat") as handle:
            started = handle.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        started = "0"
    return f"{socket.gethostname()}/{pid}/{started}"


def _describe(label: str) -> str:
    parts = label.strip().split("/")
    if len(parts) >= 3 and parts[-2].isdigit():
        return f"pid {parts[-2]} on {'/'.join(parts[:-2])}"
    return label.strip() or "another process"


def _refusal(run_id: str, holder: str) -> RunLocked:
    return RunLocked(
        f"run {run_id} is already being worked on by {_describe(holder)}",
        hint="wait for it to end or stop it (Ctrl-C, or kill the pid); "
        "the lock of a process that died is released by itself",
    )


def _objid(run_id: str) -> int:
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


class RunLock:
    """Held while one process works on ``run_id``; see the module docstring."""

    def __init__(
        self, engine: Engine, url: str, run_id: str, on_lost: Callable[[str], None] | None = None
    ) -> None:
        self.engine, self.url, self.run_id, self.on_lost = engine, url, run_id, on_lost
        self.lost: str | None = None
        self._fd: int | None = None
        self._conn: Any = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------
    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`RunLocked` naming the live holder."""
        if self.engine.dialect.name == "postgresql":
            self._acquire_pg()
        else:
            self._acquire_file()
        return self

    def release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=KEEPER_INTERVAL_S + 1)
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()  # ending the session releases the advisory lock
            self._conn = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    # -- SQLite: a file lock beside the database -----------------------------------------
    def lock_path(self) -> Path | None:
        from sqlalchemy.engine import make_url

        database = make_url(self.url).database
        if not database or database == ":memory:":
            return None
        db = Path(database)
        return db.with_name(db.name + "-locks") / f"{self.run_id}.lock"

    def _acquire_file(self) -> None:
        import fcntl

        path = self.lock_path()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArchiveError(
                f"cannot create the run lock {path}: {exc.strerror}",
                hint="check the archive folder's permissions and free space",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace")
            os.close(fd)
            raise _refusal(self.run_id, holder) from None
        self._fd = fd
        with contextlib.suppress(OSError):  # only the message needs it (a full disk is fine)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (holder_label() + "\n").encode(), 0)

    # -- PostgreSQL: an advisory lock held by an open session ----------------------------
    def _pg_take(self) -> tuple[Any, bool]:
        from sqlalchemy import text

        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": f"clade run {self.run_id} {holder_label()}"[:63]},
            )
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:c, :o)"),
                {"c": _PG_CLASS, "o": _objid(self.run_id)},
            ).scalar()
        except BaseException:
            conn.close()
            raise
        return conn, bool(got)

    def _pg_holder(self, conn: Any) -> str:
        from sqlalchemy import text

        row = conn.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid::bigint = :c AND l.objid::bigint = :o LIMIT 1"
            ),
            {"c": _PG_CLASS, "o": _objid(self.run_id)},
        ).scalar()
        return str(row or "").removeprefix(f"clade run {self.run_id} ")

    def _acquire_pg(self) -> None:
        conn, got = self._pg_take()
        if not got:
            holder = self._pg_holder(conn)
            conn.close()
            raise _refusal(self.run_id, holder)
        self._conn = conn
        self._keeper = threading.Thread(target=self._keep, name="clade-run-lock", daemon=True)
        self._keeper.start()

    def _keep(self) -> None:
        """Ping the lock's session; after a lost connection, take the lock again."""
        from sqlalchemy import text

        while not self._stop.wait(KEEPER_INTERVAL_S):
            try:
                self._conn.execute(text("SELECT 1"))
                continue
            except Exception:
                with contextlib.suppress(Exception):
                    self._conn.close()
            while not self._stop.is_set():
                try:
                    self._conn, got = self._pg_take()
                except Exception:  # the server is not back yet
                    time.sleep(1.0)
                    continue
                if not got:
                    self.lost = _refusal(self.run_id, self._pg_holder(self._conn)).message
                    if self.on_lost is not None:
                        self.on_lost(self.lost)
                    return
                break
