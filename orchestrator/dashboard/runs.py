"""What the runs list and a run's page show: the tree, the charts, usage, and its state.

Usage per candidate and per role, and the state the page polls for live updates, are read
here with read-only SQL through ``archive._read()``: the archive has no query for them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clade.archive.queries import sql_text
from clade.orchestrator.dashboard.charts import Chart, line_chart
from clade.orchestrator.dashboard.tree import layout_tree

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.views import CandidateRow

_BY_CANDIDATE = """SELECT candidate_id, sum(prompt_tokens + completion_tokens), sum(cost_usd)
  FROM model_call WHERE run_id = :run GROUP BY candidate_id"""
_BY_ROLE = """SELECT role, model, count(*) AS calls, sum(prompt_tokens) AS prompt,
  sum(completion_tokens) AS completion, sum(cost_usd) AS cost,
  sum(CASE WHEN error IS NULL THEN 0 ELSE 1 END) AS errors
  FROM model_call WHERE run_id = :run GROUP BY role, model ORDER BY role, model"""
_STATE = """SELECT r.status,
  (SELECT count(*) FROM candidate c WHERE c.run_id = r.id),
  (SELECT coalesce(max(c.id), '') FROM candidate c WHERE c.run_id = r.id),
  (SELECT group_concat(st, ',') FROM (SELECT c.status || ':' || count(*) AS st
     FROM candidate c WHERE c.run_id = r.id GROUP BY c.status ORDER BY c.status)),
  (SELECT coalesce(sum(s.n), 0) FROM candidate_score s JOIN candidate c
     ON c.id = s.candidate_id WHERE c.run_id = r.id),
  (SELECT count(*) FROM model_call m WHERE m.run_id = r.id),
  (SELECT count(*) FROM trace t WHERE t.run_id = r.id)
  FROM run r WHERE r.id = :run"""


@dataclass(slots=True)
class RoleUsage:
    role: str
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    errors: int


def run_state(archive: Archive, run_id: str) -> dict[str, Any]:
    """What the run page polls: its status and a version that changes with any new record."""
    with archive._read() as conn:
        row = conn.execute(sql_text(_STATE), {"run": run_id}).one()
    status, count, last, statuses, evaluations, calls, traces = row
    version = f"{status}|{count}|{last}|{statuses or ''}|{evaluations}|{calls}|{traces}"
    return {"run_id": run_id, "status": status, "candidates": count, "evaluations": int(evaluations),
            "model_calls": calls, "traces": traces, "version": version}  # fmt: skip


def _usage_by_candidate(archive: Archive, run_id: str) -> dict[str | None, tuple[int, float]]:
    with archive._read() as conn:
        rows = conn.execute(sql_text(_BY_CANDIDATE), {"run": run_id})
        return {cid: (int(tok or 0), float(cost or 0)) for cid, tok, cost in rows}


def usage_by_role(archive: Archive, run_id: str) -> list[RoleUsage]:
    with archive._read() as conn:
        rows = conn.execute(sql_text(_BY_ROLE), {"run": run_id}).all()
    return [RoleUsage(r.role, r.model, r.calls, int(r.prompt or 0), int(r.completion or 0),
                      float(r.cost or 0), int(r.errors or 0)) for r in rows]  # fmt: skip


def _generation_chart(rows: list[CandidateRow]) -> Chart:
    by_gen: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        if row.score is not None:
            by_gen[row.generation].append(row.score)
    gens = sorted(by_gen)
    return line_chart(
        "score per generation",
        gens,
        [
            ("best", "#2a7d2a", [max(by_gen[g]) for g in gens], False),
            ("mean", "#3b6fb6", [sum(by_gen[g]) / len(by_gen[g]) for g in gens], False),
        ],
        x_label="generation",
        y_range=(0.0, 1.0),
    )


def charts(archive: Archive, run_id: str, rows: list[CandidateRow]) -> list[Chart]:
    """Best-so-far, per-generation, token and cost charts of the run."""
    points = archive.best_so_far(run_id)
    xs = [p.index for p in points]
    names = [p.candidate_id for p in points]
    progress = line_chart(
        "score per candidate and best so far",
        xs,
        [
            ("best so far", "#2a7d2a", [p.best for p in points], False),
            ("score", "#3b6fb6", [p.score for p in points], True),
        ],
        x_label="candidate (creation order)",
        y_range=(0.0, 1.0),
        x_names=names,
    )
    usage = _usage_by_candidate(archive, run_id)
    tokens, cost, spent_tok, spent_usd = [], [], 0, 0.0
    for row in rows:
        tok, usd = usage.get(row.id, (0, 0.0))
        spent_tok, spent_usd = spent_tok + tok, spent_usd + usd
        tokens.append(float(spent_tok))
        cost.append(spent_usd)
    idx = list(range(len(rows)))
    ids = [r.id for r in rows]
    return [
        progress,
        _generation_chart(rows),
        line_chart(
            "cumulative model tokens",
            idx,
            [("tokens", "#8a4fb0", tokens, False)],
            x_label="candidate (creation order)",
            x_names=ids,
        ),
        line_chart(
            "cumulative model cost ($)",
            idx,
            [("cost", "#b0644f", cost, False)],
            x_label="candidate (creation order)",
            x_names=ids,
        ),
    ]


def run_page(archive: Archive, run_id: str) -> dict[str, Any]:
    """The context of a run's page (and of its live fragment)."""
    run = archive.get_run(run_id)
    rows = archive.list_candidates(run_id)
    tokens, cost = archive.run_usage(run_id)
    unattributed = _usage_by_candidate(archive, run_id).get(None, (0, 0.0))
    return {
        "run": run,
        "rows": rows,
        "tree": layout_tree(archive.tree(run_id)),
        "charts": charts(archive, run_id, rows),
        "roles": usage_by_role(archive, run_id),
        "tokens": tokens,
        "cost": cost,
        "unattributed": unattributed,
        "state": run_state(archive, run_id),
        "traces": archive.traces(run_id=run_id),
        "prompts": archive.meta_prompt_versions(run_id=run_id),
        "statuses": _status_counts(rows),
    }


def _status_counts(rows: list[CandidateRow]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.status] += 1
    return dict(sorted(counts.items()))
