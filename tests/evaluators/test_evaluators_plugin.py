"""The example plugin under examples/ installs and is found by its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_plugin_is_discovered_by_entry_point(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(ROOT / "examples" / "clade-example-evaluator")],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}
    listed = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "evaluators", "list", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    plugin = next(e for e in json.loads(listed.stdout) if e["name"] == "capitals")
    assert plugin == {
        "name": "capitals",
        "path": "clade_example_evaluator:Capitals",
        "builtin": False,
    }
    code = (
        "from clade.orchestrator.evaluators.registry import load_evaluator\n"
        "e = load_evaluator('capitals', case_sensitive=True)\n"
        "tasks = e.tasks('dev') + e.tasks('test')\n"
        "t = next(t for t in tasks if t.id == 'Peru')\n"
        "print(len(tasks), e.score(t, {'answer.txt': 'Lima\\n'}, None).passed, e.score(t, {'answer.txt': 'lima'}, None).passed)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["10", "True", "False"]
    shown = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "evaluators", "show", "capitals", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    config = json.loads(shown.stdout)["config"]
    assert [(f["name"], f["type"], f["default"]) for f in config] == [
        ("case_sensitive", "bool", "False")
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "clade.orchestrator", "evaluators", "show", "capitals", "-o", "case=1"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "allowed options: case_sensitive" in bad.stderr
