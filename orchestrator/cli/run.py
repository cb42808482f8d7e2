"""`clade run`: start or resume a Darwin-Gödel self-improvement run.

One process works on a run at a time: the run's lock (``Archive.lock_run``) is held from
the start (or the resume) to the end, and a second ``clade run --resume`` on it is refused
with one line. SIGINT and SIGTERM stop the run within seconds (see ``stopping.py``).
"""

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
            "--approve",
            help="Show each child's diff and wait for a yes before evaluating it (kept with "
            "the run: a resumed run asks too).",
        ),
    ] = False,
) -> None:
    """Evolve coding agents that rewrite their own code (a Darwin-Gödel run).

    Each generation selects parents from the archive, lets each rewrite a copy of its own
    code in a sandbox, evaluates the children in stages and keeps them in an open-ended
    archive, until a budget is spent. Everything is recorded in the archive as it happens (`clade archive ...` to look).
    With `kind: prompt_set` in the config, the conductor's prompt set evolves instead
    (docs/PROMPT_SETS.md).
    """
    from rich.console import Console

    from clade.archive.errors import ConfigError
    from clade.orchestrator.dgm.config import load_config
    from clade.orchestrator.dgm.launch import create_run
    from clade.orchestrator.home import open_archive
    from clade.orchestrator.promptsets import check_prompt_set_config

    console = Console()
    console.soft_wrap = not console.is_terminal  # a log gets whole lines, never folded ones
    if resume is not None and not resume.strip():
        raise ConfigError(
            "--resume needs a run id, and got an empty one",
            hint="list runs with `clade archive runs`; leave --resume out to start a new run",
        )
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
    else:
        assert new_config is not None
        check_prompt_set_config(new_config)  # kind: prompt_set; bad input before any write
        run_id = create_run(archive, new_config, name=name, approve=approve)
    _work_on(console, archive, run_id, resumed=bool(resume), approve=approve)


def _work_on(console: Any, archive: Any, run_id: str, *, resumed: bool, approve: bool) -> None:
    """Hold the run's lock and its signal handlers while the run works."""
    from clade.archive.errors import CladeError
    from clade.orchestrator.dgm.launch import execute
    from clade.orchestrator.dgm.launch import run_config as run_config_of
    from clade.orchestrator.dgm.report import Progress, summary
    from clade.orchestrator.promptsets import steps_factory

    from .stopping import RunStopper

    stopper = RunStopper(archive, run_id)

    def lost(why: str) -> None:  # PostgreSQL only: another process took the run meanwhile
        stopper.stop_from_thread(f"the run lock was lost: {why}")

    try:
        with archive.lock_run(run_id, on_lost=lost), stopper:
            if resumed and archive.get_run(run_id).status == "finished":
                console.print(f"run {run_id} has already finished")
                summary(console, archive, run_id, run_config_of(archive, run_id))
                return
            run_config = run_config_of(archive, run_id, approve=approve)  # approve: kept
            if resumed:
                console.print(f"resuming run [bold]{run_id}[/]")
            else:
                console.print(
                    f"run [bold]{run_id}[/] started (resume it with `clade run --resume {run_id}`)"
                )
            with Progress(console, archive, run_id, run_config) as progress:
                execute(
                    archive, run_config, run_id, resume=resumed, emit=progress.emit,
                    approve=progress.ask_approval if run_config.approve else None,
                    steps_factory=steps_factory(run_config),  # agents, or prompt sets
                )  # fmt: skip
    except (KeyboardInterrupt, SystemExit):
        if not stopper.stopped:
            raise
        stopper.finish()
        raise typer.Exit(stopper.exit_code) from None
    except CladeError as exc:
        if not stopper.stopped:
            if exc.hint:  # name this run in "resume with `clade run --resume RUN`"
                exc.hint = exc.hint.replace("--resume RUN`", f"--resume {run_id}`")
            raise
        stopper.finish()
        raise typer.Exit(stopper.exit_code) from None
    except Exception:
        if not stopper.stopped:
            raise
        # Work in flight that the stop cut short fails in its own ways (a refused write, a
        # container gone); the stop is what happened.
        stopper.finish()
        raise typer.Exit(stopper.exit_code) from None
    summary(console, archive, run_id, run_config)


def register(app: typer.Typer) -> Any:
    app.command(no_args_is_help=False)(run)
