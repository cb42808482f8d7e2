"""Fixtures of the model-layer tests: a real HTTP server that misbehaves on request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

OK_BODY = {
    "id": "chatcmpl-fault",
    "object": "chat.completion",
    "created": 1,
    "model": "fake",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "recovered"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
}


class FaultServer:
    """An OpenAI-compatible endpoint that answers each hit with the next planned fault.

    Plans: "ok", "429", "500", "503", "401", "malformed" (HTTP 200, truncated JSON) and
    "hang" (no answer until the test ends). After the plan runs out the last entry repeats.
    """

    def __init__(self) -> None:
        self.plan: list[str] = ["ok"]
        self.hits = 0
        self._lock = threading.Lock()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                mode = server.next_mode()
                if mode == "hang":
                    server.release.wait(10)
                    return
                status, body = 200, json.dumps(OK_BODY).encode()
                if mode in {"429", "500", "503", "401"}:
                    status, body = (
                        int(mode),
                        json.dumps({"error": {"message": f"fault {mode}", "type": "x"}}).encode(),
                    )
                elif mode == "malformed":
                    body = body[: len(body) // 2]
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def next_mode(self) -> str:
        with self._lock:
            mode = self.plan[min(self.hits, len(self.plan) - 1)]
            self.hits += 1
            return mode


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=10)
