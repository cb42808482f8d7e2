"""The per-task score matrix of a run: candidates (rows) x tasks (columns).

This is the one query that reads every evaluation row (a million at the benchmark's
scale). The rows are fetched as raw DBAPI tuples, in batches, and folded into one dict
per candidate: SQLAlchemy ``Row`` objects, or string aggregation in SQL
(``group_concat``, tried and measured), both cost more. Repeated attempts (or several
splits) of a task are averaged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from clade.archive.views import ScoreMatrix

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

BATCH = 20_000
_QUERY = """
SELECT e.candidate_id, e.task_id, e.score
FROM candidate c JOIN evaluation e ON e.candidate_id = c.id
WHERE c.run_id = :run AND e.evaluator = :ev {split}"""


def _batches(cursor: Any) -> Iterator[tuple[str, str, float]]:
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def score_matrix(conn: Connection, run_id: str, evaluator: str, split: str | None) -> ScoreMatrix:
    """Mean score of every candidate of `run_id` on every task of `evaluator` (and `split`)."""
    from sqlalchemy import text

    query = text(_QUERY.format(split="AND e.split = :split" if split else ""))
    result = conn.execute(query, {"run": run_id, "ev": evaluator, "split": split})
    per: dict[str, dict[str, float]] = {}
    repeats: dict[tuple[str, str], int] = {}
    for cid, task, score in _batches(result.cursor) if result.cursor else ():
        row = per.get(cid)
        if row is None:
            row = per[cid] = {}
        if task in row:  # several attempts (or splits) of one task: average them
            repeats[cid, task] = repeats.get((cid, task), 1) + 1
            row[task] += score
        else:
            row[task] = score
    for (cid, task), n in repeats.items():
        per[cid][task] /= n
    candidates = sorted(per)
    tasks = sorted(set().union(*per.values()))
    scores = [[per[cid].get(task) for task in tasks] for cid in candidates]
    return ScoreMatrix.model_construct(
        evaluator=evaluator, split=split, candidates=candidates, tasks=tasks, scores=scores
    )
