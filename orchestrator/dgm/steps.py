"""The steps of a self-improvement run that touch models and sandboxes.

- ``diagnose``: the ``diagnose`` role reads the parent's code and one failed task's log;
- ``self_modify``: the parent agent runs in a sandbox with a copy of its own code as its
  work folder and the proposal's problem statement as its task; the folder it leaves is
  the child's tree;
- ``evaluate``: the candidate runs on tasks in one warm sandbox; a fresh one grades.

Every model call is metered to the run and, where one exists, the candidate.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clade import prompts
from clade.archive.facade import Archive
from clade.archive.tables import Candidate
from clade.orchestrator.evaluators.base import Evaluator, Score, Task
from clade.orchestrator.evaluators.runner import (
    AgentLimits,
    SandboxFactory,
    agent_sandboxes,
    run_tasks,
)
from clade.orchestrator.judges.review import DiffReview, review_diff
from clade.orchestrator.models.gateway import Gateway
from clade.sandbox import SandboxConfig

from .diagnosis import Proposal, diagnose
from .protocol import Modification, SelfModificationFailed

#: Characters of source code and of the failed task's log shown to the diagnosis model:
#: the prompt must fit a small local model's context (4096 tokens per llama.cpp slot).
CODE_BUDGET = 7_000
LOG_BUDGET = 2_500


PROPOSAL_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "proposal", "schema": Proposal.model_json_schema()},
}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n# [... cut to fit the prompt ...]\n"


def seed_agent_folder() -> Path:
    """The built-in agents folder, ``agents/``, wherever Clade is installed."""
    from importlib import resources

    return Path(str(resources.files("clade.agents")))


#: What of ``agents/`` makes the built-in seed's tree: the agent and its model client.
SEED_PARTS = ("coder", "llm_client.py")


def seed_files(folder: Path, parts: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """An agent's tree: every file under ``folder`` (or only ``parts`` of it), caches left out."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and (parts is None or path.relative_to(folder).parts[0] in parts)
    }


def write_tree(files: Mapping[str, bytes], root: Path) -> Path:
    for relative, data in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


class SandboxSteps:
    """The real steps: models through the gateway, agents in sandboxes."""

    def __init__(
        self,
        archive: Archive,
        run_id: str,
        evaluator: Evaluator,
        gateway: Gateway,
        sandbox_factory: SandboxFactory,
        sandbox_config: SandboxConfig,
        limits: AgentLimits,
        parallel: int,
        seed_agent: Path | None = None,
    ) -> None:
        self.archive, self.run_id, self.evaluator = archive, run_id, evaluator
        self.gateway, self.factory, self.limits, self.parallel = (
            gateway,
            sandbox_factory,
            limits,
            parallel,
        )
        self.sandbox_config = sandbox_config.model_copy(
            update={"run_id": run_id, "slots": max(1, parallel)}
        )
        self.seed_agent = seed_agent

    def _files(self, candidate: Candidate) -> dict[str, bytes]:
        return self.archive.blobs.files(candidate.tree_hash)

    def _socket(self, candidate_id: str | None, role: str) -> Callable[[Path], Any]:
        return lambda path: self.gateway.serve_unix(
            path, run_id=self.run_id, candidate_id=candidate_id, role=role
        )

    def _sandboxes(self, candidate: Candidate, role: str) -> Any:
        config = self.sandbox_config.model_copy(
            update={"labels": {"clade.candidate": candidate.id, "clade.role": role}}
        )
        return agent_sandboxes(
            self.factory,
            config,
            self._files(candidate),
            self.limits,
            self._socket(candidate.id, role),
        )

    # -- Steps protocol --------------------------------------------------------------
    def seed_tree(self) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            if self.seed_agent is None:
                files = seed_files(seed_agent_folder(), SEED_PARTS)
            else:
                files = seed_files(self.seed_agent)
            return self.archive.put_tree(write_tree(files, Path(tmp)))

    def diagnose(self, parent: Candidate, failures: list[tuple[Task, Score, str]]) -> Proposal:
        task, score, log = (
            random.Random(parent.id).choice(failures) if failures else (None, None, "")
        )
        sources = {p: d for p, d in sorted(self._files(parent).items()) if p.endswith(".py")}
        share = CODE_BUDGET // max(1, len(sources))
        files = [
            (path, _clip(data.decode("utf-8", errors="replace"), share))
            for path, data in sources.items()
        ]

        layer = self.gateway.layer
        # Local engines decode under the proposal's JSON schema, so even a tiny model answers
        # in the right shape; API models get the format from the prompt alone.
        extra = {"response_format": PROPOSAL_FORMAT} if layer.serves_locally("diagnose") else {}

        def chat(messages: list[dict[str, str]]) -> str:
            return layer.complete(
                messages, role="diagnose", run_id=self.run_id, candidate_id=parent.id, **extra
            ).text

        return diagnose(
            chat,
            files,
            task.statement
            if task
            else "(every task was solved; find what would make the agent more reliable)",
            log[-LOG_BUDGET:],
            score.detail if score else "",
        )

    def self_modify(self, parent: Candidate, proposal: Proposal, key: str) -> Modification:
        task = Task(
            id=f"self-modify-{key}",
            statement=prompts.render(
                "self_improve",
                problem_statement=proposal.problem_statement,
                implementation_plan=proposal.implementation_plan,
            ),
        )
        with self._sandboxes(parent, "agent") as (session, _grader):
            attempt = session.attempt(task, files=self._files(parent))
        if attempt.result.error:
            raise SelfModificationFailed(attempt.result.error, attempt.log())
        with tempfile.TemporaryDirectory() as tmp:
            tree = self.archive.put_tree(write_tree(attempt.outputs, Path(tmp)))
        return Modification(tree, attempt.log())

    def evaluate(
        self, candidate: Candidate, tasks: list[Task]
    ) -> list[tuple[Score, dict[str, Any]]]:
        with self._sandboxes(candidate, "agent") as (session, grader):
            return run_tasks(session, grader, self.evaluator, tasks, self.parallel)

    def review(self, parent: Candidate, diff: str) -> DiffReview:
        return review_diff(self.gateway.layer, diff, run_id=self.run_id, candidate_id=parent.id)
