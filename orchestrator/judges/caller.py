"""One place where judges call models: renders a template, calls a role, counts the cost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from clade import prompts

from .verdict import VERDICT_FORMAT

if TYPE_CHECKING:
    from clade.orchestrator.models.layer import ModelLayer


class CallStep(BaseModel):
    """One model call of a judge, kept for traces."""

    template: str = Field(description="The prompt template's name.")
    role: str = Field(description="Model-layer role (judge or meta_update).")
    output: str = Field(description="The model's reply.")
    tokens: int = Field(description="Prompt plus completion tokens.")


@dataclass
class Spent:
    """Calls and tokens sent within a :meth:`Caller.spending` block."""

    calls: int = 0
    tokens: int = 0


class Caller:
    """Calls ``layer`` with rendered prompts; ``calls``/``tokens`` count everything it sent."""

    def __init__(
        self,
        layer: ModelLayer,
        *,
        model: str | None = None,
        run_id: str | None = None,
        candidate_id: str | None = None,
    ) -> None:
        self.layer = layer
        self.model = model
        self.run_id = run_id
        self.candidate_id = candidate_id
        self.calls = 0
        self.tokens = 0
        self._lock = threading.Lock()

    def __call__(
        self,
        template: str,
        *,
        role: str,
        max_tokens: int,
        verdict: bool = False,
        **variables: Any,
    ) -> CallStep:
        """Render ``template`` and call ``role``; a ``verdict`` call on a local engine is
        decoded under :data:`~.verdict.VERDICT_FORMAT`."""
        prompt = prompts.render(template, **variables)
        local = verdict and self.layer.serves_locally(role, self.model)
        result = self.layer.complete(
            [{"role": "user", "content": prompt}],
            role=role,
            model=self.model,
            run_id=self.run_id,
            candidate_id=self.candidate_id,
            max_tokens=max_tokens,
            response_format=VERDICT_FORMAT if local else None,
        )
        tokens = result.prompt_tokens + result.completion_tokens
        with self._lock:
            self.calls += 1
            self.tokens += tokens
        return CallStep(template=template, role=role, output=result.text, tokens=tokens)

    def snapshot(self) -> tuple[int, int]:
        """(calls, tokens) so far."""
        with self._lock:
            return self.calls, self.tokens

    @contextmanager
    def spending(self) -> Iterator[Spent]:
        """What the calls sent inside the block cost (set on leaving), to measure one
        verdict or update: ``with caller.spending() as spent: ...``, then ``spent.calls``."""
        calls, tokens = self.snapshot()
        spent = Spent()
        try:
            yield spent
        finally:
            now_calls, now_tokens = self.snapshot()
            spent.calls, spent.tokens = now_calls - calls, now_tokens - tokens
