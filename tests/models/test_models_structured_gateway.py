"""Structured actions, server side: ``response_format`` and ``stop`` sent by a sandboxed
caller reach the engine, and ``GET /v1/models`` says whether the model decodes under a
grammar and how fast it is."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from clade.agents import llm_client
from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig, register_script
from clade.orchestrator.models.scripted import script_calls

SCHEMA = {
    "type": "object",
    "properties": {"action": {"enum": ["bash", "finish"]}, "arg": {"type": "string"}},
    "required": ["action", "arg"],
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "action", "schema": SCHEMA}}


def _layer(name: str, grammar: bool) -> ModelLayer:
    register_script(name, lambda m: '{"action": "finish", "arg": "done"}', grammar=grammar)
    return ModelLayer(
        ModelsConfig.model_validate({"default": f"scripted/{name}"}), sink=MemorySink()
    )


def _models(path: Path) -> list[dict]:
    conn = llm_client._UnixConnection(str(path), timeout=30)
    conn.request("GET", "/v1/models")
    data = json.loads(conn.getresponse().read())["data"]
    conn.close()
    return data


def test_response_format_and_stop_reach_the_engine(tmp_path, monkeypatch):
    layer = _layer("t-rf", grammar=True)
    path = tmp_path / "llm.sock"
    monkeypatch.delenv("CLADE_LLM_URL", raising=False)
    monkeypatch.setenv("CLADE_LLM_SOCKET", str(path))
    with Gateway(layer).serve_unix(path, candidate_id="c"):
        ask = [{"role": "user", "content": "act"}]
        reply = llm_client.chat(ask, response_format=FORMAT, stop=["</x>", "\n\n"], max_tokens=40)
        assert llm_client.text_of(reply).startswith('{"action"')
        llm_client.chat(ask, response_format={"type": "json_object"})
        llm_client.chat(ask)
        [entry] = _models(path)
    schema_call, object_call, plain_call = script_calls("t-rf")[-3:]
    assert schema_call.json_schema == SCHEMA and schema_call.stop == ["</x>", "\n\n"]
    assert schema_call.max_tokens == 40
    assert object_call.json_schema == {"type": "object"}
    assert plain_call.json_schema is None and plain_call.stop == []
    assert entry["id"] == "scripted/t-rf"
    assert entry["clade"] == {"grammar": True, "tokens_per_s": None}


def test_models_say_when_there_is_no_grammar(tmp_path):
    path = tmp_path / "llm.sock"
    with Gateway(_layer("t-nogrammar", grammar=False)).serve_unix(path, candidate_id="c"):
        [entry] = _models(path)
    assert entry["clade"] == {"grammar": False, "tokens_per_s": None}
    layer = ModelLayer(ModelsConfig.model_validate({"default": "openai/gpt-4o-mini"}))
    assert not layer.decodes_with_grammar("agent") and layer.tokens_per_s("agent") is None
    assert ModelLayer(
        ModelsConfig.model_validate({"default": "llamacpp/x.gguf"})
    ).decodes_with_grammar("agent")


@pytest.mark.docker
def test_response_format_sent_from_inside_a_sandbox_reaches_the_engine(tmp_path):
    from clade.orchestrator.config import settings
    from clade.sandbox import DockerSandbox, SandboxConfig
    from clade.sandbox.images import build_agent_image

    layer = _layer("t-sandbox-rf", grammar=True)
    folder = Path("/tmp") / f"clade-rf-{uuid.uuid4().hex[:8]}"  # short: AF_UNIX paths are short
    folder.mkdir(mode=0o755)
    client = Path(llm_client.__file__).read_bytes()
    code = (
        "import json, llm_client\n"
        "schema = json.loads(open('schema.json').read())\n"
        "fmt = {'type': 'json_schema', 'json_schema': {'name': 'action', 'schema': schema}}\n"
        "reply = llm_client.chat([{'role': 'user', 'content': 'act'}], response_format=fmt,"
        " stop=['</x>'], max_tokens=30)\n"
        "print(llm_client.text_of(reply))\n"
    )
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    config = SandboxConfig(
        image=build_agent_image(settings().base_image).tag,
        run_id=run_id,
        llm_socket_dir=folder,
        timeout_s=60,
    )
    try:
        with (
            Gateway(layer).serve_unix(folder / "llm.sock", run_id=None, candidate_id="in-box"),
            DockerSandbox(config) as box,
        ):
            box.put_files(
                {
                    "llm_client.py": client,
                    "schema.json": json.dumps(SCHEMA).encode(),
                    "ask.py": code.encode(),
                }
            )
            result = box.run(["python3", "ask.py"], timeout_s=60)
            assert result.ok, result
            assert result.stdout.strip().startswith('{"action"')
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    call = script_calls("t-sandbox-rf")[-1]
    assert call.json_schema == SCHEMA and call.stop == ["</x>"] and call.max_tokens == 30
    assert [r.candidate_id for r in layer.sink.records] == ["in-box"]
