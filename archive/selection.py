"""What parent selection reads: per-candidate score and children, clade statistics.

The policies themselves live in the orchestrator; these are their data, aggregated in SQL
from the per-candidate totals (``candidate_score``). A store of :class:`~.facade.Archive`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clade.archive.errors import UnknownIdError
from clade.archive.queries import sql_text
from clade.archive.views import CladeStats, SelectionInput

if TYPE_CHECKING:
    from clade.archive.transactions import Database

_SUBTREE = """
WITH RECURSIVE sub(id) AS (
  SELECT id FROM candidate WHERE id = :id
  UNION ALL SELECT c.id FROM candidate c JOIN sub ON c.parent_id = sub.id)
"""


class SelectionStore:
    """``clade_stats`` and ``selection_inputs``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def clade_stats(
        self, candidate_id: str, evaluator: str | None = None, split: str | None = None
    ) -> CladeStats:
        """Pooled successes and failures over every evaluation in the candidate's subtree
        (of one evaluator and one split when given: a run selects on its own split only, so
        held-out scores recorded for its candidates never reach selection)."""
        query = (
            _SUBTREE
            + """
        SELECT (SELECT count(*) FROM sub) AS size, coalesce(sum(s.n), 0) AS n,
               coalesce(sum(s.n_passed), 0) AS ok, sum(s.score_sum) AS total
        FROM candidate_score s WHERE s.candidate_id IN (SELECT id FROM sub) {ev} {sp}"""
        )
        with self.db.read() as conn:
            r = conn.execute(
                sql_text(query.format(ev="AND s.evaluator = :ev" if evaluator else "",
                                      sp="AND s.split = :sp" if split else "")),
                {"id": candidate_id, "ev": evaluator, "sp": split},
            ).one()  # fmt: skip
        if r.size == 0:
            raise UnknownIdError(f"no candidate with id {candidate_id!r}")
        return CladeStats(
            candidate_id=candidate_id, size=r.size, evaluations=r.n, successes=r.ok,
            failures=r.n - r.ok, mean_score=(r.total / r.n) if r.n else None,
        )  # fmt: skip

    def selection_inputs(self, run_id: str, evaluator: str | None = None) -> list[SelectionInput]:
        """Mean score and children count of every admitted, evaluated candidate of a run.

        Ordered by generation and then by key (``seed``, ``g1c0``, ``g1c1``, ...; the id for a
        candidate without one), never by id alone: ids are random within a millisecond, so
        two runs with the same seed would meet equal candidates in different orders and
        break ties (same score, same children) differently."""
        query = """
        SELECT c.id, c.generation, sum(s.score_sum) / sum(s.n) AS score,
               coalesce(k.n, 0) AS children, {key} AS key
        FROM candidate c JOIN candidate_score s ON s.candidate_id = c.id {ev}
        LEFT JOIN (SELECT parent_id, count(*) AS n FROM candidate
                   WHERE run_id = :run AND parent_id IS NOT NULL GROUP BY parent_id) k
               ON k.parent_id = c.id
        WHERE c.run_id = :run AND c.status = 'admitted'
        GROUP BY c.id, c.generation, k.n ORDER BY c.generation, c.id"""
        with self.db.read() as conn:
            key = (
                "max(c.meta ->> 'key')"
                if conn.dialect.name == "postgresql"
                else "max(json_extract(c.meta, '$.key'))"
            )
            result = conn.execute(
                sql_text(query.format(ev="AND s.evaluator = :ev" if evaluator else "", key=key)),
                {"run": run_id, "ev": evaluator},
            )
            rows = [SelectionInput(row[0], row[1], row[2], row[3], row[4] or "") for row in result]
        return sorted(rows, key=_key_order)


def _key_order(row: SelectionInput) -> tuple[int, int, int, str]:
    """Generation, then the child's index in its generation (``g3c10`` after ``g3c9``)."""
    head, sep, index = row.key.rpartition("c")
    if sep and head.startswith("g") and index.isdigit():
        return (row.generation, 0, int(index), row.candidate_id)
    return (row.generation, 1 if row.key != "seed" else 0, 0, row.key or row.candidate_id)
