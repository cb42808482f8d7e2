"""Metering: one :class:`CallRecord` per model call, sinks that keep them, and budgets.

A sink is any ``Callable[[CallRecord], None]``; :class:`ArchiveSink` writes the archive's
``model_call`` table, through :class:`CallRecorder`, the one method of the archive it needs
(so the model layer does not import the archive).

A :class:`BudgetTracker` (a run's or a sandbox's) is *reserved* before each call and
*settled* after it: :func:`reserve` holds the call's prompt tokens plus its ``max_tokens``
(and their price) against every budget of the call, clipping ``max_tokens`` to what is
left, or raises :class:`BudgetExceeded` when not even the prompt and one token fit. The
settlement replaces the hold with the call's real usage. So concurrent calls cannot
overspend and one call cannot exceed what is left, as long as the prompt estimate is an
upper bound (see :mod:`tokens`) and the model honours ``max_tokens``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from clade.orchestrator.models.errors import BudgetExceeded


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


class CallRecorder(Protocol):
    """Where :class:`ArchiveSink` records calls: ``clade.archive.Archive`` is one.

    ``record_model_call`` takes :class:`CallRecord`'s fields as keywords; the archive's
    signature is not repeated here (tests/models check that the two match)."""

    def record_model_call(self, *args: Any, **fields: Any) -> object: ...


class ArchiveSink:
    """Records every call in an archive (runs, ``clade solve``, ``clade judge``)."""

    def __init__(self, archive: CallRecorder) -> None:
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
        self.reserved_tokens = 0
        self.reserved_usd = 0.0

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` when a limit is already reached (holds included)."""
        with self._lock:
            b = self.budget
            held = self.tokens + self.reserved_tokens
            if b.max_tokens is not None and held >= b.max_tokens:
                raise BudgetExceeded(self.scope, "tokens", held, b.max_tokens)
            spent = self.usd + self.reserved_usd
            if b.max_usd is not None and spent >= b.max_usd:
                raise BudgetExceeded(self.scope, "dollars", spent, b.max_usd)

    def _grant(self, prompt: int, wanted: int, prices: tuple[float, float] | None) -> int:
        """The completion tokens that fit beside ``prompt`` (lock held); raises when none."""
        b = self.budget
        grant = wanted
        if b.max_tokens is not None:
            free = b.max_tokens - self.tokens - self.reserved_tokens
            if prompt + 1 > free:
                held = self.tokens + self.reserved_tokens
                raise BudgetExceeded(self.scope, "tokens", held, b.max_tokens, needed=prompt + 1)
            grant = min(grant, free - prompt)
        if b.max_usd is not None:
            free_usd = b.max_usd - self.usd - self.reserved_usd
            spent = self.usd + self.reserved_usd
            if free_usd <= 0:
                raise BudgetExceeded(self.scope, "dollars", spent, b.max_usd)
            if prices is not None:
                prompt_usd, token_usd = prompt * prices[0], prices[1]
                if prompt_usd + token_usd > free_usd:
                    raise BudgetExceeded(
                        self.scope, "dollars", spent, b.max_usd, needed=prompt_usd + token_usd
                    )
                if token_usd > 0:
                    grant = min(grant, math.floor((free_usd - prompt_usd) / token_usd))
        return grant

    def _hold(self, reservation: Reservation, tokens: int, usd: float) -> None:
        with self._lock:
            self.reserved_tokens += tokens - reservation.tokens
            self.reserved_usd += usd - reservation.usd
            reservation.tokens, reservation.usd = tokens, usd

    def settle(self, reservation: Reservation | None, record: CallRecord) -> None:
        """Release ``reservation`` (if any) and charge the call's real usage."""
        with self._lock:
            if reservation is not None and not reservation.settled:
                reservation.settled = True
                self.reserved_tokens -= reservation.tokens
                self.reserved_usd -= reservation.usd
            self.tokens += record.total_tokens
            self.usd += record.cost_usd

    def charge(self, record: CallRecord) -> None:
        """Charge a call made without a reservation."""
        self.settle(None, record)


class Reservation:
    """What one call holds of one budget until it is settled."""

    def __init__(self, tracker: BudgetTracker) -> None:
        self.tracker = tracker
        self.tokens = 0
        self.usd = 0.0
        self.settled = False

    def settle(self, record: CallRecord) -> None:
        self.tracker.settle(self, record)

    def release(self) -> None:
        """Give the hold back without charging anything."""
        if not self.settled:
            self.tracker._hold(self, 0, 0.0)
            self.settled = True


def reserve(
    trackers: Sequence[BudgetTracker],
    prompt_tokens: int,
    max_tokens: int,
    prices: tuple[float, float] | None = None,
) -> tuple[list[Reservation], int]:
    """Hold ``prompt_tokens`` plus up to ``max_tokens`` in every tracker, atomically per
    tracker; returns the holds and the completion tokens granted (``max_tokens`` clipped to
    what every budget has left). ``prices``: dollars per prompt and per completion token,
    when known. Raises :class:`BudgetExceeded` (holding nothing) when a budget cannot take
    the prompt and one token."""
    holds: list[Reservation] = []
    grant = max_tokens
    try:
        for tracker in trackers:
            hold = Reservation(tracker)
            with tracker._lock:
                grant = tracker._grant(prompt_tokens, grant, prices)
                tokens = prompt_tokens + grant
                usd = (prompt_tokens * prices[0] + grant * prices[1]) if prices else 0.0
                tracker.reserved_tokens += tokens
                tracker.reserved_usd += usd
                hold.tokens, hold.usd = tokens, usd
            holds.append(hold)
    except BudgetExceeded:
        for hold in holds:
            hold.release()
        raise
    for hold in holds:  # a later budget may have clipped the grant further
        usd = (prompt_tokens * prices[0] + grant * prices[1]) if prices else 0.0
        hold.tracker._hold(hold, prompt_tokens + grant, usd)
    return holds, grant
