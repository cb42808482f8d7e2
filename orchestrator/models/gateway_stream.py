"""A finished chat completion as OpenAI's server-sent events (one content chunk, then the end)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import StreamingResponse


def sse(body: dict[str, Any]) -> StreamingResponse:
    """``body`` (a chat completion) as ``chat.completion.chunk`` events ending in ``[DONE]``."""
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
