"""Whole self-improvement runs: real Docker sandboxes, the real gateway, a scripted model.

examples/scripted_agent.py scripts every role: the seed agent gives up on word-sorting
tasks; diagnosis proposes "always sort"; self-modification edits the agent's own
coder/prompts/system.md; the child then solves every task.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests import scripted_runs as runs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

CONFIG = {
    **runs.CONFIG,
    "selection": {"policy": "best", "children_per_generation": 1},
    "budget": {"generations": 2},
}

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("CLADE_HOME", str(tmp_path / ".clade"))
    from clade.orchestrator.config import settings

    settings.cache_clear()
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    yield config
    settings.cache_clear()


def test_two_generation_run_with_a_known_self_modification(run_env):
    from clade.orchestrator.dgm.config import load_config
    from clade.orchestrator.dgm.launch import execute
    from clade.orchestrator.home import open_archive

    config = load_config(run_env)
    archive = open_archive()
    run_id = archive.create_run(name="scripted", config=config.model_dump(mode="json")).id
    events: list[dict] = []
    execute(archive, config, run_id, resume=False, emit=events.append)

    rows = archive.list_candidates(run_id)
    assert [r.generation for r in rows] == [0, 1, 2]
    seed, child, grandchild = rows
    assert seed.score == 0.0 and child.score == 1.0 and grandchild.score == 1.0
    assert (child.status, child.parent_id) == ("admitted", seed.id)
    system = archive.blobs.files(child.tree_hash)["coder/prompts/system.md"].decode()
    assert "ALWAYS SORT. You are a careful software engineer" in system
    assert "+ALWAYS SORT. You are a careful" in archive.diff(seed.id, child.id)
    assert archive.get_candidate(child.id).proposal["improvement"] == "the agent should always sort"
    trajectory = archive.get_log(archive.get_candidate(child.id).meta["self_modify_log"])
    assert "ALWAYS SORT" in trajectory  # the agent's own edit, as it made it
    calls = archive.show(child.id)
    assert calls.model_calls > 0  # the child's own agent calls were metered to it
    assert archive.get_run(run_id).status == "finished"


def test_kill_9_mid_run_then_resume_loses_nothing_and_repeats_nothing(run_env, tmp_path):
    env = runs.clade_env(tmp_path / ".clade")
    archive = runs.home_archive(tmp_path / ".clade")
    run_id, _ = runs.kill_once_a_child_exists(
        runs.clade("run", str(run_env), env=env, cwd=tmp_path), archive
    )

    second = runs.clade("run", "--resume", run_id[:6], env=env, cwd=tmp_path)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    rows = archive.list_candidates(run_id)
    assert runs.keys(archive, run_id) == ["g1c0", "g2c0", "seed"]  # each child made once
    for row in rows:
        assert (
            len(archive.task_results(row.id, "word-sorting", "dev")) == 2
        )  # each task scored once
    assert archive.get_run(run_id).status == "finished"
    assert "best" in output and f"clade archive tree {run_id}" in output
    leftovers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=clade.run={run_id}"],
        capture_output=True,
        text=True,
    )
    assert leftovers.stdout.strip() == ""
