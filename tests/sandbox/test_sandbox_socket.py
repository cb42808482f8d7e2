"""The model socket: a host folder with `llm.sock` is mounted read-only at /run/clade, and a
stdlib client inside the sandbox reaches a stdlib HTTP server on the host through it."""

from __future__ import annotations

import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from clade.sandbox import DockerSandbox, SandboxConfig

from .conftest import SMALL

pytestmark = pytest.mark.docker

CLIENT = """
import http.client, json, os, socket
class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ["CLADE_LLM_SOCKET"])
conn = UnixConnection("localhost")
body = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "ping"}]})
conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
print(conn.getresponse().read().decode())
"""


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = {
            "choices": [{"message": {"content": "pong: " + request["messages"][0]["content"]}}]
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:  # a Unix peer has no host
        return "unix"

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def socket_dir(tmp_path):
    folder = tmp_path / "sock"
    folder.mkdir(mode=0o755)
    path = folder / "llm.sock"
    server = _Server(str(path), _Handler)
    os.chmod(path, 0o666)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder
    server.shutdown()
    server.server_close()


def test_sandbox_reaches_the_model_socket_and_nothing_else(agent_image, run_id, socket_dir):
    config = SandboxConfig(image=agent_image, run_id=run_id, llm_socket_dir=socket_dir, **SMALL)
    with DockerSandbox(config) as sb:
        result = sb.run(["python3", "-c", CLIENT], timeout_s=20)
        assert result.ok, result
        reply = json.loads(result.stdout)
        assert reply["choices"][0]["message"]["content"] == "pong: ping"
        write = sb.run(["sh", "-c", "echo x > /run/clade/evil"])
        assert not write.ok and "Read-only" in write.stderr
        assert (
            sb.run(
                ["python3", "-c", "import socket; socket.getaddrinfo('pypi.org', 443)"]
            ).exit_code
            == 1
        )
    assert sorted(p.name for p in socket_dir.iterdir()) == ["llm.sock"]


def test_missing_socket_folder_is_one_clear_error(agent_image, run_id, tmp_path):
    from clade.sandbox import SandboxError

    config = SandboxConfig(image=agent_image, run_id=run_id, llm_socket_dir=tmp_path / "nope")
    with pytest.raises(SandboxError, match="model socket folder"):
        DockerSandbox(config).start()
