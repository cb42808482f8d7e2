"""Metering: one :class:`CallRecord` per model call, sinks that keep them, and budgets.

A sink is any ``Callable[[CallRecord], None]``; :class:`ArchiveSink` writes the archive's
``model_call`` table. A :class:`BudgetTracker` is checked before each call and charged after
it; when a limit is reached, new calls raise :class:`BudgetExceeded`. Calls already in
flight finish, so a run may overshoot by at most the calls running at that moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from clade.orchestrator.models.errors import BudgetExceeded

if TYPE_CHECKING:
    from clade.archive.facade import Archive


def _now() -> datetime:
    return datetime.now(UTC)


class CallRecord(BaseModel):
    """What one model call cost and how it went."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = Field(default=None, description="Run the call belongs to.")
    candidate_id: str | None = Field(default=None, description="Candidate (sandbox) that made it.")
    role: str = Field(description="Role of the caller: agent, diagnose, conductor, expert, ...")
    model: str = Field(description="Model name as configured (before alias resolution).")
    prompt_tokens: int = Field(default=0, ge=0, description="Tokens of the prompt.")
    completion_tokens: int = Field(default=0, ge=0, description="Tokens generated.")
    cost_usd: float = Field(
        default=0.0, ge=0.0, description="Price in dollars; 0 for local models."
    )
    latency_s: float = Field(
        default=0.0, ge=0.0, description="Wall time of the call, retries included."
    )
    error: str | None = Field(
        default=None, description="Why the call failed; None when it succeeded."
    )
    cached: bool = Field(default=False, description="Answered from the replay cache.")
    created_at: datetime = Field(default_factory=_now, description="When the call ended (UTC).")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


Sink = Callable[[CallRecord], None]


class ArchiveSink:
    """Records every call in an archive (runs, ``clade solve``, ``clade judge``)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def __call__(self, record: CallRecord) -> None:
        self.archive.record_model_call(**record.model_dump())


class MemorySink:
    """Keeps records in a list (thread-safe); for tests and summaries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)


class JsonlSink:
    """Appends one JSON object per line to a file (thread-safe within a process)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def __call__(self, record: CallRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)


def read_jsonl(path: Path | str) -> Iterator[CallRecord]:
    """Read the records a :class:`JsonlSink` wrote, validating each line."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield CallRecord.model_validate_json(line)


class Budget(BaseModel):
    """Limits on what calls may consume; None means unlimited."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=0, description="Prompt plus completion tokens.")
    max_usd: float | None = Field(default=None, ge=0.0, description="Dollars, by the price map.")


class BudgetTracker:
    """Spending against one :class:`Budget` (a run's or a candidate's); thread-safe."""

    def __init__(self, budget: Budget, scope: str) -> None:
        self.budget = budget
        self.scope = scope
        self._lock = threading.Lock()
        self.tokens = 0
        self.usd = 0.0

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` when a limit is already reached."""
        with self._lock:
            b = self.budget
            if b.max_tokens is not None and self.tokens >= b.max_tokens:
                raise BudgetExceeded(self.scope, "tokens", self.tokens, b.max_tokens)
            if b.max_usd is not None and self.usd >= b.max_usd:
                raise BudgetExceeded(self.scope, "dollars", self.usd, b.max_usd)

    def charge(self, record: CallRecord) -> None:
        with self._lock:
            self.tokens += record.total_tokens
            self.usd += record.cost_usd
