"""The OpenAI-compatible app a sandbox talks to: ``POST /v1/chat/completions``, ``GET /v1/models``.

Each request is attributed to an :class:`Attribution` (run, candidate, role, budget, priority)
found by the server: a Unix socket has one caller; a TCP listener maps bearer tokens to
callers. The request's ``model`` field is informational: a sandbox gets the model of its
role. Errors use OpenAI's shape ``{"error": {"message", "type", "code"}}``; a spent budget
is HTTP 402 (not 429, which clients retry), an oversized body 413 (see
:mod:`gateway_request` for the limits); no request can make the app print a traceback.

A generation races its caller: when the client disconnects (it timed out, or its sandbox
was killed) the call is cancelled and the local engine stops at the next token; so it is
when the server stops (:meth:`InFlight.cancel_all`, called as the sandbox's ``serve_unix``
block ends). ``GET /v1/models`` tells the caller, per model, ``"clade": {"grammar": bool,
"tokens_per_s": float | None}``: whether a ``response_format`` JSON schema constrains the
decoding, and the engine's measured speed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clade.archive.errors import CladeError
from clade.orchestrator.models.errors import BudgetExceeded, ModelCallFailed, ReplayMiss
from clade.orchestrator.models.gateway_request import (
    BadBody,
    BodyTooLarge,
    ChatRequest,
    GatewayLimits,
    parse_chat,
)
from clade.orchestrator.models.gateway_stream import sse
from clade.orchestrator.models.layer import ModelLayer
from clade.orchestrator.models.metering import BudgetTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attribution:
    """Whom a request is attributed to: every call is metered to it, checked against its
    budget, and queued in local engines at its ``priority`` (higher is served sooner)."""

    run_id: str | None
    candidate_id: str | None
    role: str = "agent"
    budget: BudgetTracker | None = None
    priority: int = 0


class InFlight:
    """The generations a server is running, so that stopping it cancels them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[asyncio.Task[Any], asyncio.AbstractEventLoop] = {}

    def add(self, task: asyncio.Task[Any]) -> None:
        with self._lock:
            self._tasks[task] = asyncio.get_running_loop()

    def discard(self, task: asyncio.Task[Any]) -> None:
        with self._lock:
            self._tasks.pop(task, None)

    def cancel_all(self) -> int:
        """Cancel every running generation (thread-safe); how many there were."""
        with self._lock:
            tasks = list(self._tasks.items())
        for task, loop in tasks:
            if not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
        return len(tasks)


def _error(status: int, kind: str, message: str, code: str | None = None) -> JSONResponse:
    headers = {"connection": "close"} if status == 413 else None
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}},
        status_code=status,
        headers=headers,
    )


async def read_body(request: Request, limits: GatewayLimits) -> bytes:
    """The body, buffered up to ``max_body_bytes``; :class:`BodyTooLarge` past it (the rest
    is read and dropped up to ``drain_bytes``, so the client gets to read the answer)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes + limits.drain_bytes:
        raise BodyTooLarge
    too_large = declared.isdigit() and int(declared) > limits.max_body_bytes
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limits.max_body_bytes:
            too_large = True
            chunks.clear()
            if seen > limits.max_body_bytes + limits.drain_bytes:
                break
        elif not too_large:
            chunks.append(chunk)
    if too_large:
        raise BodyTooLarge
    return b"".join(chunks)


async def _gone(request: Request) -> None:
    """Return once the client has disconnected (the body is read by now)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def build_app(
    layer: ModelLayer,
    identify: Callable[[Request], Attribution | None],
    limits: GatewayLimits | None = None,
    inflight: InFlight | None = None,
) -> Starlette:
    """The app serving ``layer`` to callers that ``identify`` recognises (None: 401)."""
    limits = limits or GatewayLimits()
    running = inflight or InFlight()

    def unknown() -> JSONResponse:
        return _error(
            401, "authentication_error", "unknown or missing bearer token", "invalid_api_key"
        )

    async def generate(request: Request, caller: Attribution, req: ChatRequest) -> Response:
        task = asyncio.ensure_future(
            layer.acomplete(
                req.chat(),
                role=caller.role,
                run_id=caller.run_id,
                candidate_id=caller.candidate_id,
                budget=caller.budget,
                priority=caller.priority,
                **req.params(),
            )
        )
        watch = asyncio.ensure_future(_gone(request))
        running.add(task)
        try:
            await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            watch.cancel()
            running.discard(task)
        if not task.done():  # the caller went away: stop the generation at the next token
            task.cancel()
            await asyncio.wait({task})
            return Response(status_code=499)
        if task.cancelled():
            return _error(503, "server_stopping", "the sandbox's model service stopped")
        exc = task.exception()
        if exc is not None:
            return _call_error(exc)
        result = task.result()
        if watch.done() and not watch.cancelled():  # finished as the caller left
            layer.note_abandoned(result.completion_tokens)
        body = dict(result.response)
        body["model"] = result.model
        body.setdefault("created", int(time.time()))
        return sse(body) if req.stream else JSONResponse(body)

    async def chat(request: Request) -> Response:
        caller = identify(request)
        if caller is None:
            return unknown()
        try:
            req = parse_chat(await read_body(request, limits), limits)
        except BodyTooLarge:
            return _error(
                413,
                "invalid_request_error",
                f"request body over {limits.max_body_bytes} bytes",
                "request_too_large",
            )
        except BadBody as exc:
            return _error(400, "invalid_request_error", str(exc))
        except ClientDisconnect:
            return Response(status_code=499)
        return await generate(request, caller, req)

    async def models(request: Request) -> Response:
        caller = identify(request)
        if caller is None:
            return unknown()
        model = layer.config.for_role(caller.role).model
        info = {
            "grammar": layer.decodes_with_grammar(caller.role),
            "tokens_per_s": layer.tokens_per_s(caller.role),
        }
        entry = {"id": model, "object": "model", "owned_by": "clade", "clade": info}
        return JSONResponse({"object": "list", "data": [entry]})

    def guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                response: Response = await endpoint(request)
            except Exception as exc:  # a bug, not the caller's fault: one line, no traceback
                log.warning("model gateway: %s: %s", type(exc).__name__, str(exc)[:200])
                return _error(500, "server_error", "internal error of the model gateway")
            return response

        return run

    return Starlette(
        routes=[
            Route("/v1/chat/completions", guarded(chat), methods=["POST"]),
            Route("/v1/models", guarded(models), methods=["GET"]),
        ]
    )


def _call_error(exc: BaseException) -> JSONResponse:
    if isinstance(exc, BudgetExceeded):
        return _error(402, "budget_exceeded", exc.message, exc.limit)
    if isinstance(exc, ModelCallFailed):
        return _error(502, "upstream_error", exc.message, exc.kind)
    if isinstance(exc, ReplayMiss):
        return _error(500, "replay_miss", exc.message, exc.request_hash)
    if isinstance(exc, CladeError):
        return _error(400, "invalid_request_error", str(exc), type(exc).__name__)
    log.warning("model gateway: %s: %s", type(exc).__name__, str(exc)[:200])
    return _error(500, "server_error", "internal error of the model gateway")
