"""The sandbox bridge: the stdlib client in agents/ against the real socket server."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from clade.agents import llm_client
from clade.orchestrator.models import (
    Budget,
    Gateway,
    MemorySink,
    ModelLayer,
    ModelsConfig,
    register_script,
)

ASK = [{"role": "user", "content": "one two"}]


@pytest.fixture
def layer():
    register_script("t-gw", lambda messages: "reply to " + messages[-1]["content"])
    register_script("t-gw-judge", ["judge says"])
    config = ModelsConfig.model_validate(
        {"default": "scripted/t-gw", "roles": {"judge": "scripted/t-gw-judge"}}
    )
    return ModelLayer(config, sink=MemorySink(), run_id="run-g")


def _use_socket(monkeypatch, path):
    monkeypatch.delenv("CLADE_LLM_URL", raising=False)
    monkeypatch.setenv("CLADE_LLM_SOCKET", str(path))


def test_chat_over_unix_socket_is_attributed_to_the_sandbox(layer, tmp_path, monkeypatch):
    path = tmp_path / "c1" / "llm.sock"
    with Gateway(layer).serve_unix(path, run_id="run-g", candidate_id="cand-1"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666
        _use_socket(monkeypatch, path)
        reply = llm_client.chat(ASK, max_tokens=20, temperature=0)
        assert llm_client.text_of(reply) == "reply to one two"
        assert reply["object"] == "chat.completion" and reply["usage"]["prompt_tokens"] == 2
        assert llm_client.models() == ["scripted/t-gw"]
    assert not path.exists()
    [record] = layer.sink.records
    assert (record.run_id, record.candidate_id, record.role) == ("run-g", "cand-1", "agent")


def test_each_sandbox_has_its_own_socket_role_and_budget(layer, tmp_path, monkeypatch):
    gateway = Gateway(layer)
    a, b = tmp_path / "a" / "llm.sock", tmp_path / "b" / "llm.sock"
    with (
        gateway.serve_unix(
            a, run_id="run-g", candidate_id="A", budget=Budget(max_tokens=5)
        ) as served_a,
        gateway.serve_unix(b, run_id="run-g", candidate_id="B", role="judge"),
    ):
        _use_socket(monkeypatch, a)
        # 2 prompt tokens leave 3 of A's 5 for the reply: it is cut there, and A's budget is spent
        clipped = llm_client.chat(ASK)
        assert llm_client.text_of(clipped) == "reply to one"
        assert clipped["choices"][0]["finish_reason"] == "length"
        with pytest.raises(llm_client.BudgetExceededError) as info:
            llm_client.chat(ASK)
        assert info.value.status == 402 and info.value.code == "tokens"
        assert served_a.budget is not None and served_a.budget.tokens == 5
        _use_socket(monkeypatch, b)
        assert llm_client.text_of(llm_client.chat(ASK)) == "judge says"
    assert [(r.candidate_id, r.role) for r in layer.sink.records] == [
        ("A", "agent"),
        ("B", "judge"),
    ]


def test_concurrent_clients_are_all_answered(layer, tmp_path, monkeypatch):
    path = tmp_path / "llm.sock"
    replies: list[str] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        text = llm_client.text_of(llm_client.chat([{"role": "user", "content": f"n{i}"}]))
        with lock:
            replies.append(text)

    with Gateway(layer).serve_unix(path, candidate_id="C"):
        _use_socket(monkeypatch, path)
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(replies) == [f"reply to n{i}" for i in range(6)]


def test_errors_reach_the_client_typed(layer, tmp_path, monkeypatch):
    path = tmp_path / "llm.sock"
    with Gateway(layer).serve_unix(path, candidate_id="C"):
        _use_socket(monkeypatch, path)
        with pytest.raises(llm_client.LLMError) as info:
            llm_client.chat([])
        assert info.value.status == 400 and info.value.kind == "invalid_request_error"
    with pytest.raises(llm_client.LLMUnavailableError):
        llm_client.chat(ASK, timeout=5)


def test_streaming_request_gets_server_sent_events(layer, tmp_path):
    path = tmp_path / "llm.sock"
    with Gateway(layer).serve_unix(path, candidate_id="C"):
        conn = llm_client._UnixConnection(str(path), timeout=10)
        conn.request(
            "POST", "/v1/chat/completions", body=json.dumps({"messages": ASK, "stream": True})
        )
        body = conn.getresponse().read().decode()
        conn.close()
    events = [
        line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "reply to one two"


def test_loopback_tcp_needs_a_token_per_caller(layer, monkeypatch):
    with Gateway(layer).serve_tcp() as server:
        monkeypatch.setenv("CLADE_LLM_URL", server.url)
        monkeypatch.delenv("CLADE_LLM_TOKEN", raising=False)
        with pytest.raises(llm_client.LLMError) as info:
            llm_client.chat(ASK)
        assert info.value.status == 401
        monkeypatch.setenv("CLADE_LLM_TOKEN", server.issue_token(run_id="run-g", candidate_id="T"))
        assert llm_client.text_of(llm_client.chat(ASK)) == "reply to one two"
    assert layer.sink.records[-1].candidate_id == "T"


def test_a_non_root_process_can_use_the_socket(layer, root_python):
    # Sandboxes run as a non-root uid: run the stdlib client file as `nobody`, as a sandbox would.
    folder = Path(tempfile.mkdtemp(prefix="clade-sock-"))
    folder.chmod(0o755)
    client_dir = Path(tempfile.mkdtemp(prefix="clade-client-"))
    client_dir.chmod(0o755)
    shutil.copy(Path(llm_client.__file__), client_dir / "llm_client.py")
    (client_dir / "llm_client.py").chmod(0o644)
    code = "import llm_client; print(llm_client.text_of(llm_client.chat([{'role': 'user', 'content': 'hi'}])))"
    try:
        with Gateway(layer).serve_unix(folder / "llm.sock", candidate_id="nobody"):
            out = subprocess.run(
                [root_python, "-c", code],
                cwd=client_dir,
                env={"CLADE_LLM_SOCKET": str(folder / "llm.sock"), "PYTHONPATH": str(client_dir)},
                user=65534,
                capture_output=True,
                text=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(client_dir, ignore_errors=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "reply to hi"


def test_the_openai_sdk_talks_to_the_gateway(layer):
    # OpenAI compatibility checked with the official client over loopback TCP.
    import openai

    with Gateway(layer).serve_tcp() as server:
        token = server.issue_token(run_id="run-g", candidate_id="sdk", role="judge")
        client = openai.OpenAI(base_url=server.url, api_key=token, max_retries=0)
        reply = client.chat.completions.create(model="anything", messages=ASK, max_tokens=5)
        assert reply.choices[0].message.content == "judge says"
        assert [m.id for m in client.models.list().data] == ["scripted/t-gw-judge"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()
