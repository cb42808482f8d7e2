"""Shared test setup.

Tests marked ``docker`` need a Docker engine: locally they skip without one; with
``CI=true`` a missing engine fails them, so CI can never pass by skipping the sandbox.
Tests marked ``browser`` (the dashboard's) follow the same rule for headless Chromium.
"""

from __future__ import annotations

import os
from functools import cache

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is not None:
        problem = browser_problem()
        if problem is not None:
            if IN_CI:
                pytest.fail(f"{problem} (CI=true: browser tests must run)")
            pytest.skip(problem)
    if item.get_closest_marker("docker") is None:
        return
    problem = docker_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(
            f"{problem} (CI=true: Docker tests must run; .ci/run installs and starts dockerd)"
        )
    pytest.skip(problem)


@pytest.fixture
def clade_home(tmp_path, monkeypatch):
    """A fresh CLADE_HOME for one test, with the settings cache cleared around it."""
    from clade.orchestrator.config import settings

    home = tmp_path / ".clade"
    monkeypatch.setenv("CLADE_HOME", str(home))
    settings.cache_clear()
    yield home
    settings.cache_clear()
