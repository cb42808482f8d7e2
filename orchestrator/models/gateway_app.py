"""The OpenAI-compatible app a sandbox talks to: ``POST /v1/chat/completions``, ``GET /v1/models``.

Each request is attributed to a :class:`Caller` (run, candidate, role, budget) found by
the server: a Unix socket has one caller; a TCP listener maps bearer tokens to callers.
The request's ``model`` field is informational: a sandbox gets the model of its role.
Errors use OpenAI's shape ``{"error": {"message", "type", "code"}}``; a spent budget is
HTTP 402 (not 429, which clients retry).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from clade.archive.errors import CladeError
from clade.orchestrator.models.errors import BudgetExceeded, ModelCallFailed, ReplayMiss
from clade.orchestrator.models.layer import ModelLayer
from clade.orchestrator.models.metering import BudgetTracker


@dataclass(frozen=True)
class Caller:
    """Who is calling: every call is metered to it and checked against its budget."""

    run_id: str | None
    candidate_id: str | None
    role: str = "agent"
    budget: BudgetTracker | None = None


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat request that Clade honours."""

    model_config = ConfigDict(extra="ignore")

    messages: list[dict[str, Any]] = Field(min_length=1, description="Chat messages.")
    model: str | None = Field(default=None, description="Ignored: the role decides the model.")
    max_tokens: int | None = Field(default=None, ge=1, description="Upper bound on new tokens.")
    max_completion_tokens: int | None = Field(
        default=None, ge=1, description="Newer name of max_tokens."
    )
    temperature: float | None = Field(default=None, ge=0.0, description="Sampling temperature.")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="Nucleus mass.")
    stop: str | list[str] | None = Field(default=None, description="Stop string(s).")
    seed: int | None = Field(default=None, description="Sampling seed.")
    stream: bool = Field(default=False, description="Answer as server-sent events (one chunk).")

    def params(self) -> dict[str, Any]:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        values = {
            "max_tokens": self.max_tokens or self.max_completion_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": stop,
            "seed": self.seed,
        }
        return {k: v for k, v in values.items() if v is not None}


def _error(status: int, kind: str, message: str, code: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}}, status_code=status
    )


def _stream(body: dict[str, Any]) -> StreamingResponse:
    choice = body["choices"][0]
    base = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
    }
    content = {
        "index": 0,
        "delta": {"role": "assistant", "content": choice["message"]["content"]},
        "finish_reason": None,
    }
    end = {"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason")}
    chunks = [
        {**base, "choices": [content]},
        {**base, "choices": [end], "usage": body.get("usage")},
    ]
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return StreamingResponse(iter(lines), media_type="text/event-stream")


def build_app(layer: ModelLayer, identify: Callable[[Request], Caller | None]) -> Starlette:
    """The app serving ``layer`` to callers that ``identify`` recognises (None: 401)."""

    async def chat(request: Request) -> Response:
        caller = identify(request)
        if caller is None:
            return _error(
                401, "authentication_error", "unknown or missing bearer token", "invalid_api_key"
            )
        try:
            req = ChatRequest.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return _error(400, "invalid_request_error", str(exc).splitlines()[0])
        try:
            result = await layer.acomplete(
                req.messages,
                role=caller.role,
                run_id=caller.run_id,
                candidate_id=caller.candidate_id,
                budget=caller.budget,
                **req.params(),
            )
        except BudgetExceeded as exc:
            return _error(402, "budget_exceeded", exc.message, exc.limit)
        except ModelCallFailed as exc:
            return _error(502, "upstream_error", exc.message, exc.kind)
        except ReplayMiss as exc:
            return _error(500, "replay_miss", exc.message, exc.request_hash)
        except CladeError as exc:
            return _error(400, "invalid_request_error", str(exc), type(exc).__name__)
        body = dict(result.response)
        body["model"] = result.model
        body.setdefault("created", int(time.time()))
        return _stream(body) if req.stream else JSONResponse(body)

    async def models(request: Request) -> Response:
        caller = identify(request)
        if caller is None:
            return _error(
                401, "authentication_error", "unknown or missing bearer token", "invalid_api_key"
            )
        model = layer.config.for_role(caller.role).model
        return JSONResponse(
            {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "clade"}]}
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )
