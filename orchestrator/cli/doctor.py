"""`clade doctor`: is this machine ready to run Clade?"""

from __future__ import annotations

import typer


def doctor(
    load: bool = typer.Option(
        False, "--load", help="Also load the embedded model and generate a few tokens."
    ),
) -> None:
    """Check Python, the Docker engine, the sandbox image and the models; print the fix for each failure."""
    from rich.console import Console
    from rich.table import Table

    from clade.orchestrator.doctor import run_checks

    results = run_checks(load=load)
    table = Table(title="clade doctor")
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column)
    for r in results:
        status = "[green]ok[/]" if r.ok else ("[red]FAIL[/]" if r.required else "[yellow]warn[/]")
        table.add_row(r.name, status, r.detail, r.fix)
    Console().print(table)
    failed = [r.name for r in results if r.required and not r.ok]
    if failed:
        typer.secho(
            f"doctor: {len(failed)} required check(s) failed: {', '.join(failed)}",
            err=True,
            fg="red",
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
