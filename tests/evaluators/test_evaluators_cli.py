"""`clade evaluators` and `clade eval` through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clade(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples")}
    return subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


def test_list_and_show():
    listed = json.loads(clade("evaluators", "list", "--json").stdout)
    assert {e["name"] for e in listed} >= {
        "humaneval",
        "game24",
        "word-sorting",
        "multistep-arithmetic",
    }
    shown = json.loads(clade("evaluators", "show", "humaneval", "--json").stdout)
    assert shown["dev"] + shown["test"] == 164
    bad = clade("evaluators", "show", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown evaluator" in bad.stderr


@pytest.mark.docker
def test_eval_scores_an_agent_folder_in_sandboxes(tmp_path):
    agent = tmp_path / "agent"
    shutil.copytree(
        ROOT / "agents" / "coder", agent / "coder", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "agents" / "llm_client.py", agent / "llm_client.py")
    model = [
        "--model",
        "scripted/scripted_agent:reply",
        "--evaluator",
        "word-sorting",
        "--split",
        "dev",
        "--limit",
        "2",
        "--json",
    ]
    seed = clade("eval", str(agent), *model, cwd=tmp_path)
    assert seed.returncode == 0, seed.stderr
    assert json.loads(seed.stdout)["passed"] == 0  # the scripted model tells the seed to give up
    loop = agent / "coder" / "loop.py"
    loop.write_text(loop.read_text().replace("You are a careful", "ALWAYS SORT. You are a careful"))
    taught = json.loads(clade("eval", str(agent), *model, cwd=tmp_path).stdout)
    assert (taught["passed"], taught["total"]) == (2, 2)
    missing = clade("eval", str(tmp_path), *model, cwd=tmp_path)
    assert missing.returncode == 2 and "no coder/ package" in missing.stderr
