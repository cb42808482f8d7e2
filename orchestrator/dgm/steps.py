"""The steps of a self-improvement run that touch models and sandboxes.

- ``diagnose``: the ``diagnose`` role reads the parent's code and one failed task's log;
  each child (by its key) is shown a different failure while there are enough;
- ``self_modify``: the parent agent runs in a sandbox with a copy of its own code as its
  work folder and the proposal's problem statement as its task; the folder it leaves is
  the child's tree;
- ``evaluate``: the candidate runs on tasks in one warm sandbox; a fresh one grades.

With the run option ``improvement.editable``, the diagnosis prompt, the self-improvement
task and the choice of failures come from the parent's own ``meta/`` (``procedure.py``).

Every model call is metered to the run and, where one exists, the candidate. Diagnosis and
self-modification are queued in local engines ahead of evaluation traffic (a higher
priority), and sample as the run's ``sampling`` option says (a seed per child). Agent
limits set to ``auto`` are sized from the engine's measured speed when a sandbox starts.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clade import prompts
from clade.archive.errors import CladeError
from clade.archive.facade import Archive
from clade.archive.tables import Candidate
from clade.orchestrator.evaluators.base import Evaluator, Score, Task
from clade.orchestrator.evaluators.runner import (
    AgentLimits,
    SandboxFactory,
    agent_sandboxes,
    run_tasks,
)
from clade.orchestrator.home import SEED_PARTS, seed_agent_folder, seed_files
from clade.orchestrator.judges.review import DiffReview, review_diff
from clade.orchestrator.models.gateway import Gateway
from clade.sandbox import SandboxConfig

from . import procedure
from .diagnosis import Proposal, diagnose, proposal_format
from .protocol import Modification, SelfModificationFailed
from .sampling import ChildSampling, params, pick

#: Characters of source code and of the failed task's log shown to the diagnosis model.
#: On a local engine the prompt must fit a small model's context (4096 tokens per
#: llama.cpp slot) and is processed on the CPU: it gets less.
CODE_BUDGET = 7_000
LOG_BUDGET = 2_500
LOCAL_CODE_BUDGET = 3_500
LOCAL_LOG_BUDGET = 1_200
#: Queue priorities in local engines: making a child goes before evaluating one, so a
#: run's few diagnosis and self-modification calls never starve behind many task attempts.
EVALUATE_PRIORITY = 0
#: Characters of JSON text per token of a reply budget, conservatively.
CHARS_PER_TOKEN = 2.5
MAKE_CHILD_PRIORITY = 10
#: The agent's prompt file shown in full to the self-modification (small models edit what
#: they can see).
PROMPT_FILES = ("coder/prompts/system.md",)

#: Kept for callers of the earlier constant; see :func:`~.diagnosis.proposal_format`.
PROPOSAL_FORMAT = proposal_format(experience=False)


class SampledLimits(AgentLimits):
    """Agent limits plus the sampling of its replies in one attempt (``--temperature``,
    ``--seed`` of the seed agent); None leaves the agent role's."""

    temperature: float | None = None
    seed: int | None = None

    def argv(self) -> list[str]:
        args = super().argv()
        if self.temperature is not None:
            args += ["--temperature", str(self.temperature)]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        return args


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n# [... cut to fit the prompt ...]\n"


def fit_sources(sources: Mapping[str, str], budget: int) -> list[tuple[str, str]]:
    """Files for the diagnosis prompt within ``budget`` characters: small files whole, the
    rest share what is left equally; in path order."""
    shares: dict[str, int] = {}
    left, pending = budget, sorted(sources, key=lambda p: len(sources[p]))
    while pending:
        path = pending.pop(0)
        shares[path] = min(len(sources[path]), left // (len(pending) + 1))
        left -= shares[path]
    return [(path, _clip(sources[path], shares[path])) for path in sorted(sources)]


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
        *,
        run_seed: int = 0,
        sampling: ChildSampling | None = None,
        editable: bool = False,
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
        self.run_seed, self.sampling = run_seed, sampling or ChildSampling()
        self.editable = editable  # the improvement procedure is the parent's meta/
        self._warm = threading.Lock()
        self._warmed = False

    def _files(self, candidate: Candidate) -> dict[str, bytes]:
        return self.archive.blobs.files(candidate.tree_hash)

    def _socket(self, candidate_id: str | None, role: str, priority: int) -> Callable[[Path], Any]:
        return lambda path: self.gateway.serve_unix(
            path, run_id=self.run_id, candidate_id=candidate_id, role=role, priority=priority
        )

    def _sandboxes(
        self, candidate: Candidate, role: str, priority: int, limits: AgentLimits
    ) -> Any:
        config = self.sandbox_config.model_copy(
            update={"labels": {"clade.candidate": candidate.id, "clade.role": role}}
        )
        return agent_sandboxes(
            self.factory,
            config,
            self._files(candidate),
            limits,
            self._socket(candidate.id, role, priority),
        )

    def agent_limits(self) -> AgentLimits:
        """The run's agent limits, ``auto`` sized from the agent engine's speed right now."""
        layer = self.gateway.layer
        speed = layer.tokens_per_s("agent")
        if speed is None and layer.serves_locally("agent"):
            with self._warm:  # one warm-up, however many children start together
                if not self._warmed:
                    # A local engine measures its speed from finished requests: give it one.
                    self._warmed = True
                    with contextlib.suppress(CladeError):  # the first real call will say why
                        layer.complete(
                            [{"role": "user", "content": "Count from 1 to 40, with commas."}],
                            role="agent", run_id=self.run_id, max_tokens=32, temperature=0.0,
                        )  # fmt: skip
            speed = layer.tokens_per_s("agent")
        return self.limits.at_speed(speed, layer.config.for_role("agent").max_tokens)

    def _has_experience(self) -> bool:
        """Whether the run has solved dev tasks the experience mutation could teach."""
        rows = self.archive.attempt_rows(self.run_id, self.evaluator.name, "dev", passed_only=True)
        return bool(rows)

    # -- Steps protocol --------------------------------------------------------------
    def seed_tree(self) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            if self.seed_agent is None:
                files = seed_files(seed_agent_folder(), SEED_PARTS)
            else:
                files = seed_files(self.seed_agent)
            if self.editable:  # the shipped procedure, where the seed folder has none of its own
                files = procedure.default_files() | files
            return self.archive.put_tree(write_tree(files, Path(tmp)))

    def diagnose(
        self, parent: Candidate, failures: list[tuple[Task, Score, str]], key: str = ""
    ) -> Proposal:
        files = self._files(parent)
        own = procedure.load_procedure(files) if self.editable else None
        if own is None:
            shown = [pick(failures, self.run_seed, parent.id, key)] if failures else []
        else:
            shown = procedure.choose(
                failures, own.choice, run_seed=self.run_seed, parent_id=parent.id, key=key,
                score=lambda f: (f[1].score, f[0].id), log_of=lambda f: f[2],
            ) if failures else []  # fmt: skip
        task, score, log = shown[0] if shown else (None, None, "")
        sources = {
            p: d.decode("utf-8", errors="replace")
            for p, d in files.items()
            if p.endswith((".py", ".md")) or (own is not None and p.startswith(procedure.META))
        }
        layer = self.gateway.layer
        local = layer.serves_locally("diagnose")
        code_budget, log_budget = (
            (LOCAL_CODE_BUDGET, LOCAL_LOG_BUDGET) if local else (CODE_BUDGET, LOG_BUDGET)
        )
        if own is not None and own.choice.log_chars is not None:
            log_budget = own.choice.log_chars
        experience = self._has_experience()
        # Local engines decode under the proposal's JSON schema, so even a tiny model answers
        # in the right shape; API models get the format from the prompt alone.
        extra: dict[str, Any] = {}
        if layer.decodes_with_grammar("diagnose"):
            reply = layer.config.for_role("diagnose").max_tokens
            chars = int(reply * CHARS_PER_TOKEN) - 150  # the keys and quotes take the rest
            extra["response_format"] = proposal_format(experience, max(200, chars))
        extra |= params(self.sampling.diagnose, self.run_seed, key, "diagnose")

        def chat(messages: list[dict[str, str]]) -> str:
            return layer.complete(
                messages, role="diagnose", run_id=self.run_id, candidate_id=parent.id,
                priority=MAKE_CHILD_PRIORITY, **extra,
            ).text  # fmt: skip

        return diagnose(
            chat,
            fit_sources(sources, code_budget),
            task.statement
            if task
            else "(every task was solved; find what would make the agent more reliable)",
            log[-log_budget:],
            score.detail if score else "",
            experience=experience,
            more_failures=[
                {"task": t.statement, "trajectory": text[-log_budget:], "result": s.detail}
                for t, s, text in shown[1:]
            ],
            render=None
            if own is None
            else lambda variables: procedure.render(own, procedure.DIAGNOSE, variables),
        )

    def self_modify(self, parent: Candidate, proposal: Proposal, key: str) -> Modification:
        files = self._files(parent)
        shown = [
            (p, files[p].decode("utf-8", errors="replace")) for p in PROMPT_FILES if p in files
        ]
        variables: dict[str, Any] = {
            "problem_statement": proposal.problem_statement,
            "implementation_plan": proposal.implementation_plan,
            "prompt_files": shown,
        }
        if self.editable:  # the parent's own template, and a word on its meta/ folder
            own = procedure.load_procedure(files)
            statement = procedure.render(own, procedure.SELF_IMPROVE, variables)
            statement += procedure.meta_note(sorted(procedure.meta_files(files)))
        else:
            statement = prompts.render("self_improve", **variables)
        task = Task(id=f"self-modify-{key}", statement=statement)
        sampled = params(self.sampling.self_modify, self.run_seed, key, "self_modify")
        limits = SampledLimits(**self.agent_limits().model_dump(), **sampled)
        with self._sandboxes(parent, "agent", MAKE_CHILD_PRIORITY, limits) as (session, _grader):
            attempt = session.attempt(task, files=files)
        if attempt.result.error:
            raise SelfModificationFailed(attempt.result.error, attempt.log())
        with tempfile.TemporaryDirectory() as tmp:
            tree = self.archive.put_tree(write_tree(attempt.outputs, Path(tmp)))
        return Modification(tree, attempt.log())

    def evaluate(
        self, candidate: Candidate, tasks: list[Task]
    ) -> list[tuple[Score, dict[str, Any]]]:
        limits = self.agent_limits()
        with self._sandboxes(candidate, "agent", EVALUATE_PRIORITY, limits) as (session, grader):
            return run_tasks(session, grader, self.evaluator, tasks, self.parallel)

    def review(self, parent: Candidate, diff: str) -> DiffReview:
        return review_diff(self.gateway.layer, diff, run_id=self.run_id, candidate_id=parent.id)
