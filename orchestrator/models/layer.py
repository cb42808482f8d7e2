"""The model layer: every part of Clade calls models through :class:`ModelLayer`.

``layer.complete(messages, role="judge")`` picks the role's model and sampling parameters
from the run config, checks budgets, answers from the replay cache or calls
``litellm.completion`` (local models included, through the custom providers), retries
transient faults with exponential backoff, and records one :class:`CallRecord`. litellm's
own retries are off (``num_retries=0``): its backoff cannot be configured and it resets a
process-wide setting while retrying.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from clade.archive.errors import ConfigError
from clade.orchestrator.models.cache import ResponseCache, request_hash
from clade.orchestrator.models.calls import (
    ChatResult,
    PreparedCall,
    backoff,
    classify,
    normalise_messages,
)
from clade.orchestrator.models.metering import Budget, BudgetTracker, Sink
from clade.orchestrator.models.provider import litellm_module
from clade.orchestrator.models.routing import resolve_model
from clade.orchestrator.models.spec import ModelsConfig

SAMPLING_KEYS = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed", "response_format"})


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

    def prepare(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        role: str = "agent",
        model: str | None = None,
        run_id: str | None = None,
        candidate_id: str | None = None,
        budget: BudgetTracker | None = None,
        **overrides: Any,
    ) -> PreparedCall:
        """Resolve a request (no I/O); raises ConfigError for unknown parameters."""
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

    def complete(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> ChatResult:
        """Call the model of ``role`` (keyword arguments as in :meth:`prepare`)."""
        call = self.prepare(messages, **kwargs)
        call.check_budgets()
        cached, seq = self._from_cache(call)
        if cached is not None:
            return cached
        litellm = litellm_module()
        call.started = time.perf_counter()
        policy = self.config.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                response = litellm.completion(**call.litellm_kwargs())
            except Exception as exc:
                kind, transient = classify(exc)
                if not transient or attempt > policy.max_retries:
                    raise call.failed(exc, kind, attempt) from exc
                time.sleep(backoff(policy, attempt))
                continue
            return self._done(call, response, seq)

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> ChatResult:
        """Async :meth:`complete`; local engines batch concurrent calls."""
        call = self.prepare(messages, **kwargs)
        call.check_budgets()
        cached, seq = self._from_cache(call)
        if cached is not None:
            return cached
        litellm = await asyncio.to_thread(litellm_module)
        call.started = time.perf_counter()
        policy = self.config.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await litellm.acompletion(**call.litellm_kwargs())
            except Exception as exc:
                kind, transient = classify(exc)
                if not transient or attempt > policy.max_retries:
                    raise call.failed(exc, kind, attempt) from exc
                await asyncio.sleep(backoff(policy, attempt))
                continue
            return self._done(call, response, seq)
