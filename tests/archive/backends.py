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
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))
_counter = itertools.count()


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def pg_server(postgres_binaries: dict[str, str]) -> Iterator[str]:
    """A URL template (``{db}``: the database name) of a PostgreSQL server for this session."""
    # The binaries are here, so the driver must be too: `make setup` installs the postgres extra.
    import psycopg  # noqa: F401

    root = Path(tempfile.mkdtemp(prefix="clade-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (root, sock):
            os.chown(path, 65534, 65534)

    def run(*args: str) -> None:
        subprocess.run(_as_server_user(list(args)), check=True, capture_output=True)

    try:
        run(postgres_binaries["initdb"], "-D", str(data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8")  # fmt: skip
        options = f"-k {sock} -c listen_addresses='' -F"
        run(postgres_binaries["pg_ctl"], "-D", str(data), "-o", options, "-l",
            str(root / "log"), "-w", "start")  # fmt: skip
        yield f"postgresql+psycopg://postgres@/{{db}}?host={sock}"
    finally:
        subprocess.run(
            _as_server_user(
                [postgres_binaries["pg_ctl"], "-D", str(data), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


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
