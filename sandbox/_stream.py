"""One ``docker exec`` with stdin, a deadline, and capped output, on the docker SDK's
low-level API.

``exec_run`` has neither a timeout nor a cap, so the exec is started hijacked
(``exec_start(socket=True)``) and its multiplexed stream (8-byte frame headers) is read
here incrementally: bytes past ``keep_bytes`` per stream are dropped, and at the deadline or
past ``kill_bytes`` the caller's ``kill`` runs (in a thread, as
the engine may wait for this stream to be read); the stream is then drained until the engine
closes it.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_HEADER = struct.Struct(">BxxxL")
_DRAIN_S = 10.0


@dataclass
class RawExec:
    """Bytes and status of one exec, before interpretation."""

    exit_code: int | None = None
    out: dict[int, bytearray] = field(default_factory=lambda: {1: bytearray(), 2: bytearray()})
    total: int = 0
    truncated: bool = False
    overflowed: bool = False
    timed_out: bool = False
    duration_s: float = 0.0


class _Frames:
    """Incremental parser of the engine's multiplexed stdout/stderr stream."""

    def __init__(self, result: RawExec, keep_bytes: int) -> None:
        self.result, self.keep, self.pending = result, keep_bytes, bytearray()

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        while len(self.pending) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self.pending)
            if len(self.pending) < _HEADER.size + size:
                return
            payload = self.pending[_HEADER.size : _HEADER.size + size]
            del self.pending[: _HEADER.size + size]
            self.result.total += size
            store = self.result.out.get(stream)
            if store is None:
                continue
            room = self.keep - len(store)
            if size > room:
                self.result.truncated = True
            if room > 0:
                store += payload[:room]


def _raw_socket(sock: Any) -> socket.socket:
    return getattr(sock, "_sock", sock)


def run_exec(
    api: Any,
    container_id: str,
    argv: Sequence[str],
    *,
    user: str,
    workdir: str,
    env: Mapping[str, str],
    stdin: bytes | None,
    deadline_s: float,
    keep_bytes: int,
    kill_bytes: int,
    kill: Callable[[], object],
) -> RawExec:
    """Run ``argv`` in the container; see the module docstring."""
    start = time.monotonic()
    deadline = start + deadline_s
    result = RawExec()
    exec_id = api.exec_create(
        container_id,
        list(argv),
        stdout=True,
        stderr=True,
        stdin=stdin is not None,
        user=user,
        workdir=workdir,
        environment=dict(env),
    )["Id"]
    hijacked = api.exec_start(exec_id, socket=True)
    sock = _raw_socket(hijacked)
    frames = _Frames(result, keep_bytes)
    killed_at: float | None = None
    killer: threading.Thread | None = None
    try:
        if stdin is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.1))
            try:
                sock.sendall(stdin)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the command exited or stopped reading; its status tells why
        while True:
            now = time.monotonic()
            if killed_at is None and now >= deadline:
                result.timed_out = True
            if killed_at is None and (result.timed_out or result.overflowed):
                # In a thread: the engine may not finish the kill while this stream is unread.
                killer = threading.Thread(target=kill, name="sandbox-kill", daemon=True)
                killer.start()
                killed_at = now
            if killed_at is not None and now - killed_at > _DRAIN_S:
                break
            limit = deadline if killed_at is None else killed_at + _DRAIN_S
            sock.settimeout(max(min(limit - now, 1.0), 0.01))
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                break
            frames.feed(chunk)
            if result.total > kill_bytes:
                result.overflowed = True
    finally:
        hijacked.close()
        sock.close()  # closing the SocketIO alone leaves the engine's socket open until GC
        if killer is not None:
            killer.join()
    result.exit_code = _exit_code(api, exec_id)
    result.duration_s = time.monotonic() - start
    return result


def _exit_code(api: Any, exec_id: str) -> int | None:
    """The exec's exit status; the engine may report it a moment after the stream closes
    (seconds on a loaded machine: polled with a growing pause, for up to ~10 s)."""
    deadline = time.monotonic() + 10.0
    pause = 0.005
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running"):
            code = info.get("ExitCode")
            return int(code) if code is not None else None
        if time.monotonic() > deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
