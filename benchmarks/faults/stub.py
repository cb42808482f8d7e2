"""An OpenAI-compatible model endpoint that plays examples/scripted_agent.py, and can go away.

``POST /v1/chat/completions`` answers with ``scripted_agent.reply(messages)`` and word
counts as usage. :meth:`ModelStub.outage` closes the listening socket for a while, so
every connection is refused, then listens again on the same port.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .harness import EXAMPLES

KEY_ENV = "CLADE_STUB_KEY"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))  # scripted_agent plays the model


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        import scripted_agent  # on PYTHONPATH (examples/)

        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        messages = body.get("messages", [])
        text = scripted_agent.reply(messages)
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        answer = {
            "id": "stub", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                      "total_tokens": prompt + len(text.split())},
        }  # fmt: skip
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ModelStub:
    """The endpoint on 127.0.0.1, a free port chosen once."""

    def __init__(self) -> None:
        self.port = 0
        self.requests_refused_s = 0.0
        self._server: ThreadingHTTPServer | None = None
        self.listen()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def listen(self) -> None:
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # from here on, connections are refused
            self._server = None

    def outage(self, seconds: float) -> None:
        self.close()
        time.sleep(seconds)
        self.listen()
        self.requests_refused_s += seconds
