"""The ``judge`` evaluator: registry wiring, tasks, and pairwise scores in both orders."""

from __future__ import annotations

import json

import pytest

from clade.orchestrator.evaluators.base import Evaluator, Task, Verdict
from clade.orchestrator.judges.evaluator import JudgeEvaluator


class _NoGrader:
    def check(self, files, tests, *, timeout):  # pragma: no cover - must never be called
        raise AssertionError("the judge evaluator runs nothing")


def _evaluator(tmp_path, scripted_name, fake, reference="plain", **options):
    rows = [
        {"id": f"t{i}", "question": f"What is {i}?", "reference": f"{reference} {i}"}
        for i in range(20)
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from clade.orchestrator.evaluators.registry import load_evaluator

    return load_evaluator("judge", model=scripted_name(fake), tasks_file=str(path), **options)


def test_the_judge_model_defaults_to_the_configured_default_model(clade_home, monkeypatch):
    from clade.orchestrator.config import settings
    from clade.orchestrator.models.spec import ModelsConfig

    monkeypatch.setenv("CLADE_DEFAULT_MODEL", "scripted/somewhere:reply")
    settings.cache_clear()
    assert JudgeEvaluator()._model() == "scripted/somewhere:reply"
    assert ModelsConfig().default.model == "scripted/somewhere:reply"  # a run's unset roles
    assert JudgeEvaluator(JudgeEvaluator.Config(model="other"))._model() == "other"


def test_registry_builds_it_from_validated_options(tmp_path, scripted_name, fake):
    bench = _evaluator(tmp_path, scripted_name, fake, limit=10)
    assert isinstance(bench, JudgeEvaluator) and isinstance(bench, Evaluator)
    assert bench.config.limit == 10 and bench.config.method == "vanilla"
    dev, test = bench.tasks("dev"), bench.tasks("test")
    assert len(dev) + len(test) == 10 and not {t.id for t in dev} & {t.id for t in test}
    assert "answer.md" in dev[0].statement
    assert JudgeEvaluator().config.model is None  # defaults without an argument
    from clade.archive.errors import ConfigError
    from clade.orchestrator.evaluators.registry import load_evaluator

    with pytest.raises(ConfigError):
        load_evaluator("judge", method="sometimes")


def test_scores_in_both_orders(tmp_path, scripted_name, fake, new_fake):
    bench = _evaluator(tmp_path, scripted_name, fake)
    task = Task(id="t1", statement="What is 1?")
    won = bench.score(task, {"answer.md": "GOOD one"}, _NoGrader())
    assert (won.score, won.passed) == (1.0, True) and "agent's answer in both" in won.detail
    assert bench.score(task, {}, _NoGrader()).detail == "answer.md is missing or empty"
    biased = new_fake()
    biased.vanilla = "biased"
    split = _evaluator(tmp_path, scripted_name, biased, method="selective")
    half = split.score(task, {"answer.md": "mine"}, _NoGrader())
    # selective's LWE path says A both times: a position-bound verdict is no evidence
    assert (half.score, half.passed) == (0.0, False) and "no evidence" in half.detail
    lost = _evaluator(tmp_path, scripted_name, new_fake(), reference="GOOD")
    beaten = lost.score(task, {"answer.md": "weak"}, _NoGrader())
    assert beaten.score == 0.0 and "reference in both" in beaten.detail
    assert Verdict(tests_run=1).passed  # the protocol types stay importable


def test_default_tasks_are_humaneval_problems():
    bench = JudgeEvaluator(JudgeEvaluator.Config(limit=6))
    tasks = bench.tasks("dev") + bench.tasks("test")
    assert len(tasks) == 6 and all("solution.py" in t.files for t in tasks)
