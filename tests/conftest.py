"""Shared test setup.

Tests marked ``docker`` (a Docker engine), ``browser`` (headless Chromium, the dashboard's),
``postgres`` (PostgreSQL's server binaries) and ``ray`` (Ray and its ``ray`` command) skip
locally when that part is missing; with ``CI=true`` they fail instead, so CI can never pass
by skipping them. ``.ci/run`` installs all four (scripts/setup.sh). A test's own precondition does the same through ``require``
(the ``root_python`` fixture, for one).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _load_backends():
    """tests/archive/backends.py (the archive on SQLite and PostgreSQL), loaded by path once
    (tests are not a package); the conftest files below import it as ``clade_test_backends``."""
    name = "clade_test_backends"
    if name not in sys.modules:
        path = Path(__file__).parent / "archive" / "backends.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


pg_server = _load_backends().pg_server
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


@cache
def ray_problem() -> str | None:
    """None when Ray (the package and its ``ray`` command) is installed, else why not."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        return f"no Ray: {exc} (pip install 'clade-agents[ray]')"
    if not os.path.exists(os.path.join(os.path.dirname(sys.executable), "ray")):
        return "no Ray: the `ray` command is not beside this Python"
    return None


REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "docker": docker_problem,
    "browser": browser_problem,
    "postgres": postgres_problem,
    "ray": ray_problem,
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


@pytest.fixture
def make_tree(tmp_path):
    """Write `files` (path -> text) into a new folder and return it."""
    counter = iter(range(10_000))

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / f"tree{next(counter)}"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return root

    return make
