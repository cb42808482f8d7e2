"""AgentSession.attempt in workspaces, the honest paths: a self-modification's tree comes
back whole, an oversized output is dropped and named, the agent's code is shared and
read-only, and a restarted sandbox gets the agent's code back."""

from __future__ import annotations

import pytest

from clade.orchestrator.evaluators.base import Task
from clade.orchestrator.evaluators.runner import AgentLimits, AgentSession
from clade.sandbox import DockerSandbox, SandboxConfig

from .conftest import SMALL

pytestmark = pytest.mark.docker

# A tiny self-modifying agent: it appends a line to every .py file of its work folder (its
# own tree, in a self-modification), writes a new module, and tries to change its own
# installed code under /work/agent.
AGENT_MAIN = r"""
import os, pathlib, sys
args = sys.argv
words = open(args[args.index("--task-file") + 1]).read().split()
if words[0] == "grow":
    open("huge.log", "wb").write(b"x" * int(words[1]))
for path in sorted(pathlib.Path(".").rglob("*.py")):
    path.write_text(path.read_text() + "# improved\n")
pathlib.Path("coder/new_tool.py").write_text("def tool():\n    return 1\n")
try:
    open(os.environ["PYTHONPATH"] + "/coder/__main__.py", "a").write("# tampered")
    print("tampered the installed agent")
except OSError as exc:
    print(f"installed agent is read-only: {exc.strerror}")
"""
TREE = {
    "coder/__init__.py": b"",
    "coder/__main__.py": AGENT_MAIN.encode(),
    **{f"coder/part{i}.py": f"# part {i}\n".encode() * 2000 for i in range(8)},  # ~20 KB each
    "README.md": b"the seed agent\n",
    "coder/prompts/system.j2": b"You are a coder.\n",
}


@pytest.fixture
def session(agent_image, run_id):
    config = SandboxConfig(image=agent_image, run_id=run_id, **SMALL | {"timeout_s": 30})
    with DockerSandbox(config) as box:
        yield AgentSession(box, AgentLimits(max_seconds=20), TREE)


def test_a_self_modification_brings_the_whole_child_tree_back(session):
    done = session.attempt(Task(id="self", statement="improve yourself"), files=TREE)
    assert done.result.ok, done.log()
    assert "installed agent is read-only: Permission denied" in done.result.stdout
    expected = {
        path: data + b"# improved\n" if path.endswith(".py") else data
        for path, data in TREE.items()
    }
    expected["coder/new_tool.py"] = b"def tool():\n    return 1\n"
    assert done.outputs == expected
    assert done.skipped == {}


def test_an_oversized_output_is_dropped_and_named(session):
    big = session.max_file_bytes + 1
    done = session.attempt(Task(id="grow", statement=f"grow {big}"), files=TREE)
    assert "huge.log" not in done.outputs and done.outputs["coder/new_tool.py"]
    assert done.skipped["huge.log"].kind == "too_large"
    assert "huge.log: too large" in done.log()


def test_after_a_restart_the_agent_code_is_back(session):
    box = session.box
    box._restart("a test restart")
    done = session.attempt(Task(id="self", statement="improve yourself"), files=TREE)
    assert done.result.ok, done.log()
    assert box.restarts == 1
