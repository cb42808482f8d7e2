"""The model client that runs inside a sandbox: OpenAI-style chat over a Unix socket.

Standard library only. The orchestrator serves ``/v1/chat/completions`` on a Unix socket
bind-mounted into the sandbox; this module finds it through ``CLADE_LLM_SOCKET`` (default
``/run/clade/llm.sock``). Outside a sandbox it can also use loopback TCP: set
``CLADE_LLM_URL`` (``http://127.0.0.1:PORT``) and ``CLADE_LLM_TOKEN``.

    from llm_client import chat, text_of
    reply = chat([{"role": "user", "content": "hi"}], max_tokens=64)
    print(text_of(reply))
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SOCKET = "/run/clade/llm.sock"


class LLMError(Exception):
    """The model service answered with an error (``status``, ``kind`` as in OpenAI's error type)."""

    def __init__(
        self, message: str, status: int = 0, kind: str = "error", code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.code = code


class BudgetExceededError(LLMError):
    """This sandbox's (or run's) token or dollar budget is spent: stop calling the model."""


class LLMUnavailableError(LLMError):
    """No model service is reachable (socket missing, connection refused or timed out)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _connection(timeout: float) -> tuple[http.client.HTTPConnection, dict[str, str], str]:
    url = os.environ.get("CLADE_LLM_URL")
    headers = {"Content-Type": "application/json"}
    if url:
        parts = urlsplit(url)
        token = os.environ.get("CLADE_LLM_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout
        )
        return conn, headers, url
    path = os.environ.get("CLADE_LLM_SOCKET", DEFAULT_SOCKET)
    return _UnixConnection(path, timeout), headers, path


def _request(
    method: str, route: str, body: dict[str, Any] | None, timeout: float
) -> dict[str, Any]:
    conn, headers, where = _connection(timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, route, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise LLMUnavailableError(f"model service at {where} unreachable: {exc}") from exc
    finally:
        conn.close()
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise LLMError(
            f"model service sent invalid JSON (HTTP {response.status})", response.status
        ) from exc
    if response.status != 200:
        err = (payload.get("error") or {}) if isinstance(payload, dict) else {}
        cls = BudgetExceededError if response.status == 402 else LLMError
        raise cls(
            str(err.get("message", raw[:200])),
            response.status,
            str(err.get("type", "error")),
            err.get("code"),
        )
    if not isinstance(payload, dict):
        raise LLMError("model service sent an unexpected response", response.status)
    return payload


def chat(
    messages: list[dict[str, Any]], *, timeout: float = 600.0, **params: Any
) -> dict[str, Any]:
    """Send a chat request; returns OpenAI's response dict. ``params``: max_tokens, temperature,
    top_p, stop, seed, response_format (a JSON schema that local engines decode as a grammar).
    ``timeout`` is this caller's deadline: the service stops generating when it has gone."""
    return _request("POST", "/v1/chat/completions", {"messages": messages, **params}, timeout)


def text_of(response: dict[str, Any]) -> str:
    """The assistant's text in a chat response."""
    return str(response["choices"][0]["message"].get("content") or "")


def models(timeout: float = 30.0) -> list[str]:
    """Ids of the models this sandbox may use."""
    return [m["id"] for m in _request("GET", "/v1/models", None, timeout).get("data", [])]


def model_info(timeout: float = 30.0) -> dict[str, Any]:
    """The entry of this sandbox's model in ``GET /v1/models``; Clade's gateway adds
    ``"clade": {"grammar": bool, "tokens_per_s": float | None}`` (whether the model decodes
    under a ``response_format`` JSON schema, and its measured speed). ``{}`` if none."""
    data = _request("GET", "/v1/models", None, timeout).get("data") or []
    return dict(data[0]) if data and isinstance(data[0], dict) else {}


def decodes_under_grammar(timeout: float = 30.0) -> bool:
    """Whether the model is constrained by a JSON schema sent as ``response_format``."""
    clade = model_info(timeout).get("clade")
    return bool(isinstance(clade, dict) and clade.get("grammar"))
