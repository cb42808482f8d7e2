"""The model layer: every part of Clade calls models through :class:`ModelLayer`.

``layer.complete(messages, role="judge")`` picks the role's model and sampling parameters
from the run config, reserves the call's budgets (prompt plus ``max_tokens``, clipping
``max_tokens`` to what is left), answers from the replay cache or calls
``litellm.completion`` (local models included, through the custom providers), retries
transient faults with exponential backoff, and records one :class:`CallRecord`, which
settles the budgets with the real usage. litellm's own retries are off
(``num_retries=0``): its backoff cannot be configured and it resets a process-wide setting
while retrying. A cancelled call (its task cancelled, an interrupt) stops the local
generation at the next token and is recorded with the error ``cancelled: ...``.

``priority`` orders waiting requests in local engines; :meth:`ModelLayer.tokens_per_s` is a
local engine's measured speed, which local timeouts follow (:mod:`speed`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypedDict, Unpack

from clade.archive.errors import ConfigError
from clade.orchestrator.models.cache import ResponseCache, request_hash
from clade.orchestrator.models.calls import ChatResult, PreparedCall, normalise_messages
from clade.orchestrator.models.faults import backoff, classify
from clade.orchestrator.models.metering import Budget, BudgetTracker, Sink
from clade.orchestrator.models.provider import litellm_module
from clade.orchestrator.models.routing import resolve_model
from clade.orchestrator.models.spec import ModelsConfig


class Sampling(TypedDict, total=False):
    """Sampling parameters of one call; each given one (not None) overrides the role's."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | list[str] | None
    seed: int | None
    response_format: dict[str, Any] | None
    """An OpenAI-style format: a JSON schema is a decoding grammar on llama.cpp."""


class CallOptions(Sampling, total=False):
    """The keyword arguments of :meth:`ModelLayer.complete` and ``acomplete``."""

    role: str
    """Whose model and sampling parameters (default ``"agent"``)."""
    model: str | None
    """Another model than the role's."""
    run_id: str | None
    """The run the call is metered and budgeted to (default: the layer's)."""
    candidate_id: str | None
    budget: BudgetTracker | None
    """A budget of the caller's own, beside the run's."""
    priority: int
    """Local engines serve waiting requests of higher priority first (default 0)."""


SAMPLING_KEYS = Sampling.__optional_keys__


class ModelLayer:
    """Calls models for one orchestrator process; thread-safe and usable from asyncio."""

    def __init__(
        self,
        config: ModelsConfig | None = None,
        *,
        sink: Sink | None = None,
        run_id: str | None = None,
        budget: Budget | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.config = config or ModelsConfig()
        self.sink = sink
        self.run_id = run_id
        cfg = self.config.cache
        self.cache = (
            cache
            if cache is not None
            else (ResponseCache(cfg.path, cfg.mode) if cfg.mode != "off" and cfg.path else None)
        )
        self._lock = threading.Lock()
        self._budgets: dict[str, BudgetTracker] = {}
        self._abandoned = 0
        if budget is not None:
            self.set_budget(run_id or "", budget)

    def set_budget(self, run_id: str, budget: Budget) -> BudgetTracker:
        """Limit the calls of ``run_id``; returns the tracker (its ``tokens`` and ``usd`` so far)."""
        tracker = BudgetTracker(budget, scope=f"run {run_id or '(default)'}")
        with self._lock:
            self._budgets[run_id] = tracker
        return tracker

    def close(self) -> None:
        """Close the record/replay cache (engines stay loaded: they are shared per process)."""
        if self.cache is not None:
            self.cache.close()

    def budget_of(self, run_id: str | None) -> BudgetTracker | None:
        with self._lock:
            return self._budgets.get(run_id or "")

    def serves_locally(self, role: str, model: str | None = None) -> bool:
        """Whether ``role`` (or ``model``) runs on an in-process engine, where a
        ``response_format`` JSON schema constrains decoding; API models only read it."""
        from clade.orchestrator.models.routing import local_engine

        return local_engine(model or self.config.for_role(role).model) is not None

    def tokens_per_s(self, role: str, model: str | None = None) -> float | None:
        """The measured generation speed (tokens/s of one request, under the current load)
        of the local engine serving ``role`` (or ``model``); None for API and scripted
        models and until the engine has finished a request. Timeouts of local calls follow
        it (see :mod:`speed`); agent limits can be sized from it too."""
        engine = self._engine(role, model)
        speed = getattr(engine, "speed", None)
        return speed.tokens_per_s if speed is not None else None

    def decodes_with_grammar(self, role: str, model: str | None = None) -> bool:
        """Whether ``role``'s model decodes under a ``response_format`` JSON-schema grammar,
        so every reply parses (llama.cpp; a scripted model registered with ``grammar=True``).
        API models and transformers only read the format from the prompt."""
        name = model or self.config.for_role(role).model
        provider, _, rest = resolve_model(name).partition("/")
        if provider == "scripted":
            from clade.orchestrator.models.scripted import script_grammar

            return script_grammar(rest)
        return provider == "llamacpp"

    @property
    def abandoned_tokens(self) -> int:
        """Tokens generated for callers that had gone: counted by the loaded local engines
        (tokens after a cancellation reached them) plus the completions of calls that
        finished after their gateway caller had left (:meth:`note_abandoned`)."""
        from clade.orchestrator.models.routing import abandoned_tokens

        with self._lock:
            late = self._abandoned
        return abandoned_tokens() + late

    def note_abandoned(self, tokens: int) -> None:
        """Count ``tokens`` generated for a caller that had gone (the gateway calls this)."""
        with self._lock:
            self._abandoned += tokens

    def _engine(self, role: str, model: str | None) -> Any:
        from clade.orchestrator.models.routing import LOCAL_PROVIDERS, find_engine

        spec = self.config.for_role(role)
        provider, _, path = resolve_model(model or spec.model).partition("/")
        if provider not in LOCAL_PROVIDERS:
            return None
        return find_engine(provider, path, spec.engine_options)

    def prepare(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        role: str = "agent",
        model: str | None = None,
        run_id: str | None = None,
        candidate_id: str | None = None,
        budget: BudgetTracker | None = None,
        priority: int = 0,
        **overrides: Unpack[Sampling],
    ) -> PreparedCall:
        """Resolve a request (no I/O); raises ConfigError for unknown parameters.

        ``priority``: local engines serve waiting requests of higher priority first (the
        default 0 is evaluation traffic; a run's diagnosis and self-modification pass more).
        """
        unknown = set(overrides) - SAMPLING_KEYS
        if unknown:
            raise ConfigError(
                f"unknown model parameter(s): {', '.join(sorted(unknown))}",
                hint=f"use {sorted(SAMPLING_KEYS)}",
            )
        spec = self.config.for_role(role)
        if model is not None and model != spec.model:
            spec = spec.model_copy(update={"model": model})
        params = spec.sampling()
        params.update({k: v for k, v in overrides.items() if v is not None})
        msgs = normalise_messages(messages)
        run = run_id if run_id is not None else self.run_id
        budgets = [t for t in (self.budget_of(run), budget) if t is not None]
        price = self.config.prices.get(spec.model)
        return PreparedCall(
            spec=spec,
            resolved=resolve_model(spec.model),
            messages=msgs,
            params=params,
            role=role,
            run_id=run,
            candidate_id=candidate_id,
            request_hash=request_hash(spec.model, msgs, params),
            price=price,
            budgets=budgets,
            sink=self.sink,
            priority=priority,
        )

    def _from_cache(self, call: PreparedCall) -> tuple[ChatResult | None, int]:
        if self.cache is None:
            return None, 0
        seq = self.cache.next_seq(call.request_hash)
        if self.cache.mode != "replay":
            return None, seq
        stored = self.cache.lookup(call.request_hash, seq, call.spec.model)
        return call.succeeded(
            stored["response"], float(stored.get("cost_usd", 0.0)), cached=True
        ), seq

    def _done(self, call: PreparedCall, response: Any, seq: int) -> ChatResult:
        body = response.model_dump() if hasattr(response, "model_dump") else dict(response)
        usage = body.get("usage") or {}
        cost = call.cost(
            response, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        )
        if self.cache is not None and self.cache.mode == "record":
            request = {"model": call.spec.model, "messages": call.messages, "params": call.params}
            self.cache.store(
                call.request_hash,
                seq,
                call.spec.model,
                request,
                {"response": body, "cost_usd": cost},
            )
        return call.succeeded(body, cost, cached=False)

    @contextmanager
    def _calling(
        self, messages: Sequence[Mapping[str, Any]], options: CallOptions
    ) -> Iterator[tuple[PreparedCall, ChatResult | None, int]]:
        """A call prepared and reserved: (call, cached result or None, cache sequence); an
        interrupt or a cancellation inside is recorded; the reservation ends on leaving."""
        call = self.prepare(messages, **options)
        call.reserve()
        try:
            cached, seq = self._from_cache(call)  # a replay miss: nothing was generated
            try:
                yield call, cached, seq
            except BaseException as exc:
                if not isinstance(exc, Exception):  # the engine stopped already
                    call.cancelled(exc)
                raise
        finally:
            call.release()

    def _retry_in(self, call: PreparedCall, exc: Exception, attempt: int) -> float:
        """Seconds to wait before the next attempt; raises when there is none."""
        kind, transient = classify(exc)
        if not transient or attempt > self.config.retry.max_retries:
            raise call.failed(exc, kind, attempt) from exc
        return backoff(self.config.retry, attempt)

    def complete(
        self, messages: Sequence[Mapping[str, Any]], **options: Unpack[CallOptions]
    ) -> ChatResult:
        """Call the model of ``role`` (see :class:`CallOptions`), retrying transient faults."""
        with self._calling(messages, options) as (call, cached, seq):
            if cached is not None:
                return cached
            litellm = litellm_module()
            call.started = time.perf_counter()
            attempt = 0
            while True:
                attempt += 1
                try:
                    response = litellm.completion(**call.litellm_kwargs())
                except Exception as exc:
                    time.sleep(self._retry_in(call, exc, attempt))
                else:
                    return self._done(call, response, seq)

    async def acomplete(
        self, messages: Sequence[Mapping[str, Any]], **options: Unpack[CallOptions]
    ) -> ChatResult:
        """Async :meth:`complete`; local engines batch concurrent calls. Cancelling the
        awaiting task cancels the generation (it stops at the next token)."""
        with self._calling(messages, options) as (call, cached, seq):
            if cached is not None:
                return cached
            litellm = await asyncio.to_thread(litellm_module)
            call.started = time.perf_counter()
            attempt = 0
            while True:
                attempt += 1
                try:
                    response = await litellm.acompletion(**call.litellm_kwargs())
                except Exception as exc:
                    await asyncio.sleep(self._retry_in(call, exc, attempt))
                else:
                    return self._done(call, response, seq)
