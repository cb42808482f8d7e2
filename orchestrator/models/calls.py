"""One model call from request to :class:`CallRecord`: preparation, fault classes, pricing.

:class:`PreparedCall` is shared by the sync and async paths of :class:`ModelLayer`: it
holds the resolved request, decides which faults are transient, turns a litellm response
into a :class:`ChatResult`, and writes the record to the sink and budgets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from clade.archive.errors import CladeError, ConfigError
from clade.orchestrator.models.metering import BudgetTracker, CallRecord, Sink
from clade.orchestrator.models.routing import CUSTOM_PROVIDERS, LOCAL_PROVIDERS
from clade.orchestrator.models.spec import ModelSpec, Price, RetryPolicy


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


def classify(exc: BaseException) -> tuple[str, bool]:
    """(kind, transient) of a failed attempt; transient faults are retried."""
    import litellm

    if getattr(exc, "clade_error", None) is not None:
        return type(exc.clade_error).__name__, False  # type: ignore[attr-defined]
    transient: list[tuple[type[BaseException], str]] = [
        (litellm.Timeout, "timeout"),
        (litellm.RateLimitError, "rate_limit"),
        (litellm.ServiceUnavailableError, "server_error"),
        (litellm.InternalServerError, "server_error"),
        (litellm.BadGatewayError, "server_error"),
        (litellm.APIConnectionError, "connection"),
    ]
    for cls, kind in transient:
        if isinstance(exc, cls):
            text = str(exc)
            if kind == "server_error" and any(
                w in text for w in ("JSON", "Expecting", "Unterminated")
            ):
                kind = "malformed_response"
            return kind, True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return "server_error", True
    return type(exc).__name__, False


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return float(min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1)))


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
    started: float = field(default_factory=time.perf_counter)

    @property
    def provider(self) -> str:
        return self.resolved.split("/", 1)[0]

    def litellm_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.resolved,
            "messages": self.messages,
            "timeout": self.spec.timeout_s,
            "num_retries": 0,  # retries, with backoff, are ours (see ModelLayer)
            "max_retries": 0,
            **self.params,
        }
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

    def check_budgets(self) -> None:
        for tracker in self.budgets:
            tracker.check()

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
        for tracker in self.budgets:
            tracker.charge(record)
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
        return ModelCallFailed(self.spec.model, kind, attempts, detail)


def normalise_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages as plain dicts (pydantic message objects are dumped)."""
    out = []
    for m in messages:
        dump = getattr(m, "model_dump", None)
        out.append(dict(dump(exclude_none=True)) if dump else dict(m))
    return out
