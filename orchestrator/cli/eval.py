"""`clade eval`: score one agent (archived or on disk) on an evaluator, without a run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, cast

import typer

from .evaluators import OPTION_HELP, parse_options

if TYPE_CHECKING:
    from clade.orchestrator.evaluators.base import Split


def eval_command(
    candidate: Annotated[
        str,
        typer.Argument(
            help="An archived candidate id (or unique prefix), or a folder holding a `coder` package."
        ),
    ],
    evaluator: Annotated[
        str, typer.Option("--evaluator", "-e", help="Evaluator name or import path (module:Class).")
    ],
    split: Annotated[str, typer.Option(help="dev or test.")] = "test",
    limit: Annotated[int, typer.Option(help="Score the first N tasks of the split.")] = 10,
    model: Annotated[
        str | None,
        typer.Option(help="Model the agent calls (default: CLADE_DEFAULT_MODEL, smollm2-135m)."),
    ] = None,
    parallel: Annotated[int, typer.Option(help="Tasks run at once.")] = 2,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help=OPTION_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run the agent on tasks in a Docker sandbox and grade its work in a fresh one.

    From Python: ``clade.orchestrator.evaluators.scoring.score_agent``.
    """
    from rich.console import Console
    from rich.markup import escape

    from clade.archive.errors import ConfigError
    from clade.orchestrator.config import settings
    from clade.orchestrator.evaluators.registry import load_evaluator
    from clade.orchestrator.evaluators.scoring import score_agent
    from clade.orchestrator.home import agent_files
    from clade.orchestrator.models.gateway import Gateway
    from clade.orchestrator.models.layer import ModelLayer
    from clade.orchestrator.models.spec import ModelsConfig

    if split not in ("dev", "test"):
        raise ConfigError(f"unknown split {split!r}", hint="use dev or test")
    the_split = cast("Split", split)
    bench = load_evaluator(evaluator, **parse_options(option or []))
    tasks = bench.tasks(the_split)[:limit]
    files = agent_files(candidate)
    model = model or settings().default_model
    layer = ModelLayer(ModelsConfig.model_validate({"default": {"model": model}}))
    Console(stderr=True).print(f"scoring on {len(tasks)} {bench.name} {split} task(s) with {model}")
    found = score_agent(
        files, bench, tasks, the_split, Gateway(layer).serve_unix, parallel=parallel
    )
    if as_json:
        typer.echo(json.dumps(found.to_json()))
        return
    for task, score in zip(found.tasks, found.scores, strict=True):
        mark = "[green]pass[/]" if score.passed else "[red]fail[/]"
        Console().print(f"{mark} {escape(task.id)} {escape(score.detail[:100])}")
    typer.echo(f"{found.passed}/{len(tasks)} passed")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
