"""run_tasks in real sandboxes: one bad task (an agent that crashes, a scorer that raises) is
one failed task with its reason; the other tasks of the run are still attempted and scored."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from clade.orchestrator.evaluators.base import Grader, Score, Split, Task

# A tiny scripted agent (no model): it answers with the task's last word, or crashes.
AGENT_MAIN = """import argparse, sys
parser = argparse.ArgumentParser()
parser.add_argument("--task-file")
args, _ = parser.parse_known_args()
task = open(args.task_file).read()
if "CRASH" in task:
    raise RuntimeError("the agent fell over")
open("answer.txt", "w").write(task.split()[-1])
"""


class Echo:
    """Answer with the last word; the task ``boom``'s scorer has a bug."""

    name = "echo"

    def tasks(self, split: Split) -> list[Task]:
        return [
            Task(id="ok", statement="Write the word hello"),
            Task(id="crash", statement="CRASH now"),
            Task(id="boom", statement="Write the word bye"),
            Task(id="graded", statement="Write the word 6*7"),
        ]

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        if task.id == "boom":
            raise ValueError("scorer bug")
        answer = outputs.get("answer.txt")
        if answer is None:
            return Score(score=0.0, passed=False, detail="answer.txt is missing")
        if task.id == "graded":  # executes the answer through the grading harness
            tests = "import unittest\nfrom a import VALUE\n\n\nclass T(unittest.TestCase):\n    def test(self):\n        self.assertEqual(VALUE, 42)\n"  # fmt: skip
            verdict = grader.check({"a.py": f"VALUE = {answer}\n"}, tests, timeout=10)
            return Score(score=verdict.share, passed=verdict.passed, detail=verdict.summary())
        return Score(score=1.0, passed=answer == task.statement.split()[-1])


@pytest.mark.docker
def test_bad_tasks_fail_alone_and_the_run_goes_on():
    from clade.orchestrator.config import settings
    from clade.orchestrator.evaluators.runner import AgentLimits, agent_sandboxes, run_tasks
    from clade.sandbox import DockerSandbox, SandboxConfig
    from clade.sandbox.images import build_agent_image

    config = SandboxConfig(image=build_agent_image(settings().base_image).tag, slots=2)
    agent = {"coder/__init__.py": b"", "coder/__main__.py": AGENT_MAIN.encode()}
    bench = Echo()
    tasks = bench.tasks("dev")
    limits = AgentLimits(max_seconds=20)
    with agent_sandboxes(DockerSandbox, config, agent, limits) as (session, grader):
        results = run_tasks(session, grader, bench, tasks, parallel=2)
    scores = {task.id: score for task, (score, _) in zip(tasks, results, strict=True)}
    assert scores["ok"].passed and scores["graded"].passed
    assert not scores["crash"].passed
    assert scores["crash"].detail == "agent: exit status 1; answer.txt is missing"
    assert not scores["boom"].passed
    assert scores["boom"].detail == "scoring failed: ValueError: scorer bug"
    crash_log = results[1][1]["log"]
    assert "RuntimeError: the agent fell over" in crash_log
