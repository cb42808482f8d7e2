"""The steps of a prompt-set run: the DGM graph's ``Steps`` over conductor prompt sets.

:class:`ReflectionSteps` is what every family of prompt sets shares (the mutate role's two
calls); :class:`PromptSetSteps` is the conductor family, :mod:`.judge` the judge's.

- ``seed_tree``: the seed set (``prompt_set.seed``, a folder of ``<field>.j2`` files, or
  the shipped one) stored as a tree;
- ``diagnose``: the ``mutate`` role reads a few of the parent's failed dev tasks and one
  template, chosen per child by its key from ``prompt_set.fields``, and proposes a change;
- ``self_modify``: the ``mutate`` role rewrites that template (:mod:`.mutate`); a reply
  that does not render is a failed child;
- ``evaluate``: the conductor solves each task with the candidate's set, and the
  evaluator's own ``score`` grades the answer (``conductor.solvers.run_item``);
- ``review``: nothing to review in a prompt (no test to skip, no exit to force).

Every model call is metered to the run and the candidate: the conductor's and the
experts' to the candidate evaluated, the mutate role's to the parent.
"""

from __future__ import annotations

import random
import tempfile
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clade.archive.errors import CladeError, ConfigError, InfrastructureError
from clade.orchestrator.conductor.graph import ConductorSettings, solve
from clade.orchestrator.conductor.promptset import PromptSet
from clade.orchestrator.conductor.solvers import SolverAnswer, question_of, run_item
from clade.orchestrator.dgm.diagnosis import proposal_format
from clade.orchestrator.dgm.protocol import Modification
from clade.orchestrator.dgm.sampling import ChildSampling, child_seed, params
from clade.orchestrator.evaluators.base import Score
from clade.orchestrator.judges.review import DiffReview

from .mutate import (
    Failure,
    Target,
    check_template,
    failure_of,
    propose,
    rewrite,
    task_log,
    template_format,
    template_target,
)

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.tables import Candidate
    from clade.orchestrator.conductor.python_expert import PythonExpert
    from clade.orchestrator.dgm.config import PromptSetOptions
    from clade.orchestrator.dgm.diagnosis import Proposal
    from clade.orchestrator.evaluators.base import Evaluator, Task
    from clade.orchestrator.models.layer import ModelLayer

#: Queue priority of the mutate role's calls in local engines (before evaluation traffic).
MUTATE_PRIORITY = 10
#: Characters of a solve's transcript kept in its evaluation's log.
TRANSCRIPT_CHARS = 6_000
#: Characters of JSON text per token of a reply budget, conservatively.
CHARS_PER_TOKEN = 2.5


class TemplateFailed(CladeError):
    """A stored template did not render while a task was solved."""


class _MachineFailed(Exception):
    """Carries the machine's failure past ``run_item``, which counts a CladeError as a
    failed task: an engine or database fault is never a verdict on the prompt set."""

    def __init__(self, error: InfrastructureError) -> None:
        super().__init__(str(error))
        self.error = error


def prompt_set_of(files: dict[str, bytes]) -> PromptSet:
    """The prompt set in a candidate's tree of ``<field>.j2`` files."""
    missing = [n for n in PromptSet.model_fields if f"{n}.j2" not in files]
    if missing:
        raise ConfigError(f"the prompt set lacks {', '.join(f'{n}.j2' for n in missing)}")
    return PromptSet(**{n: files[f"{n}.j2"].decode("utf-8") for n in PromptSet.model_fields})


def put_prompt_set(archive: Archive, prompt_set: PromptSet) -> str:
    """Store ``prompt_set`` as a tree of ``<field>.j2`` files; returns its hash."""
    with tempfile.TemporaryDirectory(prefix="clade-prompts-") as tmp:
        for name, text in prompt_set.files().items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        return archive.put_tree(tmp)


class _Conductor:
    """One candidate's conductor, metered to it (a ``Solver`` for ``run_item``)."""

    name = "conductor"

    def __init__(
        self, steps: PromptSetSteps, prompts: PromptSet, candidate_id: str,
        python: PythonExpert | None,
    ) -> None:  # fmt: skip
        self.steps, self.prompts, self.candidate_id, self.python = (
            steps,
            prompts,
            candidate_id,
            python,
        )
        self.traces: dict[str, list[dict[str, Any]]] = {}  # question -> its solve's steps

    def attempt(self, question: str) -> SolverAnswer:
        import jinja2

        try:
            result = solve(
                question, self.steps.layer, settings=self.steps.settings, prompts=self.prompts,
                python=self.python, run_id=self.steps.run_id, candidate_id=self.candidate_id,
            )  # fmt: skip
        except jinja2.TemplateError as exc:  # a stored set that no longer renders: its failure
            raise TemplateFailed(f"a template does not render: {exc}") from exc
        except InfrastructureError as exc:
            raise _MachineFailed(exc) from exc
        self.traces[question] = result.steps
        return SolverAnswer(
            answer=result.answer, calls=result.calls, tokens=result.tokens, steps=result.steps
        )


def _transcript(steps: list[dict[str, Any]]) -> str:
    lines = []
    for step in steps[1:]:  # the system message is the set itself: in the tree already
        who = step.get("name") or step.get("role") or step.get("kind")
        text = step.get("content") or step.get("reply") or step.get("stdout") or ""
        lines.append(f"[round {step.get('round')} {step.get('kind')} {who}]\n{text}")
    text = "\n".join(lines)
    return text if len(text) <= TRANSCRIPT_CHARS else text[:TRANSCRIPT_CHARS] + "\n[... cut ...]"


class ReflectionSteps(ABC):
    """What every prompt-set family shares: the mutate role reads a parent's failed dev tasks
    and rewrites one of its texts (a :class:`~.mutate.Target`). A family says which text a
    child rewrites (:meth:`target`), how a rewrite becomes a tree (:meth:`child_tree`), the
    seed, and how a candidate is evaluated."""

    def __init__(
        self,
        archive: Archive,
        run_id: str,
        evaluator: Evaluator,
        layer: ModelLayer,
        options: PromptSetOptions,
        *,
        parallel: int = 1,
        run_seed: int = 0,
        sampling: ChildSampling | None = None,
    ) -> None:
        self.archive, self.run_id, self.evaluator, self.layer = archive, run_id, evaluator, layer
        self.options, self.parallel, self.run_seed = options, parallel, run_seed
        self.sampling = sampling or ChildSampling()
        self._shown: dict[str, list[Failure]] = {}  # child key -> the failures it was shown
        self._lock = threading.Lock()

    @abstractmethod
    def target(self, parent: Candidate, key: str) -> Target:
        """The text child ``key`` of ``parent`` rewrites."""

    @abstractmethod
    def child_tree(self, parent: Candidate, target: Target, text: str) -> str:
        """The tree of ``parent`` with ``target`` rewritten to ``text`` (checked already)."""

    @abstractmethod
    def seed_tree(self) -> str:
        """The seed candidate's tree."""

    @abstractmethod
    def evaluate(
        self, candidate: Candidate, tasks: list[Task]
    ) -> list[tuple[Score, dict[str, Any]]]:
        """A score and its evaluation's fields (``log``, ``tokens``, ``duration_s``) per task."""

    def _chat(self, parent: Candidate, extra: dict[str, Any]) -> Any:
        def chat(messages: list[dict[str, str]]) -> str:
            return self.layer.complete(
                messages, role="mutate", run_id=self.run_id, candidate_id=parent.id,
                priority=MUTATE_PRIORITY, **extra,
            ).text  # fmt: skip

        return chat

    def _reply_chars(self) -> int:
        tokens = self.layer.config.for_role("mutate").max_tokens
        return max(200, int(tokens * CHARS_PER_TOKEN) - 150)

    # -- Steps protocol ----------------------------------------------------------------
    def diagnose(
        self, parent: Candidate, failures: list[tuple[Task, Score, str]], key: str = ""
    ) -> Proposal:
        rng = random.Random(child_seed(self.run_seed, f"{parent.id}:{key}", "failures"))
        drawn = rng.sample(failures, min(self.options.failures, len(failures)))
        shown = [failure_of(question_of(task), log) for task, _score, log in drawn]
        with self._lock:
            self._shown[key] = shown
        extra = params(self.sampling.diagnose, self.run_seed, key, "mutate-propose")
        if self.layer.decodes_with_grammar("mutate"):
            extra["response_format"] = proposal_format(False, self._reply_chars())
        return propose(self._chat(parent, extra), self.target(parent, key), shown)

    def self_modify(self, parent: Candidate, proposal: Proposal, key: str) -> Modification:
        with self._lock:
            shown = self._shown.pop(key, [])
        target, limit = self.target(parent, key), self.options.max_chars
        extra = params(self.sampling.self_modify, self.run_seed, key, "mutate-rewrite")
        if self.layer.decodes_with_grammar("mutate"):
            extra["response_format"] = template_format(
                min(limit, self._reply_chars()), target.min_chars
            )
        text, log = rewrite(self._chat(parent, extra), target, proposal, shown, max_chars=limit)
        return Modification(
            self.child_tree(parent, target, text), f"field: {target.field}\n\n{log}"
        )

    def review(self, parent: Candidate, diff: str) -> DiffReview:
        return DiffReview(flagged=False, reason="a prompt set has no tests to disable")


class PromptSetSteps(ReflectionSteps):
    """The steps of a conductor prompt-set run (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.options
        self.settings = ConductorSettings(
            rounds=options.rounds, max_tokens=options.max_tokens, structured=options.structured
        )

    def prompts(self, candidate: Candidate) -> PromptSet:
        return prompt_set_of(self.archive.blobs.files(candidate.tree_hash))

    def field_for(self, key: str) -> str:
        """The template child ``key`` rewrites: a stable draw over ``prompt_set.fields``."""
        fields = self.options.fields
        return fields[child_seed(self.run_seed, key, "field") % len(fields)]

    def target(self, parent: Candidate, key: str) -> Target:
        return template_target(self.prompts(parent), self.field_for(key))

    def child_tree(self, parent: Candidate, target: Target, text: str) -> str:
        return put_prompt_set(
            self.archive, check_template(self.prompts(parent), target.field, text)
        )

    # -- Steps protocol --------------------------------------------------------------
    def seed_tree(self) -> str:
        seed = self.options.seed
        return put_prompt_set(
            self.archive, PromptSet.from_folder(seed) if seed else PromptSet.default()
        )

    def evaluate(
        self, candidate: Candidate, tasks: list[Task]
    ) -> list[tuple[Score, dict[str, Any]]]:
        prompts = self.prompts(candidate)
        with ExitStack() as stack:
            python = None
            if self.options.python:
                from clade.orchestrator.conductor.python_expert import SandboxPython

                python = stack.enter_context(SandboxPython(run_id=self.run_id))
            solver = _Conductor(self, prompts, candidate.id, python)

            def one(task: Task) -> tuple[Score, dict[str, Any]]:
                try:
                    item = run_item(self.evaluator, task, solver)
                except _MachineFailed as exc:  # the run waits and redoes the step (patience)
                    raise exc.error from None
                except RuntimeError as exc:  # the evaluator wants a grader: not host-scored
                    raise ConfigError(
                        f"{self.evaluator.name} cannot score a conductor's answer: {exc}",
                        hint="prompt-set runs need a host-scored evaluator: game24, "
                        "word-sorting or multistep-arithmetic",
                    ) from exc
                score = Score(score=float(item.passed), passed=item.passed, detail=item.detail)
                steps = solver.traces.pop(question_of(task), [])
                log = task_log(item.answer, item.detail or "correct", _transcript(steps))
                return score, {"log": log, "tokens": item.tokens, "duration_s": item.seconds}

            with ThreadPoolExecutor(max_workers=max(1, self.parallel)) as pool:
                return list(pool.map(one, tasks))
