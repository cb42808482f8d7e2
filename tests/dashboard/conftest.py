"""Fixtures of the dashboard tests: a seeded archive and the dashboard app over it.

The seeded run has a seed, admitted children, a rejected and a failed candidate, task
logs, model calls, a self-modification log, a judge with three meta-prompt versions and a
conductor trace; several of these hold agent-written HTML (:data:`XSS`) that must be shown
as text and never run.

Every module runs on SQLite and on PostgreSQL (``backend``, from tests/archive/backends.py)
unless it overrides ``backend``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import clade_test_backends as backends  # loaded by tests/conftest.py
import pytest


@pytest.fixture(scope="module", params=backends.BACKENDS)
def backend(request) -> str:
    """The database of the module's archives: SQLite, then PostgreSQL."""
    return request.param


@pytest.fixture
def archive_url(backend, tmp_path, request) -> str:
    """The URL of a new archive on ``backend`` (blobs: put them under ``tmp_path``)."""
    return backends.archive_url(backend, tmp_path, request)


XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@dataclass
class Seeded:
    archive: object
    run_id: str
    seed: str
    better: str
    rejected: str
    failed: str
    grandchild: str
    conductor_run: str
    trace_id: str
    log_hash: str
    candidates: int
    xss: str = XSS


def _tree(archive, root: Path, files: dict[str, str]) -> str:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return archive.put_tree(root)


def build_seeded(root: Path, url: str | None = None) -> Seeded:
    """Write the seeded archive at ``url`` (default: a SQLite file under ``root``), its blobs
    under ``root``, and return it (open) with its ids."""
    from clade.archive import Archive

    archive = Archive(url or f"sqlite:///{root / 'clade.db'}", root / "blobs")
    run = archive.create_run("seeded", config={"evaluator": "toy"})
    seed_tree = _tree(archive, root / "t0", {"agent.py": "print('seed')\n"})
    better_tree = _tree(
        archive, root / "t1", {"agent.py": "print('better')\n", "notes.md": "new\n"}
    )
    worse_tree = _tree(archive, root / "t2", {"agent.py": "print('worse')\n"})
    grand_tree = _tree(archive, root / "t3", {"agent.py": "print('best')\n", "notes.md": "new\n"})
    proposal = {
        "what_failed": "the agent printed the wrong thing",
        "improvement": "print the right thing",
        "implementation_plan": "edit agent.py",
        "problem_statement": f"Make agent.py print better. Agent wrote: {XSS}",
    }
    seed = archive.add_candidate(run.id, seed_tree, status="admitted", meta={"key": "seed"})
    better = archive.add_candidate(
        run.id, better_tree, parent_id=seed.id, status="admitted", proposal=proposal
    )
    rejected = archive.add_candidate(
        run.id, worse_tree, parent_id=seed.id, status="rejected", proposal=proposal,
        rejection_reason="score 0.000 does not beat its parent's 0.500",
    )  # fmt: skip
    failed = archive.add_candidate(
        run.id, seed_tree, parent_id=seed.id, status="failed",
        rejection_reason=f"diagnosis failed: no valid proposal {XSS}",
        meta={"key": "c3", "replies": [f"I refuse. {XSS}"]},
    )  # fmt: skip
    modify_log = archive.put_log(f"step 1: read agent.py\nstep 2: wrote {XSS}\ndone\n")
    grandchild = archive.add_candidate(
        run.id, grand_tree, parent_id=better.id, status="admitted", proposal=proposal,
        meta={"key": "c4", "self_modify_log": modify_log},
    )  # fmt: skip
    scores = (
        (seed, (1.0, 0.0)),
        (better, (1.0, 1.0)),
        (rejected, (0.0, 0.0)),
        (grandchild, (1.0, 1.0)),
    )
    for cand, values in scores:
        for i, score in enumerate(values):
            archive.add_evaluation(
                cand.id, "toy", f"task-{i}", score, score == 1.0, tokens=100, cost_usd=0.01,
                log=f"exit 0\ntrajectory:\n{cand.id} on task-{i}: output {XSS}\n",
            )  # fmt: skip
    for cand, role in (
        (seed, "diagnose"),
        (better, "agent"),
        (better, "diagnose"),
        (None, "judge"),
    ):
        archive.record_model_call(
            run.id, cand.id if cand else None, role, "scripted/toy", 120, 30, 0.002, 0.1
        )
    for n, (text, reason) in enumerate(
        (
            ("Judge which answer is better.\nBe fair.\n", None),
            ("Judge which answer is better.\nBe fair.\nPrefer correct code.\n", "missed a bug"),
            (
                "Judge which answer is better.\nPrefer correct code.\nIgnore length.\n",
                "too verbose",
            ),
        ),
        1,
    ):
        archive.add_meta_prompt_version(
            "judge", "pairwise", text, reason=reason, score=0.5 + n / 10,
            cases=[{"item": f"case {n}", "feedback": f"note {n} {XSS}"}] if n > 1 else None,
        )  # fmt: skip
    conductor = archive.create_run("conduct", kind="conductor")
    trace_id = archive.record_trace(
        "conductor", "What is 2+2?",
        [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": XSS}],
        answer="4", run_id=conductor.id, calls=2, tokens=80,
    )  # fmt: skip
    archive.finish_run(conductor.id)
    log_hash = archive.task_results(seed.id, "toy", "test")["task-0"].log_hash
    assert log_hash is not None
    return Seeded(
        archive, run.id, seed.id, better.id, rejected.id, failed.id, grandchild.id,
        conductor.id, trace_id, log_hash, candidates=5,
    )  # fmt: skip


@pytest.fixture(scope="module")
def seeded(backend, tmp_path_factory, request):
    root = tmp_path_factory.mktemp("seeded")
    found = build_seeded(root, backends.archive_url(backend, root, request))
    yield found
    found.archive.close()


@pytest.fixture(scope="module")
def client(seeded):
    from starlette.testclient import TestClient

    from clade.orchestrator.dashboard.app import create_app

    with TestClient(create_app(seeded.archive)) as test_client:
        yield test_client
