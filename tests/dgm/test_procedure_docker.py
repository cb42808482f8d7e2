"""An editable improvement procedure in a whole run: real Docker sandboxes, the real
gateway, a scripted model (examples/scripted_agent.py's, plus one more step).

The seed's tree holds the shipped procedure in meta/. Its self-modification is told so, and
besides making the agent always sort, it rewrites meta/diagnose.j2; the grandchild's
diagnosis is then asked with that text, and each child records the procedure that made it.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
import scripted_agent  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.slow]

EVOLVED = "EVOLVED DIAGNOSIS of {{ task }}\nReply with one JSON object (a proposal).\n"
WRITE_META = f'<write path="meta/diagnose.j2">{EVOLVED}</write>'


def _recording(seen: list[list[dict[str, Any]]]) -> Any:
    def reply(messages: list[dict[str, Any]]) -> str:
        seen.append(messages)
        first, last = str(messages[0]["content"]), str(messages[-1]["content"])
        if first.startswith("EVOLVED DIAGNOSIS"):
            return json.dumps(scripted_agent.PROPOSAL)
        making = any("This repository is the source code" in str(m["content"]) for m in messages)
        if making and last.startswith("Result:") and "EVOLVED" not in str(messages):
            return WRITE_META  # after the prompt edit: the procedure's own
        return scripted_agent.reply(messages)

    return reply


def test_a_child_rewrites_its_procedure_and_its_child_is_diagnosed_with_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CLADE_HOME", str(tmp_path / ".clade"))
    from clade.orchestrator.config import settings

    settings.cache_clear()
    from clade.orchestrator.dgm import procedure as P
    from clade.orchestrator.dgm.config import RunConfig
    from clade.orchestrator.dgm.launch import execute
    from clade.orchestrator.home import open_archive
    from clade.orchestrator.models import register_script

    seen: list[list[dict[str, Any]]] = []
    model = register_script(f"procedure-run-{uuid.uuid4().hex[:8]}", _recording(seen))
    config = RunConfig.model_validate(
        {
            "models": {"default": {"model": model}},
            "evaluation": {"evaluator": "word-sorting", "options": {"n": 12},
                           "stages": [{"tasks": 2, "threshold": 0.0}]},
            "selection": {"policy": "best", "children_per_generation": 1},
            "agent_limits": {"max_steps": 4, "max_seconds": 60, "command_timeout": 20},
            "sandbox": {"memory_mb": 512, "cpus": 1.0},
            "budget": {"generations": 2},
            "improvement": {"editable": True},
        }
    )  # fmt: skip
    archive = open_archive()
    run_id = archive.create_run(name="procedure", config=config.model_dump(mode="json")).id
    try:
        execute(archive, config, run_id, resume=False, emit=lambda event: None)
    finally:
        settings.cache_clear()

    seed, child, grandchild = (archive.get_candidate(r.id) for r in archive.list_candidates(run_id))
    files = archive.blobs.files
    assert P.meta_files(files(seed.tree_hash)) == P.default_files()
    assert child.meta["procedure"] == {"hash": P.digest(files(seed.tree_hash)), "fallbacks": {}}
    assert files(child.tree_hash)[P.DIAGNOSE].decode() == EVOLVED  # written in its sandbox
    scores = [r.score for r in archive.list_candidates(run_id)]
    assert scores[:2] == [0.0, 1.0] and grandchild.parent_id == child.id
    assert grandchild.meta["procedure"]["hash"] == P.digest(files(child.tree_hash))
    # The self-modification was told about meta/; the grandchild's diagnosis used the edit.
    lasts = [str(m[-1]["content"]) for m in seen]
    tasks = [
        t for t in lasts if "This repository is the source" in t and "You are improving" not in t
    ]
    assert tasks and all(
        "Your improvement procedure is part of this repository" in t for t in tasks
    )
    diagnoses = [
        str(m[0]["content"])
        for m in seen
        if str(m[0]["content"]).startswith(("You are improving", "EVOLVED"))
    ]
    assert diagnoses[0].startswith("You are improving a coding agent")
    assert diagnoses[-1].startswith("EVOLVED DIAGNOSIS of ")
    assert "+EVOLVED DIAGNOSIS" in archive.diff(seed.id, child.id, "meta")
    assert "meta/" not in archive.diff(seed.id, child.id, "task")
