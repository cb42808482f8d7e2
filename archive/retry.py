"""Waiting out a database that is locked or restarting, and one clear error when it does not
come back in time.

Only the start of a transaction is repeated (connecting, and SQLite's ``BEGIN IMMEDIATE``):
nothing of it has reached the database yet, so repeating it cannot record anything twice.
A failure later in a transaction, or past the wait, becomes :class:`ArchiveUnavailable`;
a full disk becomes :class:`DiskFullError` at once (waiting would not free space).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from clade.archive.errors import ArchiveUnavailable, DiskFullError

T = TypeVar("T")
log = logging.getLogger("clade.archive")

_FULL = ("database or disk is full", "disk is full", "no space left on device")
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy")
_FIRST_WAIT_S, _MAX_WAIT_S = 0.2, 5.0
_RESUME = "then resume with `clade run --resume RUN`"


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(w in _reason(exc).lower() for w in _FULL)


def is_transient(exc: BaseException, url: str) -> bool:
    """Whether ``exc`` is a database that may answer again soon (locked, restarting)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if not isinstance(exc, DBAPIError) or is_full(exc):
        return False
    if url.startswith("sqlite"):
        return any(w in _reason(exc).lower() for w in _SQLITE_TRANSIENT)
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


def mapped(exc: BaseException, url: str, waited_s: float | None = None) -> Exception:
    """The one-line Clade error for a database failure."""
    where = url.split("@")[-1] if "@" in url else url  # never print a password
    if is_full(exc):
        return DiskFullError(
            f"no space left for the archive ({where}): {_reason(exc)}",
            hint=f"free disk space; nothing half-written was kept; {_RESUME}",
        )
    after = f" for {waited_s:.0f} s" if waited_s else ""
    return ArchiveUnavailable(
        f"the archive database did not answer{after} ({where}): {_reason(exc)}",
        hint="check the database (a process holding SQLite's lock, a PostgreSQL server "
        f"that is down); {_RESUME}",
    )


#: A start that takes longer than this waited for the database (SQLite's busy timeout
#: blocks inside the driver); a normal one takes milliseconds, even on a busy machine.
STALL_S = 1.0
_stalls: dict[str, float] = {"total_s": 0.0}
_waiting: dict[int, float] = {}  # starts in flight: a token -> when it began
_stalls_lock = threading.Lock()


def stalled_s() -> float:
    """Seconds this process has spent waiting for an unavailable database, in all threads
    (a locked SQLite file, a restarting server), waits still in flight included. Work that
    waited on the archive for long compares this before and after: its outcome may say
    more about the database than about the work."""
    now = time.monotonic()
    with _stalls_lock:
        pending = sum(now - began for began in _waiting.values() if now - began > STALL_S)
        return _stalls["total_s"] + pending


def retry_transient(start: Callable[[], T], wait_s: float, url: str) -> T:
    """``start()``, repeated with backoff while the database is transiently unavailable;
    the time it waited counts in :func:`stalled_s`."""
    began = time.monotonic()
    token = object()
    with _stalls_lock:
        _waiting[id(token)] = began
    try:
        return _retry(start, wait_s, url, began)
    finally:
        waited = time.monotonic() - began
        with _stalls_lock:
            del _waiting[id(token)]
            if waited > STALL_S:
                _stalls["total_s"] += waited


def _retry(start: Callable[[], T], wait_s: float, url: str, began: float) -> T:
    delay, warned = _FIRST_WAIT_S, False
    while True:
        try:
            return start()
        except Exception as exc:
            waited = time.monotonic() - began
            if not is_transient(exc, url):
                if is_full(exc) or _is_database_error(exc):
                    raise mapped(exc, url) from exc
                raise
            if waited + delay > wait_s:
                raise mapped(exc, url, waited) from exc
            if not warned:
                log.warning(
                    "the archive database is unavailable (%s); waiting up to %.0f s",
                    _reason(exc),
                    wait_s,
                )
                warned = True
        time.sleep(delay)
        delay = min(delay * 2, _MAX_WAIT_S)


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


@contextmanager
def archive_failure(url: str) -> Iterator[None]:
    """Turn a database failure inside a transaction into one Clade error."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise mapped(exc, url) from exc
    except OSError as exc:
        if is_full(exc):
            raise mapped(exc, url) from exc
        raise
