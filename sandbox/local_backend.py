"""The local backend: subprocesses with rlimits in a temporary folder. UNSAFE.

For machines without Docker. It gives a work dir, per-command wall-clock limits that kill
the process group, capped output, and memory/file-size rlimits, but NO isolation: the
commands see the host's files, network and processes. Never run hostile code with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from clade.sandbox import _paths
from clade.sandbox._runner import collect
from clade.sandbox.config import SOCKET_ENV, SOCKET_NAME, ExecResult, SandboxConfig
from clade.sandbox.errors import SandboxError
from clade.sandbox.protocol import ManagedSandbox


class LocalSandbox(ManagedSandbox):
    """Runs commands as subprocesses of this process; see the module docstring."""

    isolated = False

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.workdir = ""
        self._slots = threading.BoundedSemaphore(self.config.slots)

    def start(self) -> None:
        if not self.workdir:
            self.workdir = tempfile.mkdtemp(prefix="clade-local-")

    def stop(self) -> None:
        workdir, self.workdir = self.workdir, ""
        if workdir:
            for root, dirs, _ in os.walk(workdir):  # read-only folders block rmtree
                for name in dirs:
                    os.chmod(os.path.join(root, name), 0o755)
            shutil.rmtree(workdir, ignore_errors=True)

    def _path(self, path: str) -> Path:
        if not self.workdir:
            raise SandboxError("the sandbox is not started", hint="use it as a context manager")
        return Path(_paths.inside(self.workdir, path))

    def put_files(
        self, files: Mapping[str, bytes], dest: str = ".", *, writable: bool = True
    ) -> None:
        root = self._path(dest)
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

    def get_files(self, path: str = ".") -> dict[str, bytes]:
        root = self._path(path)
        if root.is_file():
            return {root.name: root.read_bytes()}
        if not root.is_dir():
            raise SandboxError(
                f"file transfer failed: {path} does not exist", hint="check the path"
            )
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.workdir,
            "LANG": "C.UTF-8",
            **self.config.env,
            **(extra or {}),
        }
        if self.config.llm_socket_dir is not None:
            env[SOCKET_ENV] = str(self.config.llm_socket_dir / SOCKET_NAME)
        return env

    def _limits(self) -> None:  # runs in the child between fork and exec
        import resource

        memory = self.config.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = self.config.workdir_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

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
        if not cmd:
            raise SandboxError("empty command", hint="give an argv list")
        limit = self.config.timeout_s if timeout_s is None else timeout_s
        cwd = self._path(workdir)
        with self._slots:
            start = time.monotonic()
            try:
                proc = subprocess.Popen(
                    list(cmd),
                    cwd=cwd,
                    env=self._env(env),
                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    preexec_fn=self._limits,
                )
            except OSError as exc:
                return ExecResult(exit_code=127, stderr=str(exc))
            if stdin is not None and proc.stdin is not None:
                threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
            keep = (
                self.config.output_limit_bytes if output_limit_bytes is None else output_limit_bytes
            )
            done = collect(
                proc,
                limit - (time.monotonic() - start),
                keep,
                max(keep, self.config.output_kill_bytes),
            )
        done["stdout"] = done["stdout"].decode(errors="replace")
        done["stderr"] = done["stderr"].decode(errors="replace")
        done["duration_s"] = time.monotonic() - start
        return ExecResult(**done)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass
