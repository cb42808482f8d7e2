"""The archive's tables (SQLModel): runs, candidates, evaluations, model calls, meta-prompts,
traces.

Rows are written through :class:`clade.archive.facade.Archive`; these classes are also
the validators for records read back from a JSON-lines export. Status and kind columns
are plain strings checked against the enums below, so a migration never has to alter a
database enum type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, MetaData, String
from sqlalchemy.ext.mutable import MutableDict
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time in UTC (SQLite gives it back without the zone)."""
    return datetime.now(UTC)


def _json_column() -> Any:
    return MutableDict.as_mutable(JSON())


class CandidateKind(StrEnum):
    """What a candidate's tree holds."""

    CODING_AGENT = "coding_agent"
    PROMPT_SET = "prompt_set"


class CandidateStatus(StrEnum):
    """Where a candidate is in its life: made, being evaluated, kept, or turned away."""

    PENDING = "pending"
    EVALUATING = "evaluating"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    FAILED = "failed"


class Run(SQLModel, table=True):
    """One run of the orchestrator (a DGM search, a conductor or judge session)."""

    id: str = Field(primary_key=True, max_length=16, description="Time-ordered run id.")
    name: str = Field(default="", description="A label chosen by the user.")
    kind: str = Field(default="dgm", description="What the run does: dgm, conductor, judge, ...")
    status: str = Field(default="running", description="running, finished or failed.")
    config: dict[str, Any] = Field(
        default_factory=dict, sa_type=_json_column(), description="The run's config, as given."
    )
    created_at: datetime = Field(default_factory=utcnow, description="When the run started.")
    finished_at: datetime | None = Field(default=None, description="When the run ended.")


class Candidate(SQLModel, table=True):
    """A tree of files (a coding agent or a prompt set) and where it came from."""

    id: str = Field(primary_key=True, max_length=16, description="Time-ordered candidate id.")
    run_id: str = Field(foreign_key="run.id", index=True, description="The run it belongs to.")
    parent_id: str | None = Field(
        default=None,
        sa_column=Column(String(16), ForeignKey("candidate.id"), index=True, nullable=True),
        description="The candidate it was derived from; None for a seed.",
    )
    kind: str = Field(default=CandidateKind.CODING_AGENT, description="coding_agent or prompt_set.")
    tree_hash: str = Field(index=True, max_length=64, description="sha256 of its tree's tarball.")
    generation: int = Field(default=0, description="Parent's generation + 1; seeds are 0.")
    status: str = Field(default=CandidateStatus.PENDING, description="A CandidateStatus value.")
    rejection_reason: str | None = Field(default=None, description="Why it was not admitted.")
    proposal: dict[str, Any] | None = Field(
        default=None, sa_type=_json_column(), description="The proposal that produced it."
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_type=_json_column(), description="Free-form extra facts."
    )
    created_at: datetime = Field(default_factory=utcnow, description="When it was recorded.")


class Evaluation(SQLModel, table=True):
    """One scored attempt of one candidate on one task.

    The key is natural: (candidate, evaluator, split, task, attempt). On SQLite the table
    is clustered on it (WITHOUT ROWID), so a candidate's rows lie together on disk and the
    score matrix reads them in order.
    """

    __table_args__ = ({"sqlite_with_rowid": False},)

    candidate_id: str = Field(
        foreign_key="candidate.id", primary_key=True, description="Who was evaluated."
    )
    evaluator: str = Field(primary_key=True, description="Evaluator name (humaneval, judge, ...).")
    split: str = Field(default="test", primary_key=True, description="The evaluator's split.")
    task_id: str = Field(primary_key=True, description="The task within the split.")
    attempt: int = Field(
        default=0, primary_key=True, description="Repeat number, for several samples per task."
    )
    score: float = Field(description="Score in [0, 1].")
    passed: bool = Field(description="Whether the task counts as solved.")
    duration_s: float = Field(default=0.0, description="Wall time of the attempt.")
    tokens: int = Field(default=0, description="Model tokens spent on the attempt.")
    cost_usd: float = Field(default=0.0, description="Model cost of the attempt.")
    log_hash: str | None = Field(default=None, max_length=64, description="Blob of its log.")
    created_at: datetime = Field(default_factory=utcnow, description="When it was recorded.")


class CandidateScore(SQLModel, table=True):
    """Per (candidate, evaluator, split) totals of the evaluations, kept in step on write.

    Listings and parent selection read these instead of aggregating a million rows.
    """

    __tablename__ = "candidate_score"

    candidate_id: str = Field(foreign_key="candidate.id", primary_key=True)
    evaluator: str = Field(primary_key=True)
    split: str = Field(primary_key=True)
    n: int = Field(default=0, description="Evaluations counted.")
    n_passed: int = Field(default=0, description="Evaluations that passed.")
    score_sum: float = Field(default=0.0, description="Sum of their scores.")
    tokens: int = Field(default=0, description="Sum of their tokens.")
    cost_usd: float = Field(default=0.0, description="Sum of their cost.")
    duration_s: float = Field(default=0.0, description="Sum of their durations.")


class ModelCall(SQLModel, table=True):
    """One call to a model, metered to a run, a candidate and a role."""

    __tablename__ = "model_call"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = Field(default=None, foreign_key="run.id", index=True)
    candidate_id: str | None = Field(default=None, foreign_key="candidate.id", index=True)
    role: str = Field(description="Who called: diagnose, coder, conductor, expert, judge, ...")
    model: str = Field(description="The model's name as the model layer knows it.")
    prompt_tokens: int = Field(default=0, description="Tokens sent.")
    completion_tokens: int = Field(default=0, description="Tokens received.")
    cost_usd: float = Field(default=0.0, description="Cost of the call.")
    latency_s: float = Field(default=0.0, description="Wall time of the call.")
    error: str | None = Field(default=None, description="The error, when the call failed.")
    cached: bool = Field(default=False, description="Whether a cache answered it.")
    created_at: datetime = Field(default_factory=utcnow, description="When it was made.")


class MetaPromptVersion(SQLModel, table=True):
    """One version of a judge's or conductor's meta-prompt."""

    __tablename__ = "meta_prompt_version"

    __table_args__ = (
        Index("ux_meta_prompt_version", "run_id", "kind", "name", "version", unique=True),
    )

    id: str = Field(primary_key=True, max_length=16)
    run_id: str | None = Field(default=None, foreign_key="run.id", index=True)
    kind: str = Field(description="judge or conductor.")
    name: str = Field(description="Which judge or conductor.")
    version: int = Field(description="1 for the seed, then +1 per update.")
    parent_id: str | None = Field(default=None, max_length=16, description="Previous version.")
    text: str = Field(description="The meta-prompt itself.")
    reason: str | None = Field(default=None, description="The feedback that led to this version.")
    score: float | None = Field(default=None, description="How this version did, when measured.")
    cases: list[Any] | None = Field(
        default=None,
        sa_type=JSON(),
        description="The cases (feedback records, items) that produced this version.",
    )
    created_at: datetime = Field(default_factory=utcnow)


class Trace(SQLModel, table=True):
    """One recorded conversation: a conductor solving a question, a judge judging a pair.

    ``steps`` holds the messages or calls in order, as plain JSON; ``answer`` is what came
    out (a final answer, a verdict), None when there was none.
    """

    id: str = Field(primary_key=True, max_length=16, description="Time-ordered trace id.")
    run_id: str | None = Field(default=None, foreign_key="run.id", index=True)
    candidate_id: str | None = Field(
        default=None, foreign_key="candidate.id", index=True, description="The prompt set used."
    )
    kind: str = Field(description="conductor, judge, ...")
    item: str = Field(default="", description="The task id or question it answered.")
    answer: str | None = Field(default=None, description="What came out; None for no answer.")
    steps: list[Any] = Field(
        default_factory=list, sa_type=JSON(), description="Messages or calls, in order."
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_type=_json_column(), description="Free-form extra facts."
    )
    calls: int = Field(default=0, description="Model calls it made.")
    tokens: int = Field(default=0, description="Model tokens it spent.")
    created_at: datetime = Field(default_factory=utcnow, description="When it was recorded.")


TABLES = (Run, Candidate, Evaluation, CandidateScore, ModelCall, MetaPromptVersion, Trace)


def archive_metadata() -> MetaData:
    """A MetaData holding only the archive's tables (SQLModel's global one may hold others)."""
    metadata = MetaData()
    for table in TABLES:
        table.__table__.to_metadata(metadata)  # type: ignore[union-attr]
    return metadata
