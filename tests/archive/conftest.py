"""Fixtures of the archive tests: a fresh SQLite archive and small candidate trees."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def archive(tmp_path):
    from clade.archive import Archive

    with Archive(f"sqlite:///{tmp_path / 'db' / 'clade.db'}", tmp_path / "db" / "blobs") as opened:
        yield opened


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
