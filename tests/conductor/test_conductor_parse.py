"""Reading conductor turns and Expert Python's run requests."""

from __future__ import annotations

from clade.orchestrator.conductor import code_to_run, parse_turn

Q = '"""'
F = "```"


def test_expert_calls_in_order_with_their_names():
    text = (
        f"Plan.\nExpert Mathematician:\n{Q}\nCompute 2+2.\n{Q}\n"
        f"Then Expert Puzzle Solver: {Q}Check it.{Q}\n"
        f"Expert Python:\n\n{Q}\nprint(4)\n{Q}"
    )
    turn = parse_turn(text)
    assert [(c.name, c.instruction) for c in turn.experts] == [
        ("Expert Mathematician", "Compute 2+2."),
        ("Expert Puzzle Solver", "Check it."),
        ("Expert Python", "print(4)"),
    ]
    assert turn.experts[2].is_python and not turn.experts[0].is_python
    assert turn.final_answer is None


def test_final_answer_block_is_not_an_expert_call():
    turn = parse_turn(f"Done, says Expert Checker\n>> FINAL ANSWER:\n{Q}\n  42 \n{Q}")
    assert turn.experts == [] and turn.final_answer == "42"
    both = parse_turn(f"Expert A:\n{Q}\nverify 42\n{Q}\n>> FINAL ANSWER:\n{Q}\n42\n{Q}")
    assert [c.name for c in both.experts] == ["Expert A"] and both.final_answer == "42"


def test_unclosed_or_empty_blocks_and_other_words_are_not_calls():
    assert parse_turn(f"Expert Mathematician:\n{Q}\nno end").experts == []
    assert parse_turn(f"Expert Mathematician:\n{Q}{Q}").experts == []
    assert parse_turn(f"Meta-Expert Thinker:\n{Q}\nx\n{Q}").experts == []
    assert parse_turn("I will ask an expert later.").final_answer is None


def test_code_to_run_takes_the_last_python_block_before_the_request():
    reply = (
        f"{F}python\nprint(1)\n{F}\n{F}bash\nls\n{F}\n{F}python\nprint(2)\n{F}\n"
        f"please RUN this code!\n{F}python\nprint(3)\n{F}\nPlease run this code!"
    )
    assert code_to_run(reply) == "print(2)"
    assert code_to_run(f"{F}\nprint(5)\n{F}\nPlease run this code!") == "print(5)"
    assert code_to_run(f"{F}python\nprint(1)\n{F}\nHere it is.") is None
    assert code_to_run("Please run this code!") is None
