"""The seed agent as a process, talking to the real gateway: it asks for schema-constrained
JSON actions when ``GET /v1/models`` says the model decodes under a grammar, and keeps the
tag format otherwise. The Docker test runs one attempt on the real embedded model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig, register_script
from clade.orchestrator.models.scripted import script_calls

AGENTS = Path(__file__).resolve().parents[2] / "agents"


def _json_agent(messages: list[dict]) -> str:
    """Writes a file, runs it, finishes; it answers in whichever format the system asks."""
    json_style = "as JSON" in messages[0]["content"]
    task = max(i for i, m in enumerate(messages) if "Write hi.py" in m["content"])
    steps = sum(1 for m in messages[task:] if m["content"].startswith("Result:"))
    actions = [
        {"action": "write", "path": "hi.py", "content": "print('hi from json')"},
        {"action": "bash", "command": "python3 hi.py > out.txt"},
        {"action": "finish", "summary": "done"},
    ]
    action = actions[min(steps, 2)]
    if json_style:
        return json.dumps(action)
    tags = {
        "write": "<write path=\"hi.py\">print('hi from tags')</write>",
        "bash": "<bash>python3 hi.py > out.txt</bash>",
        "finish": "<finish>done</finish>",
    }
    return tags[action["action"]]


def _run_agent(tmp_path: Path, grammar: bool) -> tuple[str, list, list[dict]]:
    name = f"agent-{uuid.uuid4().hex[:8]}"
    register_script(name, _json_agent, grammar=grammar)
    layer = ModelLayer(ModelsConfig.model_validate({"default": f"scripted/{name}"}), sink=MemorySink())  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "task.md").write_text("Write hi.py and run it into out.txt.")
    sock = tmp_path / "llm.sock"
    env = {**os.environ, "PYTHONPATH": str(AGENTS), "CLADE_LLM_SOCKET": str(sock)}
    env.pop("CLADE_LLM_URL", None)
    with Gateway(layer).serve_unix(sock, candidate_id="c"):
        done = subprocess.run(
            [sys.executable, "-m", "coder", "--task-file", "../task.md", "--workdir", ".",
             "--trajectory", "../t.jsonl", "--max-steps", "5", "--reply-tokens", "200"],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    return (work / "out.txt").read_text(), script_calls(name), events


def test_a_grammar_model_gets_the_action_schema_with_every_request(tmp_path):
    out, calls, events = _run_agent(tmp_path, grammar=True)
    assert out.strip() == "hi from json"
    assert len(calls) == 3
    for call in calls:
        variants = call.json_schema["anyOf"]
        assert {v["properties"]["action"]["const"] for v in variants} == {
            "bash", "write", "replace", "finish",
        }  # fmt: skip
        assert call.max_tokens == 200
        # Strings are capped so that a capped action closes within the reply's tokens.
        assert variants[1]["properties"]["content"]["maxLength"] <= 200 * 2.5
    assert events[0]["style"] == "json"
    assert [e["action"] for e in events if e["event"] == "step"] == ["write", "bash", "finish"]


def test_a_model_without_a_grammar_keeps_the_tag_format(tmp_path):
    out, calls, events = _run_agent(tmp_path, grammar=False)
    assert out.strip() == "hi from tags"
    assert [c.json_schema for c in calls] == [None, None, None]
    assert events[0]["style"] == "tags"


@pytest.mark.docker
@pytest.mark.slow
def test_the_embedded_model_answers_every_step_with_a_well_formed_action():
    """One short attempt of the seed agent on SmolLM2-135M (llama.cpp) in a Docker sandbox:
    every reply is a JSON action the agent runs (none malformed)."""
    from clade.orchestrator.config import settings
    from clade.orchestrator.evaluators.base import Task
    from clade.orchestrator.evaluators.runner import AgentLimits, agent_sandboxes
    from clade.orchestrator.home import SEED_PARTS, seed_agent_folder, seed_files
    from clade.orchestrator.models.routing import local_backend
    from clade.sandbox import DockerSandbox, SandboxConfig
    from clade.sandbox.images import build_agent_image

    assert local_backend() == "llamacpp", "the embedded model decodes under a grammar on llama.cpp"
    layer = ModelLayer(ModelsConfig.model_validate({"default": {"model": "smollm2-135m", "max_tokens": 96}}))  # fmt: skip
    config = SandboxConfig(image=build_agent_image(settings().base_image).tag, memory_mb=512, cpus=1.0)  # fmt: skip
    limits = AgentLimits(max_steps=2, max_seconds=120, command_timeout=10, reply_tokens=96)
    task = Task(id="t", statement="What is 6 * 7? Answer with the number only.\nWrite only the final answer to the file answer.txt in the work directory.")  # fmt: skip
    files = seed_files(seed_agent_folder(), SEED_PARTS)
    with agent_sandboxes(DockerSandbox, config, files, limits, Gateway(layer).serve_unix) as (
        session,
        _,
    ):
        attempt = session.attempt(task)
    events = [json.loads(line) for line in attempt.trajectory.splitlines() if line.strip()]
    assert events[0]["event"] == "start" and events[0]["style"] == "json", attempt.log()
    steps = [e for e in events if e["event"] == "step"]
    assert steps, attempt.log()
    for step in steps:
        assert step["action"] in {"bash", "write", "replace", "finish"}, step
        assert json.loads(step["reply"])["action"] == step["action"]
