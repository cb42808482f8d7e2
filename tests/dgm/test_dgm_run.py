"""Whole self-improvement runs: real Docker sandboxes, the real gateway, a scripted model.

examples/scripted_agent.py scripts every role: the seed agent gives up on word-sorting
tasks; diagnosis proposes "always sort"; self-modification edits the agent's own
coder/prompts/system.md; the child then solves every task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

CONFIG = {
    "name": "scripted",
    "models": {"default": {"model": "scripted/scripted_agent:reply"}},
    "evaluation": {
        "evaluator": "word-sorting",
        "options": {"n": 12},
        "stages": [{"tasks": 2, "threshold": 0.0}],
    },
    "selection": {"policy": "best", "children_per_generation": 1},
    "agent_limits": {"max_steps": 3, "max_seconds": 60, "command_timeout": 20},
    "sandbox": {"memory_mb": 512, "cpus": 1.0},
    "budget": {"generations": 2},
    "parallelism": 2,
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


def _clade(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clade.orchestrator", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_kill_9_mid_run_then_resume_loses_nothing_and_repeats_nothing(run_env, tmp_path):
    from clade.archive.facade import Archive

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")]),
    }
    first = _clade("run", str(run_env), env=env, cwd=tmp_path)
    archive = Archive(
        f"sqlite:///{tmp_path / '.clade' / 'clade.db'}", tmp_path / ".clade" / "blobs"
    )
    deadline = time.monotonic() + 240
    # Kill it while the first child exists but the run is not finished.
    while time.monotonic() < deadline and first.poll() is None:
        runs = archive.list_runs()
        if runs and len(archive.list_candidates(runs[0].id)) >= 2:
            break
        time.sleep(0.2)
    assert first.poll() is None, first.communicate()[0]
    first.send_signal(signal.SIGKILL)
    first.wait()
    run_id = archive.list_runs()[0].id
    assert archive.get_run(run_id).status == "running"

    second = _clade("run", "--resume", run_id[:6], env=env, cwd=tmp_path)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    rows = archive.list_candidates(run_id)
    keys = sorted(archive.get_candidate(r.id).meta["key"] for r in rows)
    assert keys == ["g1c0", "g2c0", "seed"], keys  # each child made once
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
