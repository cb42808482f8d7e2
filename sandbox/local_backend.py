"""The local backend: subprocesses with rlimits in a temporary folder. UNSAFE.

For machines without Docker. It gives a work dir, per-command wall-clock limits that kill
the process group, capped output, and memory/file-size rlimits, but NO isolation: the
commands see the host's files, network and processes. Never run hostile code with it.
Its workspaces are subfolders of the work dir (with their own HOME and TMPDIR and umask
077), removed when left; they run as the caller's uid and keep nothing apart.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Unpack

from clade.sandbox import _paths
from clade.sandbox._reader import read_tree
from clade.sandbox._runner import collect
from clade.sandbox.config import SOCKET_ENV, SOCKET_NAME, ExecResult, SandboxConfig
from clade.sandbox.errors import SandboxError
from clade.sandbox.fileset import FileSet, Skipped
from clade.sandbox.protocol import ManagedSandbox, ReadCaps, RunOptions


def _remove(folder: str) -> None:
    for root, dirs, _ in os.walk(folder):  # read-only folders block rmtree
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(folder, ignore_errors=True)


class LocalSandbox(ManagedSandbox):
    """Runs commands as subprocesses of this process; see the module docstring."""

    isolated = False
    restarts = 0

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.workdir = ""
        self._slots = threading.BoundedSemaphore(self.config.slots)
        self._count = itertools.count(1)

    def start(self) -> None:
        if not self.workdir:
            self.workdir = tempfile.mkdtemp(prefix="clade-local-")

    def stop(self) -> None:
        workdir, self.workdir = self.workdir, ""
        if workdir:
            _remove(workdir)

    def _path(self, path: str, base: str | None = None) -> Path:
        if not self.workdir:
            raise SandboxError("the sandbox is not started", hint="use it as a context manager")
        return Path(_paths.inside(base or self.workdir, path))

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        self._put(self._path(dest), files, writable)

    def _put(self, root: Path, files: Mapping[str, bytes], writable: bool) -> None:
        root.mkdir(parents=True, exist_ok=True)
        for name, data in _paths.unpack(_paths.pack(files, writable=writable)).items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.chmod(0o644)
            target.write_bytes(data)
            target.chmod(0o664 if writable else 0o444)
        if not writable and root != Path(self.workdir):
            root.chmod(0o555)

    def get_files(self, path: str = ".", **caps: Unpack[ReadCaps]) -> FileSet:
        return self._get(self._path(path), path, caps)

    def _get(self, root: Path, name: str, caps: ReadCaps) -> FileSet:
        files: dict[str, bytes] = {}
        max_file, max_total = caps.get("max_file_bytes"), caps.get("max_total_bytes")
        total = self.config.transfer_limit_bytes if max_total is None else max_total
        try:
            skipped, more = read_tree(str(root), max_file, total, files.__setitem__)
        except OSError as exc:
            raise SandboxError(
                f"file transfer failed: {name}: {exc.strerror or exc}", hint="check the path"
            ) from None
        return FileSet(files, {p: Skipped.from_row(r) for p, r in skipped.items()}, more)

    @contextmanager
    def workspace(self) -> Iterator[LocalWorkspace]:
        with self._slots:
            folder = self._path(f"workspaces/{next(self._count)}")
            folder.mkdir(parents=True, mode=0o700)
            try:
                yield LocalWorkspace(self, str(folder))
            finally:
                _remove(str(folder))

    def _env(self, extra: Mapping[str, str] | None, **own: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.workdir,
            "LANG": "C.UTF-8",
            **self.config.env,
            **own,
            **(extra or {}),
        }
        if self.config.llm_socket_dir is not None:
            env[SOCKET_ENV] = str(self.config.llm_socket_dir / SOCKET_NAME)
        return env

    def _limits(self, umask: int | None = None) -> None:  # in the child between fork and exec
        import resource

        if umask is not None:
            os.umask(umask)
        memory = self.config.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = self.config.workdir_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def run(
        self,
        cmd: Sequence[str],
        **options: Unpack[RunOptions],
    ) -> ExecResult:
        cwd = self._path(options.get("workdir", "."))
        with self._slots:
            return self._run(cmd, cwd, self._env(options.get("env")), options)

    def _run(
        self,
        cmd: Sequence[str],
        cwd: Path,
        env: dict[str, str],
        options: RunOptions,
        limits: Callable[[], None] | None = None,
    ) -> ExecResult:
        """Run ``cmd`` in ``cwd`` with exactly ``env`` (``options``' own ``env`` and
        ``workdir`` are already applied)."""
        timeout_s, stdin = options.get("timeout_s"), options.get("stdin")
        output_limit_bytes = options.get("output_limit_bytes")
        if not cmd:
            raise SandboxError("empty command", hint="give an argv list")
        limit = self.config.timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=limits or self._limits,
            )
        except OSError as exc:
            return ExecResult(exit_code=127, stderr=str(exc))
        if stdin is not None and proc.stdin is not None:
            threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
        keep = self.config.output_limit_bytes if output_limit_bytes is None else output_limit_bytes
        done = collect(
            proc, limit - (time.monotonic() - start), keep, max(keep, self.config.output_kill_bytes)
        )
        done["stdout"] = done["stdout"].decode(errors="replace")
        done["stderr"] = done["stderr"].decode(errors="replace")
        done["duration_s"] = time.monotonic() - start
        return ExecResult(**done)


class LocalWorkspace:
    """A subfolder of a :class:`LocalSandbox`: its own HOME, TMPDIR and umask 077, but the
    caller's uid and no isolation at all (UNSAFE, like the backend)."""

    def __init__(self, box: LocalSandbox, path: str) -> None:
        self.box, self.path, self.uid = box, path, os.getuid()
        self._lock = threading.Lock()

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        with self._lock:
            self.box._put(self.box._path(dest, self.path), files, writable)

    def run(
        self,
        cmd: Sequence[str],
        **options: Unpack[RunOptions],
    ) -> ExecResult:
        home, tmp = f"{self.path}/.home", f"{self.path}/.tmp"
        with self._lock:
            os.makedirs(home, mode=0o700, exist_ok=True)
            os.makedirs(tmp, mode=0o700, exist_ok=True)
            return self.box._run(
                cmd,
                self.box._path(options.get("workdir", "."), self.path),
                self.box._env(options.get("env"), HOME=home, TMPDIR=tmp),
                options,
                limits=lambda: self.box._limits(0o077),
            )

    def get_files(self, path: str = ".", **caps: Unpack[ReadCaps]) -> FileSet:
        with self._lock:
            root = self.box._path(path, self.path)
            return self.box._get(root, path, caps)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass
