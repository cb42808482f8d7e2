"""Fixtures of the archive tests: a fresh archive and small candidate trees.

The archive is SQLite unless a module overrides ``backend``: with ``"postgresql"``, or with
``each_backend`` to run every test of the module on both (see backends.py).
"""

from __future__ import annotations

import clade_test_backends as backends  # loaded by tests/conftest.py
import pytest


@pytest.fixture
def backend() -> str:
    """The database the ``archive`` fixture opens: SQLite, unless a module overrides this."""
    return "sqlite"


@pytest.fixture(params=backends.BACKENDS)
def each_backend(request) -> str:
    """SQLite and PostgreSQL in turn: ``def backend(each_backend)`` runs a module on both."""
    return request.param


@pytest.fixture
def new_archive_url(backend, tmp_path, request):
    """Make the URL of another new archive on the same backend as ``archive``."""
    counter = iter(range(10_000))

    def make() -> str:
        root = tmp_path / f"other{next(counter)}"
        root.mkdir()
        return backends.archive_url(backend, root, request)

    return make


@pytest.fixture
def archive(backend, tmp_path, request):
    from clade.archive import Archive

    url = backends.archive_url(backend, tmp_path / "db", request)
    with Archive(url, tmp_path / "db" / "blobs") as opened:
        yield opened


@pytest.fixture
def family(archive, make_tree):
    """A run with a seed, two children and a grandchild, evaluated on two tasks each.

    seed (1.0, 0.0) -> a (1.0, 1.0) -> c (0.0, 0.0, rejected); seed -> b (not evaluated).
    """
    run = archive.create_run("family")
    seed_tree = archive.put_tree(make_tree({"agent.py": "print('seed')\n"}))
    child_tree = archive.put_tree(make_tree({"agent.py": "print('child')\n", "new.txt": "x\n"}))
    seed = archive.add_candidate(run.id, seed_tree, status="admitted", proposal={"idea": "seed"})
    a = archive.add_candidate(run.id, child_tree, parent_id=seed.id, status="admitted")
    b = archive.add_candidate(run.id, seed_tree, parent_id=seed.id, status="pending")
    c = archive.add_candidate(
        run.id, child_tree, parent_id=a.id, status="rejected", rejection_reason="solved nothing"
    )
    for cand, scores in ((seed, (1.0, 0.0)), (a, (1.0, 1.0)), (c, (0.0, 0.0))):
        archive.add_evaluations(
            {
                "candidate_id": cand.id,
                "evaluator": "toy",
                "task_id": f"t{i}",
                "score": s,
                "passed": s == 1.0,
                "cost_usd": 0.5,
            }
            for i, s in enumerate(scores)
        )
    return {"run": run, "seed": seed, "a": a, "b": b, "c": c}
