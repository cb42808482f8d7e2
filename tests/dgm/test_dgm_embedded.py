"""One generation on the real embedded model (SmolLM2-135M), in real Docker sandboxes.

A 135M model rarely solves anything, so this checks the plumbing, not the science: every
role really calls the model, the calls are metered to the run, and the run records a
seed and a child (admitted, rejected or failed with its reason) and finishes.
"""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_one_generation_on_the_embedded_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLADE_HOME", str(tmp_path / ".clade"))
    from clade.orchestrator.config import settings

    settings.cache_clear()
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.launch import execute
    from clade.orchestrator.home import open_archive

    config = RunConfig.model_validate(
        {
            "models": {"default": {"model": "smollm2-135m", "max_tokens": 96}},
            "evaluation": {
                "evaluator": "word-sorting",
                "options": {"n": 8},
                "stages": [{"tasks": 1}],
            },
            "selection": {"children_per_generation": 1},
            "agent_limits": {"max_steps": 2, "max_seconds": 90, "command_timeout": 10},
            "sandbox": {"memory_mb": 512, "cpus": 1.0},
            "budget": {"generations": 1},
            "parallelism": 1,
        }
    )
    archive = open_archive()
    run_id = archive.create_run(name="embedded", config=config.model_dump(mode="json")).id
    execute(archive, config, run_id, resume=False, emit=lambda event: None)
    settings.cache_clear()

    rows = archive.list_candidates(run_id)
    assert [r.generation for r in rows] == [0, 1]
    assert rows[1].status in {"admitted", "rejected", "failed"}
    if rows[1].status != "admitted":
        assert archive.get_candidate(rows[1].id).rejection_reason
    tokens, usd = archive.run_usage(run_id)
    assert tokens > 0 and usd == 0.0  # local models cost nothing
    with sqlite3.connect(tmp_path / ".clade" / "clade.db") as db:
        roles = {
            r
            for (r,) in db.execute(
                "SELECT DISTINCT role FROM model_call WHERE run_id = ?", (run_id,)
            )
        }
    assert roles == {"agent", "diagnose"}  # the agents in sandboxes and the diagnosis all called it
    assert archive.get_run(run_id).status == "finished"
