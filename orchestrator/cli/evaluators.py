"""`clade evaluators list|show`: the benchmarks Clade can score agents on."""

from __future__ import annotations

import json

import typer

evaluators_app = typer.Typer(
    help="List and inspect benchmark evaluators (built-ins and plugins).", no_args_is_help=True
)


@evaluators_app.command("list")
def list_evaluators(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Every evaluator this installation can load: built-ins and `clade.evaluators` entry points."""
    from rich.console import Console
    from rich.table import Table

    from clade.orchestrator.evaluators.registry import BUILTINS, available

    found = available()
    if as_json:
        typer.echo(
            json.dumps(
                [{"name": n, "path": p, "builtin": n in BUILTINS} for n, p in sorted(found.items())]
            )
        )
        return
    table = Table("name", "import path", "source")
    for name, path in sorted(found.items()):
        table.add_row(name, path, "built-in" if name in BUILTINS else "plugin")
    Console().print(table)


@evaluators_app.command("show")
def show(
    name: str = typer.Argument(help="Short name or import path (module:Class)."),
    examples: int = typer.Option(2, help="How many dev tasks to print."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """An evaluator's splits, their sizes, and a few example tasks."""
    from clade.orchestrator.evaluators.registry import load_evaluator

    evaluator = load_evaluator(name)
    dev, test = evaluator.tasks("dev"), evaluator.tasks("test")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "name": evaluator.name,
                    "dev": len(dev),
                    "test": len(test),
                    "examples": [t.model_dump() for t in dev[:examples]],
                }
            )
        )
        return
    typer.echo(
        f"{evaluator.name}: {len(dev)} dev tasks, {len(test)} test tasks (held out from selection)"
    )
    for task in dev[:examples]:
        typer.echo(f"\n--- {task.id}\n{task.statement}")
        for path in task.files:
            typer.echo(f"[file {path}]")


def register(app: typer.Typer) -> None:
    app.add_typer(evaluators_app, name="evaluators")
