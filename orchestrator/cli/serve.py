"""`clade serve`: the web dashboard of the archive (runs, lineage trees, candidates, judges).

Before any run, there is no archive yet: the dashboard then serves a page that says how to
start one, and opens the archive as soon as a run has made it (it never creates one).

Read-only and bound to loopback by default. A host that is not loopback is refused unless
``--allow-remote`` is given, and then a warning says that anyone who can reach the port can
read every run. Starlette and uvicorn are imported inside the command.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from clade.archive.errors import ConfigError

from .archive import BlobsOption, DbOption, open_archive_at

if TYPE_CHECKING:
    pass

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to listen on."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a host that is not loopback (exposes every run)."
    ),
    db: DbOption = None,
    blobs: BlobsOption = None,
    poll: float = typer.Option(
        2.0, "--poll", min=0.2, help="Seconds between refreshes of a running run's page."
    ),
) -> None:
    """Serve the dashboard: runs, lineage trees, candidates, diffs, judges (read-only)."""
    loopback = is_loopback(host)
    if not loopback and not allow_remote:
        raise ConfigError(
            f"refusing to serve the archive on {host}, which is not a loopback address",
            hint="agents' outputs and prompts would be readable by anyone who reaches the port; "
            "pass --allow-remote if that is what you want",
        )
    import uvicorn

    from clade.orchestrator.dashboard.app import START_COMMAND, create_app

    if not loopback:
        typer.secho(
            f"WARNING: serving on {host}:{port}, not loopback: anyone who can reach this port "
            "can read every run, prompt and agent output in the archive.",
            err=True,
            fg=typer.colors.YELLOW,
            bold=True,
        )
    missing = _missing_sqlite(db)
    opened: list[Any] = []

    def opener() -> Any:
        """The archive once a run has made it (the dashboard never creates it)."""
        if missing is not None and not missing.exists():
            return None
        opened.append(open_archive_at(db, blobs))
        return opened[-1]

    archive = opener()
    allowed = None if not loopback else [*LOOPBACK_NAMES, host]
    app = create_app(
        archive, read_only=True, allowed_hosts=allowed, poll_interval_s=poll,
        opener=opener, where=str(missing),
    )  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"clade dashboard on http://{shown}:{port}/  (read-only; Ctrl-C stops it)")
    if archive is None:
        typer.echo(f"no archive at {missing} yet: start a run with `{START_COMMAND}`")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        for each in opened:
            each.close()


def _missing_sqlite(db: str | None) -> Path | None:
    """The SQLite file the archive will be in, when it is SQLite (else None)."""
    from clade.orchestrator.config import settings

    url = db or settings().archive_url
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def register(app: typer.Typer) -> None:
    """Add the `serve` command to `app`."""
    app.command()(serve)
