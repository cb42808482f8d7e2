"""Solvers for the generated benchmarks (game24, word-sorting, multistep-arithmetic).

``standard`` makes one direct call, ``zero-shot-cot`` one call with "Let's think step by
step", ``conductor`` runs meta-prompting. All use the ``conductor`` role's model with the
same sampling, and every answer is scored by the evaluator's own ``score`` (as if the
answer had been written to its ``answer.txt``), so the three are compared on equal terms.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from clade.archive.errors import CladeError
from clade.orchestrator.evaluators.base import Evaluator, Task, Verdict
from clade.orchestrator.evaluators.generated import ANSWER

from .graph import ConductorSettings, OnStep, solve
from .promptset import PromptSet
from .python_expert import PythonExpert

if TYPE_CHECKING:
    from clade.orchestrator.models.layer import ModelLayer

SolverName = Literal["standard", "zero-shot-cot", "conductor"]
SOLVERS: tuple[SolverName, ...] = ("standard", "zero-shot-cot", "conductor")
BENCHMARKS = ("game24", "word-sorting", "multistep-arithmetic")

# "Answer: x", "**Answer:** x", "The answer is x", "final answer = x": the last one wins.
_ANSWER_LINE = re.compile(r"^.*\banswer\b(?:\s+is\b)?[\s:=*]*(\S.*)$", re.IGNORECASE | re.MULTILINE)


class SolverAnswer(BaseModel):
    """One solver's answer to one question."""

    answer: str | None = Field(description="The extracted answer; None when none was given.")
    calls: int = Field(description="Model calls made.")
    tokens: int = Field(description="Prompt plus completion tokens.")
    steps: list[dict[str, Any]] = Field(default_factory=list, description="The trace.")


class SolvedItem(BaseModel):
    """One solver on one benchmark item, scored."""

    benchmark: str = Field(description="Evaluator name.")
    task_id: str = Field(description="The item's id.")
    solver: str = Field(description="standard, zero-shot-cot or conductor.")
    answer: str | None = Field(description="What the solver answered.")
    passed: bool = Field(description="Whether the evaluator accepted it.")
    detail: str = Field(default="", description="The evaluator's reason, or the error.")
    calls: int = Field(default=0, description="Model calls.")
    tokens: int = Field(default=0, description="Tokens.")
    seconds: float = Field(default=0.0, description="Wall time.")
    turns: int = Field(default=0, description="Conductor turns taken (direct solvers: 0).")
    well_formed: int = Field(
        default=0, description="Turns that held an expert call or a final answer."
    )
    experts: int = Field(default=0, description="Expert calls answered by a model.")
    code_runs: int = Field(default=0, description="Expert Python code runs in the sandbox.")


class Solver(Protocol):
    name: str

    def attempt(self, question: str) -> SolverAnswer:
        """Answer ``question``."""
        ...


class _NoGrader:
    """The generated benchmarks score text on the host and never call their grader."""

    def check(self, files: Mapping[str, str], tests: str, *, timeout: float) -> Verdict:
        raise RuntimeError("the generated benchmarks need no grader")


def question_of(task: Task) -> str:
    """The task statement without its note about writing ``answer.txt``."""
    return "\n".join(line for line in task.statement.splitlines() if ANSWER not in line).strip()


def extract_answer(text: str) -> str | None:
    """The answer in a direct reply: what follows the last "Answer:" / "the answer is", else
    the last non-empty line."""
    found = _ANSWER_LINE.findall(text)
    lines = [line for line in text.splitlines() if line.strip()]
    answer = found[-1] if found else (lines[-1] if lines else "")
    answer = answer.strip().strip("*`\"'").strip().rstrip(".").strip()
    return answer or None


class DirectSolver:
    """``standard`` or ``zero-shot-cot``: one call of the conductor role's model."""

    def __init__(
        self, layer: ModelLayer, style: Literal["standard", "zero-shot-cot"],
        settings: ConductorSettings | None = None,
    ) -> None:  # fmt: skip
        self.name: str = style
        self.layer, self.settings = layer, settings or ConductorSettings()

    def attempt(self, question: str) -> SolverAnswer:
        from clade.prompts import render

        prompt = render("conductor_baseline", question=question, style=self.name).strip()
        result = self.layer.complete(
            [{"role": "user", "content": prompt}], role="conductor",
            temperature=self.settings.temperature, top_p=self.settings.top_p,
            max_tokens=self.settings.max_tokens,
        )  # fmt: skip
        steps = [{"round": 1, "kind": "message", "role": r, "content": c}
                 for r, c in (("user", prompt), ("assistant", result.text))]  # fmt: skip
        return SolverAnswer(
            answer=extract_answer(result.text), calls=1,
            tokens=result.prompt_tokens + result.completion_tokens, steps=steps,
        )  # fmt: skip


class ConductorSolver:
    """``conductor``: meta-prompting, optionally with Expert Python (``name`` tells variants
    apart in a comparison, e.g. structured turns on and off)."""

    def __init__(
        self, layer: ModelLayer, settings: ConductorSettings | None = None,
        prompts: PromptSet | None = None, python: PythonExpert | None = None,
        on_step: OnStep | None = None, name: str = "conductor",
    ) -> None:  # fmt: skip
        self.name: str = name
        self.layer, self.settings = layer, settings or ConductorSettings()
        self.prompts, self.python, self.on_step = prompts or PromptSet.default(), python, on_step

    def attempt(self, question: str) -> SolverAnswer:
        result = solve(
            question, self.layer, settings=self.settings, prompts=self.prompts,
            python=self.python, on_step=self.on_step,
        )  # fmt: skip
        return SolverAnswer(
            answer=result.answer, calls=result.calls, tokens=result.tokens, steps=result.steps
        )


def make_solver(
    name: SolverName, layer: ModelLayer, *, settings: ConductorSettings | None = None,
    prompts: PromptSet | None = None, python: PythonExpert | None = None,
    on_step: OnStep | None = None,
) -> Solver:  # fmt: skip
    """The solver called ``name`` (``on_step`` sees each step of a conductor's trace)."""
    if name == "conductor":
        return ConductorSolver(layer, settings, prompts, python, on_step)
    return DirectSolver(layer, name, settings)


def run_item(evaluator: Evaluator, task: Task, solver: Solver) -> SolvedItem:
    """Let ``solver`` answer ``task`` and score the answer with ``evaluator``.

    A model error (a context overflow, a budget) counts as a failed item, with its reason."""
    started = time.perf_counter()
    try:
        attempt = solver.attempt(question_of(task))
    except CladeError as exc:
        return SolvedItem(
            benchmark=evaluator.name, task_id=task.id, solver=solver.name, answer=None,
            passed=False, detail=f"error: {exc}", seconds=time.perf_counter() - started,
        )  # fmt: skip
    outputs = {} if attempt.answer is None else {ANSWER: attempt.answer}
    score = evaluator.score(task, outputs, _NoGrader())
    turns = [s["turn"] for s in attempt.steps if "turn" in s]
    return SolvedItem(
        benchmark=evaluator.name, task_id=task.id, solver=solver.name, answer=attempt.answer,
        passed=score.passed, detail=score.detail, calls=attempt.calls, tokens=attempt.tokens,
        seconds=time.perf_counter() - started, turns=len(turns),
        well_formed=sum(bool(t["experts"] or t["answer"]) for t in turns),
        experts=sum(s["kind"] == "expert" for s in attempt.steps),
        code_runs=sum(s["kind"] == "python" for s in attempt.steps),
    )  # fmt: skip
