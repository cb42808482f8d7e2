"""``repo-bugfix``: fix a planted bug in a small generated Python repository.

The agent's work directory holds a package of one to three modules, ``ISSUE.md`` (the
symptom), ``README.md`` and ``tests/test_issue.py``, which fails because of the bug.
Grading takes only the package's ``.py`` files out of the agent's work and runs the hidden
tests (the visible cases and more) through the grading harness: the tests run in the
checker's process, the package in the solution's own, and only plain data crosses. The
score is the share of hidden tests that pass; the task is solved when all do. The reference
fix and the hidden tests never enter the task, nor any place the solution can read.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .base import Grader, Score, Split, Task, split_of
from .repo_templates import TEMPLATES, Repo

STATEMENT = """The Python package `{package}` in your work directory has a bug. ISSUE.md says:

{issue}
The test in tests/{test_name} fails because of it. Fix the bug in the package's code (do not
edit the tests), keeping its public names and documented behaviour. Run the tests with
`python3 -m unittest discover -s tests`. Hidden tests with more cases will check your fix."""


@lru_cache(maxsize=512)
def render(template: str, seed: int, index: int) -> Repo:
    """The repository of one task: the same (template, seed, index), the same repository."""
    return TEMPLATES[template](random.Random(f"repo-bugfix:{seed}:{template}:{index}"))


class RepoBugfix:
    """Eight templates of planted bugs, ``variants`` seeded repositories each."""

    name = "repo-bugfix"

    class Config(BaseModel):
        """Options of ``repo-bugfix``."""

        model_config = ConfigDict(extra="forbid")

        variants: int = Field(
            default=10, ge=1, le=1000, description="Repositories generated per template."
        )
        seed: int = Field(default=0, description="Seed of names and constants: another seed, other repositories.")  # fmt: skip
        templates: list[str] = Field(
            default_factory=lambda: list(TEMPLATES),
            description=f"Templates to use, from: {', '.join(TEMPLATES)}.",
        )
        timeout: float = Field(
            default=30.0, gt=0, description="Seconds the hidden tests of one task may run."
        )

        @field_validator("templates")
        @classmethod
        def _known(cls, value: list[str]) -> list[str]:
            unknown = sorted(set(value) - set(TEMPLATES))
            if unknown or not value:
                raise ValueError(f"unknown templates {unknown}; choose from {list(TEMPLATES)}")
            return value

    def __init__(self, config: Config | None = None, **options: object) -> None:
        self.config = config if config is not None else self.Config.model_validate(options)

    def _ids(self) -> list[str]:
        # Index-major order, so a stage's prefix of tasks spans every template.
        c = self.config
        return [f"bugfix-{t}-{c.seed}-{i}" for i in range(c.variants) for t in c.templates]

    def repo(self, task_id: str) -> Repo:
        template, seed, index = task_id.removeprefix("bugfix-").rsplit("-", 2)
        return render(template, int(seed), int(index))

    def tasks(self, split: Split) -> list[Task]:
        tasks = []
        for task_id in self._ids():
            if split_of(task_id) != split:
                continue
            repo = self.repo(task_id)
            statement = STATEMENT.format(
                package=repo.package, issue=repo.issue, test_name=repo.test_name
            )
            tasks.append(Task(id=task_id, statement=statement, files=repo.files()))
        return tasks

    def score(self, task: Task, outputs: Mapping[str, str], grader: Grader) -> Score:
        repo = self.repo(task.id)
        package = {
            path: text
            for path, text in outputs.items()
            if path.startswith(f"{repo.package}/") and path.endswith(".py")
        }
        if not package:
            return Score(score=0.0, passed=False, detail=f"the package {repo.package}/ is missing")
        verdict = grader.check(package, repo.hidden, timeout=self.config.timeout)
        if verdict.timed_out:
            return Score(score=0.0, passed=False, detail=f"hidden tests timed out after {self.config.timeout:.0f}s")  # fmt: skip
        if verdict.error or verdict.tests_run == 0:
            return Score(score=0.0, passed=False, detail=verdict.error or "no hidden test ran")
        return Score(score=verdict.share, passed=verdict.passed, detail=verdict.summary(noun="hidden tests"))  # fmt: skip

    def reference_outputs(self, task: Task) -> dict[str, str]:
        """The work directory with the reference fix applied, for tests and benchmarks."""
        return {**task.files, **self.repo(task.id).fixed_modules()}
