"""What the gateway accepts from a sandbox: size and shape limits, and the request model.

A sandbox is untrusted, so its request is read with a cap (:class:`GatewayLimits`): a body
over ``max_body_bytes`` is answered 413 without being buffered (it is read on and dropped,
up to ``drain_bytes``, so the client still gets the answer, then the connection is closed),
JSON nested deeper than ``max_depth`` is a 400, and so is any shape :class:`ChatRequest`
does not accept. Nothing a body holds can raise past these checks.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MiB = 1 << 20


class GatewayLimits(BaseModel):
    """Limits on what a sandbox may send to the model gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(
        default=MiB, ge=1024, description="Largest request body in bytes; larger ones get 413."
    )
    drain_bytes: int = Field(
        default=64 * MiB,
        ge=0,
        description="An oversized body is read on and dropped up to this many bytes, so the "
        "client reads the 413; beyond it the connection is closed at once.",
    )
    max_depth: int = Field(
        default=32, ge=4, description="Deepest nesting of JSON arrays and objects accepted."
    )
    max_messages: int = Field(default=1024, ge=1, description="Most messages in one request.")
    max_stop: int = Field(default=8, ge=0, description="Most stop strings in one request.")


class BodyTooLarge(Exception):
    """The request body is over ``max_body_bytes``."""


class BadBody(Exception):
    """The request body is not a JSON request the gateway accepts (a one-line reason)."""


class TextPart(BaseModel):
    """A text part of a message's content."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"] = Field(description="Only text parts are served.")
    text: str = Field(description="The text.")


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str | list[TextPart] | None = Field(default=None, description="What is said.")
    name: str | None = Field(default=None, max_length=64, description="Speaker's name.")

    def plain(self) -> dict[str, Any]:
        content = self.content
        if isinstance(content, list):
            content = "".join(part.text for part in content)
        out: dict[str, Any] = {"role": self.role, "content": content or ""}
        if self.name:
            out["name"] = self.name
        return out


class JsonSchemaFormat(BaseModel):
    """OpenAI's ``json_schema`` response format."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="response", max_length=64, description="Name of the schema.")
    schema_: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"}, alias="schema", description="JSON schema."
    )
    strict: bool | None = Field(default=None, description="Accepted; grammars are strict.")


class ResponseFormat(BaseModel):
    """``{"type": "json_schema", "json_schema": {...}}``, ``{"type": "json_object"}`` or text."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object", "json_schema"] = Field(description="Kind of reply.")
    json_schema: JsonSchemaFormat | None = Field(default=None, description="With json_schema.")

    def param(self) -> dict[str, Any] | None:
        """The ``response_format`` the model layer gets (None for plain text)."""
        if self.type == "json_schema":
            spec = self.json_schema or JsonSchemaFormat()
            return {
                "type": "json_schema",
                "json_schema": {"name": spec.name, "schema": spec.schema_},
            }
        if self.type == "json_object":
            return {"type": "json_object"}
        return None


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat request that Clade honours."""

    model_config = ConfigDict(extra="ignore")

    messages: list[Message] = Field(min_length=1, description="Chat messages.")
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
    response_format: ResponseFormat | None = Field(
        default=None, description="A JSON schema (or any JSON object) the reply must follow."
    )

    def chat(self) -> list[dict[str, Any]]:
        return [m.plain() for m in self.messages]

    def params(self) -> dict[str, Any]:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        values = {
            "max_tokens": self.max_tokens or self.max_completion_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": stop or None,
            "seed": self.seed,
            "response_format": self.response_format.param() if self.response_format else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value`` (iterative: no recursion to exhaust); stops past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_chat(body: bytes, limits: GatewayLimits) -> ChatRequest:
    """The request in ``body``; :class:`BadBody` with a one-line reason otherwise."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadBody(f"request JSON nests deeper than {limits.max_depth} levels") from None
    except ValueError as exc:  # also invalid UTF-8
        raise BadBody(f"request body is not JSON: {str(exc).splitlines()[0]}") from None
    if json_depth(data, limits.max_depth) > limits.max_depth:
        raise BadBody(f"request JSON nests deeper than {limits.max_depth} levels")
    if not isinstance(data, dict):
        raise BadBody("request body must be a JSON object")
    try:  # a "\ud800" escape decodes to a lone surrogate, which no model can be sent
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        raise BadBody("request JSON holds text that is not valid Unicode") from None
    try:
        req = ChatRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadBody(f"invalid request: {where}: {first['msg']}") from None
    if len(req.messages) > limits.max_messages:
        raise BadBody(f"too many messages: {len(req.messages)} > {limits.max_messages}")
    if isinstance(req.stop, list) and len(req.stop) > limits.max_stop:
        raise BadBody(f"too many stop strings: {len(req.stop)} > {limits.max_stop}")
    return req
