"""The ``clade`` command line.

Each command group lives in its own module and registers itself on :data:`app`. Modules
here import only typer and rich at top level; heavy libraries (torch, transformers,
litellm, docker, langgraph) are imported inside the commands, so ``clade --help`` is
instant. ``main`` turns a :class:`CladeError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import gc
import signal
import sys

import typer

from clade.archive.errors import CladeError

app = typer.Typer(
    name="clade",
    help="Clade: an orchestrator for LLM agents that improve themselves.\n\n"
    "Start with `clade doctor` to check this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root() -> None:
    """Clade: an orchestrator for LLM agents that improve themselves."""


def _register() -> None:
    # Imported here, not at the top, so the groups can import `app` helpers without cycles.
    from clade.orchestrator.cli import (
        archive,
        doctor,
        evaluators,
        judge,
        models,
        run,
        sandbox,
        serve,
        solve,
    )
    from clade.orchestrator.cli import eval as eval_

    for group in (run, eval_, doctor, archive, evaluators, sandbox, models, serve, judge, solve):
        group.register(app)


_register()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds the stack, so sandboxes and servers are cleaned up in their
    # `finally` blocks, as on Ctrl-C; the default SIGTERM action would skip them.
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point of the ``clade`` console script."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except CladeError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    finally:
        # Everything is written and closed by now; the interpreter's last garbage
        # collections over every object litellm and pydantic made took seconds at exit
        # (3 s on a busy 2-core machine). Frozen objects are left to the OS.
        gc.freeze()
