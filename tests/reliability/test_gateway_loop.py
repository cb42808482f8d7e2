"""The gateway's servers share one event loop, so litellm's logging worker stays bound to
it, and at the end nothing is left pending: no asyncio warning reaches stderr.

Run in a fresh interpreter: the warnings this guards against appear when loops close and
at interpreter exit, so the check reads a whole process's stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap

NOISE = ("Task was destroyed but it is pending", "coroutine already executing",
         "bound to a different event loop", "Traceback", "never retrieved")  # fmt: skip

SCRIPT = textwrap.dedent("""
    import json, tempfile, threading
    from pathlib import Path
    from clade.agents.llm_client import _UnixConnection
    from clade.orchestrator.models import Gateway, MemorySink, ModelLayer, ModelsConfig, register_script

    register_script("loop", lambda messages: "ok " + messages[-1]["content"])
    layer = ModelLayer(ModelsConfig.model_validate({"default": "scripted/loop"}), sink=MemorySink())
    root = Path(tempfile.mkdtemp(prefix="gl-", dir="/tmp"))

    def sandbox(n):
        path = root / f"s{n}" / "llm.sock"
        with Gateway(layer).serve_unix(path, run_id="r", candidate_id=f"c{n}"):
            for i in range(5):
                conn = _UnixConnection(str(path), 30)
                body = {"messages": [{"role": "user", "content": f"{n}-{i}"}]}
                conn.request("POST", "/v1/chat/completions", json.dumps(body),
                             {"content-type": "application/json"})
                reply = json.loads(conn.getresponse().read())
                conn.close()
                assert reply["choices"][0]["message"]["content"] == f"ok {n}-{i}", reply

    for generation in range(3):  # servers come and go, as sandboxes do in a run
        threads = [threading.Thread(target=sandbox, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        loops = [t for t in threading.enumerate() if t.name.startswith("clade-gateway") and "-io" not in t.name]
        assert len(loops) <= 1, loops  # one loop for every server, never one per server
    assert len(layer.sink.records) == 45
    print("done", flush=True)
""")


def test_many_gateway_servers_leave_no_asyncio_noise():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "done"
    assert not [n for n in NOISE if n in done.stderr], done.stderr[-3000:]
