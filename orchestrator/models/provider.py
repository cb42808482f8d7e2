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
from concurrent.futures import Future, ThreadPoolExecutor
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

            def _submit(
                self, model: str, messages: list[Any], optional: dict[str, Any]
            ) -> Future[Generation]:
                params = _params(optional)
                if self.provider == "scripted":
                    return self._pool.submit(_scripted, model, messages, params)
                engine = get_engine(self.provider, model, optional.get("engine_options"))
                priority = int(optional.get("clade_priority") or 0)
                return engine.submit(messages, params, priority)

            def _error(self, exc: CladeError, model: str) -> Exception:
                err = litellm.BadRequestError(
                    message=str(exc), model=model, llm_provider=self.provider
                )
                err.clade_error = exc  # type: ignore[attr-defined]
                return err

            def _timeout(
                self, exc: TimeoutError, model: str, optional: dict[str, Any]
            ) -> Exception:
                if not isinstance(exc, QueueTimeout) and self.provider != "scripted":
                    # The engine is slower than estimated: a retry gets more time.
                    engine = find_engine(self.provider, model, optional.get("engine_options"))
                    if engine is not None:
                        engine.speed.slow_down()
                detail = str(exc) or "local generation exceeded its time limit"
                return litellm.Timeout(message=detail, model=model, llm_provider=self.provider)

            def _respond(self, gen: Generation, model: str, response: Any) -> Any:
                response.model = f"{self.provider}/{model}"
                response.choices[0].message.content = gen.text
                response.choices[0].finish_reason = gen.finish_reason
                response.usage = litellm.Usage(
                    prompt_tokens=gen.prompt_tokens,
                    completion_tokens=gen.completion_tokens,
                    total_tokens=gen.prompt_tokens + gen.completion_tokens,
                )
                return response

            def completion(
                self,
                model: str,
                messages: list[Any],
                api_base: Any,
                custom_prompt_dict: Any,
                model_response: Any,
                print_verbose: Any,
                encoding: Any,
                api_key: Any,
                logging_obj: Any,
                optional_params: dict[str, Any],
                *args: Any,
                timeout: Any = None,
                **kwargs: Any,
            ) -> Any:
                policy = WaitPolicy.of(_seconds(timeout), optional_params.get("clade_wait"))
                try:
                    fut = self._submit(model, messages, optional_params)
                    gen = wait_sync(fut, _timed(policy, fut))
                except CladeError as exc:
                    raise self._error(exc, model) from exc
                except TimeoutError as exc:
                    raise self._timeout(exc, model, optional_params) from None
                return self._respond(gen, model, model_response)

            async def acompletion(
                self,
                model: str,
                messages: list[Any],
                api_base: Any,
                custom_prompt_dict: Any,
                model_response: Any,
                print_verbose: Any,
                encoding: Any,
                api_key: Any,
                logging_obj: Any,
                optional_params: dict[str, Any],
                *args: Any,
                timeout: Any = None,
                **kwargs: Any,
            ) -> Any:
                policy = WaitPolicy.of(_seconds(timeout), optional_params.get("clade_wait"))
                try:
                    fut = await submit_async(
                        self._pool, self._submit, model, messages, optional_params
                    )
                    gen = await wait_async(fut, _timed(policy, fut))
                except CladeError as exc:
                    raise self._error(exc, model) from exc
                except TimeoutError as exc:
                    raise self._timeout(exc, model, optional_params) from None
                return self._respond(gen, model, model_response)

        return Handler()


def _timed(policy: WaitPolicy, fut: Future[Generation]) -> WaitPolicy:
    """A scripted model's future has no admission: its timeout counts from submission."""
    return policy if hasattr(fut, "admitted") else WaitPolicy(policy.seconds)


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
