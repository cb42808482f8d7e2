"""The evaluator protocol: what a benchmark gives Clade and how Clade scores an agent on it.

An evaluator hands out tasks (a statement and starting files for the agent's work
directory) and scores what the agent left behind. Scoring never trusts the agent's
sandbox: pure-text answers are checked here on the host, within size and time bounds;
anything that must execute the agent's code (HumanEval's tests, a repository's hidden
tests) goes through a :class:`Grader`: the grading harness runs the evaluator's tests in a
checker process the solution cannot reach, against the solution's modules in a process of
their own, and only plain data crosses between them (``orchestrator/evaluators/harness``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Split = Literal["dev", "test"]


class Task(BaseModel):
    """One task as the agent sees it. Grading data stays with the evaluator."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique within the evaluator, stable across runs.")
    statement: str = Field(description="What the agent is asked to do.")
    files: dict[str, str] = Field(
        default_factory=dict, description="Starting files of the work directory."
    )


class Score(BaseModel):
    """How one attempt at one task did."""

    score: float = Field(ge=0.0, le=1.0, description="1 is fully solved.")
    passed: bool = Field(description="Whether the task counts as solved.")
    detail: str = Field(default="", description="Why: the failing assertion, the wrong answer, ...")


class Verdict(BaseModel):
    """What the checker decided about one solution: tests run, which failed and why."""

    tests_run: int = Field(default=0, ge=0, description="Test methods the checker ran.")
    failures: list[tuple[str, str]] = Field(
        default_factory=list, description="(test name, why) of every test that did not pass."
    )
    error: str = Field(default="", description="Why no test could run (refused, import failed).")
    timed_out: bool = Field(default=False, description="The grade ran past its timeout.")

    @property
    def passed(self) -> bool:
        """Every test ran and passed, in time."""
        return self.tests_run > 0 and not self.failures and not self.error and not self.timed_out

    @property
    def share(self) -> float:
        """The share of tests that passed (0 when the grade broke or timed out)."""
        if self.error or self.timed_out or self.tests_run == 0:
            return 0.0
        return max(self.tests_run - len(self.failures), 0) / self.tests_run

    def summary(self, limit: int = 1000, noun: str = "tests") -> str:
        """One line for a score's detail: ``5/6 tests passed; test_3: AssertionError: ...``."""
        if self.error:
            return self.error[:limit]
        if self.timed_out:
            return "timed out"
        passed = max(self.tests_run - len(self.failures), 0)
        why = "; ".join(f"{name}: {reason}" for name, reason in self.failures)
        return (f"{passed}/{self.tests_run} {noun} passed" + (f"; {why}" if why else ""))[:limit]


@runtime_checkable
class Grader(Protocol):
    """Grades a solution with an evaluator's tests, out of the solution's reach.

    ``tests`` is the source of a unittest module, trusted code of the evaluator. It runs in
    a checker process; ``import`` of the solution's modules (named by ``files``) gives
    proxies whose calls run in the solution's own process and return plain data only.
    The tests and any expected answers never exist where the solution could read them."""

    def check(self, files: Mapping[str, str], tests: str, *, timeout: float) -> Verdict: ...


@runtime_checkable
class Evaluator(Protocol):
    """What every evaluator, built-in or plugin, provides.

    Options: a nested pydantic ``Config`` (``extra="forbid"``, a description per field)
    makes the registry validate them and call the class with one ``Config`` instance (or
    with no argument: the defaults); without one, options are keyword arguments."""

    name: str

    def tasks(self, split: Split) -> list[Task]:
        """Every task of ``split`` in a stable order (stages take prefixes of it)."""
        ...

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        """Score the agent's work directory (``outputs``: path -> text) on ``task``."""
        ...


def split_of(task_id: str, test_share: float = 0.5) -> Split:
    """A stable dev/test assignment from the id alone, so splits never depend on order."""
    import hashlib

    bucket = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < test_share else "dev"
