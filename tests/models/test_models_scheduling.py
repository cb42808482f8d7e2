"""Scheduling in local engines: priorities, cancellation while waiting, timeouts that count
from admission and follow the measured speed, and a missing backend as a setup error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest

from clade.orchestrator.errors import SetupError
from clade.orchestrator.models import MemorySink, ModelLayer, ModelsConfig
from clade.orchestrator.models.batching import BatchWorker
from clade.orchestrator.models.engine import Generation
from clade.orchestrator.models.scheduling import EngineFuture, PriorityWork
from clade.orchestrator.models.speed import FLOOR_S, SAFETY, SpeedMeter, generation_timeout
from clade.orchestrator.models.waiting import QueueTimeout, WaitPolicy, wait_sync


def _gated_work(workers: int = 1):
    gate, served = threading.Event(), []

    def run(item: tuple[str, EngineFuture]) -> None:
        name, future = item
        if future.stop.is_set():
            return
        future.admit()
        if name == "first":
            gate.wait(10)
        served.append(name)
        future.set_result(name)

    return PriorityWork(run, workers, "test"), gate, served


def test_a_high_priority_request_overtakes_the_queue():
    work, gate, served = _gated_work()
    futures = {"first": EngineFuture()}
    work.submit(("first", futures["first"]))
    futures["first"].admitted.result(timeout=10)  # it holds the only slot now
    for name, priority in [*((f"low{i}", 0) for i in range(5)), ("high", 5)]:
        futures[name] = EngineFuture(priority)
        work.submit((name, futures[name]), priority)
    futures["low2"].cancel()  # cancelled while it waits: never run
    gate.set()
    for future in futures.values():
        if not future.cancelled():
            future.result(timeout=10)
    work.close()
    assert served == ["first", "high", "low0", "low1", "low3", "low4"]


def test_the_batch_worker_takes_higher_priorities_first():
    gate, order = threading.Event(), []

    def run_group(jobs) -> None:
        if jobs[0].item == "first":
            gate.wait(10)
        order.append([job.item for job in jobs])
        for job in jobs:
            job.future.set_result(job.item)

    worker = BatchWorker(run_group, key=lambda item: item, window_s=0.0, rejoin_s=0.0)
    first = worker.submit("first")
    time.sleep(0.2)  # "first" runs and holds the worker
    later = [worker.submit(name, priority) for name, priority in [("a", 0), ("b", 0), ("c", 3)]]
    gate.set()
    for future in [first, *later]:
        future.result(timeout=10)
    worker.close()
    assert [group[0] for group in order] == ["first", "c", "a", "b"]


def test_timeouts_count_from_admission():
    future: EngineFuture = EngineFuture()
    policy = WaitPolicy(0.3, from_admission=True, queue_s=5.0)
    threading.Timer(0.6, future.admit).start()  # waits 0.6 s for a slot: not a timeout
    threading.Timer(0.8, future.set_result, ["done"]).start()
    assert wait_sync(future, policy) == "done"

    stuck: EngineFuture = EngineFuture()
    threading.Timer(0.05, stuck.admit).start()
    with pytest.raises(TimeoutError):
        wait_sync(stuck, policy)
    assert stuck.cancelled() and stuck.stop.is_set()  # the engine stops at the next token

    queued: EngineFuture = EngineFuture()
    with pytest.raises(QueueTimeout):
        wait_sync(queued, WaitPolicy(10.0, from_admission=True, queue_s=0.2))
    assert queued.stop.is_set()

    plain: Future[Generation] = Future()  # explicit timeout_s: counts from submission
    with pytest.raises(TimeoutError):
        wait_sync(plain, WaitPolicy(0.1))


def test_the_timeout_follows_the_measured_speed():
    meter = SpeedMeter()
    assert generation_timeout(meter, 300, 64) == 120.0  # nothing measured yet
    meter.observe(prompt_tokens=300, prompt_s=1.0, completion_tokens=64, decode_s=2.0)
    assert meter.tokens_per_s == pytest.approx(32.0)
    expected = SAFETY * (300 / 300 + 640 / 32)
    assert generation_timeout(meter, 300, 640) == pytest.approx(expected)
    assert generation_timeout(meter, 10, 8) == FLOOR_S
    for _ in range(20):  # the machine got busy: the estimate follows
        meter.observe(300, 10.0, 64, 20.0)
    assert meter.tokens_per_s == pytest.approx(3.2, rel=0.05)
    before = generation_timeout(meter, 300, 640)
    meter.slow_down()  # a call overran: the next attempt gets twice the time
    assert generation_timeout(meter, 300, 640) == pytest.approx(2 * before)


def test_local_calls_derive_their_timeout_unless_one_is_set(monkeypatch):
    meter = SpeedMeter()
    meter.observe(100, 1.0, 50, 5.0)  # 10 tokens/s

    class Engine:
        speed = meter

    monkeypatch.setattr("clade.orchestrator.models.calls.find_engine", lambda *a: Engine())
    derived = ModelLayer(ModelsConfig.model_validate({"default": "llamacpp/m.gguf"}))
    call = derived.prepare([{"role": "user", "content": "x"}], max_tokens=200)
    seconds, wait = call.wait()
    assert seconds == pytest.approx(SAFETY * (call.prompt_estimate / 100 + 200 / 10))
    assert wait == {"from_admission": True, "queue_s": pytest.approx(10 * seconds)}
    fixed = ModelLayer(
        ModelsConfig.model_validate({"default": {"model": "llamacpp/m.gguf", "timeout_s": 7}})
    )
    assert fixed.prepare([{"role": "user", "content": "x"}]).wait() == (7, None)
    api = ModelLayer(ModelsConfig.model_validate({"default": "openai/gpt-4o-mini"}))
    assert api.prepare([{"role": "user", "content": "x"}]).wait() == (120.0, None)


def test_a_missing_backend_is_a_setup_error_not_retried(monkeypatch):
    import importlib.util

    real, asked = importlib.util.find_spec, []

    def find_spec(name, *args):
        if name == "torch":
            asked.append(name)
            return None
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    config = ModelsConfig.model_validate(
        {"default": "transformers/some/model", "retry": {"max_retries": 3, "backoff_s": 5}}
    )
    layer = ModelLayer(config, sink=MemorySink())
    with pytest.raises(SetupError) as info:
        layer.complete([{"role": "user", "content": "hi"}])
    assert "torch" in str(info.value) and "pip install" in (info.value.hint or "")
    assert len(asked) == 1, "the engine load was retried"
    [record] = layer.sink.records
    assert record.error and record.error.startswith("SetupError")


def test_a_missing_llama_cpp_binding_is_a_setup_error_not_retried(monkeypatch):
    from clade.orchestrator.models import llamacpp
    from clade.orchestrator.models.embedded import gguf_path

    tries: list[int] = []
    monkeypatch.setattr(llamacpp, "is_installed", lambda: tries.append(1) or False)
    config = ModelsConfig.model_validate(
        {"default": f"llamacpp/{gguf_path()}", "retry": {"max_retries": 3, "backoff_s": 5}}
    )
    with pytest.raises(SetupError) as info:
        ModelLayer(config).complete([{"role": "user", "content": "hi"}])
    assert "xllamacpp" in str(info.value) and "pip install" in (info.value.hint or "")
    assert len(tries) == 1, "the engine load was retried"


@pytest.mark.parametrize("asynchronous", [False, True], ids=["complete", "acomplete"])
@pytest.mark.parametrize(
    ("module", "hint"),
    [("torch", "clade-agents[local]"), ("xllamacpp", "clade-agents[llamacpp]"), ("boto3", "boto3")],
)
def test_an_import_failing_mid_call_is_a_setup_error_not_a_connection_fault(
    monkeypatch, asynchronous, module, hint
):
    # litellm reports what a provider raises as an APIConnectionError; a missing module in
    # there is still a setup problem: one line naming it, its install hint, no retry.
    import asyncio
    import sys

    from clade.orchestrator.models.scripted import register_script

    monkeypatch.setitem(sys.modules, module, None)  # `import <module>` now fails
    tries: list[int] = []

    def reply(messages):
        tries.append(1)
        __import__(module)
        return "unreachable"

    name = register_script(f"needs-{module}", reply)
    layer = ModelLayer(
        ModelsConfig.model_validate({"default": name, "retry": {"max_retries": 3, "backoff_s": 5}}),
        sink=MemorySink(),
    )
    ask = [{"role": "user", "content": "hi"}]
    with pytest.raises(SetupError) as info:
        asyncio.run(layer.acomplete(ask)) if asynchronous else layer.complete(ask)
    assert str(info.value.message) == f"{name} cannot be called: module {module!r} is not installed"
    assert "pip install" in (info.value.hint or "") and hint in (info.value.hint or "")
    assert "check the provider" not in str(info.value)
    assert tries == [1], "the call was retried"
    [record] = layer.sink.records
    assert record.error and record.error.startswith("missing_dependency")


def test_a_broken_module_is_a_setup_error_with_the_import_s_own_reason():
    from clade.orchestrator.models.faults import classify, missing_dependency

    broken = ImportError("libcudart.so.12: cannot open shared object file", name="torch")
    wrapped = RuntimeError("provider failed")
    wrapped.__cause__ = broken
    assert classify(wrapped) == ("missing_dependency", False)
    error = missing_dependency(wrapped, "transformers/m")
    assert error is not None and "libcudart.so.12" in error.message
    assert error.message.startswith("transformers/m cannot be called: module 'torch' cannot be")
    assert missing_dependency(RuntimeError("connection refused"), "m") is None
