"""What the llama.cpp engine sends to llama.cpp's server and how it reads the answer.

Requests are OpenAI chat completions, streamed, so that a cancelled generation stops at
the next token: the server calls :class:`StreamCollector` once per chunk and stops when
it returns True.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clade.orchestrator.errors import CladeError
from clade.orchestrator.models.engine import Generation, SamplingParams


class LlamaCppError(CladeError):
    """llama.cpp refused or failed a generation request."""


def build_request(messages: Sequence[Mapping[str, Any]], params: SamplingParams) -> dict[str, Any]:
    """The body of a streamed chat completion for llama.cpp, with ``params`` mapped exactly.

    llama.cpp samples with top-k 40 and min-p 0.05 unless told otherwise; both are switched
    off so that temperature and top_p alone shape the distribution, as in the OpenAI API.
    Temperature 0 is greedy decoding in llama.cpp; stop strings are left out of the text.
    """
    request: dict[str, Any] = {
        "messages": [dict(message) for message in messages],
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": 0,
        "min_p": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if params.stop:
        request["stop"] = list(params.stop)
    if params.seed is not None:
        request["seed"] = params.seed
    if params.json_schema is not None:
        request["json_schema"] = params.json_schema
    return request


class StreamCollector:
    """Called by llama.cpp with each chunk of a streamed completion; assembles the
    :class:`Generation`. Returns True (stop generating) once ``stop`` is set.

    It counts the tokens streamed (one per content chunk), and the *abandoned* ones: tokens
    that arrive after it asked llama.cpp to stop, for a caller that has gone. The token in
    flight when the cancellation came is not counted; llama.cpp honouring the stop keeps
    the count at 0.
    """

    def __init__(
        self, name: str, stop: threading.Event, on_token: Callable[[], None] | None = None
    ) -> None:
        self.name = name
        self.stop = stop
        self.on_token = on_token
        self.parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Mapping[str, Any] | None = None
        self.timings: Mapping[str, Any] | None = None
        self.error: str | None = None
        self.tokens = 0
        self.abandoned = 0
        self.cancelled = False

    def __call__(self, chunk: Mapping[str, Any]) -> bool:
        try:
            self._read(chunk)
        except Exception as exc:  # an exception must not cross into llama.cpp's thread
            self.error = f"unexpected chunk from llama.cpp ({exc!r})"
        if self.stop.is_set():
            self.cancelled = True
        return self.cancelled or self.error is not None

    def _read(self, chunk: Mapping[str, Any]) -> None:
        error = chunk.get("error")
        if error is not None:
            self.error = str(error.get("message", error) if isinstance(error, Mapping) else error)
            return
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.tokens += 1
                if self.on_token is not None:
                    self.on_token()
                if self.cancelled:  # asked to stop at an earlier token already
                    self.abandoned += 1
                self.parts.append(content)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if chunk.get("timings"):
            self.timings = chunk["timings"]

    def generation(self) -> Generation:
        """The finished completion, or :class:`LlamaCppError` with llama.cpp's reason."""
        if self.error is not None:
            hint = (
                "shorten the prompt or load the model with a larger n_ctx (tokens per slot)"
                if "context" in self.error
                else None
            )
            raise LlamaCppError(f"{self.name}: {self.error}", hint=hint)
        if self.usage is None or self.finish_reason is None:
            raise LlamaCppError(f"{self.name}: llama.cpp ended the stream without a result")
        return Generation(
            text="".join(self.parts),
            prompt_tokens=int(self.usage["prompt_tokens"]),
            completion_tokens=int(self.usage["completion_tokens"]),
            finish_reason="length" if self.finish_reason == "length" else "stop",
        )
