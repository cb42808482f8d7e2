"""The Docker backend of :class:`~clade.sandbox.protocol.Sandbox`.

One container per sandbox: no network, read-only root, size-limited tmpfs mounts (the work
dir, ``/tmp``, one per slot), memory/CPU/pids limits, no capabilities,
``no-new-privileges``, Docker's default seccomp profile without ptrace and its kin
(:mod:`clade.sandbox._seccomp`), non-root users, the model socket folder mounted read-only
and nothing else of the host. PID 1 is a tiny reaper that no process inside can kill.

Plain commands run as their slot's uid under ``timeout -s KILL``; afterwards (and at the
deadline, on an output flood, or when the command killed its own wrapper) every process of
that uid is killed with ``kill -KILL -1``, which also reaches processes that left their
process group. Workspaces (:mod:`clade.sandbox._workspace`) run each task as a fresh uid
on its slot's own disk. A sandbox that cannot be cleaned (pids exhausted, a workspace
whose clean-up could not be verified) is restarted, which wipes every tmpfs.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Unpack

from clade.sandbox import _files, _paths, _workspace
from clade.sandbox._container import close_creation as close_creation
from clade.sandbox._container import create_container, docker_client
from clade.sandbox._stream import RawExec, run_exec
from clade.sandbox.config import (
    AGENT_GID,
    OWNER,
    SHELL,
    SLOT_UID0,
    SOCKET_DIR,
    SOCKET_ENV,
    SOCKET_NAME,
    WORKDIR,
    WORKSPACE_UID0,
    ExecResult,
    SandboxConfig,
)
from clade.sandbox.errors import SandboxError
from clade.sandbox.fileset import FileSet
from clade.sandbox.protocol import ManagedSandbox, ReadCaps, RunOptions

#: Runs a command as ``clade-sh -c WRAP <timeout> argv...``: limit it, then kill what it left.
WRAP = 'umask 002; timeout -s KILL "$0" "$@"; rc=$?; kill -KILL -1 2>/dev/null; exit $rc'
_PUT = (
    'umask 002; mkdir -p "$0" && chmod u+w "$0" && tar -x --no-same-owner -C "$0" && '
    'if [ "$1" = ro ] && [ "$0" != /work ]; then chmod go-w "$0"; fi'
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
        #: Why each restart happened, oldest first.
        self.restart_reasons: list[str] = []
        self._client: Any = None
        self._container: Any = None
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.config.slots):
            self._slots.put(slot)
        self._oom_lock = threading.Lock()
        self._oom_seen = 0
        # Workspace state: the container's generation (one more per restart), the uids
        # handed out (never one twice), and per free slot the uid whose folder is ready.
        self._state = threading.RLock()
        self._generation = 0
        self._uids = itertools.count(WORKSPACE_UID0)
        self._ready: dict[int, int] = {}

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
            _workspace.provision(self, range(self.config.slots))
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

    def _require(self) -> None:
        if self._container is None:
            raise SandboxError("the sandbox is not started", hint="use it as a context manager")

    # -- commands ------------------------------------------------------------------------
    def _env(self, extra: Mapping[str, str] | None, **own: str) -> dict[str, str]:
        env = {"HOME": WORKDIR, "LANG": "C.UTF-8", **self.config.env, **own, **(extra or {})}
        if self.config.llm_socket_dir is not None:
            env[SOCKET_ENV] = f"{SOCKET_DIR}/{SOCKET_NAME}"
        return env

    def run(
        self,
        cmd: Sequence[str],
        **options: Unpack[RunOptions],
    ) -> ExecResult:
        self._require()
        cwd = _paths.inside(WORKDIR, options.get("workdir", "."))
        slot = self._slots.get()
        try:
            user = f"{SLOT_UID0 + slot}:{AGENT_GID}"
            return self._command(user, cmd, WRAP, cwd, self._env(options.get("env")), options)
        finally:
            self._slots.put(slot)

    def _command(
        self,
        user: str,
        cmd: Sequence[str],
        wrap: str,
        cwd: str,
        env: dict[str, str],
        options: RunOptions,
    ) -> ExecResult:
        """Run ``cmd`` as ``user`` under ``wrap`` in ``cwd`` with exactly ``env``; kill the
        uid's processes when needed."""
        timeout_s, stdin = options.get("timeout_s"), options.get("stdin")
        output_limit_bytes = options.get("output_limit_bytes")
        self._require()
        if not cmd:
            raise SandboxError("empty command", hint="give an argv list")
        limit = self.config.timeout_s if timeout_s is None else timeout_s
        keep = self.config.output_limit_bytes if output_limit_bytes is None else output_limit_bytes
        notes: list[str | None] = []  # what a sweep at the deadline had to do
        try:
            raw = run_exec(
                self._client.api,
                self._container.id,
                [SHELL, "-c", wrap, f"{limit:g}", *cmd],
                user=user,
                workdir=cwd,
                env=env,
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

    def _sweep(self, user: str) -> str | None:
        """Kill every process of ``user``; restart the container when that cannot run."""
        for attempt in range(4):
            try:
                done = self._container.exec_run([SHELL, "-c", "kill -KILL -1; exit 0"], user=user)
                if done.exit_code == 0:
                    return None
            except Exception:
                pass
            time.sleep(0.2 * (attempt + 1))
        self._restart(f"the processes of {user} could not be killed")
        return "a runaway command could not be killed; the sandbox restarted (work dir lost)"

    def _restart(self, reason: str) -> None:
        """Restart the container (every tmpfs comes back empty) and prepare the slots'
        workspace folders again; workspaces entered before it are lost."""
        with self._state:
            try:
                self._container.restart(timeout=0)
            except Exception as exc:
                raise SandboxError(
                    f"the sandbox container could not restart: {exc}", hint="start a new sandbox"
                ) from exc
            self.restarts += 1
            self.restart_reasons.append(reason)
            self._generation += 1
            self._ready.clear()
            with self._oom_lock:
                self._oom_seen = 0
            _workspace.provision(self, range(self.config.slots))

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
        self._restart("the container had stopped")
        return "the sandbox container had stopped; it restarted (work dir lost)"

    def _new_oom_kill(self) -> bool:
        """Whether the container's out-of-memory kill counter moved since last asked."""
        try:
            done = self._container.exec_run(["sh", "-c", _OOM], user=OWNER)
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
    def _exec(
        self, user: str, argv: list[str], stdin: bytes | None = None, keep: int = 1 << 16
    ) -> RawExec:
        """One helper exec (no wrapper, no sweep) with the transfer deadline."""
        self._require()
        return run_exec(
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

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        target = _paths.inside(WORKDIR, dest)
        tar = _paths.pack(files, writable=writable)
        mode = "rw" if writable else "ro"
        _files.transfer(self, [SHELL, "-c", _PUT, target, mode], tar, 1 << 16, OWNER)

    def get_files(self, path: str = ".", **caps: Unpack[ReadCaps]) -> FileSet:
        target = _paths.inside(WORKDIR, path)
        return _files.read(self, target, OWNER, caps)

    # -- workspaces ----------------------------------------------------------------------
    @contextmanager
    def workspace(self) -> Iterator[_workspace.DockerWorkspace]:
        self._require()
        slot = self._slots.get()
        try:
            ws = _workspace.enter(self, slot)
        except BaseException:
            self._slots.put(slot)
            raise
        try:
            yield ws
        finally:
            try:
                _workspace.leave(self, ws)
            finally:
                self._slots.put(slot)
