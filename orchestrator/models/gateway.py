"""The sandbox bridge: serve the model layer to sandboxes over a Unix socket or loopback TCP.

::

    gateway = Gateway(layer)
    with gateway.serve_unix(home / "sockets" / cid / "llm.sock", run_id=rid, candidate_id=cid,
                            budget=Budget(max_tokens=50_000)):
        ...  # bind-mount the socket's folder at /run/clade; agents/llm_client.py connects

    with gateway.serve_tcp() as server:          # 127.0.0.1, a free port
        token = server.issue_token(run_id=rid, candidate_id=cid)   # CLADE_LLM_TOKEN

Each server runs uvicorn in a background thread with its own event loop and stops when
the ``with`` block ends. The socket file is made world-writable (0o666): sandboxes run as
a non-root uid.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clade.orchestrator.errors import SetupError
from clade.orchestrator.models.layer import ModelLayer
from clade.orchestrator.models.metering import Budget, BudgetTracker


@dataclass
class UnixServer:
    """A running Unix-socket server for one sandbox."""

    path: Path
    run_id: str | None
    candidate_id: str | None
    role: str
    budget: BudgetTracker | None


@dataclass
class TcpServer:
    """A running loopback server; callers identify with bearer tokens."""

    host: str
    port: int
    _callers: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def issue_token(
        self,
        *,
        run_id: str | None,
        candidate_id: str | None,
        role: str = "agent",
        budget: Budget | None = None,
    ) -> str:
        """A new token; calls made with it are metered (and budgeted) to this caller."""
        from clade.orchestrator.models.gateway_app import Caller

        tracker = BudgetTracker(budget, f"candidate {candidate_id}") if budget else None
        token = "clade-" + secrets.token_urlsafe(24)
        with self._lock:
            self._callers[token] = Caller(run_id, candidate_id, role, tracker)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._callers.pop(token, None)

    def caller(self, token: str | None) -> Any:
        with self._lock:
            return self._callers.get(token or "")


@contextmanager
def _serving(app: Any, sock: socket.socket, what: str) -> Iterator[None]:
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"clade-gateway {what}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn exposes readiness only as a flag
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SetupError(f"model gateway on {what} did not start", hint="see the log above")
        time.sleep(0.005)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class Gateway:
    """Serves one :class:`ModelLayer` to any number of sandboxes."""

    def __init__(self, layer: ModelLayer) -> None:
        self.layer = layer

    @contextmanager
    def serve_unix(
        self,
        path: Path | str,
        *,
        run_id: str | None = None,
        candidate_id: str | None = None,
        role: str = "agent",
        budget: Budget | None = None,
    ) -> Iterator[UnixServer]:
        """Serve on the Unix socket ``path``; every call is attributed to this caller."""
        from clade.orchestrator.models.gateway_app import Caller, build_app

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(str(path).encode()) > 100:
            raise SetupError(
                f"socket path too long for AF_UNIX: {path}", hint="use a shorter CLADE_HOME"
            )
        path.unlink(missing_ok=True)
        tracker = BudgetTracker(budget, f"candidate {candidate_id}") if budget else None
        caller = Caller(run_id, candidate_id, role, tracker)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o666)
        app = build_app(self.layer, lambda request: caller)
        try:
            with _serving(app, sock, str(path)):
                yield UnixServer(path, run_id, candidate_id, role, tracker)
        finally:
            path.unlink(missing_ok=True)

    @contextmanager
    def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[TcpServer]:
        """Serve on loopback TCP; callers need a token from :meth:`TcpServer.issue_token`."""
        from clade.orchestrator.models.gateway_app import build_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        server = TcpServer(host, sock.getsockname()[1])

        def identify(request: Any) -> Any:
            auth = request.headers.get("authorization", "")
            return server.caller(
                auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
            )

        with _serving(build_app(self.layer, identify), sock, f"{host}:{server.port}"):
            yield server
