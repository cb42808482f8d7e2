"""repo-bugfix: every template's bug fails its hidden tests, its reference fix passes them
(graded in a real Docker sandbox), and nothing of the grading data reaches the agent."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from clade.archive.errors import ConfigError
from clade.orchestrator.evaluators.registry import load_evaluator
from clade.orchestrator.evaluators.repo_bugfix import RepoBugfix
from clade.orchestrator.evaluators.repo_templates import TEMPLATES


def all_tasks(bench: RepoBugfix):
    return bench.tasks("dev") + bench.tasks("test")


def test_tasks_span_every_template_split_stably_and_vary_with_the_seed():
    bench = RepoBugfix()
    dev, test = bench.tasks("dev"), bench.tasks("test")
    assert len(dev) + len(test) == 10 * len(TEMPLATES) >= 80
    assert min(len(dev), len(test)) >= 30 and not {t.id for t in dev} & {t.id for t in test}
    assert set(Counter(t.id.split("-0-")[0] for t in dev[:20])) == {
        f"bugfix-{k}" for k in TEMPLATES
    }
    assert [t.model_dump() for t in RepoBugfix().tasks("dev")] == [t.model_dump() for t in dev]
    other = RepoBugfix(seed=1).tasks("dev")
    assert {t.files["ISSUE.md"] for t in other} != {t.files["ISSUE.md"] for t in dev}
    assert len({t.files["ISSUE.md"] for t in all_tasks(bench)}) >= 70  # distinct repositories


def test_config_is_validated():
    assert len(load_evaluator("repo-bugfix", variants=1, templates=["parser"]).tasks("dev")) <= 1
    with pytest.raises(ConfigError, match="unknown templates \\['nope'\\]"):
        load_evaluator("repo-bugfix", templates=["nope"])
    with pytest.raises(ConfigError, match="variants"):
        load_evaluator("repo-bugfix", variants=0)


def test_the_agent_never_sees_the_hidden_tests_or_the_fix():
    bench = RepoBugfix(variants=3)
    for task in all_tasks(bench):
        repo = bench.repo(task.id)
        seen = task.statement + "".join(task.files) + "".join(task.files.values())
        assert "HiddenChecks" not in seen and "clade_hidden" not in seen
        visible_cases = set(repo.visible.split("\n\n    def "))
        hidden_only = [c for c in repo.hidden.split("\n\n    def ")[1:] if c not in visible_cases]
        assert len(hidden_only) >= 3, task.id  # more cases than the visible ones
        for case in hidden_only:
            assert case.split(":\n", 1)[1] not in seen, (task.id, case)
        fixed_modules = repo.fixed_modules()
        for path in repo.fix:
            assert fixed_modules[path] != task.files[path] and fixed_modules[path] not in seen
            for _, new in repo.fix[path]:
                assert new not in task.files[path], (task.id, new)


def run_visible_tests(folder, files) -> int:
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    command = [sys.executable, "-m", "unittest", "discover", "-s", "tests"]
    return subprocess.run(command, cwd=folder, capture_output=True).returncode


def test_visible_tests_fail_on_the_bug_and_pass_with_the_fix(tmp_path):
    bench = RepoBugfix(variants=2)
    for i, task in enumerate(all_tasks(bench)):
        assert run_visible_tests(tmp_path / f"bug{i}", task.files) == 1, task.id
        assert run_visible_tests(tmp_path / f"fix{i}", bench.reference_outputs(task)) == 0, task.id


@pytest.fixture(scope="module")
def grader():
    """One fresh grading sandbox (no model socket), as `clade eval` and runs use."""
    from clade.orchestrator.config import settings
    from clade.orchestrator.evaluators.harness import SandboxGrader
    from clade.sandbox import DockerSandbox, SandboxConfig
    from clade.sandbox.images import build_agent_image

    config = SandboxConfig(image=build_agent_image(settings().base_image).tag, slots=1)
    with DockerSandbox(config) as box:
        yield SandboxGrader(box)


@pytest.mark.docker
def test_every_template_bug_fails_and_fix_passes_in_the_sandbox(grader):
    bench = RepoBugfix(variants=2)
    tasks = all_tasks(bench)
    assert len({t.id.rsplit("-", 2)[0] for t in tasks}) == len(TEMPLATES) == 8
    for task in tasks:
        bug = bench.score(task, task.files, grader)
        assert not bug.passed and bug.score < 1 and "hidden tests passed" in bug.detail, task.id
        fixed = bench.score(task, bench.reference_outputs(task), grader)
        assert fixed.passed and fixed.score == 1.0, (task.id, fixed.detail)


FAKE = 'CLADE_REPO_BUGFIX_RESULT {"run": 9, "failed": [], "error": ""}'


@pytest.mark.docker
def test_broken_or_cheating_work_fails_in_the_sandbox(grader):
    bench = RepoBugfix(variants=1, templates=["formatting"])
    task = all_tasks(bench)[0]
    module = next(p for p in task.files if p.endswith("clock.py"))
    fixed = bench.reference_outputs(task)
    cases = {
        "syntax error": ({**fixed, module: "def broken(:\n"}, "could not load the solution: SyntaxError"),
        "deleted module": ({p: t for p, t in fixed.items() if p != module}, "could not load the solution"),
        "exit at import": ({**fixed, module: "import sys\nsys.exit(0)\n"}, "could not load the solution"),
        "fake verdict, then leave": (
            {**fixed, module: f"print({FAKE!r})\nimport os\nos._exit(0)\n"}, "could not load the solution"
        ),
        "fake verdict at exit": (
            {module: task.files[module] + f"import atexit\natexit.register(print, {FAKE!r})\n"}, "2/6 hidden"
        ),
        "hang": ({**fixed, module: "while True:\n    pass\n"}, "timed out"),
        "edited tests only": ({**task.files, "tests/test_issue.py": "import unittest\n"}, "hidden tests passed"),
    }  # fmt: skip
    bench.config.timeout = 5
    for name, (outputs, detail) in cases.items():
        score = bench.score(task, outputs, grader)
        assert not score.passed and detail in score.detail, (name, score.detail)
