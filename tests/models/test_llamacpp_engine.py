"""The llama.cpp engine generating with the embedded SmolLM2 GGUF: sampling, usage, slots."""

from __future__ import annotations

import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import httpx
import pytest

from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.engine import LocalEngine, SamplingParams
from clade.orchestrator.models.llamacpp import LlamaCppError, load_engine

pytestmark = pytest.mark.slow

N_CTX = 512
QUESTION = [{"role": "user", "content": "Write a short poem about the sea."}]
SMOLLM_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@pytest.fixture(scope="module")
def engine():
    with load_engine(gguf_path(), n_parallel=4, n_ctx=N_CTX) as loaded:  # default threads
        yield loaded


def greedy(max_tokens: int = 24, **extra) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0.0, **extra)


def test_is_a_local_engine_named_after_its_file(engine):
    assert isinstance(engine, LocalEngine)
    assert engine.name == f"llamacpp/{gguf_path().resolve()}"


def test_greedy_generation_is_deterministic_with_exact_usage(engine):
    first = engine.generate(QUESTION, greedy(max_tokens=20))
    second = engine.generate(QUESTION, greedy(max_tokens=20))
    assert first.text.strip() and first.text == second.text
    assert first.completion_tokens == 20 and first.finish_reason == "length"
    # SmolLM2's template around the question, counted by llama.cpp's tokenizer.
    assert 30 < first.prompt_tokens < 50
    assert engine.generate(QUESTION, greedy(max_tokens=5)).completion_tokens == 5


def test_chat_template_comes_from_the_gguf(engine):
    """SmolLM2's template inserts its own system prompt when a chat has none: the same
    chat with that system message spelled out must be the same prompt, token for token."""
    implicit = engine.generate(QUESTION, greedy())
    spelled = [{"role": "system", "content": SMOLLM_DEFAULT_SYSTEM}, *QUESTION]
    explicit = engine.generate(spelled, greedy())
    assert (explicit.prompt_tokens, explicit.text) == (implicit.prompt_tokens, implicit.text)
    other = [{"role": "system", "content": "Be brief."}, *QUESTION]
    assert engine.generate(other, greedy()).prompt_tokens < implicit.prompt_tokens


def test_seed_reproduces_sampling_and_changes_it(engine):
    def sample(seed: int) -> str:
        params = SamplingParams(max_tokens=24, temperature=1.2, seed=seed)
        return engine.generate(QUESTION, params).text

    assert sample(7) == sample(7)
    assert len({sample(seed) for seed in (1, 2, 3)}) > 1


def test_tiny_top_p_is_greedy_at_any_temperature(engine):
    expected = engine.generate(QUESTION, greedy()).text
    for seed in (1, 2):
        params = SamplingParams(max_tokens=24, temperature=1.5, top_p=1e-6, seed=seed)
        assert engine.generate(QUESTION, params).text == expected


def test_stop_string_ends_generation_and_is_left_out(engine):
    full = engine.generate(QUESTION, greedy(max_tokens=40))
    stop = full.text.split()[3]  # a word from the middle of the greedy answer
    cut = engine.generate(QUESTION, greedy(max_tokens=40, stop=["@@never@@", stop]))
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens


def test_more_concurrent_callers_than_slots_all_get_their_answer(engine):
    prompts = [[{"role": "user", "content": f"Count from {n} to {n + 5}."}] for n in range(6)]
    expected = [engine.generate(prompt, greedy()).text for prompt in prompts]
    results: list[str | None] = [None] * len(prompts)

    def call(index: int) -> None:
        results[index] = engine.generate(prompts[index], greedy()).text

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected


def test_prompt_longer_than_a_slot_is_a_clear_error(engine):
    long_chat = [{"role": "user", "content": "word " * (N_CTX * 2)}]
    with pytest.raises(LlamaCppError) as caught:
        engine.generate(long_chat, greedy())
    assert "\n" not in str(caught.value) and "n_ctx" in (caught.value.hint or "")


def test_http_listener_is_private_and_locked(engine):
    sockets = list(Path(engine._socket_dir).iterdir())
    assert [path.name for path in sockets] == ["llama.sock"]
    assert Path(engine._socket_dir).stat().st_mode & 0o077 == 0
    transport = httpx.HTTPTransport(uds=str(sockets[0]))
    with httpx.Client(transport=transport, base_url="http://llama") as client:
        response = client.post("/v1/chat/completions", json={"messages": QUESTION})
    assert response.status_code == 401


def test_cancelling_stops_generation_and_frees_the_slot():
    """One slot: a long request, cancelled, must not hold up the next one."""
    long = SamplingParams(max_tokens=200, temperature=0.0)
    story = [{"role": "user", "content": "Tell me a long story about a dragon."}]
    with load_engine(gguf_path(), n_parallel=1, n_ctx=N_CTX) as engine:
        began = time.perf_counter()
        full = engine.generate(story, long)
        uncancelled_s = time.perf_counter() - began
        assert full.completion_tokens == 200  # long enough to tell the two apart

        began = time.perf_counter()
        running = engine.submit(story, long)
        with pytest.raises(FutureTimeout):
            running.result(timeout=0.05)  # let it start generating
        assert running.cancel() and running.cancelled()
        after = engine.generate(QUESTION, greedy(max_tokens=4))
        assert after.completion_tokens == 4
        assert time.perf_counter() - began < uncancelled_s / 2


def test_closed_engine_refuses_and_cleans_up():
    engine = load_engine(gguf_path(), n_parallel=1, n_ctx=256)
    folder = Path(engine._socket_dir)
    assert engine.generate(QUESTION, greedy(max_tokens=2)).completion_tokens == 2
    engine.close()
    assert not folder.exists()
    with pytest.raises(LlamaCppError, match="closed"):
        engine.generate(QUESTION, greedy(max_tokens=2))
    engine.close()  # twice is harmless
