"""Gateway limits: budgets reserved before a call and settled after it, a cap on request
size, and hostile bodies answered with a 4xx, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest

from clade.agents import llm_client
from clade.orchestrator.models import (
    Budget,
    BudgetExceeded,
    Gateway,
    MemorySink,
    ModelLayer,
    ModelsConfig,
    gateway_loop,
    register_script,
)
from clade.orchestrator.models.gateway_request import GatewayLimits

ASK = [{"role": "user", "content": "one two"}]  # 2 prompt tokens for a scripted model


@pytest.fixture
def layer():
    register_script("t-lim", lambda messages: "four words of reply")  # 4 completion tokens
    config = ModelsConfig.model_validate({"default": "scripted/t-lim"})
    return ModelLayer(config, sink=MemorySink(), run_id="run-l")


def _post(path, body: bytes, timeout: float = 60) -> tuple[int, dict]:
    conn = llm_client._UnixConnection(str(path), timeout=timeout)
    try:
        conn.request("POST", "/v1/chat/completions", body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _chat(content: str, **params) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": content}], **params}).encode()


def test_concurrent_calls_cannot_overspend_a_sandbox_budget(layer, tmp_path):
    path = tmp_path / "llm.sock"
    statuses: list[int] = []
    lock = threading.Lock()

    def ask() -> None:
        status, _ = _post(path, _chat("one two", max_tokens=4))
        with lock:
            statuses.append(status)

    with Gateway(layer).serve_unix(path, candidate_id="C", budget=Budget(max_tokens=50)) as srv:
        threads = [threading.Thread(target=ask) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert srv.budget is not None
        assert srv.budget.tokens <= 50 and srv.budget.reserved_tokens == 0
        spent = srv.budget.tokens
    served = statuses.count(200)
    # Each call holds 2 + 4 tokens while it runs: at most 8 fit in 50.
    assert 1 <= served <= 8 and statuses.count(402) == 100 - served
    assert spent == sum(r.total_tokens for r in layer.sink.records) == 6 * served


def test_concurrent_calls_cannot_overspend_the_run_budget(layer):
    tracker = layer.set_budget("run-l", Budget(max_tokens=50))

    async def many() -> list[object]:
        calls = [layer.acomplete(ASK, max_tokens=4) for _ in range(100)]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = gateway_loop.submit(many()).result(timeout=120)  # the loop litellm's worker uses
    served = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BudgetExceeded)]
    assert len(served) + len(refused) == 100 and 1 <= len(served) <= 8
    assert tracker.tokens == 6 * len(served) <= 50 and tracker.reserved_tokens == 0


def test_a_call_is_clipped_to_what_is_left(layer):
    tracker = layer.set_budget("run-l", Budget(max_tokens=9))
    first = layer.complete(ASK, max_tokens=100)  # 2 + 4 tokens: 3 left
    assert first.completion_tokens == 4
    second = layer.complete(ASK, max_tokens=100)  # the prompt (2) and 1 token fit
    assert (second.text, second.finish_reason) == ("four", "length")
    with pytest.raises(BudgetExceeded) as info:
        layer.complete(ASK)
    assert info.value.limit == "tokens" and tracker.tokens == 9


def test_a_huge_prompt_is_refused_413_and_charged_nothing(layer, tmp_path):
    path = tmp_path / "llm.sock"
    with Gateway(layer).serve_unix(path, candidate_id="C", budget=Budget(max_tokens=50)) as srv:
        status, body = _post(path, _chat("word " * (10 << 20)))  # 50 MB
        assert status == 413 and body["error"]["code"] == "request_too_large"
        assert srv.budget is not None and srv.budget.tokens == srv.budget.reserved_tokens == 0
        status, _ = _post(path, _chat("one two", max_tokens=4))  # the socket still serves
        assert status == 200
    assert len(layer.sink.records) == 1


def test_a_large_prompt_that_does_not_fit_the_budget_is_refused_402(layer, tmp_path):
    path = tmp_path / "llm.sock"
    gateway = Gateway(layer, GatewayLimits(max_body_bytes=8 << 20))
    with gateway.serve_unix(path, candidate_id="C", budget=Budget(max_tokens=50)) as srv:
        status, body = _post(path, _chat("word " * (1 << 20)))  # 5 MB
        assert status == 402 and body["error"]["code"] == "tokens"
        assert srv.budget is not None and srv.budget.tokens == srv.budget.reserved_tokens == 0
    assert layer.sink.records == []
    layer.set_budget("run-l", Budget(max_tokens=50))  # and in-process, on the run's budget
    with pytest.raises(BudgetExceeded, match="needs at least"):
        layer.complete([{"role": "user", "content": "word " * (1 << 20)}])


HOSTILE = {
    "nested lists in messages": b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested objects": b'{"messages": [{"role": "user", "content": "x"}], "seed": '
    + b'{"a": ' * 50_000
    + b"1"
    + b"}" * 50_000
    + b"}",
    "nested schema": json.dumps(
        {
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": json.loads("[" * 200 + "]" * 200)},
            },
        }
    ).encode(),
    "not JSON": b"{not json",
    "invalid UTF-8": b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "a JSON list": b"[1, 2, 3]",
    "a lone surrogate": b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    "messages as an object": b'{"messages": {"role": "user"}}',
    "an unknown role": b'{"messages": [{"role": "root", "content": "x"}]}',
    "an image part": b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
    "a huge integer": b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": '
    + b"9" * 5000
    + b"}",
    "NaN temperature": b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
    "too many stop strings": _chat("x", stop=["s"] * 10_000),
    "an unknown response format": _chat("x", response_format={"type": "grammar"}),
    "empty": b"",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bodies_get_a_4xx_and_no_traceback(layer, tmp_path, caplog, capfd, name):
    path = tmp_path / "llm.sock"
    caplog.set_level(logging.DEBUG)
    with Gateway(layer).serve_unix(path, candidate_id="C", budget=Budget(max_tokens=50)) as srv:
        status, body = _post(path, HOSTILE[name])
        assert 400 <= status < 500, body
        assert "\n" not in body["error"]["message"] and len(body["error"]["message"]) < 300
        assert srv.budget is not None and srv.budget.tokens == 0
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in capfd.readouterr().err
