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

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.tables import Evaluation

#: Characters of a log shown inline; the rest is behind the "full log" link.
LOG_CLIP = 12_000
#: Evaluations whose logs are read inline; later ones only link to theirs.
INLINE_LOGS = 60
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(slots=True)
class EvaluationView:
    """One evaluation row as the page shows it: the archive's row and its log, clipped (None
    when it has no log, or when it is past the first :data:`INLINE_LOGS` rows)."""

    row: Evaluation
    log: str | None
    clipped: bool


@dataclass(slots=True)
class LogView:
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


#: The titles of a tree's two parts, shown apart when either tree holds an improvement
#: procedure (run option ``improvement.editable``).
PART_TITLES = {
    "meta": "the improvement procedure (meta/)",
    "task": "the task agent (the rest of the tree)",
}
DiffSection = tuple[str, str, list[tuple[str, str]]]


def diff_sections(archive: Archive, a: str, b: str) -> list[DiffSection]:
    """The diff from ``a`` to ``b`` as (part, title, lines) sections: one untitled section of
    every file, or the improvement procedure's and the task part's apart when either tree
    holds ``meta/``."""
    return [
        (part, PART_TITLES.get(part, ""), diff_lines(text))
        for part, text in archive.diff_parts(a, b)
    ]


def read_log(archive: Archive, log_hash: str, clip: int = LOG_CLIP) -> tuple[str, bool]:
    """The log's text, clipped to its last ``clip`` characters, and whether it was clipped."""
    try:
        text = archive.get_log(log_hash)
    except ArchiveError as exc:
        return f"(log unavailable: {exc})", False
    if len(text) > clip:
        return text[-clip:], True
    return text, False


def evaluation_views(archive: Archive, candidate_id: str) -> list[EvaluationView]:
    """The candidate's evaluations in order, the first :data:`INLINE_LOGS` with their logs."""
    views = []
    for index, row in enumerate(archive.evaluations(candidate_id)):
        log, clipped = (None, False)
        if row.log_hash and index < INLINE_LOGS:
            log, clipped = read_log(archive, row.log_hash)
        views.append(EvaluationView(row, log, clipped))
    return views


def self_modification(archive: Archive, meta: dict[str, Any]) -> list[LogView]:
    """The self-modification's records kept in ``meta``: stored logs and the model's replies."""
    found = []
    for key, value in sorted(meta.items()):
        if key == "key":
            continue
        if isinstance(value, str) and _HASH.match(value) and archive.blobs.has(value, "log"):
            text, clipped = read_log(archive, value)
            found.append(LogView(key.replace("_", " "), text, value, clipped))
        elif key == "replies" and isinstance(value, list):
            for n, reply in enumerate(value, 1):
                found.append(LogView(f"diagnosis reply {n}", str(reply)))
        elif isinstance(value, str) and "\n" in value:
            found.append(LogView(key.replace("_", " "), value[-LOG_CLIP:]))
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
    siblings = archive.list_candidates(cand.run_id)
    parent_diff = None
    if cand.parent_id is not None:
        parent_diff = diff_sections(archive, cand.parent_id, candidate_id)
    against_diff = None
    if against:
        against = archive.resolve_id(against)
        against_diff = diff_sections(archive, against, candidate_id)
    meta = {k: v for k, v in detail.meta.items()}
    return {
        "detail": detail,
        "cand": cand,
        "lineage": archive.lineage(candidate_id),
        "children": [row for row in siblings if row.parent_id == candidate_id],
        "siblings": siblings,
        "calls": archive.call_usage(candidate_id=candidate_id),
        "results": evaluation_views(archive, candidate_id),
        "proposal": {k: pretty(v) for k, v in (detail.proposal or {}).items()},
        "meta_json": pretty(meta) if meta else "",
        "procedure": meta.get("procedure") if isinstance(meta.get("procedure"), dict) else None,
        "self_modification": self_modification(archive, meta),
        "parent_diff": parent_diff,
        "against": against,
        "against_diff": against_diff,
        "traces": [t for t in archive.traces(run_id=cand.run_id) if t.candidate_id == candidate_id],
    }
