"""Typed errors of the model layer; each is a :class:`CladeError` the orchestrator can handle."""

from __future__ import annotations

from clade.archive.errors import CladeError

__all__ = [
    "BudgetExceeded",
    "ModelCallFailed",
    "ModelError",
    "ReplayMiss",
    "ScriptError",
    "UnknownModel",
]


class ModelError(CladeError):
    """Base of the model layer's errors."""


class UnknownModel(ModelError):
    """A model name that no route, alias or scripted model answers to."""

    exit_code = 2


class ScriptError(ModelError):
    """A scripted model is missing, malformed, or has no reply left."""


class BudgetExceeded(ModelError):
    """A run's (or a candidate's) token or dollar budget cannot pay for a call: no call is
    made. ``used`` counts what calls in flight hold; ``needed`` is what this call needed at
    least (its prompt and one token), when that is what did not fit."""

    def __init__(
        self, scope: str, limit: str, used: float, allowed: float, needed: float | None = None
    ) -> None:
        left = max(0.0, allowed - used)
        detail = (
            f"{limit} used {used:g} of {allowed:g}"
            if needed is None
            else f"the call needs at least {needed:g} {limit}, {left:g} of {allowed:g} are left"
        )
        super().__init__(
            f"budget of {scope} exceeded: {detail}",
            hint="raise the budget in the run config or start a new run",
        )
        self.scope = scope
        self.limit = limit
        self.used = used
        self.allowed = allowed
        self.needed = needed


class ModelCallFailed(ModelError):
    """A call failed for good: retries spent on a transient fault, or a permanent fault."""

    def __init__(self, model: str, kind: str, attempts: int, detail: str) -> None:
        super().__init__(
            f"call to {model} failed after {attempts} attempt(s): {kind}: {detail}",
            hint="check the provider (api_base, key, quota) or raise models.retry in the run config",
        )
        self.model = model
        self.kind = kind
        self.attempts = attempts
        self.detail = detail


class ReplayMiss(ModelError):
    """Replay mode met a request that was never recorded."""

    def __init__(self, request_hash: str, model: str) -> None:
        super().__init__(
            f"replay cache has no response for request {request_hash} (model {model})",
            hint="record the run first (cache mode 'record'), or turn replay off",
        )
        self.request_hash = request_hash
