"""The archive's two databases in tests: SQLite, and PostgreSQL on a throwaway server.

Loaded by path from the conftest files of tests/archive and tests/dashboard (tests are not
a package). ``BACKENDS`` parametrizes a fixture over both; the PostgreSQL case is marked
``postgres``, so it skips locally without the server's binaries and fails under CI=true.
The server starts once per session from the local binaries (``pg_server``; as root it runs
as ``nobody``, since PostgreSQL refuses root) and every archive gets a database of its own.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))
_counter = itertools.count()


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args


@dataclass(frozen=True)
class PgCluster:
    """A running server: ``url`` is a template (``{db}``: a database name)."""

    url: str
    restart: Callable[[], None]


@contextmanager
def pg_cluster(binaries: dict[str, str], prefix: str = "clade-pg-") -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server from the local ``binaries``, listening on a socket only."""
    # The binaries are here, so the driver must be too: `make setup` installs the postgres extra.
    import psycopg  # noqa: F401

    root = Path(tempfile.mkdtemp(prefix=prefix))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (root, sock):
            os.chown(path, 65534, 65534)

    def pg_ctl(*args: str, check: bool = True) -> None:
        argv = _as_server_user([binaries["pg_ctl"], "-D", str(data), *args])
        subprocess.run(argv, check=check, capture_output=True)

    options = f"-k {sock} -c listen_addresses='' -F"
    try:
        subprocess.run(_as_server_user([binaries["initdb"], "-D", str(data), "-U", "postgres",
                                        "--auth=trust", "-E", "UTF8"]),
                       check=True, capture_output=True)  # fmt: skip
        pg_ctl("-o", options, "-l", str(root / "log"), "-w", "start")
        yield PgCluster(
            url=f"postgresql+psycopg://postgres@/{{db}}?host={sock}",
            restart=lambda: pg_ctl("-o", options, "-l", str(root / "log"), "-m", "fast", "-w",
                                   "restart"),
        )  # fmt: skip
    finally:
        pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(postgres_binaries: dict[str, str]) -> Iterator[str]:
    """A URL template (``{db}``: the database name) of a PostgreSQL server for this session."""
    with pg_cluster(postgres_binaries) as cluster:
        yield cluster.url


def lock_holder(url: str, blobs: Path | str, run_id: str) -> subprocess.Popen[str]:
    """Another process that takes ``run_id``'s lock in the archive at ``url`` and sleeps
    holding it (kill it to see what a dead holder leaves)."""
    code = textwrap.dedent(f"""
        import time
        from clade.archive import Archive
        with Archive({url!r}, {str(blobs)!r}) as a, a.lock_run({run_id!r}):
            print("held", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def new_database(server: str) -> str:
    """The URL of a new, empty database on ``server`` (a ``pg_server`` template)."""
    import psycopg

    name = f"clade_{os.getpid()}_{next(_counter)}"
    admin = server.format(db="postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.format(db=name)


def archive_url(backend: str, root: Path, request: pytest.FixtureRequest) -> str:
    """A URL for a new archive on ``backend``: a SQLite file under ``root``, or a new
    PostgreSQL database (the session's server starts on first use)."""
    if backend == "sqlite":
        return f"sqlite:///{root / 'clade.db'}"
    assert backend == "postgresql", backend
    return new_database(request.getfixturevalue("pg_server"))
