"""Structured output: an OpenAI-style response_format becomes a llama.cpp JSON-schema grammar."""

from __future__ import annotations

import json

import pytest

from clade.orchestrator.models.engine import SamplingParams
from clade.orchestrator.models.llamacpp_wire import build_request
from clade.orchestrator.models.provider import _schema

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


@pytest.mark.parametrize(
    ("response_format", "schema"),
    [
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}, SCHEMA),
        ({"type": "json_object"}, {"type": "object"}),
        ({"type": "text"}, None),
        (None, None),
    ],
)
def test_response_format_maps_to_a_schema(response_format, schema):
    assert _schema(response_format) == schema


def test_the_schema_reaches_llama_cpp():
    assert (
        build_request([{"role": "user", "content": "hi"}], SamplingParams(json_schema=SCHEMA))[
            "json_schema"
        ]
        == SCHEMA
    )
    assert "json_schema" not in build_request([{"role": "user", "content": "hi"}], SamplingParams())


@pytest.mark.slow
def test_the_embedded_model_answers_in_the_schema_on_llama_cpp(monkeypatch):
    monkeypatch.setenv("CLADE_LOCAL_BACKEND", "llamacpp")
    from clade.orchestrator.config import settings

    settings.cache_clear()
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.spec import ModelsConfig

    layer = ModelLayer(
        ModelsConfig.model_validate({"default": {"model": "smollm2-135m", "max_tokens": 64}})
    )
    reply = layer.complete(
        [{"role": "user", "content": "Give me a number."}],
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA}},
    )
    settings.cache_clear()
    assert isinstance(json.loads(reply.text)["a"], int)
