"""The embedded model on the transformers engine, through litellm (slow: loads a real model)."""

from __future__ import annotations

import threading

import pytest

from clade.orchestrator.config import settings
from clade.orchestrator.models import (
    MemorySink,
    ModelCallFailed,
    ModelLayer,
    ModelsConfig,
    get_engine,
    resolve_model,
)
from clade.orchestrator.models.embedded import gguf_path

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture
def layer(monkeypatch):
    monkeypatch.setenv("CLADE_LOCAL_BACKEND", "transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings.cache_clear()
    config = ModelsConfig.model_validate(
        {"default": {"model": "smollm2-135m", "max_tokens": 12}, "retry": {"max_retries": 0}}
    )
    yield ModelLayer(config, sink=MemorySink(), run_id="slow")
    settings.cache_clear()


def test_embedded_model_generates_text_through_litellm(layer):
    result = layer.complete(ASK)
    assert "Paris" in result.text
    assert (
        result.response["model"] == resolve_model("smollm2-135m") and result.model == "smollm2-135m"
    )
    assert 0 < result.completion_tokens <= 12 and result.prompt_tokens > 10
    [record] = layer.sink.records
    assert record.cost_usd == 0.0 and record.completion_tokens == result.completion_tokens


def test_engine_is_shared_and_batches_agree_with_single_calls(layer):
    solo = layer.complete(ASK, max_tokens=8).text
    engines = []
    texts = [""] * 3

    def call(i: int) -> None:
        engines.append(get_engine("transformers", str(gguf_path())))
        texts[i] = layer.complete(
            ASK if i == 0 else [{"role": "user", "content": f"Count to {i + 3}."}], max_tokens=8
        ).text

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in engines}) == 1
    assert texts[0] == solo and all(texts)
    assert max(engines[0]._worker.batch_sizes()) >= 2


def test_local_generation_honours_the_timeout(layer):
    config = {"default": {"model": "smollm2-135m", "timeout_s": 0.05}, "retry": {"max_retries": 0}}
    hurried = ModelLayer(ModelsConfig.model_validate(config), sink=layer.sink)
    with pytest.raises(ModelCallFailed) as info:
        hurried.complete([{"role": "user", "content": "Write a long essay."}], max_tokens=200)
    assert info.value.kind == "timeout"
    assert layer.sink.records[-1].error.startswith("timeout")
