"""What the runs list and a run's page show: the tree, the charts, usage, and its state.

Everything is read through the archive's public queries (``run_activity``, ``call_usage``,
``usage_by_candidate``, ...), so the page reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from clade.archive.views import Usage
from clade.orchestrator.dashboard.charts import Chart, line_chart
from clade.orchestrator.dashboard.tree import layout_tree

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.views import CandidateRow


def run_state(archive: Archive, run_id: str) -> dict[str, Any]:
    """What the run page polls: its status and a version that changes with any new record."""
    a = archive.run_activity(run_id)
    statuses = ",".join(f"{status}:{n}" for status, n in a.statuses.items())
    version = "|".join(
        str(v) for v in (a.status, a.candidates, a.last_candidate or "", statuses,
                         a.evaluations, a.model_calls, a.traces)
    )  # fmt: skip
    return {"run_id": run_id, "status": a.status, "candidates": a.candidates,
            "evaluations": a.evaluations, "model_calls": a.model_calls, "traces": a.traces,
            "version": version}  # fmt: skip


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


def charts(
    archive: Archive, run_id: str, rows: list[CandidateRow], usage: dict[str | None, Usage]
) -> list[Chart]:
    """Best-so-far, per-generation, token and cost charts of the run (``usage``: what the
    model calls spent per candidate, from ``archive.usage_by_candidate``)."""
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
    tokens, cost, spent_tok, spent_usd = [], [], 0, 0.0
    for row in rows:
        tok, usd = usage.get(row.id, Usage(0, 0.0))
        spent_tok, spent_usd = spent_tok + tok, spent_usd + usd
        tokens.append(float(spent_tok))
        cost.append(spent_usd)
    idx, ids = list(range(len(rows))), [r.id for r in rows]
    cumulative = [
        line_chart(title, idx, [(label, color, ys, False)],
                   x_label="candidate (creation order)", x_names=ids)
        for title, label, color, ys in (
            ("cumulative model tokens", "tokens", "#8a4fb0", tokens),
            ("cumulative model cost ($)", "cost", "#b0644f", cost),
        )
    ]  # fmt: skip
    return [progress, _generation_chart(rows), *cumulative]


def run_page(archive: Archive, run_id: str) -> dict[str, Any]:
    """The context of a run's page (and of its live fragment)."""
    run = archive.get_run(run_id)
    rows = archive.list_candidates(run_id)
    tokens, cost = archive.run_usage(run_id)
    usage = archive.usage_by_candidate(run_id)
    return {
        "run": run,
        "rows": rows,
        "tree": layout_tree(archive.tree(run_id)),
        "charts": charts(archive, run_id, rows, usage),
        "roles": archive.call_usage(run_id=run_id),
        "tokens": tokens,
        "cost": cost,
        "unattributed": usage.get(None, Usage(0, 0.0)),
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
