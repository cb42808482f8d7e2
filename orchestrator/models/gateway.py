"""The sandbox bridge: serve the model layer to sandboxes over a Unix socket or loopback TCP.

::

    gateway = Gateway(layer)
    with gateway.serve_unix(home / "sockets" / cid / "llm.sock", run_id=rid, candidate_id=cid,
                            budget=Budget(max_tokens=50_000)):
        ...  # bind-mount the socket's folder at /run/clade; agents/llm_client.py connects

    with gateway.serve_tcp() as server:          # 127.0.0.1, a free port
        token = server.issue_token(run_id=rid, candidate_id=cid)   # CLADE_LLM_TOKEN

Each server runs uvicorn on the process's shared gateway loop (:mod:`gateway_loop`) and
stops when the ``with`` block ends; generations still running for it are cancelled then (the sandbox
is gone), stopping local engines at the next token. The socket file is made
world-writable (0o666): sandboxes run as a non-root uid.

``priority`` (higher is served sooner, default 0) orders this caller's requests in local
engines: a run's diagnosis and self-modification sandboxes pass more than evaluation
sandboxes. ``Gateway(layer, limits=GatewayLimits(max_body_bytes=...))`` sets the request
limits (see :mod:`gateway_request`).
"""

from __future__ import annotations

import contextlib
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
from clade.orchestrator.models import gateway_loop
from clade.orchestrator.models.gateway_request import GatewayLimits
from clade.orchestrator.models.layer import ModelLayer
from clade.orchestrator.models.metering import Budget, BudgetTracker

#: Seconds a stopping server waits for its requests to answer after cancelling them.
STOP_GRACE_S = 5


@dataclass
class UnixServer:
    """A running Unix-socket server for one sandbox."""

    path: Path
    run_id: str | None
    candidate_id: str | None
    role: str
    budget: BudgetTracker | None
    priority: int = 0


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
        priority: int = 0,
    ) -> str:
        """A new token; calls made with it are metered (and budgeted) to this caller."""
        from clade.orchestrator.models.gateway_app import Attribution

        tracker = BudgetTracker(budget, f"candidate {candidate_id}") if budget else None
        token = "clade-" + secrets.token_urlsafe(24)
        with self._lock:
            self._callers[token] = Attribution(run_id, candidate_id, role, tracker, priority)
        return token

    def caller(self, token: str | None) -> Any:
        with self._lock:
            return self._callers.get(token or "")


@contextmanager
def _serving(app: Any, sock: socket.socket, what: str, inflight: Any) -> Iterator[None]:
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=STOP_GRACE_S,
    )
    server = uvicorn.Server(config)
    # Every server shares one event loop (see gateway_loop: litellm's logging worker
    # binds to a loop, and one loop per server left its tasks pending on each).
    running = gateway_loop.submit(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn exposes readiness only as a flag
        if running.done() or time.monotonic() > deadline:
            sock.close()
            raise SetupError(f"model gateway on {what} did not start", hint="see the log above")
        time.sleep(0.005)
    try:
        yield
    finally:
        inflight.cancel_all()  # the caller is gone: stop its generations at the next token
        server.should_exit = True
        with contextlib.suppress(Exception):
            running.result(timeout=30)
        sock.close()


class Gateway:
    """Serves one :class:`ModelLayer` to any number of sandboxes."""

    def __init__(self, layer: ModelLayer, limits: GatewayLimits | None = None) -> None:
        self.layer = layer
        self.limits = limits or GatewayLimits()

    @contextmanager
    def serve_unix(
        self,
        path: Path | str,
        *,
        run_id: str | None = None,
        candidate_id: str | None = None,
        role: str = "agent",
        budget: Budget | None = None,
        priority: int = 0,
    ) -> Iterator[UnixServer]:
        """Serve on the Unix socket ``path``; every call is attributed to this caller and
        queued in local engines at ``priority``."""
        from clade.orchestrator.models.gateway_app import Attribution, InFlight, build_app

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(str(path).encode()) > 100:
            raise SetupError(
                f"socket path too long for AF_UNIX: {path}", hint="use a shorter CLADE_HOME"
            )
        path.unlink(missing_ok=True)
        tracker = BudgetTracker(budget, f"candidate {candidate_id}") if budget else None
        caller = Attribution(run_id, candidate_id, role, tracker, priority)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o666)
        inflight = InFlight()
        app = build_app(self.layer, lambda request: caller, self.limits, inflight)
        try:
            with _serving(app, sock, str(path), inflight):
                yield UnixServer(path, run_id, candidate_id, role, tracker, priority)
        finally:
            path.unlink(missing_ok=True)

    @contextmanager
    def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[TcpServer]:
        """Serve on loopback TCP; callers need a token from :meth:`TcpServer.issue_token`."""
        from clade.orchestrator.models.gateway_app import InFlight, build_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        server = TcpServer(host, sock.getsockname()[1])

        def identify(request: Any) -> Any:
            auth = request.headers.get("authorization", "")
            return server.caller(
                auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
            )

        inflight = InFlight()
        app = build_app(self.layer, identify, self.limits, inflight)
        with _serving(app, sock, f"{host}:{server.port}", inflight):
            yield server
