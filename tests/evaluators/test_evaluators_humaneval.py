"""HumanEval and the registry, graded by the harness on the local backend (the Docker grader
and the exploit corpus have their own tests)."""

from __future__ import annotations

import pytest

from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.base import Evaluator
from clade.orchestrator.evaluators.humaneval import HumanEval
from clade.orchestrator.evaluators.registry import load_evaluator


@pytest.fixture
def grader():
    """The real grading harness on the local backend (no Docker; the Docker grader and the
    exploit corpus have their own tests): the checker and each solution in their own
    processes, only plain data between them."""
    from clade.orchestrator.evaluators.harness import SandboxGrader
    from clade.sandbox import LocalSandbox

    with LocalSandbox() as box:
        yield SandboxGrader(box)


def test_splits_partition_the_164_problems_stably():
    humaneval = HumanEval()
    dev, test = humaneval.tasks("dev"), humaneval.tasks("test")
    assert len(dev) + len(test) == 164 and not {t.id for t in dev} & {t.id for t in test}
    assert [t.id for t in HumanEval().tasks("dev")] == [t.id for t in dev]
    assert all("solution.py" in t.files for t in dev)


def test_canonical_solutions_pass_and_stubs_fail(grader):
    humaneval = HumanEval(timeout=10)
    tasks = humaneval.tasks("dev")[:5]
    for task in tasks:
        assert humaneval.score(task, humaneval.canonical_outputs(task), grader).passed
    stub = humaneval.score(tasks[0], tasks[0].files, grader)
    assert not stub.passed and "AssertionError" in stub.detail


@pytest.mark.parametrize(
    ("solution", "detail"),
    [
        ("import sys\nsys.exit(0)\n", "could not load the solution"),
        ("print('CLADE_HUMANEVAL_PASSED')\nraise SystemExit(0)\n", "could not load the solution"),
        ("import os\nprint('CLADE_HUMANEVAL_PASSED')\nos._exit(0)\n", "process exited"),
        ("while True: pass\n", "timed out"),
        (None, "missing"),
    ],
)
def test_cheats_and_hangs_fail(grader, solution, detail):
    humaneval = HumanEval(timeout=2)
    task = humaneval.tasks("dev")[0]
    outputs = {} if solution is None else {"solution.py": solution}
    score = humaneval.score(task, outputs, grader)
    assert not score.passed and detail in score.detail


def test_registry_loads_builtins_and_import_paths():
    assert isinstance(load_evaluator("humaneval"), Evaluator)
    assert (
        load_evaluator("clade.orchestrator.evaluators.humaneval:HumanEval", timeout=3).timeout == 3
    )
    with pytest.raises(ConfigError, match="unknown evaluator 'nope'"):
        load_evaluator("nope")
    with pytest.raises(ConfigError, match="cannot import"):
        load_evaluator("no_such_module:Thing")
    with pytest.raises(ConfigError, match="colour: Extra inputs are not permitted") as bad:
        load_evaluator("humaneval", colour="red")
    assert bad.value.hint == "allowed options: timeout"
    with pytest.raises(ConfigError, match="not an evaluator"):
        load_evaluator("pathlib:Path")
