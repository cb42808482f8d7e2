"""`clade evaluators list|show`: the benchmarks Clade can score agents on."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

evaluators_app = typer.Typer(
    help="List and inspect benchmark evaluators (built-ins and plugins).", no_args_is_help=True
)

OPTION_HELP = "An evaluator option KEY=VALUE (VALUE read as JSON, else as text); repeatable."


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["variants=2", "templates=[\\"parser\\"]"]`` -> ``{"variants": 2, "templates": ["parser"]}``."""
    from clade.archive.errors import ConfigError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad option {pair!r}", hint="write options as KEY=VALUE")
        try:
            options[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            options[key.strip()] = text
    return options


@evaluators_app.command("list")
def list_evaluators(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Every evaluator this installation can load: built-ins and `clade.evaluators` entry points."""
    from rich.console import Console
    from rich.table import Table

    from clade.orchestrator.evaluators.registry import BUILTINS, available

    found = available()  # names and import paths only: nothing is imported
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
    name: Annotated[str, typer.Argument(help="Short name or import path (module:Class).")],
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help=OPTION_HELP)] = None,
    examples: Annotated[int, typer.Option(help="How many dev tasks to print.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """An evaluator's options, its splits and their sizes, and a few example tasks."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from clade.orchestrator.evaluators.registry import (
        config_model,
        describe_config,
        evaluator_factory,
        load_evaluator,
    )

    model = config_model(evaluator_factory(name))
    fields = describe_config(model) if model is not None else []
    evaluator = load_evaluator(name, **parse_options(option or []))
    dev, test = evaluator.tasks("dev"), evaluator.tasks("test")
    if as_json:
        shown = {
            "name": evaluator.name,
            "config": fields if model is not None else None,
            "dev": len(dev),
            "test": len(test),
            "examples": [t.model_dump() for t in dev[:examples]],
        }
        typer.echo(json.dumps(shown))
        return
    console = Console()
    console.print(
        escape(
            f"{evaluator.name}: {len(dev)} dev tasks (selection), {len(test)} test tasks (held out)"
        )
    )
    if model is None:
        console.print("options: keyword arguments of its constructor (no Config declared)")
    else:
        table = Table("option", "type", "default", "description", title="options")
        for row in fields:
            table.add_row(*(escape(row[k]) for k in ("name", "type", "default", "description")))
        console.print(table)
    for task in dev[:examples]:
        typer.echo(f"\n--- {task.id}\n{task.statement}")
        for path in task.files:
            typer.echo(f"[file {path}]")


def register(app: typer.Typer) -> None:
    app.add_typer(evaluators_app, name="evaluators")
