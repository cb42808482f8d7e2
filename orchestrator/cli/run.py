"""`clade run`: start or resume a Darwin-Gödel self-improvement run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def run(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="Run config (YAML); see examples/run.yaml. Defaults apply when left out."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override one option: --set budget.generations=2 (repeatable; YAML values).",
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="Continue RUN (an id or unique prefix) after a crash, a kill or Ctrl-C."),
    ] = None,
    name: Annotated[str, typer.Option(help="A label for a new run.")] = "",
    approve: Annotated[
        bool,
        typer.Option(
            "--approve", help="Show each child's diff and wait for a yes before evaluating it."
        ),
    ] = False,
) -> None:
    """Evolve coding agents that rewrite their own code (a Darwin-Gödel run).

    Each generation selects parents from the archive, lets each rewrite a copy of its own
    code in a sandbox, evaluates the children in stages and keeps them in an open-ended
    archive, until a budget is spent. Everything is recorded in the archive as it happens (`clade archive ...` to look).
    """
    from rich.console import Console

    from clade.archive.errors import ConfigError
    from clade.orchestrator.dgm.config import RunConfig, load_config
    from clade.orchestrator.dgm.launch import execute, open_archive
    from clade.orchestrator.dgm.report import Progress, summary

    console = Console()
    if resume and (config is not None or set_):
        raise ConfigError(
            "--resume continues a run with the config it started with", hint="drop CONFIG and --set"
        )
    new_config = (
        None if resume else load_config(config, set_ or [])
    )  # bad input fails before anything is written
    archive = open_archive()
    if resume:
        run_id = archive.resolve_id(resume, table="run")
        record = archive.get_run(run_id)
        if record.status == "finished":
            console.print(f"run {run_id} has already finished")
            summary(console, archive, run_id, RunConfig.model_validate(record.config))
            return
        run_config = RunConfig.model_validate(record.config)
        console.print(f"resuming run [bold]{run_id}[/]")
    else:
        assert new_config is not None
        run_config = new_config
        run_id = archive.create_run(
            name=name or run_config.name, kind="dgm", config=run_config.model_dump(mode="json")
        ).id
        console.print(
            f"run [bold]{run_id}[/] started (resume it with `clade run --resume {run_id}`)"
        )
    with Progress(console, archive, run_id, run_config) as progress:
        try:
            execute(
                archive, run_config, run_id, resume=bool(resume), emit=progress.emit,
                approve=progress.ask_approval if approve else None,
            )  # fmt: skip
        except KeyboardInterrupt:
            console.print(f"\ninterrupted: resume with `clade run --resume {run_id}`")
            raise typer.Exit(130) from None
    summary(console, archive, run_id, run_config)


def register(app: typer.Typer) -> Any:
    app.command(no_args_is_help=False)(run)
