"""litellm custom providers for models answered in this process.

``transformers/<path>``, ``llamacpp/<path>`` and ``scripted/<name>`` are registered in
``litellm.custom_provider_map``, so every call, local or remote, goes through
``litellm.completion``/``acompletion`` and returns litellm's response and usage objects.
The handlers honour litellm's ``timeout``: a local generation that overruns is cancelled
and raises ``litellm.Timeout``. Clade's options travel as extra keyword arguments, which
litellm hands to custom providers in ``optional_params``: ``clade_priority`` (higher is
served sooner), ``clade_wait`` (a timeout counted from admission, see :mod:`waiting`) and
``engine_options``. Cancelling the caller's task, or an overrun, cancels the engine's
future, so the generation stops at the next token. Clade's own errors (bad options, an exhausted script) are
raised as ``litellm.BadRequestError`` carrying the original in ``clade_error``, so the
layer above does not retry them and can re-raise them as they were.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from clade.archive.errors import CladeError
from clade.orchestrator.models.engine import Generation, SamplingParams
from clade.orchestrator.models.routing import CUSTOM_PROVIDERS, find_engine, get_engine
from clade.orchestrator.models.scripted import prompt_tokens, scripted_reply
from clade.orchestrator.models.waiting import (
    QueueTimeout,
    WaitPolicy,
    submit_async,
    wait_async,
    wait_sync,
)

_lock = threading.Lock()
_litellm: ModuleType | None = None


def _params(optional: dict[str, Any]) -> SamplingParams:
    stop = optional.get("stop") or []
    return SamplingParams(
        max_tokens=int(optional.get("max_tokens") or 256),
        temperature=float(optional.get("temperature") or 0.0),
        top_p=float(optional.get("top_p") or 1.0),
        stop=[stop] if isinstance(stop, str) else list(stop),
        seed=optional.get("seed"),
        json_schema=_schema(optional.get("response_format")),
    )


def _schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema an OpenAI-style ``response_format`` asks for, if any."""
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_schema":
        return dict((response_format.get("json_schema") or {}).get("schema") or {"type": "object"})
    if response_format.get("type") == "json_object":
        return dict(response_format.get("schema") or {"type": "object"})
    return None


def _seconds(timeout: Any) -> float | None:
    if timeout is None or isinstance(timeout, int | float):
        return timeout
    return getattr(timeout, "read", None) or getattr(timeout, "timeout", None)


#: The arguments litellm hands a custom handler, in the order ``CustomLLM`` declares them
#: (it passes them by keyword; a position is read by this list).
_HANDLER_ARGS = (
    "model",
    "messages",
    "api_base",
    "custom_prompt_dict",
    "model_response",
    "print_verbose",
    "encoding",
    "api_key",
    "logging_obj",
    "optional_params",
)


@dataclass(frozen=True)
class _Request:
    """What a handler needs of litellm's arguments to ``completion``/``acompletion``."""

    model: str
    messages: list[Any]
    optional: dict[str, Any]
    response: Any
    timeout: Any = None

    @classmethod
    def of(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Request:
        named = {**dict(zip(_HANDLER_ARGS, args, strict=False)), **kwargs}
        return cls(
            named["model"],
            named["messages"],
            named.get("optional_params") or {},
            named["model_response"],
            named.get("timeout"),
        )

    def policy(self, fut: Future[Generation]) -> WaitPolicy:
        """How long to wait for ``fut``: litellm's ``timeout`` and Clade's ``clade_wait``;
        a scripted model's future has no admission, so its timeout counts from submission."""
        policy = WaitPolicy.of(_seconds(self.timeout), self.optional.get("clade_wait"))
        return policy if hasattr(fut, "admitted") else WaitPolicy(policy.seconds)


class LocalProvider:
    """Factory of the litellm handler for one provider name (built lazily: litellm is heavy)."""

    @staticmethod
    def build(provider: str) -> Any:
        import litellm

        class Handler(litellm.CustomLLM):
            def __init__(self) -> None:
                super().__init__()
                self.provider = provider
                self._pool = ThreadPoolExecutor(
                    max_workers=32, thread_name_prefix=f"clade-{provider}"
                )

            def _submit(self, request: _Request) -> Future[Generation]:
                params = _params(request.optional)
                if self.provider == "scripted":
                    return self._pool.submit(_scripted, request.model, request.messages, params)
                options = request.optional.get("engine_options")
                engine = get_engine(self.provider, request.model, options)
                priority = int(request.optional.get("clade_priority") or 0)
                return engine.submit(request.messages, params, priority)

            @contextmanager
            def _translated(self, request: _Request) -> Iterator[None]:
                """Clade's errors as ``BadRequestError`` (carrying the original in
                ``clade_error``), an overrun as ``litellm.Timeout``."""
                model = request.model
                try:
                    yield
                except CladeError as exc:
                    err = litellm.BadRequestError(
                        message=str(exc), model=model, llm_provider=self.provider
                    )
                    err.clade_error = exc  # type: ignore[attr-defined]
                    raise err from exc
                except TimeoutError as exc:
                    if not isinstance(exc, QueueTimeout) and self.provider != "scripted":
                        # The engine is slower than estimated: a retry gets more time.
                        options = request.optional.get("engine_options")
                        engine = find_engine(self.provider, model, options)
                        if engine is not None:
                            engine.speed.slow_down()
                    detail = str(exc) or "local generation exceeded its time limit"
                    raise litellm.Timeout(
                        message=detail, model=model, llm_provider=self.provider
                    ) from None

            def _respond(self, gen: Generation, request: _Request) -> Any:
                response = request.response
                response.model = f"{self.provider}/{request.model}"
                response.choices[0].message.content = gen.text
                response.choices[0].finish_reason = gen.finish_reason
                response.usage = litellm.Usage(
                    prompt_tokens=gen.prompt_tokens,
                    completion_tokens=gen.completion_tokens,
                    total_tokens=gen.prompt_tokens + gen.completion_tokens,
                )
                return response

            # litellm's arguments are read by `_Request` (an override taking `*args,
            # **kwargs` matches the base class's long signature).
            def completion(self, *args: Any, **kwargs: Any) -> Any:
                request = _Request.of(args, kwargs)
                with self._translated(request):
                    fut = self._submit(request)
                    return self._respond(wait_sync(fut, request.policy(fut)), request)

            async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
                request = _Request.of(args, kwargs)
                with self._translated(request):
                    fut = await submit_async(self._pool, self._submit, request)
                    return self._respond(await wait_async(fut, request.policy(fut)), request)

        return Handler()


def _scripted(name: str, messages: list[Any], params: SamplingParams) -> Generation:
    """A scripted reply: a word is a token; ``stop`` and ``max_tokens`` are honoured."""
    text = scripted_reply(name, messages, params)
    finish: Literal["stop", "length"] = "stop"
    for s in params.stop:
        if s in text:
            text = text[: text.index(s)]
    words = text.split()
    if len(words) > params.max_tokens:
        cut = [m.end() for m in re.finditer(r"\S+", text)][params.max_tokens - 1]
        text, words, finish = text[:cut], words[: params.max_tokens], "length"
    return Generation(
        text=text,
        prompt_tokens=prompt_tokens(messages),
        completion_tokens=len(words),
        finish_reason=finish,
    )


def litellm_module() -> ModuleType:
    """litellm, imported offline-safe, with Clade's custom providers registered (once)."""
    global _litellm
    with _lock:
        if _litellm is not None:
            return _litellm
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        kept = [p for p in litellm.custom_provider_map if p["provider"] not in CUSTOM_PROVIDERS]
        litellm.custom_provider_map = kept + [
            {"provider": name, "custom_handler": LocalProvider.build(name)}
            for name in CUSTOM_PROVIDERS
        ]
        litellm.utils.custom_llm_setup()
        _litellm = litellm
        return litellm
