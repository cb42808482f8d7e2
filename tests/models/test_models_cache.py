"""Record/replay: a recorded run replays without calling any model; a miss names the request."""

from __future__ import annotations

import pytest

from clade.orchestrator.models import (
    CacheConfig,
    MemorySink,
    ModelLayer,
    ModelsConfig,
    ReplayMiss,
    register_script,
    request_hash,
)
from clade.orchestrator.models.spec import ModelSpec


def _layer(path, mode, model, sink=None):
    config = ModelsConfig(default=ModelSpec(model=model), cache=CacheConfig(mode=mode, path=path))
    return ModelLayer(config, sink=sink)


def _run(layer):
    """A tiny 'run': the same question twice (sampled answers differ), then another one."""
    q = [{"role": "user", "content": "pick a number"}]
    r = [{"role": "user", "content": "and a colour"}]
    return [
        layer.complete(q, temperature=0.9).text,
        layer.complete(q, temperature=0.9).text,
        layer.complete(r).text,
    ]


def test_replay_reproduces_a_recorded_run_without_calling_the_model(tmp_path):
    calls: list[str] = []

    def model(messages):
        calls.append(messages[-1]["content"])
        return f"answer {len(calls)}"

    name = register_script("t-cache", model)
    db = tmp_path / "cache.sqlite"
    recorded = _run(_layer(db, "record", name))
    assert recorded == ["answer 1", "answer 2", "answer 3"] and len(calls) == 3

    sink = MemorySink()
    replayed = _run(_layer(db, "replay", name, sink))
    assert replayed == recorded
    assert len(calls) == 3, "replay must not call the model"
    assert all(r.cached for r in sink.records) and sink.records[0].completion_tokens == 2


def test_replay_miss_names_the_request_hash(tmp_path):
    name = register_script("t-miss", ["x"])
    layer = _layer(tmp_path / "empty.sqlite", "replay", name)
    messages = [{"role": "user", "content": "never recorded"}]
    expected = request_hash(name, messages, ModelSpec(model=name).sampling())
    with pytest.raises(ReplayMiss) as info:
        layer.complete(messages)
    assert info.value.request_hash == expected and expected in str(info.value)


def test_request_hash_is_stable_and_sensitive():
    m = [{"role": "user", "content": "a"}]
    assert request_hash("x", m, {"temperature": 0, "max_tokens": 5}) == request_hash(
        "x", m, {"max_tokens": 5, "temperature": 0.0}
    )
    assert request_hash("x", m, {"temperature": 0}) != request_hash("y", m, {"temperature": 0})
    assert request_hash("x", m, {"temperature": 0}) != request_hash("x", m, {"temperature": 0.5})


def test_cache_modes_need_a_path():
    with pytest.raises(ValueError, match="needs a path"):
        CacheConfig(mode="record")
