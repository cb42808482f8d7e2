"""Run-config types of the model layer: which model serves each role, and how it is called.

A run's YAML has a ``models:`` section that validates as :class:`ModelsConfig`::

    models:
      default: smollm2-135m
      roles:
        agent: {model: openai/gpt-4o-mini, temperature: 0.2, max_tokens: 1024}
        judge: anthropic/claude-sonnet-4-5      # a bare name is a spec with defaults
      retry: {max_retries: 3, backoff_s: 1.0}
      prices: {"hosted_vllm/my-model": {input_per_mtok: 0.1, output_per_mtok: 0.2}}
      cache: {mode: record, path: .clade/llm-cache.sqlite}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RoleName = Literal["agent", "diagnose", "conductor", "expert", "judge", "meta_update", "mutate"]
ROLES: tuple[RoleName, ...] = (
    "agent", "diagnose", "conductor", "expert", "judge", "meta_update", "mutate",
)  # fmt: skip
CacheMode = Literal["off", "record", "replay"]
#: Per-attempt timeout of an API model whose spec sets no ``timeout_s``.
API_TIMEOUT_S = 120.0


class ModelSpec(BaseModel):
    """One model and the parameters it is called with."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="litellm name (openai/..., transformers/<path>, scripted/<name>) or alias."
    )
    api_base: str | None = Field(
        default=None, description="Endpoint for hosted_vllm/, ollama/, openai-compatible servers."
    )
    api_key_env: str | None = Field(
        default=None, description="Env var holding the API key (never the key itself)."
    )
    temperature: float = Field(default=0.0, ge=0.0, description="0 is greedy.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(
        default=512, ge=1, description="Upper bound on generated tokens per call."
    )
    stop: list[str] = Field(default_factory=list, description="Stop strings.")
    seed: int | None = Field(
        default=None, description="Sampling seed, where the provider supports one."
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0.0,
        description="Per-attempt timeout in seconds, counted from the request. Unset: an API "
        "model gets 120 s; a local engine's timeout follows its measured speed (prompt plus "
        "max_tokens at the measured tokens/s, times 3, at least 30 s; 120 s until measured), "
        "counted from the moment the request gets a slot.",
    )
    engine_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of a local engine (transformers: device, dtype, context_length, "
        "batch_window_ms, max_batch_size).",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters as litellm keyword arguments."""
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if self.stop:
            params["stop"] = list(self.stop)
        if self.seed is not None:
            params["seed"] = self.seed
        return params


class RetryPolicy(BaseModel):
    """Retries of transient faults (timeouts, 429, 5xx, malformed responses), with backoff."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(default=3, ge=0, description="Retries after the first attempt.")
    backoff_s: float = Field(
        default=1.0, ge=0.0, description="Wait before the first retry; doubles each time."
    )
    max_backoff_s: float = Field(default=30.0, ge=0.0, description="Longest wait between attempts.")


class Price(BaseModel):
    """A user-set price, overriding litellm's price map."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0.0, description="Dollars per million prompt tokens.")
    output_per_mtok: float = Field(ge=0.0, description="Dollars per million completion tokens.")


class CacheConfig(BaseModel):
    """Record/replay of model calls."""

    model_config = ConfigDict(extra="forbid")

    mode: CacheMode = Field(
        default="off", description="off, record (call and store), replay (never call)."
    )
    path: Path | None = Field(
        default=None, description="SQLite file of the cache; required unless mode is off."
    )

    @model_validator(mode="after")
    def _needs_path(self) -> CacheConfig:
        if self.mode != "off" and self.path is None:
            raise ValueError(f"cache mode {self.mode!r} needs a path")
        return self


def _default_model() -> str:
    from clade.orchestrator.config import settings

    return settings().default_model


class ModelsConfig(BaseModel):
    """The ``models:`` section of a run config."""

    model_config = ConfigDict(extra="forbid")

    default: ModelSpec = Field(
        default_factory=lambda: ModelSpec(model=_default_model()),
        description="Model for every role the roles map leaves out; default: the configured "
        "default model (CLADE_DEFAULT_MODEL, the embedded SmolLM2-135M unless set).",
    )
    roles: dict[RoleName, ModelSpec] = Field(default_factory=dict, description="Model per role.")
    retry: RetryPolicy = Field(
        default_factory=RetryPolicy, description="Retry policy for every call."
    )
    prices: dict[str, Price] = Field(default_factory=dict, description="Prices per model name.")
    cache: CacheConfig = Field(default_factory=CacheConfig, description="Record/replay cache.")

    def for_role(self, role: str) -> ModelSpec:
        """The spec serving ``role`` (the default when the role is not mapped)."""
        return self.roles.get(role, self.default)  # type: ignore[call-overload]
