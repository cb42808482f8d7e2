"""What a candidate's page shows: facts, proposal, per-task results with their logs, diffs,
and the trajectories of its self-modification and its evaluations.

Logs are blobs: an evaluation's ``log_hash`` (the agent's exit and its trajectory's tail)
and, for the self-modification, any ``meta`` value that names a stored log. Text is clipped
for the page; the full log is one click away at ``/logs/<hash>`` (served as plain text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clade.archive.errors import ArchiveError
from clade.archive.queries import sql_text

if TYPE_CHECKING:
    from clade.archive.facade import Archive

#: Characters of a log shown inline; the rest is behind the "full log" link.
LOG_CLIP = 12_000
#: Evaluations whose logs are read inline; later ones only link to theirs.
INLINE_LOGS = 60
_HASH = re.compile(r"^[0-9a-f]{64}$")
_EVALUATIONS = """SELECT evaluator, split, task_id, attempt, score, passed, duration_s, tokens,
  cost_usd, log_hash FROM evaluation WHERE candidate_id = :c
  ORDER BY evaluator, split, task_id, attempt"""
_CALLS = """SELECT role, model, count(*) AS calls, sum(prompt_tokens + completion_tokens) AS tokens,
  sum(cost_usd) AS cost, sum(CASE WHEN error IS NULL THEN 0 ELSE 1 END) AS errors
  FROM model_call WHERE candidate_id = :c GROUP BY role, model ORDER BY role, model"""
_CHILDREN = "SELECT id, status FROM candidate WHERE parent_id = :c ORDER BY id"
_SIBLINGS = "SELECT id, status, generation FROM candidate WHERE run_id = :r ORDER BY id"


@dataclass(slots=True)
class TaskResult:
    evaluator: str
    split: str
    task_id: str
    attempt: int
    score: float
    passed: bool
    duration_s: float
    tokens: int
    cost_usd: float
    log_hash: str | None
    log: str | None
    clipped: bool


@dataclass(slots=True)
class Trajectory:
    """One text the page shows under "trajectories": its title and the (clipped) text."""

    title: str
    text: str
    log_hash: str | None = None
    clipped: bool = False


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for each line of a unified diff."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            css = "file"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        else:
            css = "ctx"
        out.append((css, line))
    return out


def read_log(archive: Archive, log_hash: str, clip: int = LOG_CLIP) -> tuple[str, bool]:
    """The log's text, clipped to its last ``clip`` characters, and whether it was clipped."""
    try:
        text = archive.get_log(log_hash)
    except ArchiveError as exc:
        return f"(log unavailable: {exc})", False
    if len(text) > clip:
        return text[-clip:], True
    return text, False


def task_results(archive: Archive, candidate_id: str) -> list[TaskResult]:
    with archive._read() as conn:
        rows = conn.execute(sql_text(_EVALUATIONS), {"c": candidate_id}).all()
    results = []
    for index, r in enumerate(rows):
        log, clipped = (None, False)
        if r.log_hash and index < INLINE_LOGS:
            log, clipped = read_log(archive, r.log_hash)
        results.append(
            TaskResult(
                r.evaluator,
                r.split,
                r.task_id,
                r.attempt,
                float(r.score),
                bool(r.passed),
                float(r.duration_s),
                int(r.tokens),
                float(r.cost_usd),
                r.log_hash,
                log,
                clipped,
            )
        )
    return results


def self_modification(archive: Archive, meta: dict[str, Any]) -> list[Trajectory]:
    """The self-modification's records kept in ``meta``: stored logs and the model's replies."""
    found = []
    for key, value in sorted(meta.items()):
        if key == "key":
            continue
        if isinstance(value, str) and _HASH.match(value) and archive.blobs.has(value, "log"):
            text, clipped = read_log(archive, value)
            found.append(Trajectory(key.replace("_", " "), text, value, clipped))
        elif key == "replies" and isinstance(value, list):
            for n, reply in enumerate(value, 1):
                found.append(Trajectory(f"diagnosis reply {n}", str(reply)))
        elif isinstance(value, str) and "\n" in value:
            found.append(Trajectory(key.replace("_", " "), value[-LOG_CLIP:]))
    return found


def pretty(value: Any) -> str:
    """Readable JSON for free-form records (meta, proposal fields, cases, steps)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def candidate_page(archive: Archive, candidate_id: str, against: str | None) -> dict[str, Any]:
    """The context of a candidate's page; ``against`` is a candidate to diff with, if chosen."""
    detail = archive.show(candidate_id)
    cand = detail.candidate
    with archive._read() as conn:
        children = conn.execute(sql_text(_CHILDREN), {"c": candidate_id}).all()
        siblings = conn.execute(sql_text(_SIBLINGS), {"r": cand.run_id}).all()
        calls = conn.execute(sql_text(_CALLS), {"c": candidate_id}).all()
    parent_diff = None
    if cand.parent_id is not None:
        parent_diff = diff_lines(archive.diff(cand.parent_id, candidate_id))
    against_diff = None
    if against:
        against = archive.resolve_id(against)
        against_diff = diff_lines(archive.diff(against, candidate_id))
    meta = {k: v for k, v in detail.meta.items()}
    return {
        "detail": detail,
        "cand": cand,
        "lineage": archive.lineage(candidate_id),
        "children": children,
        "siblings": siblings,
        "calls": calls,
        "results": task_results(archive, candidate_id),
        "proposal": {k: pretty(v) for k, v in (detail.proposal or {}).items()},
        "meta_json": pretty(meta) if meta else "",
        "self_modification": self_modification(archive, meta),
        "parent_diff": parent_diff,
        "against": against,
        "against_diff": against_diff,
        "traces": [t for t in archive.traces(run_id=cand.run_id) if t.candidate_id == candidate_id],
    }
