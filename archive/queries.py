"""Read-side queries of the archive: listings, lineage, curves, matrices, clade statistics.

Everything aggregates in SQL: listings and selection read the per-candidate totals in
``candidate_score`` (kept in step with ``evaluation`` on every write), and only the score
matrix touches the evaluation rows themselves. A store of :class:`~.facade.Archive`
(``archive.stores.queries``; the facade's flat methods delegate here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clade.archive.errors import AmbiguousIdError, UnknownIdError
from clade.archive.ids import looks_like_prefix
from clade.archive.views import (
    CandidateDetail,
    CandidateRow,
    CurvePoint,
    RunSummary,
    ScoreMatrix,
    ScoreSummary,
    TreeNode,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clade.archive.runs import RunStore
    from clade.archive.transactions import Database

_ROWS = """
SELECT c.id, c.run_id, c.parent_id, c.generation, c.status, c.kind, c.tree_hash, c.created_at,
       s.evaluator, s.split, s.n, s.score_sum
FROM candidate c LEFT JOIN candidate_score s ON s.candidate_id = c.id
WHERE {where} ORDER BY c.id
"""


def sql_text(query: str) -> Any:
    from sqlalchemy import text

    return text(query)


def _datetime(value: Any) -> datetime:
    """An aware UTC datetime from a raw SQL row (SQLite hands back naive text)."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _candidate_rows(conn: Connection, where: str, **params: Any) -> list[CandidateRow]:
    rows: dict[str, CandidateRow] = {}
    totals: dict[str, list[float]] = {}
    result = conn.execute(sql_text(_ROWS.format(where=where)), params)
    raw = result.cursor.fetchall() if result.cursor else []  # DBAPI tuples: no Row overhead
    for cid, run, parent, gen, status, kind, tree, created, evaluator, split, n, total in raw:
        row = rows.get(cid)
        if row is None:
            row = rows[cid] = CandidateRow(
                cid, run, parent, gen, status, kind, tree, _datetime(created)
            )
        if n:
            row.scores[evaluator if split == "test" else f"{evaluator}/{split}"] = total / n
            pooled = totals.setdefault(cid, [0.0, 0])
            pooled[0] += total
            pooled[1] += n
    for cid, (total, n) in totals.items():
        rows[cid].score = total / n
    return list(rows.values())


class QueryStore:
    """The read methods of the archive over ``db`` (candidates by id through ``runs``)."""

    def __init__(self, db: Database, runs: RunStore) -> None:
        self.db, self.runs = db, runs

    # -- ids ---------------------------------------------------------------------------
    def resolve_id(self, prefix: str, table: str = "candidate") -> str:
        """The full id of the run or candidate whose id starts with `prefix`."""
        assert table in ("candidate", "run")
        key = prefix.strip().lower()
        if not looks_like_prefix(key):
            raise UnknownIdError(
                f"no {table} with id {prefix!r}",
                hint=f"list them with `clade archive {'ls' if table == 'candidate' else 'runs'}`",
            )
        query = f"SELECT id FROM {table} WHERE id >= :lo AND id < :hi ORDER BY id LIMIT 6"
        with self.db.read() as conn:
            found = list(conn.execute(sql_text(query), {"lo": key, "hi": key + "~"}).scalars())
        if not found:
            raise UnknownIdError(
                f"no {table} with id {prefix!r}",
                hint=f"list them with `clade archive {'ls' if table == 'candidate' else 'runs'}`",
            )
        if len(found) > 1:
            shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise AmbiguousIdError(
                f"{table} id prefix {prefix!r} matches {shown}", hint="type more characters"
            )
        return found[0]

    def latest_run_id(self) -> str:
        with self.db.read() as conn:
            found = conn.execute(sql_text("SELECT max(id) FROM run")).scalar()
        if found is None:
            raise UnknownIdError("the archive holds no run yet", hint="start one with `clade run`")
        return str(found)

    # -- listings ----------------------------------------------------------------------
    def list_runs(self) -> list[RunSummary]:
        """Every run, oldest first, with its size, best score and cost."""
        query = """
        SELECT r.id, r.name, r.kind, r.status, r.created_at,
          (SELECT count(*) FROM candidate c WHERE c.run_id = r.id) AS n,
          (SELECT max(t.m) FROM (SELECT sum(s.score_sum) / sum(s.n) AS m
             FROM candidate c JOIN candidate_score s ON s.candidate_id = c.id
             WHERE c.run_id = r.id GROUP BY c.id) t) AS best,
          (SELECT coalesce(sum(m.cost_usd), 0) FROM model_call m WHERE m.run_id = r.id) AS cost
        FROM run r ORDER BY r.id"""
        with self.db.read() as conn:
            return [
                RunSummary(
                    id=r.id,
                    name=r.name,
                    kind=r.kind,
                    status=r.status,
                    created_at=_datetime(r.created_at),
                    candidates=r.n,
                    best_score=r.best,
                    cost_usd=float(r.cost),
                )
                for r in conn.execute(sql_text(query))
            ]

    def list_candidates(self, run_id: str) -> list[CandidateRow]:
        """The candidates of a run in creation order, with their scores."""
        with self.db.read() as conn:
            return _candidate_rows(conn, "c.run_id = :run", run=run_id)

    def candidate_row(self, candidate_id: str) -> CandidateRow:
        with self.db.read() as conn:
            rows = _candidate_rows(conn, "c.id = :id", id=candidate_id)
        if not rows:
            raise UnknownIdError(f"no candidate with id {candidate_id!r}")
        return rows[0]

    def children_counts(self, run_id: str) -> dict[str, int]:
        """Candidate id -> number of direct children, for candidates that have any."""
        query = """SELECT parent_id, count(*) FROM candidate
                   WHERE run_id = :run AND parent_id IS NOT NULL GROUP BY parent_id"""
        with self.db.read() as conn:
            return {p: n for p, n in conn.execute(sql_text(query), {"run": run_id})}

    # -- lineage -----------------------------------------------------------------------
    def lineage(self, candidate_id: str) -> list[CandidateRow]:
        """The candidate's ancestors, seed first, ending with the candidate itself."""
        query = """
        WITH RECURSIVE up(id, parent_id, depth) AS (
          SELECT id, parent_id, 0 FROM candidate WHERE id = :id
          UNION ALL SELECT c.id, c.parent_id, up.depth + 1
          FROM candidate c JOIN up ON c.id = up.parent_id)
        SELECT id FROM up"""
        with self.db.read() as conn:
            ids = list(conn.execute(sql_text(query), {"id": candidate_id}).scalars())
            if not ids:
                raise UnknownIdError(f"no candidate with id {candidate_id!r}")
            found = {
                row.id: row
                for row in _candidate_rows(
                    conn,
                    "c.id IN (" + ",".join(f":i{n}" for n in range(len(ids))) + ")",
                    **{f"i{n}": i for n, i in enumerate(ids)},
                )
            }
        return [found[i] for i in reversed(ids)]

    def tree(self, run_id: str) -> list[TreeNode]:
        """The run's lineage forest: its seeds, each with its descendants."""
        query = """SELECT c.id, c.parent_id, c.generation, c.status, sum(s.score_sum) / sum(s.n)
                   FROM candidate c LEFT JOIN candidate_score s ON s.candidate_id = c.id
                   WHERE c.run_id = :run GROUP BY c.id, c.parent_id, c.generation, c.status
                   ORDER BY c.id"""
        with self.db.read() as conn:
            result = conn.execute(sql_text(query), {"run": run_id})
            rows = result.cursor.fetchall() if result.cursor else []
        nodes = {cid: TreeNode(cid, status, gen, score) for cid, _, gen, status, score in rows}
        roots: list[TreeNode] = []
        for cid, parent, *_ in rows:
            (nodes[parent].children if parent in nodes else roots).append(nodes[cid])
        return roots

    # -- progress ----------------------------------------------------------------------
    def best_so_far(self, run_id: str, evaluator: str | None = None) -> list[CurvePoint]:
        """Score, best score so far and cumulative cost, candidate by candidate.

        Cost is what the model calls metered to each candidate cost; a run that recorded
        no model calls falls back to the cost written on its evaluations.
        """
        rows = self.list_candidates(run_id)
        query = """SELECT candidate_id, sum(cost_usd) FROM model_call
                   WHERE run_id = :run AND candidate_id IS NOT NULL GROUP BY candidate_id"""
        with self.db.read() as conn:
            costs = {c: float(v) for c, v in conn.execute(sql_text(query), {"run": run_id})}
            if not costs:
                fallback = """SELECT s.candidate_id, sum(s.cost_usd) FROM candidate_score s
                   JOIN candidate c ON c.id = s.candidate_id WHERE c.run_id = :run
                   GROUP BY s.candidate_id"""
                costs = {c: float(v) for c, v in conn.execute(sql_text(fallback), {"run": run_id})}
        points: list[CurvePoint] = []
        best: float | None = None
        spent = 0.0
        for index, row in enumerate(rows):
            score = row.scores.get(evaluator) if evaluator else row.score
            if score is not None and (best is None or score > best):
                best = score
            spent += costs.get(row.id, 0.0)
            points.append(CurvePoint(index, row.id, score, best, spent))
        return points

    def evaluators(self, run_id: str) -> list[tuple[str, str]]:
        """(evaluator, split) pairs evaluated in the run, sorted."""
        query = """SELECT DISTINCT s.evaluator, s.split FROM candidate_score s
                   JOIN candidate c ON c.id = s.candidate_id WHERE c.run_id = :run
                   ORDER BY s.evaluator, s.split"""
        with self.db.read() as conn:
            return [(e, s) for e, s in conn.execute(sql_text(query), {"run": run_id})]

    def score_matrix(
        self, run_id: str, evaluator: str | None = None, split: str | None = None
    ) -> ScoreMatrix:
        """Mean score per (candidate, task) for one evaluator (default: the first one)."""
        if evaluator is None:
            pairs = self.evaluators(run_id)
            if not pairs:
                return ScoreMatrix(evaluator="", split=split, candidates=[], tasks=[], scores=[])
            evaluator = pairs[0][0]
        from clade.archive.matrix import score_matrix

        with self.db.read() as conn:
            return score_matrix(conn, run_id, evaluator, split)

    def show(self, candidate_id: str) -> CandidateDetail:
        """Everything recorded about one candidate."""
        from sqlalchemy import text

        cand = self.runs.get_candidate(candidate_id)
        with self.db.read() as conn:
            results = [
                ScoreSummary(
                    evaluator=r.evaluator,
                    split=r.split,
                    n=r.n,
                    n_passed=r.n_passed,
                    mean=r.score_sum / r.n if r.n else 0.0,
                    tokens=r.tokens,
                    cost_usd=r.cost_usd,
                    duration_s=r.duration_s,
                )
                for r in conn.execute(
                    text(
                        "SELECT * FROM candidate_score WHERE candidate_id = :id ORDER BY evaluator, split"
                    ),
                    {"id": candidate_id},
                )
            ]
            calls = conn.execute(
                text("""SELECT count(*) AS n, coalesce(sum(prompt_tokens + completion_tokens), 0) AS tok,
                        coalesce(sum(cost_usd), 0) AS cost FROM model_call WHERE candidate_id = :id"""),
                {"id": candidate_id},
            ).one()
            children = conn.execute(
                text("SELECT count(*) FROM candidate WHERE parent_id = :id"), {"id": candidate_id}
            ).scalar_one()
        return CandidateDetail(
            candidate=self.candidate_row(candidate_id), rejection_reason=cand.rejection_reason,
            proposal=cand.proposal, meta=dict(cand.meta), results=results, children=children,
            model_calls=calls.n, model_tokens=calls.tok, model_cost_usd=float(calls.cost),
            evaluation_cost_usd=sum(r.cost_usd for r in results),
        )  # fmt: skip


def iter_chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
