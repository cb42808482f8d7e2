"""Score one agent on an evaluator's tasks, outside any run (what `clade eval` does).

``score_agent(files, evaluator, "test", serve_socket=Gateway(layer).serve_unix)`` runs the
agent on each task in a Docker sandbox, grades its work in a fresh one, and returns an
:class:`AgentScores`. The model layer is passed in as the socket server, so evaluators stay
free of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Evaluator, Score, Split, Task
from .runner import AgentLimits, agent_image, agent_sandboxes, run_tasks


@dataclass(frozen=True)
class AgentScores:
    """An agent's score on each task it was given, in task order."""

    evaluator: str
    split: Split
    tasks: list[Task]
    scores: list[Score]

    @property
    def passed(self) -> int:
        return sum(score.passed for score in self.scores)

    def to_json(self) -> dict[str, Any]:
        """The JSON `clade eval --json` prints."""
        rows = [
            {"task": t.id, "score": s.score, "passed": s.passed, "detail": s.detail}
            for t, s in zip(self.tasks, self.scores, strict=True)
        ]
        return {
            "evaluator": self.evaluator,
            "split": self.split,
            "passed": self.passed,
            "total": len(self.tasks),
            "tasks": rows,
        }


def score_agent(
    files: Mapping[str, bytes],
    evaluator: Evaluator,
    tasks: list[Task],
    split: Split,
    serve_socket: Callable[[Path], Any],
    *,
    parallel: int = 2,
    limits: AgentLimits | None = None,
    image: str | None = None,
) -> AgentScores:
    """Run the agent of ``files`` (a tree holding ``coder/``) on ``tasks`` of ``evaluator``,
    ``parallel`` at a time, with its model served by ``serve_socket``; grade each task in a
    fresh sandbox. ``image`` defaults to the agent image (built when out of date)."""
    from clade.sandbox import DockerSandbox, SandboxConfig

    config = SandboxConfig(image=image or agent_image(), slots=max(1, parallel))
    with agent_sandboxes(DockerSandbox, config, files, limits or AgentLimits(), serve_socket) as (
        session,
        grader,
    ):
        results = run_tasks(session, grader, evaluator, tasks, parallel)
    return AgentScores(evaluator.name, split, tasks, [score for score, _ in results])
