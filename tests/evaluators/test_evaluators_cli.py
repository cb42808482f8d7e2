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
    path = [str(ROOT / "examples")] + ([str(cwd)] if cwd else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
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


def test_show_prints_the_config_and_the_split_sizes():
    shown = json.loads(
        clade("evaluators", "show", "repo-bugfix", "-o", "variants=2", "--json").stdout
    )
    assert shown["dev"] + shown["test"] == 16
    assert [f["name"] for f in shown["config"]] == ["variants", "seed", "templates", "timeout"]
    assert "ISSUE.md" in shown["examples"][0]["files"]
    text = clade("evaluators", "show", "word-sorting", "-o", "n=10", "--examples", "0").stdout
    assert "Tasks drawn, over both splits" in text and "test tasks (held out)" in text


def test_bad_input_gives_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "raising_plugin.py").write_text(
        "class Bench:\n    def __init__(self):\n        raise OSError('data file gone')\n"
    )
    cases = [
        (
            ("evaluators", "show", "raising_plugin:Bench"),
            "failed to start: OSError: data file gone",
        ),
        (("evaluators", "show", "repo-bugfix", "-o", "colour=red"), "colour: Extra inputs"),
        (("evaluators", "show", "repo-bugfix", "-o", "colour"), "bad option 'colour'"),
        (("eval", str(tmp_path), "--evaluator", "nope"), "unknown evaluator 'nope'"),
        (("eval", str(tmp_path), "--evaluator", "game24", "--split", "train"), "unknown split"),
    ]
    for args, message in cases:
        done = clade(*args, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def _seed_agent(agent: Path) -> Path:
    """A copy of the built-in seed agent (``coder/`` and the model client) in ``agent``."""
    shutil.copytree(
        ROOT / "agents" / "coder", agent / "coder", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "agents" / "llm_client.py", agent / "llm_client.py")
    return agent


@pytest.mark.docker
def test_eval_scores_an_agent_folder_in_sandboxes(tmp_path):
    agent = _seed_agent(tmp_path / "agent")
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
    system = agent / "coder" / "prompts" / "system.md"
    system.write_text(
        system.read_text().replace("You are a careful", "ALWAYS SORT. You are a careful")
    )
    taught = json.loads(clade("eval", str(agent), *model, cwd=tmp_path).stdout)
    assert (taught["passed"], taught["total"]) == (2, 2)
    missing = clade("eval", str(tmp_path), *model, cwd=tmp_path)
    assert missing.returncode == 2 and "no coder/ package" in missing.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_eval_repo_bugfix_end_to_end(tmp_path):
    """The agent edits the repository in its sandbox; hidden tests grade it in a fresh one."""
    agent = _seed_agent(tmp_path / "agent")
    shutil.copy(Path(__file__).with_name("bugfix_oracle.py"), tmp_path / "bugfix_oracle.py")
    args = ["--evaluator", "repo-bugfix", "--split", "dev", "--limit", "2", "--json"]
    fixed = clade(
        "eval", str(agent), "--model", "scripted/bugfix_oracle:reply", *args, cwd=tmp_path
    )
    assert fixed.returncode == 0, fixed.stderr
    report = json.loads(fixed.stdout)
    assert (report["passed"], report["total"]) == (2, 2)
    assert all(t["score"] == 1.0 and "hidden tests passed" in t["detail"] for t in report["tasks"])
    gave_up = json.loads(
        clade(
            "eval", str(agent), "--model", "scripted/scripted_agent:reply", *args, cwd=tmp_path
        ).stdout
    )
    assert gave_up["passed"] == 0 and all(0 < t["score"] < 1 for t in gave_up["tasks"])
