"""The Docker backend of :class:`~clade.sandbox.protocol.Sandbox`.

One container per sandbox: no network, read-only root, a size-limited tmpfs work dir and
``/tmp``, memory/CPU/pids limits, no capabilities, ``no-new-privileges``, non-root users, the
model socket folder mounted read-only and nothing else of the host. PID 1 is a tiny
reaper that no process inside can kill. Each command runs as its slot's uid under
``timeout -s KILL``; afterwards (and at the deadline, on an output flood, or when the
command killed its own wrapper) every process of that uid is killed with ``kill -KILL -1``,
which also reaches processes that left their process group. A sandbox that cannot be
cleaned that way (pids exhausted) is restarted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from clade.sandbox import _paths
from clade.sandbox._container import create_container, docker_client
from clade.sandbox._stream import run_exec
from clade.sandbox.config import (
    AGENT_GID,
    AGENT_UID,
    SLOT_UID0,
    SOCKET_DIR,
    SOCKET_ENV,
    SOCKET_NAME,
    WORKDIR,
    ExecResult,
    SandboxConfig,
)
from clade.sandbox.errors import SandboxError
from clade.sandbox.protocol import ManagedSandbox

#: Runs a command as ``sh -c WRAP <timeout> argv...``: limit it, then kill what it left.
WRAP = 'umask 002; timeout -s KILL "$0" "$@"; rc=$?; kill -KILL -1 2>/dev/null; exit $rc'
_PUT = (
    'umask 002; mkdir -p "$0" && chmod u+w "$0" && tar -x --no-same-owner -C "$0" && '
    'if [ "$1" = ro ] && [ "$0" != /work ]; then chmod go-w "$0"; fi'
)
_GET = (
    'if [ -d "$0" ]; then cd "$0" && exec tar -c .; fi; '
    'cd "$(dirname "$0")" && exec tar -c "$(basename "$0")"'
)
_OOM = "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"
_GRACE_S = 2.0
_TRANSFER_TIMEOUT_S = 300.0


class DockerSandbox(ManagedSandbox):
    """A sandbox in one Docker container; see the module docstring."""

    isolated = True
    workdir = WORKDIR

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.restarts = 0
        self._client: Any = None
        self._container: Any = None
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.config.slots):
            self._slots.put(slot)
        self._oom_lock = threading.Lock()
        self._oom_seen = 0

    # -- life cycle ----------------------------------------------------------------------
    @property
    def container_id(self) -> str | None:
        """The container's id while it exists."""
        return self._container.id if self._container is not None else None

    def start(self) -> None:
        if self._container is not None:
            return
        self._client = docker_client()
        try:
            self._container = create_container(self._client, self.config)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        container, self._container = self._container, None
        try:
            if container is not None:
                container.remove(force=True)
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- commands ------------------------------------------------------------------------
    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {"HOME": WORKDIR, "LANG": "C.UTF-8", **self.config.env, **(extra or {})}
        if self.config.llm_socket_dir is not None:
            env[SOCKET_ENV] = f"{SOCKET_DIR}/{SOCKET_NAME}"
        return env

    def run(
        self,
        cmd: Sequence[str],
        *,
        timeout_s: float | None = None,
        workdir: str = ".",
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        output_limit_bytes: int | None = None,
    ) -> ExecResult:
        if self._container is None:
            raise SandboxError("the sandbox is not started", hint="use it as a context manager")
        if not cmd:
            raise SandboxError("empty command", hint="give an argv list")
        limit = self.config.timeout_s if timeout_s is None else timeout_s
        keep = self.config.output_limit_bytes if output_limit_bytes is None else output_limit_bytes
        cwd = _paths.inside(WORKDIR, workdir)
        slot = self._slots.get()
        try:
            user = f"{SLOT_UID0 + slot}:{AGENT_GID}"
            notes: list[str | None] = []  # what a sweep at the deadline had to do
            try:
                raw = run_exec(
                    self._client.api,
                    self._container.id,
                    ["sh", "-c", WRAP, f"{limit:g}", *cmd],
                    user=user,
                    workdir=cwd,
                    env=self._env(env),
                    stdin=stdin,
                    deadline_s=limit + _GRACE_S,
                    keep_bytes=keep,
                    kill_bytes=max(keep, self.config.output_kill_bytes),
                    kill=lambda: notes.append(self._sweep(user)),
                )
            except Exception as exc:  # the engine failed us, not the command
                return ExecResult(exit_code=None, error=self._recover(exc))
            killed_by_signal = raw.exit_code is None or raw.exit_code >= 128
            if killed_by_signal:
                notes.append(self._sweep(user))
            error = next((note for note in notes if note), None)
            return ExecResult(
                exit_code=raw.exit_code,
                stdout=raw.out[1].decode(errors="replace"),
                stderr=raw.out[2].decode(errors="replace"),
                duration_s=raw.duration_s,
                timed_out=raw.timed_out or (raw.exit_code == 137 and raw.duration_s >= limit),
                output_truncated=raw.truncated,
                output_killed=raw.overflowed,
                oom_killed=killed_by_signal and self._new_oom_kill(),
                error=error,
            )
        finally:
            self._slots.put(slot)

    def _sweep(self, user: str) -> str | None:
        """Kill every process of ``user``; restart the container when that cannot run."""
        for attempt in range(4):
            try:
                done = self._container.exec_run(["sh", "-c", "kill -KILL -1; exit 0"], user=user)
                if done.exit_code == 0:
                    return None
            except Exception:
                pass
            time.sleep(0.2 * (attempt + 1))
        self._restart()
        return "a runaway command could not be killed; the sandbox restarted (work dir lost)"

    def _restart(self) -> None:
        try:
            self._container.restart(timeout=0)
        except Exception as exc:
            raise SandboxError(
                f"the sandbox container could not restart: {exc}", hint="start a new sandbox"
            ) from exc
        self.restarts += 1
        with self._oom_lock:
            self._oom_seen = 0

    def _recover(self, exc: Exception) -> str:
        """After an engine error: restart a container that died, and say what happened."""
        try:
            self._container.reload()
            running = self._container.status == "running"
        except Exception as inner:
            raise SandboxError(
                f"the sandbox container is gone: {inner}", hint="start a new sandbox"
            ) from exc
        if running:
            raise SandboxError(
                f"the engine failed an exec: {exc}", hint="check `clade doctor`"
            ) from exc
        self._restart()
        return "the sandbox container had stopped; it restarted (work dir lost)"

    def _new_oom_kill(self) -> bool:
        """Whether the container's out-of-memory kill counter moved since last asked."""
        try:
            done = self._container.exec_run(["sh", "-c", _OOM], user=f"{AGENT_UID}:{AGENT_GID}")
        except Exception:  # a restarted or busy container: no verdict on memory
            return False
        counts = [
            int(line.split()[1])
            for line in done.output.decode(errors="replace").splitlines()
            if line.startswith("oom_kill ")
        ]
        with self._oom_lock:
            now = max(counts, default=0)
            moved, self._oom_seen = now > self._oom_seen, max(now, self._oom_seen)
        return moved

    # -- files ---------------------------------------------------------------------------
    def _transfer(self, argv: list[str], stdin: bytes | None, keep: int) -> tuple[bytes, str]:
        if self._container is None:
            raise SandboxError("the sandbox is not started", hint="use it as a context manager")
        user = f"{AGENT_UID}:{AGENT_GID}"
        raw = run_exec(
            self._client.api,
            self._container.id,
            argv,
            user=user,
            workdir=WORKDIR,
            env={"HOME": WORKDIR},
            stdin=stdin,
            deadline_s=_TRANSFER_TIMEOUT_S,
            keep_bytes=keep,
            kill_bytes=keep,
            kill=lambda: None,
        )
        stderr = raw.out[2].decode(errors="replace").strip()
        if raw.exit_code != 0 or raw.overflowed or raw.timed_out:
            why = "too large" if raw.overflowed else stderr or f"exit status {raw.exit_code}"
            raise SandboxError(f"file transfer failed: {why}", hint="check the paths and sizes")
        return bytes(raw.out[1]), stderr

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        target = _paths.inside(WORKDIR, dest)
        tar = _paths.pack(files, writable=writable)
        self._transfer(["sh", "-c", _PUT, target, "rw" if writable else "ro"], tar, 1 << 16)

    def get_files(self, path: str = ".") -> dict[str, bytes]:
        target = _paths.inside(WORKDIR, path)
        out, _ = self._transfer(["sh", "-c", _GET, target], None, self.config.transfer_limit_bytes)
        return _paths.unpack(out)
