"""What a local inference engine (transformers, llama.cpp) offers the model layer.

The litellm custom provider in this package routes ``transformers/<path>`` and
``llamacpp/<path>`` to an engine that implements :class:`LocalEngine`; metering,
budgets, record/replay and the sandbox socket sit above it and never see which engine
answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class SamplingParams(BaseModel):
    """Sampling parameters every engine must map faithfully."""

    max_tokens: int = Field(default=256, ge=1, description="Upper bound on generated tokens.")
    temperature: float = Field(default=0.0, ge=0.0, description="0 means greedy decoding.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    stop: list[str] = Field(
        default_factory=list, description="Generation ends before any of these strings."
    )
    seed: int | None = Field(default=None, description="Seed for sampling; same seed, same text.")
    json_schema: dict[str, Any] | None = Field(
        default=None,
        description="Constrain the reply to JSON matching this schema (llama.cpp grammar); "
        "engines without constrained decoding ignore it and rely on the prompt.",
    )


class Generation(BaseModel):
    """One finished completion with its exact token usage."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


@runtime_checkable
class LocalEngine(Protocol):
    """A model loaded in this process. ``submit`` and ``generate`` are thread-safe; an
    engine may batch calls that arrive together.

    ``submit`` returns a future (an :class:`~clade.orchestrator.models.scheduling.EngineFuture`)
    whose ``cancel()`` stops the generation at the next token, and which is marked admitted
    when the request gets a slot; waiting requests are served highest ``priority`` first.
    ``count_tokens`` counts a chat's prompt tokens with the engine's tokenizer (None when it
    cannot say), ``speed`` is its running speed estimate (a
    :class:`~clade.orchestrator.models.speed.SpeedMeter`) and ``stats`` its counters.
    """

    name: str
    speed: Any
    stats: Any

    def submit(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams, priority: int = 0
    ) -> Future[Generation]: ...

    def generate(
        self, messages: Sequence[Mapping[str, Any]], params: SamplingParams, priority: int = 0
    ) -> Generation: ...

    def count_tokens(self, messages: Sequence[Mapping[str, Any]]) -> int | None: ...

    @property
    def abandoned_tokens(self) -> int: ...

    def close(self, wait_s: float = 0.0) -> None:
        """Free the model; with ``wait_s``, cancel what runs and wait that long for it."""
