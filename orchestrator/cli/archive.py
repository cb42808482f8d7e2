"""`clade archive ...`: inspect what runs discovered (runs, candidates, lineage, diffs, plots).

Only typer is imported at start-up; the archive (SQLAlchemy) and rich are imported inside
the commands. Every listing takes ``--json`` and then prints JSON only. Ids may be given
as unambiguous prefixes. Errors are :class:`CladeError` s: one line and a non-zero exit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from clade.archive.facade import Archive
    from clade.archive.views import TreeNode

archive_app = typer.Typer(
    name="archive",
    help="Inspect the archive: runs, candidates, scores, lineage, diffs, plots.",
    no_args_is_help=True,
)
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON only.")


@dataclass(frozen=True)
class _Where:
    db: str | None
    blobs: Path | None


# Where the archive is: shared by every command that opens it (archive, serve, ...).
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Archive database URL (default: CLADE_DB_URL, else <CLADE_HOME>/clade.db)."
    ),
]
BlobsOption = Annotated[
    Path | None,
    typer.Option(
        "--blobs", help="Blob folder (default: beside a SQLite --db, else <CLADE_HOME>/blobs)."
    ),
]


@archive_app.callback()
def _options(ctx: typer.Context, db: DbOption = None, blobs: BlobsOption = None) -> None:
    """Inspect the archive: runs, candidates, scores, lineage, diffs, plots."""
    ctx.obj = _Where(db, blobs)


def open_archive_at(db: str | None, blobs: Path | None, *, must_exist: bool = True) -> Archive:
    """The archive at ``db`` (default: the configured one), blobs beside a SQLite file."""
    from clade.archive import Archive
    from clade.archive.errors import ArchiveError
    from clade.orchestrator.config import settings

    url = db or settings().archive_url
    blob_dir = blobs or settings().home / "blobs"
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if db and not blobs:
            blob_dir = path.parent / "blobs"
        if must_exist and not path.exists():
            raise ArchiveError(f"no archive at {path}", hint="start a run first, or pass --db URL")
    return Archive(url, blob_dir)


def _open(ctx: typer.Context, must_exist: bool = True) -> Archive:
    where: _Where = ctx.obj
    return open_archive_at(where.db, where.blobs, must_exist=must_exist)


def _emit_json(data: Any) -> None:
    from clade.archive.views import to_jsonable

    typer.echo(json.dumps(to_jsonable(data), indent=2))


def _score(value: float | None) -> str:
    if value is None:
        return "[dim]-[/]"
    colour = "green" if value >= 0.7 else "yellow" if value >= 0.4 else "red"
    return f"[{colour}]{value:.3f}[/]"


def _status(value: str) -> str:
    colour = {"admitted": "green", "rejected": "red", "failed": "red"}.get(value, "yellow")
    return f"[{colour}]{value}[/]"


def _console() -> Any:
    from rich.console import Console

    return Console()


@archive_app.command("runs")
def runs(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List every run: id, name, kind, status, candidates, best score, cost."""
    from rich.table import Table

    with _open(ctx) as archive:
        found = archive.list_runs()
    if as_json:
        return _emit_json(found)
    table = Table(title="runs")
    for column in ("id", "name", "kind", "status", "created", "candidates", "best", "cost $"):
        table.add_column(column, no_wrap=column == "id")
    for r in found:
        table.add_row(r.id, r.name, r.kind, r.status, f"{r.created_at:%Y-%m-%d %H:%M}",
                      str(r.candidates), _score(r.best_score), f"{r.cost_usd:.4f}")  # fmt: skip
    _console().print(table)


@archive_app.command("ls")
def ls(
    ctx: typer.Context,
    run: str | None = typer.Argument(None, help="Run id or prefix (default: the latest run)."),
    limit: int = typer.Option(200, "--limit", help="Show at most this many (0: all)."),
    status: str | None = typer.Option(None, "--status", help="Only candidates with this status."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a run's candidates: id, parent, generation, score per evaluator, status."""
    from rich.table import Table

    from clade.archive.errors import ConfigError
    from clade.archive.tables import CandidateStatus

    known = [s.value for s in CandidateStatus]
    if status is not None and status not in known:
        raise ConfigError(f"unknown status {status!r}", hint=f"one of {', '.join(known)}")
    with _open(ctx) as archive:
        run_id = archive.resolve_id(run, "run") if run else archive.latest_run_id()
        rows = [r for r in archive.list_candidates(run_id) if status in (None, r.status)]
    shown = rows[:limit] if limit else rows
    if as_json:
        return _emit_json(shown)
    labels = sorted({label for r in rows for label in r.scores})
    table = Table(title=f"run {run_id}: {len(rows)} candidates")
    for column in ("id", "parent", "gen", *labels, "status"):
        table.add_column(
            column,
            justify="right" if column == "gen" else "left",
            no_wrap=column in ("id", "parent"),
        )
    for r in shown:
        cells = [_score(r.scores.get(label)) for label in labels]
        table.add_row(r.id, r.parent_id or "[dim]seed[/]", str(r.generation), *cells,
                      _status(r.status))  # fmt: skip
    _console().print(table)
    if len(shown) < len(rows):
        typer.echo(f"showing {len(shown)} of {len(rows)}; --limit 0 shows all")


@archive_app.command("show")
def show(
    ctx: typer.Context,
    candidate: str = typer.Argument(..., help="Candidate id or unambiguous prefix."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one candidate: metadata, lineage, the proposal that produced it, scores, cost."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    with _open(ctx) as archive:
        detail = archive.show(archive.resolve_id(candidate))
        lineage = [row.id for row in archive.lineage(detail.candidate.id)]
    if as_json:
        return _emit_json({**detail.model_dump(mode="json"), "lineage": lineage})
    c = detail.candidate
    console = _console()
    facts = [
        f"[bold]{c.id}[/]  {c.kind}  gen {c.generation}  {_status(c.status)}  score {_score(c.score)}",
        f"run {c.run_id}   parent {c.parent_id or 'none (seed)'}   children {detail.children}",
        f"tree {c.tree_hash[:16]}   created {c.created_at:%Y-%m-%d %H:%M:%S}",
        f"lineage {' → '.join(lineage)}",
        f"cost: model calls ${detail.model_cost_usd:.4f} ({detail.model_calls} calls, "
        f"{detail.model_tokens} tokens); evaluations ${detail.evaluation_cost_usd:.4f}",
    ]
    if detail.rejection_reason:
        facts.append(f"[red]rejected:[/] {detail.rejection_reason}")
    made_by = detail.meta.get("procedure")
    if isinstance(made_by, dict):  # run option improvement.editable: which version made it
        fallbacks = made_by.get("fallbacks") or {}
        facts.append(
            f"procedure {str(made_by.get('hash', ''))[:16]} (the parent's meta/)"
            + "".join(
                f"\n  {escape(path)}: default, {escape(why)}"
                for path, why in sorted(fallbacks.items())
            )
        )
    console.print(Panel("\n".join(facts), title="candidate"))
    if detail.proposal is not None:
        console.print(Panel(json.dumps(detail.proposal, indent=2), title="proposal"))
    table = Table(title="results")
    for column in ("evaluator", "split", "tasks", "passed", "mean", "tokens", "cost $", "time s"):
        table.add_column(column)
    for r in detail.results:
        table.add_row(r.evaluator, r.split, str(r.n), str(r.n_passed), _score(r.mean),
                      str(r.tokens), f"{r.cost_usd:.4f}", f"{r.duration_s:.1f}")  # fmt: skip
    console.print(table)


def _add_branch(branch: Any, node: TreeNode) -> None:
    child = branch.add(f"{node.id} {_score(node.score)} {_status(node.status)}")
    for grandchild in node.children:
        _add_branch(child, grandchild)


@archive_app.command("tree")
def tree(
    ctx: typer.Context,
    run: str | None = typer.Argument(None, help="Run id or prefix (default: the latest run)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a run's lineage tree with each candidate's score, coloured."""
    from rich.tree import Tree

    with _open(ctx) as archive:
        run_id = archive.resolve_id(run, "run") if run else archive.latest_run_id()
        roots = archive.tree(run_id)
    if as_json:
        return _emit_json(roots)
    top = Tree(f"run {run_id}")
    for root in roots:
        _add_branch(top, root)
    _console().print(top)


@archive_app.command("diff")
def diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="The old candidate (id or prefix)."),
    b: str = typer.Argument(..., help="The new candidate (id or prefix)."),
    part: str = typer.Option(
        "all",
        "--part",
        help="meta: the improvement procedure (meta/) only; task: the rest of the tree; "
        "all: both, in two sections when either tree holds meta/.",
    ),
) -> None:
    """Unified diff between two candidates' trees."""
    from clade.archive.blobs import TreePart
    from clade.archive.errors import ConfigError

    parts: dict[str, TreePart] = {"meta": "meta", "task": "task", "all": "all"}
    if part not in parts:
        raise ConfigError(f"unknown part {part!r}", hint="one of meta, task, all")
    titles = {"meta": "the improvement procedure (meta/)", "task": "the task agent (the rest)"}
    with _open(ctx) as archive:
        old, new = archive.resolve_id(a), archive.resolve_id(b)
        if part != "all":
            typer.echo(archive.diff(old, new, parts[part]), nl=False)
            return
        for name, text in archive.diff_parts(old, new):  # one part unless a tree holds meta/
            if name in titles:
                typer.echo(f"# == {titles[name]} ==")
            typer.echo(text or ("# (unchanged)\n" if name in titles else ""), nl=False)


@archive_app.command("export")
def export(
    ctx: typer.Context,
    candidate: Annotated[str, typer.Argument(help="Candidate id or prefix.")],
    dest: Annotated[Path, typer.Argument(help="Folder to write its tree into (new or empty).")],
) -> None:
    """Write a candidate's tree of files into a folder."""
    with _open(ctx) as archive:
        cid = archive.resolve_id(candidate)
        archive.export_candidate(cid, dest)
    typer.echo(f"wrote {cid} to {dest}")


@archive_app.command("plot")
def plot(
    ctx: typer.Context,
    run: str | None = typer.Argument(None, help="Run id or prefix (default: the latest run)."),
    out: Annotated[Path, typer.Option("--out", help="Image file to write.")] = Path("progress.png"),
    evaluator: str | None = typer.Option(None, "--evaluator", help="Score on this evaluator only."),
) -> None:
    """Plot score per candidate, best so far and cumulative cost over a run."""
    from clade.archive.plot import plot_progress

    with _open(ctx) as archive:
        run_id = archive.resolve_id(run, "run") if run else archive.latest_run_id()
        points = archive.best_so_far(run_id, evaluator)
    plot_progress(points, out, f"run {run_id}")
    typer.echo(f"wrote {out}")


@archive_app.command("export-run")
def export_run(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id or prefix.")],
    dest: Annotated[Path, typer.Argument(help="JSON-lines file to write.")],
) -> None:
    """Write a whole run (rows and blobs) to a self-contained JSON-lines file."""
    with _open(ctx) as archive:
        lines = archive.export_run(archive.resolve_id(run, "run"), dest)
    typer.echo(f"wrote {lines} lines to {dest}")


@archive_app.command("import-run")
def import_run(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="JSON-lines file written by export-run.")],
) -> None:
    """Read a run exported by `export-run` into this archive (validated, all or nothing)."""
    with _open(ctx, must_exist=False) as archive:
        run_id = archive.import_run(source)
    typer.echo(f"imported run {run_id}")


def register(app: typer.Typer) -> None:
    """Add the `archive` command group to `app`."""
    app.add_typer(archive_app)
