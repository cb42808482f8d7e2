"""The standard, zero-shot-cot and conductor solvers on the generated benchmarks."""

from __future__ import annotations

from clade.orchestrator.conductor.solvers import extract_answer, make_solver, question_of, run_item
from clade.orchestrator.evaluators.registry import load_evaluator

from .conftest import Scripted, expert_turn, final


def sort_words(messages) -> str:
    """A model that sorts the words after the colon of the last user message."""
    text = messages[-1]["content"].split(": ", 1)[1].splitlines()[0]
    return "Sure.\nAnswer: " + " ".join(sorted(text.split()))


def test_question_drops_the_answer_file_note_and_answers_are_extracted():
    task = load_evaluator("word-sorting").tasks("test")[0]
    assert "answer.txt" in task.statement and "answer.txt" not in question_of(task)
    assert question_of(task).startswith("Sort these words")
    assert extract_answer("Let's see.\n**Answer:** -12.") == "-12"
    assert extract_answer("step 1\nstep 2\n(1 + 2) * 8") == "(1 + 2) * 8"
    assert extract_answer("So the answer is 15.") == "15"
    assert extract_answer("The answer is: Answer: b a") == "b a"
    assert extract_answer("Final Answer = a b c\n") == "a b c"
    assert extract_answer("  \n") is None


def test_direct_solvers_are_scored_by_the_evaluator(make_layer):
    evaluator = load_evaluator("word-sorting")
    task = evaluator.tasks("test")[0]
    for style in ("standard", "zero-shot-cot"):
        model = Scripted(fn=sort_words)
        result = run_item(evaluator, task, make_solver(style, make_layer(model)))
        assert result.passed and result.calls == 1 and result.tokens > 0, result
        assert ("step by step" in model.seen[0][-1]["content"]) == (style == "zero-shot-cot")
    wrong = run_item(
        evaluator, task, make_solver("standard", make_layer(Scripted(["Answer: b a"])))
    )
    assert not wrong.passed and "expected" in wrong.detail


def test_the_conductor_solver_on_game24(make_layer):
    evaluator = load_evaluator("game24")
    task = next(t for t in evaluator.tasks("test") if t.id == "24-1-1-1-8")
    conductor = Scripted([expert_turn(("Solver", "1 1 1 8 -> 24")), final("(1 + 1 + 1) * 8")])
    solver = make_solver("conductor", make_layer(conductor, Scripted(["(1+1+1)*8"])))
    result = run_item(evaluator, task, solver)
    assert result.passed and result.answer == "(1 + 1 + 1) * 8" and result.calls == 3
    silent = make_solver("conductor", make_layer(Scripted(fn=lambda m: "hmm")))
    from clade.orchestrator.conductor import ConductorSettings

    silent.settings = ConductorSettings(rounds=2)  # type: ignore[attr-defined]
    missed = run_item(evaluator, task, silent)
    assert not missed.passed and missed.answer is None and "missing" in missed.detail


def test_a_model_error_fails_the_item_with_its_reason(make_layer):
    evaluator = load_evaluator("multistep-arithmetic")
    task = evaluator.tasks("test")[0]
    empty = Scripted([])  # raises: the scripted model has no reply
    result = run_item(evaluator, task, make_solver("standard", make_layer(empty)))
    assert not result.passed and result.detail.startswith("error: ") and result.answer is None
