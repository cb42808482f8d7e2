"""The evaluator protocol: what a benchmark gives Clade and how Clade scores an agent on it.

An evaluator hands out tasks (a statement and starting files for the agent's work
directory) and scores what the agent left behind. Scoring never trusts the agent's
sandbox: pure-text answers are checked here on the host; anything that must execute code
(HumanEval's tests, a repository's hidden pytest) runs through a :class:`Grader`, which
the orchestrator backs with a fresh sandbox holding a pristine copy of the tests.
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


class GradeResult(BaseModel):
    exit_code: int
    output: str
    timed_out: bool = False


@runtime_checkable
class Grader(Protocol):
    """Runs a grading command in a fresh, isolated place that holds exactly ``files``."""

    def run(self, files: Mapping[str, str], command: list[str], timeout: float) -> GradeResult: ...


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
