"""What the archive's queries return, ready for ``--json`` through :func:`to_jsonable`.

Results that come one per candidate (listings, tree nodes, curve points, selection
inputs) are slotted dataclasses: a listing of 10,000 candidates must not spend its time
in model construction. Single results are pydantic models.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, Field


def to_jsonable(value: Any) -> Any:
    """Plain JSON data (dicts, lists, strings, numbers) from results of the archive."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class ScoreSummary(BaseModel):
    """A candidate's pooled results on one evaluator and split."""

    evaluator: str = Field(description="Evaluator name.")
    split: str = Field(description="Evaluator split.")
    n: int = Field(description="Evaluations counted.")
    n_passed: int = Field(description="Evaluations that passed.")
    mean: float = Field(description="Mean score.")
    tokens: int = Field(default=0, description="Tokens spent by these evaluations.")
    cost_usd: float = Field(default=0.0, description="Cost of these evaluations.")
    duration_s: float = Field(default=0.0, description="Summed wall time.")

    @property
    def label(self) -> str:
        return self.evaluator if self.split == "test" else f"{self.evaluator}/{self.split}"


class RunSummary(BaseModel):
    """One line of ``clade archive runs``."""

    id: str = Field(description="Run id.")
    name: str = Field(description="Run label.")
    kind: str = Field(description="What the run does.")
    status: str = Field(description="running, finished or failed.")
    created_at: datetime = Field(description="When it started.")
    candidates: int = Field(description="How many candidates it holds.")
    best_score: float | None = Field(description="Best candidate's mean score.")
    cost_usd: float = Field(description="Model cost of the run.")


@dataclass(slots=True)
class CandidateRow:
    """One line of ``clade archive ls``: `score` is the mean over all its evaluations,
    `scores` the mean per evaluator (``evaluator/split`` for splits other than test)."""

    id: str
    run_id: str
    parent_id: str | None
    generation: int
    status: str
    kind: str
    tree_hash: str
    created_at: datetime
    score: float | None = None
    scores: dict[str, float] = field(default_factory=dict)


class CandidateDetail(BaseModel):
    """Everything ``clade archive show`` prints about one candidate."""

    candidate: CandidateRow = Field(description="The listing's facts.")
    rejection_reason: str | None = Field(description="Why it was not admitted.")
    proposal: dict | None = Field(description="The proposal that produced it.")
    meta: dict = Field(description="Free-form extra facts.")
    results: list[ScoreSummary] = Field(description="Results per evaluator and split.")
    children: int = Field(description="How many candidates derive from it directly.")
    model_calls: int = Field(description="Model calls metered to it.")
    model_tokens: int = Field(description="Tokens of those calls.")
    model_cost_usd: float = Field(description="Cost of those calls.")
    evaluation_cost_usd: float = Field(description="Cost recorded on its evaluations.")


@dataclass(slots=True)
class CurvePoint:
    """One candidate on the progress curve (creation order): its score (None when not
    evaluated), the best score so far, and the cumulative cost up to and including it."""

    index: int
    candidate_id: str
    score: float | None
    best: float | None
    cost_usd: float


class ScoreMatrix(BaseModel):
    """Mean score of each candidate (rows) on each task (columns); None where not run."""

    evaluator: str = Field(description="Evaluator of the tasks.")
    split: str | None = Field(description="Split, None for all splits pooled.")
    candidates: list[str] = Field(description="Row ids, creation order.")
    tasks: list[str] = Field(description="Column task ids, sorted.")
    scores: list[list[float | None]] = Field(description="scores[row][column].")


class CladeStats(BaseModel):
    """Pooled results of a candidate's whole subtree (Huxley-Gödel machine clade metric)."""

    candidate_id: str = Field(description="Root of the clade.")
    size: int = Field(description="Candidates in the clade, root included.")
    evaluations: int = Field(description="Evaluations pooled.")
    successes: int = Field(description="Evaluations that passed.")
    failures: int = Field(description="Evaluations that did not pass.")
    mean_score: float | None = Field(description="Pooled mean score.")


@dataclass(slots=True)
class SelectionInput:
    """What a parent-selection policy needs about one admitted candidate: its mean score,
    how many children it already has, and its key in the run (``seed``, ``g1c0``, ...)."""

    candidate_id: str
    generation: int
    score: float
    children: int
    key: str = ""


class Usage(NamedTuple):
    """Tokens (prompt plus completion) and dollars of a set of model calls."""

    tokens: int
    cost_usd: float


@dataclass(slots=True)
class CallUsage:
    """The model calls of one (role, model) pair: how many, what they spent, how many failed."""

    role: str
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    errors: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunActivity(BaseModel):
    """How much a run has recorded so far: every figure grows with any new record, so a
    watcher (the dashboard's live page) can tell that something changed without reading it."""

    run_id: str = Field(description="Run id.")
    status: str = Field(description="running, finished or failed.")
    candidates: int = Field(description="Candidates recorded.")
    last_candidate: str | None = Field(description="Newest candidate's id; None before the first.")
    statuses: dict[str, int] = Field(description="Candidates per status, sorted by status.")
    evaluations: int = Field(description="Evaluations recorded for its candidates.")
    model_calls: int = Field(description="Model calls metered to it.")
    traces: int = Field(description="Traces recorded in it.")


@dataclass(slots=True)
class TreeNode:
    """A candidate in the lineage tree of a run, with its children."""

    id: str
    status: str
    generation: int
    score: float | None
    children: list[TreeNode] = field(default_factory=list)
