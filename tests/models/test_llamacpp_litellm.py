"""Real generation through litellm and Clade's model layer, on llama.cpp and transformers."""

from __future__ import annotations

import time

import pytest

from clade.orchestrator.models import MemorySink, ModelCallFailed, ModelLayer, ModelsConfig
from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.routing import close_engines

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module", autouse=True)
def _free_engines():
    yield
    close_engines()


def layer_for(model: str, **spec) -> ModelLayer:
    config = ModelsConfig.model_validate(
        {"default": {"model": model, **spec}, "retry": {"max_retries": 0}}
    )
    return ModelLayer(config, sink=MemorySink(), run_id="run-local")


def llamacpp() -> str:
    return f"llamacpp/{gguf_path()}"


@pytest.mark.parametrize("engine", ["llamacpp", "transformers"])
def test_greedy_generation_through_litellm_is_metered(engine):
    layer = layer_for(
        f"{engine}/{gguf_path()}",
        engine_options={} if engine == "transformers" else {"n_parallel": 2, "n_ctx": 512},
    )
    first = layer.complete(QUESTION, max_tokens=12, temperature=0)
    again = layer.complete(QUESTION, max_tokens=12, temperature=0)
    text = first.response["choices"][0]["message"]["content"]
    assert text.strip() and text == again.response["choices"][0]["message"]["content"]
    usage = first.response["usage"]
    [record, _] = layer.sink.records
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert 0 < usage["completion_tokens"] <= 12 and record.cost_usd == 0.0
    # Both engines apply SmolLM2's own template (with its default system prompt) and
    # tokenizer: the same 37 tokens. Their greedy answers may differ: llama.cpp computes
    # with the Q4_1 weights, transformers with them dequantised to fp32.
    assert usage["prompt_tokens"] == 37


def test_sampling_parameters_reach_llama_cpp():
    layer = layer_for(llamacpp(), engine_options={"n_parallel": 2, "n_ctx": 512})

    def text(**params) -> str:
        return layer.complete(QUESTION, **params).response["choices"][0]["message"]["content"]

    sampled = dict(max_tokens=16, temperature=1.3)
    assert text(**sampled, seed=11) == text(**sampled, seed=11)
    assert len({text(**sampled, seed=seed) for seed in (1, 2, 3)}) > 1
    greedy = text(max_tokens=16, temperature=0)
    word = greedy.split()[2]
    assert text(max_tokens=16, temperature=0, stop=[word]) == greedy[: greedy.index(word)]


def test_timeout_cancels_the_generation_and_frees_the_slot():
    """A single slot: the timed-out call must stop generating, or the next one waits."""
    story = [{"role": "user", "content": "Tell me a long story about a dragon."}]
    options = {"n_parallel": 1, "n_ctx": 512}
    patient = layer_for(llamacpp(), engine_options=options, max_tokens=200)
    began = time.perf_counter()
    assert patient.complete(story).response["usage"]["completion_tokens"] == 200
    full_s = time.perf_counter() - began

    hasty = layer_for(llamacpp(), engine_options=options, max_tokens=200, timeout_s=full_s / 10)
    began = time.perf_counter()
    with pytest.raises(ModelCallFailed, match="timeout"):
        hasty.complete(story)
    assert patient.complete(QUESTION, max_tokens=4).response["usage"]["completion_tokens"] == 4
    assert time.perf_counter() - began < full_s / 2
