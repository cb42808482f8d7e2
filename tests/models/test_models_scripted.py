"""Scripted models through litellm, and roles mapped to models with their own parameters."""

from __future__ import annotations

import json

import pytest

from clade.orchestrator.models import (
    MemorySink,
    ModelLayer,
    ModelsConfig,
    ScriptError,
    register_script,
)
from clade.orchestrator.models.spec import ModelSpec

ASK = [{"role": "user", "content": "what is 2+2?"}]


def shout(messages):
    return messages[-1]["content"].upper()


def test_replies_come_in_order_then_a_typed_error():
    model = register_script("t-order", ["one", "two"])
    layer = ModelLayer(ModelsConfig(default=ModelSpec(model=model)))
    assert [layer.complete(ASK).text for _ in range(2)] == ["one", "two"]
    with pytest.raises(ScriptError, match="no reply left"):
        layer.complete(ASK)


def test_script_file_rules_win_over_replies(tmp_path):
    path = tmp_path / "script.yaml"
    path.write_text(
        "rules:\n  - {when: '2\\+2', reply: '4'}\nreplies: [first]\ndefault: fallback\n"
    )
    layer = ModelLayer(ModelsConfig(default=ModelSpec(model=f"scripted/{path}")))
    other = [{"role": "user", "content": "hello"}]
    assert layer.complete(ASK).text == "4"
    assert [layer.complete(other).text for _ in range(2)] == ["first", "fallback"]


def test_json_list_file_and_import_path(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(["from json"]))
    layer = ModelLayer()
    assert layer.complete(ASK, model=f"scripted/{path}").text == "from json"
    assert layer.complete(ASK, model=f"scripted/{__name__}:shout").text == "WHAT IS 2+2?"


def test_missing_script_is_a_clear_error():
    with pytest.raises(ScriptError, match="no scripted model"):
        ModelLayer().complete(ASK, model="scripted/never-registered")


def test_stop_strings_cut_scripted_replies():
    model = register_script("t-stop", ["answer: 4\nmore text"])
    assert ModelLayer().complete(ASK, model=model, stop=["\n"]).text == "answer: 4"


def test_roles_map_to_models_with_their_own_parameters():
    seen: list[dict] = []

    def record(messages):
        seen.append(messages)
        return "judged"

    register_script("t-judge", record)
    register_script("t-agent", ["coded"])
    config = ModelsConfig.model_validate(
        {
            "default": "scripted/t-agent",
            "roles": {"judge": {"model": "scripted/t-judge", "temperature": 0.7, "max_tokens": 9}},
        }
    )
    sink = MemorySink()
    layer = ModelLayer(config, sink=sink, run_id="r")
    assert layer.complete(ASK, role="judge").text == "judged"
    assert layer.complete(ASK, role="agent").text == "coded"
    assert config.for_role("judge").sampling() == {
        "temperature": 0.7,
        "top_p": 1.0,
        "max_tokens": 9,
    }
    assert [(r.role, r.model) for r in sink.records] == [
        ("judge", "scripted/t-judge"),
        ("agent", "scripted/t-agent"),
    ]


def test_unknown_role_and_parameter_are_rejected():
    with pytest.raises(ValueError):
        ModelsConfig.model_validate({"roles": {"janitor": "scripted/x"}})
    from clade.archive.errors import ConfigError

    with pytest.raises(ConfigError):
        ModelLayer().complete(ASK, model="scripted/t-order", frequency_penalty=1.0)
