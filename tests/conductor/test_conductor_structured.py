"""Structured conductor turns: JSON under a grammar, read leniently, switched by a setting."""

from __future__ import annotations

import json

from clade.orchestrator.conductor import ConductorSettings, solve
from clade.orchestrator.conductor.structured import (
    close_json,
    load_object,
    parse_structured_turn,
    turn_format,
)
from clade.orchestrator.models.scripted import script_calls

from .conftest import RecordingPython, Scripted, expert_turn, final


def calls(*experts: dict[str, str]) -> str:
    return json.dumps({"experts": list(experts)})


def answer(text: str) -> str:
    return json.dumps({"final_answer": text})


def test_a_structured_turn_is_read_as_expert_calls_or_a_final_answer():
    turn = parse_structured_turn(calls({"name": "Mathematician", "instruction": " 6 * 7? "}))
    assert turn is not None and turn.final_answer is None
    assert [(c.name, c.instruction) for c in turn.experts] == [("Expert Mathematician", "6 * 7?")]
    names = parse_structured_turn(
        calls(
            *(
                {"name": n, "instruction": "x"}
                for n in ("Expert", "expert  python", "Expert Critic")
            )
        )
    )
    assert names is not None and [c.name for c in names.experts] == [
        "Expert", "Expert python", "Expert Critic",
    ]  # fmt: skip
    assert names.experts[1].is_python
    assert parse_structured_turn(answer(" 42 ")).final_answer == "42"  # type: ignore[union-attr]
    both = parse_structured_turn(
        json.dumps({"experts": [{"name": "Expert A", "instruction": "x"}], "final_answer": "1"})
    )
    assert both is not None and len(both.experts) == 1  # expert calls come before the answer
    empty = parse_structured_turn(
        calls({"name": " ", "instruction": "x"}, {"name": "B", "instruction": ""})
    )
    assert empty is not None and not empty.experts and empty.final_answer is None
    assert parse_structured_turn("Expert A: ...") is None and parse_structured_turn("[1]") is None


def test_code_is_kept_for_expert_python_only_when_a_sandbox_can_run_it():
    text = calls(
        {"name": "Expert Python", "instruction": "compute", "code": "print(4 * 6)"},
        {"name": "Expert Critic", "instruction": "check", "code": "import os"},
    )
    with_sandbox = parse_structured_turn(text, python=True)
    assert with_sandbox is not None
    assert [c.code for c in with_sandbox.experts] == ["print(4 * 6)", None]
    without = parse_structured_turn(text, python=False)
    assert without is not None and [c.code for c in without.experts] == [None, None]
    assert "code" in str(turn_format(python=True)) and "code" not in str(turn_format(python=False))


def test_a_reply_cut_by_max_tokens_keeps_what_was_written():
    cut = '{"experts": [{"name": "Expert Checker", "instruction": "Is 41 the answer? Say \\"'
    assert load_object(cut) == {
        "experts": [{"name": "Expert Checker", "instruction": 'Is 41 the answer? Say "'}]
    }
    # Cut after a key: backed off to the last complete value.
    assert load_object('{"experts": [{"name": "Expert A", "instruction": "x"}, {"name"') == {
        "experts": [{"name": "Expert A", "instruction": "x"}]
    }
    assert close_json('{"a": ["b", {"c": "d') == '{"a": ["b", {"c": "d"}]}'
    assert load_object('{"final_answer": "4') == {"final_answer": "4"}
    assert load_object("no json") is None and load_object('{"a": ') is None


def test_on_a_grammar_engine_turns_decode_under_the_schema_by_default(make_layer):
    conductor = Scripted(
        [calls({"name": "Expert Mathematician", "instruction": "6 * 7?"}), answer("42")]
    )
    expert = Scripted(["6 * 7 = 42"])
    layer = make_layer(conductor, expert, grammar=True)
    result = solve("What is 6 times 7?", layer, rounds=4)
    assert result.answer == "42" and result.calls == 3
    assert expert.seen[0][-1]["content"] == "6 * 7?"  # the expert's call is plain text
    system = conductor.seen[0][0]["content"]
    assert '{"final_answer": "[final answer]"}' in system and ">> FINAL ANSWER" not in system
    name = layer.config.for_role("conductor").model.split("/", 1)[1]
    schemas = [c.json_schema for c in script_calls(name)]
    assert schemas == [turn_format(python=False)["json_schema"]["schema"]] * 2
    said = [s for s in result.steps if s.get("role") == "assistant"]
    assert [s["format"] for s in said] == ["json", "json"]
    assert [s["turn"] for s in said] == [
        {"experts": 1, "answer": False},
        {"experts": 0, "answer": True},
    ]


def test_the_setting_turns_structure_off_and_on(make_layer):
    conductor = Scripted([expert_turn(("A", "x")), final("1")])
    layer = make_layer(conductor, Scripted(["ok"]), grammar=True)
    off = solve("q", layer, settings=ConductorSettings(rounds=3, structured="off"))
    assert off.answer == "1" and ">> FINAL ANSWER" in conductor.seen[0][0]["content"]
    name = layer.config.for_role("conductor").model.split("/", 1)[1]
    assert all(c.json_schema is None for c in script_calls(name))
    # "on" asks for the format even where the engine cannot enforce it (an API model) ...
    api = Scripted([answer("2")])
    plain = make_layer(api)
    on = solve("q", plain, settings=ConductorSettings(rounds=3, structured="on"))
    assert on.answer == "2"
    plain_name = plain.config.for_role("conductor").model.split("/", 1)[1]
    assert script_calls(plain_name)[0].json_schema is not None
    # ... and "auto" leaves a model without a grammar on text turns.
    text = Scripted([final("3")])
    assert solve("q", make_layer(text), rounds=2).answer == "3"
    assert ">> FINAL ANSWER" in text.seen[0][0]["content"]


def test_a_model_that_ignores_the_format_is_read_by_the_text_conventions(make_layer):
    conductor = Scripted([expert_turn(("A", "x")), "no idea", final("5")])
    expert = Scripted(["ok"])
    result = solve("q", make_layer(conductor, expert), settings=ConductorSettings(structured="on"))
    assert result.answer == "5" and len(expert.seen) == 1
    # The turn with neither got the structured reminder.
    assert '{"final_answer": "[final answer]"}' in conductor.seen[2][-1]["content"]


def test_code_in_a_turn_runs_without_an_expert_call(make_layer):
    turn = calls(
        {"name": "Expert Python", "instruction": "4 times 6", "code": "print(4 * 6)"},
        {"name": "Expert Critic", "instruction": "Is 4 * 6 = 24?"},
    )
    conductor = Scripted([turn, answer("24")])
    expert = Scripted(["Yes."])
    python = RecordingPython()
    result = solve("q", make_layer(conductor, expert, grammar=True), python=python)
    assert python.codes == ["print(4 * 6)"] and result.answer == "24"
    assert [m[0]["content"] for m in expert.seen] == ["You are Expert Critic."]
    back = conductor.seen[1][-1]["content"]
    assert (
        'Expert Python\'s output:\n"""\nHere is the output of the code when executed:\n\n24' in back
    )
    assert back.index("24") < back.index("Expert Critic's output")
    assert "print(17 * 23 - 4)" in conductor.seen[0][0]["content"]  # the prompt shows how


def test_in_the_last_round_only_a_final_answer_fits_the_schema(make_layer):
    conductor = Scripted([calls({"name": "Expert A", "instruction": "x"}), answer("7")])
    layer = make_layer(conductor, Scripted(["ok"]), grammar=True)
    result = solve("q", layer, rounds=2)
    name = layer.config.for_role("conductor").model.split("/", 1)[1]
    schemas = [c.json_schema for c in script_calls(name)]
    assert schemas[0] == turn_format(python=False)["json_schema"]["schema"]
    assert schemas[1] == {
        "type": "object",
        "properties": {"final_answer": {"type": "string", "minLength": 1, "maxLength": 400}},
        "required": ["final_answer"],
    }
    assert result.answer == "7" and result.rounds == 2


def test_clade_solve_switches_structured_turns(clade_home):
    import uuid

    from typer.testing import CliRunner

    from clade.orchestrator.cli import app
    from clade.orchestrator.home import open_archive
    from clade.orchestrator.models.scripted import register_script

    tag = uuid.uuid4().hex[:8]
    grammar = register_script(f"cli-json-{tag}", Scripted([answer("42")]), grammar=True)
    result = CliRunner().invoke(app, ["solve", "6 * 7?", "--model", grammar, "--no-python"])
    assert result.exit_code == 0, result.output
    assert "42" in result.output.splitlines() and "JSON turns, 1 of 1 well formed" in result.output
    text = register_script(f"cli-text-{tag}", Scripted([final("41")]), grammar=True)
    args = ["solve", "6 * 7?", "--model", text, "--no-python", "--no-structured"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "text turns, 1 of 1 well formed" in result.output
    with open_archive() as archive:
        runs = [r for r in archive.list_runs() if r.kind == "conductor"]
        modes = [archive.get_run(r.id).config["settings"]["structured"] for r in runs]
        assert sorted(modes) == ["auto", "off"]
