"""Locally generated tasks: Game of 24, word sorting, multistep arithmetic."""

from __future__ import annotations

import re

import pytest

from clade.orchestrator.evaluators.generated import (
    Game24,
    MultistepArithmetic,
    WordSorting,
    solvable_24,
)

NO_GRADER = None  # these evaluators score on the host and never call a grader


def test_game24_has_every_solvable_puzzle_and_only_those():
    puzzles = solvable_24()
    assert (1, 1, 1, 1) not in puzzles and (1, 2, 3, 4) in puzzles and (3, 3, 8, 8) in puzzles
    assert len(puzzles) == 1362  # the well-known count of solvable hands from 1..13
    game = Game24()
    assert len(game.tasks("dev")) + len(game.tasks("test")) == len(puzzles)


@pytest.mark.parametrize(
    ("answer", "passed", "detail"),
    [
        ("8 / (3 - 8 / 3)", True, ""),
        ("8/(3-8/3) = 24", True, ""),
        ("3 * 8", False, "uses [3, 8]"),
        ("8 * 3 + 3 - 3 + 8 - 8", False, "uses"),
        ("(8 + 8) * 3 / 3", False, "equals 16"),
        ("__import__('os')", False, "not a valid expression"),
        ("-3 + 3 + 8 * 3 + 8 - 8", False, "not a valid expression"),
        ("(8 + 8) / (3 - 3)", False, "division by zero"),
    ],
)
def test_game24_checks_functionally(answer, passed, detail):
    score = Game24().score(
        Game24().tasks("dev")[0].model_copy(update={"id": "24-3-3-8-8"}),
        {"answer.txt": answer},
        NO_GRADER,
    )
    assert score.passed is passed and detail in score.detail


def test_seeded_tasks_are_reproducible_and_scored_exactly():
    words = WordSorting(n=20, seed=7)
    task = words.tasks("dev")[0]
    listed = task.statement.split(": ", 1)[1].split("\n")[0].split()
    assert words.score(
        task, {"answer.txt": " ".join(sorted(listed)).upper() + "\n"}, NO_GRADER
    ).passed
    assert not words.score(task, {"answer.txt": " ".join([*listed[::-1], "x"])}, NO_GRADER).passed
    assert [t.statement for t in WordSorting(n=20, seed=7).tasks("dev")] == [
        t.statement for t in words.tasks("dev")
    ]
    assert [t.statement for t in WordSorting(n=20, seed=8).tasks("dev")] != [
        t.statement for t in words.tasks("dev")
    ]


def test_multistep_arithmetic_answers_match_python():
    arith = MultistepArithmetic(n=30, seed=1)
    for task in arith.tasks("dev") + arith.tasks("test"):
        expression = re.search(r"Compute (.*)\. Answer", task.statement).group(1)
        assert arith.score(task, {"answer.txt": str(eval(expression))}, NO_GRADER).passed
        assert not arith.score(task, {"answer.txt": str(eval(expression) + 1)}, NO_GRADER).passed
    assert not arith.score(arith.tasks("dev")[0], {}, NO_GRADER).passed


def test_difficulty_levels_change_the_tasks_and_keep_the_defaults():
    from clade.archive.errors import ConfigError
    from clade.orchestrator.evaluators.registry import load_evaluator

    # Smaller hands: 111 solvable triples from 1..13, 5 pairs (3 8, 4 6, 2 12, 11 13, 12 12).
    assert len(solvable_24(3, 13)) == 111 and len(solvable_24(2, 13)) == 5
    easy = load_evaluator("game24", numbers=3)
    assert len(easy.tasks("dev")) + len(easy.tasks("test")) == 111
    assert all(len(t.id.split("-")) == 4 for t in easy.tasks("dev"))
    # Fewer, shorter words; shallower expressions.
    words = load_evaluator("word-sorting", n=30, min_words=3, max_words=3, max_syllables=1)
    for task in words.tasks("dev"):
        listed = task.statement.split(": ", 1)[1].split("\n")[0].split()
        assert len(listed) == 3 and all(len(w) == 2 for w in listed)
    shallow = load_evaluator("multistep-arithmetic", depth=1)
    assert all(
        re.fullmatch(r"Compute -?\d+ [-+*] -?\d+\. Answer.*", t.statement.split("\n")[0])
        for t in shallow.tasks("dev")
    )
    # The defaults are the standard tasks: same ids, same statements as a default instance.
    assert load_evaluator("word-sorting").tasks("dev") == WordSorting().tasks("dev")
    assert WordSorting().config.min_words == 5 and WordSorting().config.max_words == 12
    with pytest.raises(ConfigError, match="min_words"):
        load_evaluator("word-sorting", min_words=6, max_words=5)
    with pytest.raises(ConfigError):
        load_evaluator("game24", numbers=5)


@pytest.mark.parametrize(
    "make, problem",
    [
        # 16 one-word and 136 two-word problems in all: a small level draws them again and again
        (lambda: WordSorting(n=400, min_words=1, max_words=2, max_syllables=1),
         lambda t: " ".join(sorted(t.statement.split(": ", 1)[1].split("\n")[0].split()))),
        (lambda: MultistepArithmetic(n=400, depth=1, max_number=3),
         lambda t: t.statement.split("\n")[0]),
    ],
)  # fmt: skip
def test_a_held_out_problem_is_never_a_dev_problem_and_none_is_counted_twice(make, problem):
    bench = make()
    dev, test = bench.tasks("dev"), bench.tasks("test")
    dev_problems, test_problems = [problem(t) for t in dev], [problem(t) for t in test]
    assert len(set(dev_problems)) == len(dev_problems) and len(set(test_problems)) == len(test)
    assert not set(dev_problems) & set(test_problems)
    assert dev and test and len(dev) + len(test) < 400  # repeats were drawn, and dropped
    if isinstance(bench, WordSorting):  # the answer is still recomputed from the kept draw's id
        for task in test[:5]:
            assert bench.score(task, {"answer.txt": problem(task)}, NO_GRADER).passed
