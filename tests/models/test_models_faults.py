"""Faults from a real provider endpoint: retried with backoff, then a typed error and a failed record."""

from __future__ import annotations

import asyncio

import pytest

from clade.orchestrator.models import MemorySink, ModelCallFailed, ModelLayer, ModelsConfig

MESSAGES = [{"role": "user", "content": "hello"}]


def _layer(url: str, sink: MemorySink, retries: int = 2, timeout_s: float = 30.0) -> ModelLayer:
    config = ModelsConfig.model_validate(
        {
            "default": {
                "model": "openai/fake",
                "api_base": url,
                "api_key_env": "CLADE_TEST_KEY",
                "timeout_s": timeout_s,
            },
            "retry": {"max_retries": retries, "backoff_s": 0.01, "max_backoff_s": 0.05},
        }
    )
    return ModelLayer(config, sink=sink, run_id="run-f")


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("CLADE_TEST_KEY", "sk-test")


@pytest.mark.parametrize("fault", ["429", "500", "503", "malformed"])
def test_transient_fault_is_retried_then_succeeds(fault_server, fault):
    fault_server.plan = [fault, fault, "ok"]
    sink = MemorySink()
    result = _layer(fault_server.url, sink).complete(MESSAGES, role="agent", candidate_id="c1")
    assert result.text == "recovered"
    assert fault_server.hits == 3
    [record] = sink.records
    assert record.error is None and record.prompt_tokens == 7 and record.candidate_id == "c1"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("429", "rate_limit"), ("500", "server_error"), ("malformed", "malformed_response")],
)
def test_persistent_fault_gives_typed_error_and_failed_record(fault_server, fault, kind):
    fault_server.plan = [fault]
    sink = MemorySink()
    with pytest.raises(ModelCallFailed) as info:
        _layer(fault_server.url, sink, retries=2).complete(MESSAGES, role="judge")
    assert fault_server.hits == 3
    assert info.value.kind == kind and info.value.attempts == 3
    [record] = sink.records
    assert record.error and record.error.startswith(kind) and record.role == "judge"
    assert record.run_id == "run-f" and record.completion_tokens == 0


def test_hanging_provider_times_out_and_is_retried(fault_server):
    fault_server.plan = ["hang", "ok"]
    sink = MemorySink()
    result = _layer(fault_server.url, sink, retries=1, timeout_s=0.5).complete(MESSAGES)
    assert result.text == "recovered" and fault_server.hits == 2
    assert sink.records[0].latency_s >= 0.5


def test_timeouts_exhaust_retries(fault_server):
    fault_server.plan = ["hang"]
    sink = MemorySink()
    with pytest.raises(ModelCallFailed) as info:
        _layer(fault_server.url, sink, retries=1, timeout_s=0.3).complete(MESSAGES)
    assert info.value.kind == "timeout" and fault_server.hits == 2
    assert sink.records[0].error.startswith("timeout")


def test_permanent_fault_is_not_retried(fault_server):
    fault_server.plan = ["401"]
    sink = MemorySink()
    with pytest.raises(ModelCallFailed) as info:
        _layer(fault_server.url, sink, retries=3).complete(MESSAGES)
    assert fault_server.hits == 1 and info.value.attempts == 1
    assert "Authentication" in info.value.kind


def test_async_path_retries_too(fault_server):
    fault_server.plan = ["503", "ok"]
    sink = MemorySink()
    result = asyncio.run(_layer(fault_server.url, sink).acomplete(MESSAGES))
    assert result.text == "recovered" and fault_server.hits == 2
