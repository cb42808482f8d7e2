"""Private copies of what a fault takes away, so no trial disturbs anyone else's:

- :class:`OwnDockerd`: a second Docker engine on its own socket, data and exec roots (no
  bridge, no iptables); the agent image is copied in with ``docker save | docker load``.
  Restarting it never touches the machine's engine.
- :class:`OwnPostgres`: a throwaway PostgreSQL cluster on a Unix socket in /tmp (run as
  ``nobody`` under root, as the archive's tests do).
- :class:`Tmpfs`: a small tmpfs to hold CLADE_HOME, which :meth:`Tmpfs.fill` fills up.
- :class:`SqliteLocker`: another process that holds SQLite's write lock for a while.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f} s")


class OwnDockerd:
    """A Docker engine of this benchmark's own."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="clade-d2-", dir="/tmp"))
        self.host = f"unix://{self.root}/docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def _docker(self, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "DOCKER_HOST": self.host}
        return subprocess.run(["docker", *args], env=env, capture_output=True, **kw)  # type: ignore[call-overload]

    def up(self) -> bool:
        try:
            return self._docker("info", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self) -> None:
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.host, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "pid"),
             "--bridge=none", "--iptables=false", "--ip-masq=false"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait(self.up, 90, "the benchmark's own dockerd")

    def stop(self) -> None:
        """Stop the engine as an administrator would (SIGTERM: its containers stop too)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def load(self, images: list[str]) -> None:
        """Copy ``images`` from the machine's engine into this one."""
        machine = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE, env=machine)
        loaded = self._docker("load", stdin=save.stdout, timeout=600)
        save.wait()
        if loaded.returncode != 0:
            raise RuntimeError(f"docker load failed: {loaded.stderr.decode()[-500:]}")

    def close(self) -> None:
        self.stop()
        for mount in sorted(_mounts_under(self.root), reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mounts") as handle:
        return [line.split()[1] for line in handle if line.split()[1].startswith(str(root))]


def _pg(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing (bash scripts/ensure-postgres.sh)")
    return found


class OwnPostgres:
    """A PostgreSQL cluster of this benchmark's own, on a Unix socket."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="clade-pg-", dir="/tmp"))
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.sock.mkdir()
        if os.geteuid() == 0:
            for path in (self.root, self.sock):
                os.chown(path, 65534, 65534)
        self._as_server([_pg("initdb"), "-D", str(self.data), "-U", "postgres",
                         "--auth=trust", "-E", "UTF8"])  # fmt: skip

    def _as_server(self, args: list[str]) -> None:
        prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@/{db}?host={self.sock}"

    def start(self) -> None:
        options = f"-k {self.sock} -c listen_addresses='' -F"
        self._as_server([_pg("pg_ctl"), "-D", str(self.data), "-o", options,
                         "-l", str(self.root / "log"), "-w", "start"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_server([_pg("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def create(self, db: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host={self.sock} user=postgres dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{db}"')
        return self.url(db)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class Tmpfs:
    """A small tmpfs (never the real disk) that a trial can fill up."""

    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                       check=True, capture_output=True)  # fmt: skip
        self.filler = path / "filler"

    def fill(self) -> None:
        """Take every free byte (a filler file written, unbuffered, until ENOSPC)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                piece = b"\0" * size
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, piece)
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


class SqliteLocker:
    """Another process holding SQLite's write lock on ``db`` for ``seconds``."""

    def __init__(self, db: Path, seconds: float) -> None:
        code = (
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=120)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2])); c.execute('ROLLBACK')\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # the lock is held from here on

    def wait(self) -> None:
        self.proc.wait(timeout=600)
