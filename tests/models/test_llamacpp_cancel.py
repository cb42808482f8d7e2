"""On the real llama.cpp engine with the embedded model: a caller that goes away (disconnect,
cancelled task, stopped sandbox) stops its generation at the next token, and a request of
higher priority overtakes a queue of lower ones."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from clade.agents import llm_client
from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig, gateway_loop
from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.routing import close_engines, find_engine

pytestmark = pytest.mark.slow

OPTIONS = {"n_parallel": 1, "n_ctx": 1024}
STORY = [{"role": "user", "content": "Tell me a long story about a dragon."}]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
LONG = 200


@pytest.fixture(scope="module")
def layer():
    spec = {"model": f"llamacpp/{gguf_path()}", "engine_options": OPTIONS, "temperature": 0}
    config = ModelsConfig.model_validate({"default": spec, "retry": {"max_retries": 0}})
    layer = ModelLayer(config, sink=MemorySink(), run_id="run-cancel")
    full = layer.complete(STORY, max_tokens=LONG)  # loads the engine
    assert full.completion_tokens == LONG, "the story must not end early by itself"
    yield layer
    close_engines()


@pytest.fixture
def engine(layer):
    return find_engine("llamacpp", str(gguf_path()), OPTIONS)


def _until(check, what: str, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def _progress(engine):
    start = engine.stats.snapshot()
    return lambda key: engine.stats.snapshot()[key] - start[key]


def _finished_early(engine, delta) -> int:
    _until(lambda: delta("requests") + delta("cancelled") >= 1, "the generation ended")
    assert delta("cancelled") == 1, "it was cancelled, not run to its end"
    generated = delta("tokens_generated")
    assert 8 <= generated < LONG, "it stopped early, at the next token"
    assert delta("abandoned_tokens") == 0 and engine.waiting() == 0
    return generated


def test_a_disconnect_cancels_the_generation(layer, engine, tmp_path):
    path = tmp_path / "llm.sock"
    with Gateway(layer).serve_unix(path, candidate_id="gone"):
        delta = _progress(engine)
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(path))
        body = json.dumps({"messages": STORY, "max_tokens": LONG}).encode()
        head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n"
        client.sendall(head.encode() + b"content-type: application/json\r\n\r\n" + body)
        _until(lambda: delta("tokens_generated") >= 8, "the generation started")
        client.close()  # the caller gives up
        _finished_early(engine, delta)
        # The slot is free for the next caller at once.
        assert layer.complete(QUESTION, max_tokens=4).completion_tokens == 4
    record = next(r for r in layer.sink.records if r.candidate_id == "gone")
    assert record.error and record.error.startswith("cancelled")
    assert layer.abandoned_tokens == 0


def test_a_cancelled_task_cancels_the_generation_through_litellm(layer, engine):
    delta = _progress(engine)
    running = gateway_loop.submit(layer.acomplete(STORY, max_tokens=LONG, candidate_id="task"))
    _until(lambda: delta("tokens_generated") >= 8, "the generation started")
    running.cancel()
    _finished_early(engine, delta)
    record = next(r for r in reversed(layer.sink.records) if r.candidate_id == "task")
    assert record.error and record.error.startswith("cancelled")


def test_a_stopped_sandbox_cancels_its_generation(layer, engine, tmp_path, monkeypatch):
    path = tmp_path / "llm.sock"
    monkeypatch.delenv("CLADE_LLM_URL", raising=False)
    monkeypatch.setenv("CLADE_LLM_SOCKET", str(path))
    outcome: list[object] = []

    def agent() -> None:
        try:
            outcome.append(llm_client.chat(STORY, max_tokens=LONG, timeout=300))
        except llm_client.LLMError as exc:
            outcome.append(exc)

    delta = _progress(engine)
    with Gateway(layer).serve_unix(path, candidate_id="stopped"):
        thread = threading.Thread(target=agent)
        thread.start()
        _until(lambda: delta("tokens_generated") >= 8, "the generation started")
    _finished_early(engine, delta)  # the with block ended: the sandbox is gone
    thread.join(60)
    [answer] = outcome
    assert isinstance(answer, llm_client.LLMError)  # no reply: the service stopped


def test_a_high_priority_request_is_served_before_a_queue_of_low_ones(layer, engine, tmp_path):
    low, high = tmp_path / "low.sock", tmp_path / "high.sock"
    finished: list[str] = []
    lock = threading.Lock()

    def ask(path, name: str, max_tokens: int) -> None:
        conn = llm_client._UnixConnection(str(path), timeout=600)
        body = json.dumps({"messages": QUESTION, "max_tokens": max_tokens})
        conn.request("POST", "/v1/chat/completions", body=body)
        assert conn.getresponse().status == 200
        conn.close()
        with lock:
            finished.append(name)

    gateway = Gateway(layer)
    delta = _progress(engine)
    with (
        gateway.serve_unix(low, candidate_id="eval"),
        gateway.serve_unix(high, candidate_id="diagnose", priority=10),
    ):
        threads = [threading.Thread(target=ask, args=(low, "blocker", LONG))]
        threads[0].start()
        _until(lambda: delta("tokens_generated") >= 1, "the blocker holds the only slot")
        for i in range(4):
            threads.append(threading.Thread(target=ask, args=(low, f"low{i}", 4)))
            threads[-1].start()
        _until(lambda: engine.waiting() == 4, "four low-priority requests wait")
        threads.append(threading.Thread(target=ask, args=(high, "high", 4)))
        threads[-1].start()
        for thread in threads:
            thread.join(600)
    assert finished[:2] == ["blocker", "high"], finished
    assert sorted(finished[2:]) == [f"low{i}" for i in range(4)]


def test_the_measured_speed_reaches_the_caller(layer, tmp_path, monkeypatch):
    speed = layer.tokens_per_s("agent")
    assert speed is not None and speed > 0
    path = tmp_path / "llm.sock"
    monkeypatch.delenv("CLADE_LLM_URL", raising=False)
    monkeypatch.setenv("CLADE_LLM_SOCKET", str(path))
    with Gateway(layer).serve_unix(path, candidate_id="info"):
        [info] = llm_client._request("GET", "/v1/models", None, 30)["data"]
    assert info["clade"]["grammar"] is True
    assert info["clade"]["tokens_per_s"] == pytest.approx(speed, rel=0.5)


EXIT_SCRIPT = """
import time
from clade.orchestrator.models.embedded import gguf_path
from clade.orchestrator.models.engine import SamplingParams
from clade.orchestrator.models.routing import get_engine
engine = get_engine("llamacpp", str(gguf_path()), {"n_parallel": 1, "n_ctx": 1024})
story = [{"role": "user", "content": "Tell me a long story about a dragon."}]
engine.submit(story, SamplingParams(max_tokens=400)).admitted.result(timeout=120)
while engine.stats.tokens_generated < 3:
    time.sleep(0.01)
print("leaving mid-generation", flush=True)
"""


def test_the_process_exits_cleanly_in_the_middle_of_a_generation():
    """A thread still inside llama.cpp when the interpreter ends aborts the process
    ("FATAL: exception not rethrown", status 134): engines stop theirs at exit."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.stdout.strip() == "leaving mid-generation"
    assert done.returncode == 0, done.stderr[-500:]
    assert "FATAL" not in done.stderr
