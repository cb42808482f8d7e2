"""The conductor loop with scripted models: dispatch, feedback, reminder, rounds, limits."""

from __future__ import annotations

from typing import Any, TypedDict

from clade.orchestrator.conductor import PromptSet, solve

from .conftest import RecordingPython, Scripted, expert_turn, final

PROMPTS = PromptSet.default()
FEEDBACK = PROMPTS.render("feedback")
REMINDER = PROMPTS.render("reminder")
LAST = PROMPTS.render("last_round")


def user_messages(conductor: Scripted) -> list[str]:
    """The last user message of each conductor call."""
    return [seen[-1]["content"] for seen in conductor.seen]


def test_one_block_is_one_call_that_sees_only_the_instruction(make_layer):
    conductor = Scripted([expert_turn(("Mathematician", "What is 6 * 7?")), final("42")])
    expert = Scripted(["6 * 7 = 42"])
    result = solve("What is 6 times 7?", make_layer(conductor, expert))
    assert result.answer == "42" and result.rounds == 2
    assert expert.seen == [
        [
            {"role": "system", "content": "You are Expert Mathematician."},
            {"role": "user", "content": "What is 6 * 7?"},
        ]
    ]
    assert result.calls == 3 and result.tokens > 0
    # The conductor itself keeps the whole history.
    assert [m["role"] for m in conductor.seen[1]] == ["system", "user", "assistant", "user"]
    assert "What is 6 times 7?" in conductor.seen[0][1]["content"]
    assert "Meta-Expert" in conductor.seen[0][0]["content"]


def test_two_blocks_are_two_calls_and_outputs_return_in_order(make_layer):
    conductor = Scripted(
        [expert_turn(("Alpha", "first task"), ("Beta", "second task")), final("done")]
    )
    expert = Scripted(fn=lambda messages: f"reply to {messages[-1]['content']}")
    result = solve("q", make_layer(conductor, expert))
    assert [seen[-1]["content"] for seen in expert.seen] == ["first task", "second task"]
    assert [seen[0]["content"] for seen in expert.seen] == [
        "You are Expert Alpha.",
        "You are Expert Beta.",
    ]
    back = user_messages(conductor)[1]
    alpha = back.index('Expert Alpha\'s output:\n"""\nreply to first task\n"""')
    beta = back.index('Expert Beta\'s output:\n"""\nreply to second task\n"""')
    assert alpha < beta < back.index(FEEDBACK)
    assert back.rstrip().endswith(FEEDBACK)
    assert result.answer == "done" and result.calls == 4


def test_final_answer_in_a_turn_that_calls_an_expert_does_not_stop(make_layer):
    conductor = Scripted(
        [expert_turn(("Checker", "Is 41 right?"), extra="\n" + final("41")), final("42")]
    )
    expert = Scripted(["No, it is 42."])
    result = solve("q", make_layer(conductor, expert))
    assert len(expert.seen) == 1 and result.answer == "42" and result.rounds == 2
    assert "No, it is 42." in user_messages(conductor)[1]


def test_a_turn_with_neither_gets_the_format_reminder(make_layer):
    conductor = Scripted(["I think the answer is 4.", final("4")])
    result = solve("q", make_layer(conductor))
    assert result.answer == "4" and result.calls == 2
    assert user_messages(conductor)[1] == f"ROUND 2:\n\n{REMINDER}"


def test_rounds_are_labelled_and_the_last_round_is_announced(make_layer):
    conductor = Scripted(
        [expert_turn(("A", "x")), "thinking...", expert_turn(("B", "y")), final("z")]
    )
    expert = Scripted(["ok", "ok"])
    result = solve("q", make_layer(conductor, expert), rounds=4)
    sent = user_messages(conductor)
    assert [s.split("\n", 1)[0] for s in sent] == ["ROUND 1:", "ROUND 2:", "ROUND 3:", "ROUND 4:"]
    assert [LAST in s for s in sent] == [False, False, False, True]
    assert sent[-1].rstrip().endswith(LAST) and result.answer == "z"


def test_past_the_round_limit_there_is_no_answer(make_layer):
    conductor = Scripted(fn=lambda messages: "Still thinking.")
    result = solve("q", make_layer(conductor), rounds=3)
    assert result.answer is None and result.rounds == 3 and result.calls == 3
    # Expert calls in the last round are not dispatched: nothing could read their replies.
    conductor = Scripted([expert_turn(("A", "x")), expert_turn(("B", "y"), extra=final("1"))])
    expert = Scripted(["ok"])
    result = solve("q", make_layer(conductor, expert), rounds=2)
    assert result.answer is None and len(expert.seen) == 1 and result.calls == 3


def test_expert_python_code_goes_to_the_interpreter_and_its_output_back(make_layer):
    fence = "```"
    conductor = Scripted([expert_turn(("Python", "compute"), ("Critic", "check")), final("24")])
    expert = Scripted(
        [f"{fence}python\nprint(4 * 6)\n{fence}\nPlease run this code!", "looks fine"]
    )
    python = RecordingPython()
    result = solve("q", make_layer(conductor, expert), python=python)
    assert python.codes == ["print(4 * 6)"]
    assert "Expert Python" in expert.seen[0][0]["content"]
    assert "Please run this code!" in expert.seen[0][0]["content"]
    back = user_messages(conductor)[1]
    assert "Here is the output of the code when executed:\n\n24" in back
    assert back.index("24\n") < back.index("Expert Critic's output")
    assert "Expert Python" in conductor.seen[0][0]["content"]
    assert [s["kind"] for s in result.steps].count("python") == 1


def test_without_an_interpreter_the_meta_prompt_leaves_expert_python_out(make_layer):
    conductor = Scripted([final("1")])
    solve("q", make_layer(conductor))
    assert "Expert Python" not in conductor.seen[0][0]["content"]


class Outer(TypedDict, total=False):
    """A parent graph's state that shares the conductor's keys."""

    messages: list[Any]
    steps: list[Any]
    next_message: str
    round: int
    calls: int
    tokens: int
    pending: list[Any]
    answer: Any
    status: str


def test_the_graph_embeds_as_a_subgraph(make_layer):
    from langgraph.graph import END, START, StateGraph

    from clade.orchestrator.conductor import (
        ConductorSettings,
        build_conductor_graph,
        initial_state,
    )

    conductor = Scripted([final("7")])
    inner = build_conductor_graph(make_layer(conductor))

    outer = StateGraph(Outer)
    outer.add_node("conduct", inner)
    outer.add_edge(START, "conduct")
    outer.add_edge("conduct", END)
    start = initial_state(
        "q", settings=ConductorSettings(), prompts=PromptSet.default(), python=False
    )
    done = outer.compile().invoke(start)
    assert done["answer"] == "7" and done["status"] == "answered"
