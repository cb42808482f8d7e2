"""Gateways on separate event loops (one per sandbox) forwarding to a real HTTP provider."""

from __future__ import annotations

from clade.agents import llm_client
from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig


def test_sequential_and_parallel_gateways_reach_an_api_model(fault_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CLADE_TEST_KEY", "sk-test")
    monkeypatch.delenv("CLADE_LLM_URL", raising=False)
    spec = {"model": "openai/fake", "api_base": fault_server.url, "api_key_env": "CLADE_TEST_KEY"}
    layer = ModelLayer(ModelsConfig.model_validate({"default": spec}), sink=MemorySink())
    gateway = Gateway(layer)
    ask = [{"role": "user", "content": "hi"}]
    for name in ("first", "second"):  # a new event loop each time
        path = tmp_path / name / "llm.sock"
        with gateway.serve_unix(path, candidate_id=name):
            monkeypatch.setenv("CLADE_LLM_SOCKET", str(path))
            assert llm_client.text_of(llm_client.chat(ask)) == "recovered"
    a, b = tmp_path / "a.sock", tmp_path / "b.sock"
    with gateway.serve_unix(a, candidate_id="a"), gateway.serve_unix(b, candidate_id="b"):
        for path in (a, b, a):
            monkeypatch.setenv("CLADE_LLM_SOCKET", str(path))
            assert llm_client.text_of(llm_client.chat(ask)) == "recovered"
    assert [r.candidate_id for r in layer.sink.records] == ["first", "second", "a", "b", "a"]
    assert all(r.error is None for r in layer.sink.records) and fault_server.hits == 5
