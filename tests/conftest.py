"""Shared test setup.

Tests marked ``docker`` (a Docker engine), ``browser`` (headless Chromium, the dashboard's)
and ``postgres`` (PostgreSQL's server binaries) skip locally when that part is missing; with
``CI=true`` they fail instead, so CI can never pass by skipping them. ``.ci/run`` installs
all three (scripts/setup.sh). A test's own precondition does the same through ``require``
(the ``root_python`` fixture, for one).
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from functools import cache

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_BINARIES = ("initdb", "pg_ctl", "postgres")


@cache
def docker_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:
        return f"no Docker engine: {type(exc).__name__}: {exc}"
    return None


@cache
def browser_problem() -> str | None:
    """None when headless Chromium and its driver are installed, else why not."""
    missing = [p for p in ("/usr/bin/chromium", "/usr/bin/chromedriver") if not os.path.exists(p)]
    if missing:
        return f"no headless browser: {', '.join(missing)} missing (bash scripts/ensure-browser.sh)"
    return None


def pg_binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or where Debian's packages put it."""
    found = shutil.which(name)
    if found is None:
        found = next(
            iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
        )
    return found


@cache
def postgres_problem() -> str | None:
    """None when PostgreSQL's server binaries are installed, else why not."""
    missing = [name for name in PG_BINARIES if pg_binary(name) is None]
    if missing:
        return f"no PostgreSQL: {', '.join(missing)} missing (bash scripts/ensure-postgres.sh)"
    return None


REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "docker": docker_problem,
    "browser": browser_problem,
    "postgres": postgres_problem,
}


def require(problem: str | None, what: str) -> None:
    """Go on when ``problem`` is None; else skip the test locally and fail it under CI."""
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem} (CI=true: {what} tests must run; .ci/run provides it)")
    pytest.skip(problem)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, problem_of in REQUIREMENTS.items():
        if item.get_closest_marker(marker) is not None:
            require(problem_of(), marker)


@pytest.fixture
def root_python() -> str:
    """/usr/bin/python3, for a test that runs it as another uid, which needs root (CI runs
    as root: there the test fails rather than skip)."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if os.geteuid() != 0:
        require("not root: cannot run a process as another uid", "root")
    require(None if python else "no /usr/bin/python3", "root")
    assert python is not None
    return python


@pytest.fixture(scope="session")
def postgres_binaries() -> dict[str, str]:
    """Paths of PostgreSQL's server programs (tests using it are marked ``postgres``)."""
    found = {name: pg_binary(name) for name in PG_BINARIES}
    return {name: path for name, path in found.items() if path is not None}


@pytest.fixture
def clade_home(tmp_path, monkeypatch):
    """A fresh CLADE_HOME for one test, with the settings cache cleared around it."""
    from clade.orchestrator.config import settings

    home = tmp_path / ".clade"
    monkeypatch.setenv("CLADE_HOME", str(home))
    settings.cache_clear()
    yield home
    settings.cache_clear()
