"""Run the dashboard on uvicorn in a background thread (tests, notebooks, embedding).

The listening socket is bound before the thread starts, so a client may connect at once:
its connection waits in the backlog until the server accepts it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clade.archive.errors import CladeError

START_TIMEOUT_S = 20.0


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on ``host``:``port`` (0: a free port) while inside; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()
        if thread.is_alive():
            raise CladeError("the dashboard server did not stop", hint="a request may hang")
