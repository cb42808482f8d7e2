"""One model call from request to :class:`CallRecord`: preparation, budgets, timeouts, pricing.

:class:`PreparedCall` is shared by the sync and async paths of :class:`ModelLayer`: it
holds the resolved request, reserves its budgets (:meth:`PreparedCall.reserve`), derives
each attempt's timeout (:meth:`PreparedCall.wait`), decides which faults are transient,
turns a litellm response into a :class:`ChatResult`, and writes the record to the sink and
settles the budgets, whether the call succeeded, failed or was cancelled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from clade.archive.errors import CladeError, ConfigError
from clade.orchestrator.models.errors import BudgetExceeded
from clade.orchestrator.models.metering import (
    BudgetTracker,
    CallRecord,
    Reservation,
    Sink,
    reserve,
)
from clade.orchestrator.models.routing import CUSTOM_PROVIDERS, LOCAL_PROVIDERS, find_engine
from clade.orchestrator.models.spec import API_TIMEOUT_S, ModelSpec, Price
from clade.orchestrator.models.speed import generation_timeout
from clade.orchestrator.models.tokens import prompt_bound, prompt_tokens

#: A request whose timeout counts from admission waits at most this many times that
#: timeout for a slot.
QUEUE_FACTOR = 10.0


class ChatResult(BaseModel):
    """What a caller gets back from the model layer."""

    text: str = Field(description="The assistant message.")
    model: str = Field(description="Model as configured (alias or litellm name).")
    finish_reason: str | None = Field(default=None, description="stop, length, ...")
    prompt_tokens: int = Field(default=0, description="Prompt tokens.")
    completion_tokens: int = Field(default=0, description="Generated tokens.")
    cost_usd: float = Field(default=0.0, description="Price of the call.")
    latency_s: float = Field(default=0.0, description="Wall time, retries included.")
    cached: bool = Field(default=False, description="Answered by the replay cache.")
    request_hash: str = Field(description="Key of the request in the record/replay cache.")
    response: dict[str, Any] = Field(description="The OpenAI-shaped response.")


@dataclass
class PreparedCall:
    """A call ready to send: litellm arguments, identity, cache key and budgets."""

    spec: ModelSpec
    resolved: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    role: str
    run_id: str | None
    candidate_id: str | None
    request_hash: str
    price: Price | None
    budgets: list[BudgetTracker]
    sink: Sink | None
    priority: int = 0
    started: float = field(default_factory=time.perf_counter)
    reservations: list[Reservation] = field(default_factory=list)
    prompt_estimate: int = 0  # prompt tokens: the upper bound, or the exact count once made

    def __post_init__(self) -> None:
        self.prompt_estimate = self.prompt_estimate or prompt_bound(self.messages)

    @property
    def provider(self) -> str:
        return self.resolved.split("/", 1)[0]

    def _engine(self) -> Any:
        if self.provider not in LOCAL_PROVIDERS:
            return None
        return find_engine(self.provider, self.resolved.split("/", 1)[1], self.spec.engine_options)

    def reserve(self) -> None:
        """Hold the call's prompt plus ``max_tokens`` in every budget, clipping
        ``max_tokens`` to what is left; :class:`BudgetExceeded` when the prompt does not fit.

        The prompt is first taken at its upper bound; only when that does not fit is it
        counted with the model's tokenizer (where cheap) and the hold made again."""
        bound = self.prompt_estimate = prompt_bound(self.messages)
        if not self.budgets:
            return
        wanted = int(self.params.get("max_tokens") or 1)
        prices = self._unit_prices()
        try:
            holds, grant = reserve(self.budgets, bound, wanted, prices)
        except BudgetExceeded:
            exact = prompt_tokens(self.resolved, self.messages, self.spec.engine_options)
            if exact is None or exact >= bound:
                raise
            holds, grant = reserve(self.budgets, exact, wanted, prices)
            self.prompt_estimate = exact
        else:
            if grant < wanted:  # clipped by the bound: a closer count may leave more
                exact = prompt_tokens(self.resolved, self.messages, self.spec.engine_options)
                if exact is not None and exact < bound:
                    for hold in holds:
                        hold.release()
                    holds, grant = reserve(self.budgets, exact, wanted, prices)
                    self.prompt_estimate = exact
        self.reservations = holds
        if grant < wanted:
            self.params["max_tokens"] = grant

    def _unit_prices(self) -> tuple[float, float] | None:
        """Dollars per prompt and per completion token, when known."""
        if self.price is not None:
            return self.price.input_per_mtok / 1e6, self.price.output_per_mtok / 1e6
        if self.provider in CUSTOM_PROVIDERS:
            return 0.0, 0.0
        import litellm

        try:
            info = litellm.get_model_info(self.resolved)
        except Exception:  # not in the price map: dollars are checked, not reserved
            return None
        return float(info.get("input_cost_per_token") or 0.0), float(
            info.get("output_cost_per_token") or 0.0
        )

    def wait(self) -> tuple[float, dict[str, Any] | None]:
        """This attempt's timeout and Clade's wait option for local engines.

        A ``timeout_s`` the user set counts from submission. Otherwise a local engine's
        timeout follows its measured speed (:func:`generation_timeout`) and counts from the
        request's admission to a slot, with the wait for a slot bounded by
        :data:`QUEUE_FACTOR` times it; an API model gets :data:`API_TIMEOUT_S`."""
        if self.spec.timeout_s is not None:
            return self.spec.timeout_s, None
        if self.provider not in LOCAL_PROVIDERS:
            return API_TIMEOUT_S, None
        engine = self._engine()
        seconds = generation_timeout(
            getattr(engine, "speed", None),
            self.prompt_estimate,
            int(self.params.get("max_tokens") or 1),
        )
        return seconds, {"from_admission": True, "queue_s": QUEUE_FACTOR * seconds}

    def litellm_kwargs(self) -> dict[str, Any]:
        timeout, wait = self.wait()
        kw: dict[str, Any] = {
            "model": self.resolved,
            "messages": self.messages,
            "timeout": timeout,
            "num_retries": 0,  # retries, with backoff, are ours (see ModelLayer)
            "max_retries": 0,
            **self.params,
        }
        if self.provider in CUSTOM_PROVIDERS:  # extra options only our handlers read
            kw["clade_priority"] = self.priority
            if wait is not None:
                kw["clade_wait"] = wait
        if self.spec.api_base:
            kw["api_base"] = self.spec.api_base
        if self.spec.api_key_env:
            key = os.environ.get(self.spec.api_key_env)
            if not key:
                raise ConfigError(
                    f"env var {self.spec.api_key_env} (API key of {self.spec.model}) is not set",
                    hint=f"export {self.spec.api_key_env}=...",
                )
            kw["api_key"] = key
        if self.provider in LOCAL_PROVIDERS and self.spec.engine_options:
            kw["engine_options"] = dict(self.spec.engine_options)
        return kw

    def cost(self, response: Any, prompt: int, completion: int) -> float:
        if self.price is not None:
            return (
                prompt * self.price.input_per_mtok + completion * self.price.output_per_mtok
            ) / 1e6
        if self.provider in CUSTOM_PROVIDERS:
            return 0.0
        import litellm

        hidden = getattr(response, "_hidden_params", None) or {}
        if hidden.get("response_cost"):
            return float(hidden["response_cost"])
        for model in (None, self.resolved):  # the model the response names, then the one asked for
            try:
                return float(
                    litellm.completion_cost(completion_response=response, model=model) or 0.0
                )
            except Exception:  # not in the price map
                continue
        return 0.0  # unknown price counts as 0; set models.prices for such a model

    def _record(self, **fields: Any) -> CallRecord:
        record = CallRecord(
            run_id=self.run_id,
            candidate_id=self.candidate_id,
            role=self.role,
            model=self.spec.model,
            latency_s=time.perf_counter() - self.started,
            **fields,
        )
        held = {id(hold.tracker): hold for hold in self.reservations}
        for tracker in self.budgets:
            tracker.settle(held.get(id(tracker)), record)
        self.reservations = []
        if self.sink is not None:
            self.sink(record)
        return record

    def succeeded(self, response: Mapping[str, Any], cost: float, cached: bool) -> ChatResult:
        usage = response.get("usage") or {}
        prompt, completion = (
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        )
        record = self._record(
            prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost, cached=cached
        )
        choice = (response.get("choices") or [{}])[0]
        return ChatResult(
            text=(choice.get("message") or {}).get("content") or "",
            model=self.spec.model,
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
            latency_s=record.latency_s,
            cached=cached,
            request_hash=self.request_hash,
            response=dict(response),
        )

    def release(self) -> None:
        """Give back whatever the call still holds (idempotent; after its record, nothing)."""
        for hold in self.reservations:
            hold.release()
        self.reservations = []

    def cancelled(self, exc: BaseException) -> None:
        """Record a call abandoned by its caller (a cancelled task, an interrupt). Its hold
        is released and nothing is charged: the caller got nothing."""
        self._record(error=f"cancelled: {type(exc).__name__} (the caller went away)")

    def failed(self, exc: BaseException, kind: str, attempts: int) -> Exception:
        """Record the failure; the error to raise (Clade's own, or ModelCallFailed)."""
        from clade.orchestrator.models.errors import ModelCallFailed

        original = getattr(exc, "clade_error", None)
        detail = (
            str(original or exc).splitlines()[0][:300]
            if str(original or exc)
            else type(exc).__name__
        )
        self._record(error=f"{kind}: {detail}")
        if isinstance(original, CladeError):
            return original
        if isinstance(exc, CladeError):
            return exc
        if kind == "missing_dependency":
            from clade.orchestrator.models.faults import missing_dependency

            setup = missing_dependency(exc, self.spec.model)
            if setup is not None:
                return setup
        return ModelCallFailed(self.spec.model, kind, attempts, detail)


def normalise_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages as plain dicts (pydantic message objects are dumped)."""
    out = []
    for m in messages:
        dump = getattr(m, "model_dump", None)
        out.append(dict(dump(exclude_none=True)) if dump else dict(m))
    return out
